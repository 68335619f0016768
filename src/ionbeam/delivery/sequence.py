"""Sequencing a plan for delivery: fields, energy layers (high to low), scan paths, counts.

Each spot's energy must be one of the machine's library energies (within
``ENERGY_TOLERANCE_MEV_U``: plans written with rounded energies still
match); spots of one field at the same library energy form one layer.
Layers go from the highest energy to the lowest, fields in plan order, and
within a layer the spots with a count above 0 follow the scan path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ionbeam.delivery.options import DeliveryOptions
from ionbeam.delivery.scan_path import scan_path
from ionbeam.delivery.spot_counts import SpotCounts, spot_counts
from ionbeam.errors import MachineLimitError
from ionbeam.machine.energy_library import EnergyLibrary
from ionbeam.machine.facility import Machine, ScanningSystem
from ionbeam.planning.plan import Plan

__all__ = ["ENERGY_TOLERANCE_MEV_U", "DeliverySequence", "delivery_sequence"]

#: Largest difference between a plan energy and the library energy it stands for, MeV/u.
ENERGY_TOLERANCE_MEV_U = 0.05


@dataclass(frozen=True, eq=False)
class DeliverySequence:
    """A plan in delivery order (structure of arrays).

    Per plan spot (plan order: beam by beam, ``SpotMap`` order): ``beam``,
    ``layer`` (global layer index), ``energy_mev_u`` (library energy),
    ``counts``. Per scanned spot (count > 0, in delivery order): ``spot``
    (plan index), ``move_s`` (move time into it with settling, 0 for a
    layer's first spot), ``travel_s`` (the same without settling) and
    ``distance_mm`` (straight-line move length). Per layer: ``layer_beam``,
    ``layer_energy_mev_u``, ``layer_offsets`` (its scanned spots are
    ``spot[layer_offsets[i]:layer_offsets[i + 1]]``), ``layer_path``
    (method that won), ``layer_plan_move_s`` (move time of the plan's order).
    """

    beam: np.ndarray
    layer: np.ndarray
    energy_mev_u: np.ndarray
    counts: SpotCounts
    spot: np.ndarray
    move_s: np.ndarray
    travel_s: np.ndarray
    distance_mm: np.ndarray
    layer_beam: np.ndarray
    layer_energy_mev_u: np.ndarray
    layer_offsets: np.ndarray
    layer_path: tuple[str, ...]
    layer_plan_move_s: np.ndarray

    @property
    def n_layers(self) -> int:
        """Number of energy layers over all fields."""
        return int(self.layer_beam.size)


def _library_energies(library: EnergyLibrary, energy: np.ndarray) -> np.ndarray:
    """The library energy each plan energy stands for; refuses energies between library steps."""
    nearest = np.asarray(library.nearest(energy), dtype=float)
    off = np.abs(nearest - energy) > ENERGY_TOLERANCE_MEV_U
    if np.any(off):
        i = int(np.flatnonzero(off)[0])
        error = MachineLimitError(
            f"{library.particle} spot energy", float(energy[i]),
            nearest[i] - ENERGY_TOLERANCE_MEV_U, nearest[i] + ENERGY_TOLERANCE_MEV_U, "MeV/u",
        )  # fmt: skip
        error.args = (
            f"{error}: the {library.machine} library has no such energy (nearest "
            f"{nearest[i]:.2f} MeV/u); re-plan on this machine's energies",
        )
        raise error
    return nearest


def _layer_moves(
    x: np.ndarray, y: np.ndarray, order: np.ndarray, scanning: ScanningSystem
) -> tuple[np.ndarray, np.ndarray]:
    """Travel time without settling (s) and straight-line length (mm) of each move."""
    dx = np.diff(x[order], prepend=x[order[:1]])
    dy = np.diff(y[order], prepend=y[order[:1]])
    travel = np.maximum(np.abs(dx) / scanning.speed_x_mm_per_ms,
                        np.abs(dy) / scanning.speed_y_mm_per_ms) * 1e-3  # fmt: skip
    return travel, np.hypot(dx, dy)


def delivery_sequence(
    plan: Plan, machine: Machine, *, options: DeliveryOptions | None = None
) -> DeliverySequence:
    """Sequence ``plan`` on ``machine``: check energies and counts, order layers and spots."""
    options = options or DeliveryOptions()
    library = machine.energy_library(plan.particle)
    counts = spot_counts(
        plan.weights, machine.spot_limit(plan.particle),
        below_minimum=options.below_minimum, particle=plan.particle,
    )  # fmt: skip
    beam_of = np.repeat(np.arange(len(plan.beams)), [b.spots.n_spots for b in plan.beams])
    energy = np.asarray(
        np.concatenate([b.spots.energy_mev_u for b in plan.beams]) if plan.n_spots else [],
        dtype=float,
    )
    library.check(energy)
    energy = _library_energies(library, energy)
    x = np.concatenate([b.spots.x_mm for b in plan.beams])
    y = np.concatenate([b.spots.y_mm for b in plan.beams])

    layer_of = np.full(plan.n_spots, -1, dtype=np.int64)
    columns: dict[str, list] = {k: [] for k in ("spot", "move", "travel", "dist", "beam",
                                                "energy", "path", "plan")}  # fmt: skip
    for b in range(len(plan.beams)):
        in_beam = np.flatnonzero(beam_of == b)
        for e in np.unique(energy[in_beam])[::-1]:
            members = in_beam[energy[in_beam] == e]
            layer_of[members] = len(columns["beam"])
            active = members[counts.target[members] > 0]
            path = scan_path(x[active], y[active], machine.scanning, method=options.scan_path)
            order = active[path.order]
            travel, distance = _layer_moves(x, y, order, machine.scanning)
            for name, value in (("spot", order), ("move", np.asarray(path.move_time_s)),
                                ("travel", travel), ("dist", distance), ("beam", b),
                                ("energy", float(e)), ("path", path.method),
                                ("plan", path.plan_time_s)):  # fmt: skip
                columns[name].append(value)

    def joined(name: str, dtype: type) -> np.ndarray:
        parts = columns[name]
        return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)

    sizes = [order.size for order in columns["spot"]]
    return DeliverySequence(
        beam=beam_of.astype(np.int64),
        layer=layer_of,
        energy_mev_u=energy,
        counts=counts,
        spot=joined("spot", np.int64),
        move_s=joined("move", float),
        travel_s=joined("travel", float),
        distance_mm=joined("dist", float),
        layer_beam=np.asarray(columns["beam"], dtype=np.int64),
        layer_energy_mev_u=np.asarray(columns["energy"], dtype=float),
        layer_offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        layer_path=tuple(columns["path"]),
        layer_plan_move_s=np.asarray(columns["plan"], dtype=float),
    )
