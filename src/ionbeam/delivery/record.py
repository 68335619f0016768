"""The delivery record: what happened to every spot, spill and layer, and the totals.

Times are seconds from the start of the fraction (the start of the first
synchrotron cycle: injection). Spot arrays are aligned with the plan's
spots (beam by beam, in each beam's ``SpotMap`` order), so that
``record.spots.delivered`` sits next to ``plan.weights``. Everything is
frozen; arrays are read-only. A machine log file holds the same kind of
data (monitor readings per spot, spill timing).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ionbeam.delivery.options import DeliveryOptions

__all__ = [
    "DeliveryRecord",
    "FieldSummary",
    "Interlock",
    "LayerRecord",
    "SpillRecord",
    "SpotRecord",
]


def _freeze(instance: Any) -> None:
    for item in fields(instance):
        value = getattr(instance, item.name)
        if isinstance(value, np.ndarray):
            value.setflags(write=False)


class _Columns:
    """Shared behaviour of the structure-of-arrays records."""

    def __post_init__(self) -> None:
        _freeze(self)

    def columns(self) -> dict[str, np.ndarray]:
        """The record's columns by name (all of equal length)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}  # type: ignore[arg-type]

    def __len__(self) -> int:
        return int(next(iter(self.columns().values())).size)


@dataclass(frozen=True, eq=False)
class SpotRecord(_Columns):
    """Every plan spot: where, how many particles (planned, counted by both chambers,
    really delivered), in which spill(s), when.

    ``scan_position``: rank in the fraction's delivery order (−1: not scanned,
    count 0 or after an interlock); ``spill``/``end_spill``: the spills in which
    the spot started and ended (different when a spill ran out during it);
    ``transit_particles``: particles that arrived while the magnets were
    still moving onto it (raster scanning); ``beam_on_s``: time with beam
    on the spot. Unscanned spots have −1 spills and NaN times.
    """

    beam: np.ndarray
    layer: np.ndarray
    scan_position: np.ndarray
    energy_mev_u: np.ndarray
    x_mm: np.ndarray
    y_mm: np.ndarray
    planned_weight: np.ndarray
    target: np.ndarray
    delivered: np.ndarray
    primary_reading: np.ndarray
    secondary_reading: np.ndarray
    spill: np.ndarray
    end_spill: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    beam_on_s: np.ndarray
    transit_particles: np.ndarray


@dataclass(frozen=True, eq=False)
class SpillRecord(_Columns):
    """Every spill (one per synchrotron cycle).

    ``cycle_start_s``: injection; ``start_s``/``end_s``: extraction; ``particles``:
    the spill's content (extractable particles at the layer's intensity);
    ``delivered``: to spots; ``chopped``: extracted while the beam was off and
    dumped by the chopper; ``unused``: left when the spill ended (dumped);
    ``first_layer``/``last_layer``: the layers it served (several only with
    multi-energy extraction).
    """

    beam: np.ndarray
    first_layer: np.ndarray
    last_layer: np.ndarray
    energy_mev_u: np.ndarray
    intensity_fraction: np.ndarray
    cycle_start_s: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    particles: np.ndarray
    delivered: np.ndarray
    chopped: np.ndarray
    unused: np.ndarray


@dataclass(frozen=True, eq=False)
class LayerRecord(_Columns):
    """Every energy layer: its spots, spills, intensity, scan path and timing.

    ``move_time_s``: total magnet move time of the chosen path;
    ``plan_move_time_s``: that of the plan's order; ``switch_s``: time from
    the previous layer's last spot to this layer's first (NaN for a field's
    first layer).
    """

    beam: np.ndarray
    energy_mev_u: np.ndarray
    n_spots: np.ndarray
    n_spills: np.ndarray
    intensity_fraction: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    switch_s: np.ndarray
    move_time_s: np.ndarray
    plan_move_time_s: np.ndarray
    path_method: np.ndarray


@dataclass(frozen=True)
class FieldSummary:
    """Totals of one field (beam).

    ``delivery_time_s``: from its first cycle's start to its last spot's end;
    ``layer_switching_s``: sum of its layers' ``switch_s``; ``refill_s``:
    waits for a new spill within layers.
    """

    name: str
    start_s: float
    end_s: float
    delivery_time_s: float
    beam_on_s: float
    n_layers: int
    n_spills: int
    n_spots: int
    layer_switching_s: float
    refill_s: float
    planned_particles: int
    delivered_particles: int


@dataclass(frozen=True)
class Interlock:
    """The DDS interlock that stopped the delivery: at which spot (plan index), when, why."""

    spot: int
    beam: int
    layer: int
    time_s: float
    reason: str


@dataclass(frozen=True, eq=False)
class DeliveryRecord:
    """The simulated delivery of one fraction of a plan."""

    particle: str
    machine: str
    options: DeliveryOptions
    spots: SpotRecord
    spills: SpillRecord
    layers: LayerRecord
    fields: tuple[FieldSummary, ...]
    spots_raised: int
    spots_lowered: int
    interlock: Interlock | None

    @property
    def completed(self) -> bool:
        """Whether every spot was delivered (no interlock)."""
        return self.interlock is None

    @property
    def fraction_time_s(self) -> float:
        """From the first cycle's start to the last spot's end, s."""
        end = self.spots.end_s
        return float(np.nanmax(end)) if np.any(np.isfinite(end)) else 0.0

    @property
    def beam_on_s(self) -> float:
        """Total time with beam on the patient, s."""
        return float(self.spots.beam_on_s.sum())

    @property
    def n_spills(self) -> int:
        """Number of spills (equal to the number of synchrotron cycles)."""
        return len(self.spills)

    @property
    def n_cycles(self) -> int:
        """Number of synchrotron cycles."""
        return len(self.spills)

    @property
    def layer_switching_s(self) -> float:
        """Total time between consecutive layers of the same field, s."""
        return float(np.nansum(self.layers.switch_s))

    @property
    def planned_particles(self) -> int:
        """Particles the DDS was asked for (integer counts after the minimum-count policy)."""
        return int(self.spots.target.sum())

    @property
    def delivered_particles(self) -> int:
        """Particles really delivered."""
        return int(self.spots.delivered.sum())

    def spot_errors(self) -> dict[str, float]:
        """Relative spot count errors (delivered − target)/target of the spots delivered:
        rms and largest magnitude."""
        ok = (self.spots.scan_position >= 0) & (self.spots.target > 0)
        if not ok.any():
            return {"spot_error_rms": 0.0, "spot_error_max": 0.0}
        rel = (self.spots.delivered[ok] - self.spots.target[ok]) / self.spots.target[ok]
        return {
            "spot_error_rms": float(np.sqrt(np.mean(rel**2))),
            "spot_error_max": float(np.max(np.abs(rel))),
        }

    def summary(self) -> dict[str, Any]:
        """The totals as plain Python values (what ``ionbeam deliver`` prints)."""
        return {
            "particle": self.particle,
            "machine": self.machine,
            "scan_mode": self.options.scan_mode,
            "extraction": self.options.extraction,
            "intensity_modulation": self.options.intensity_modulation,
            "ripple_rms": 0.0 if self.options.ripple is None else self.options.ripple.rms,
            "completed": self.completed,
            "fraction_time_s": self.fraction_time_s,
            "beam_on_s": self.beam_on_s,
            "beam_on_fraction": self.beam_on_s / self.fraction_time_s
            if self.fraction_time_s > 0
            else 0.0,
            **self.spot_errors(),
            "n_cycles": self.n_cycles,
            "n_spills": self.n_spills,
            "n_layers": len(self.layers),
            "n_spots": int(np.sum(self.spots.scan_position >= 0)),
            "layer_switching_s": self.layer_switching_s,
            "planned_weight_sum": float(self.spots.planned_weight.sum()),
            "planned_particles": self.planned_particles,
            "delivered_particles": self.delivered_particles,
            "primary_reading": float(self.spots.primary_reading.sum()),
            "secondary_reading": float(self.spots.secondary_reading.sum()),
            "chopped_particles": float(self.spills.chopped.sum()),
            "unused_particles": float(self.spills.unused.sum()),
            "spots_raised_to_minimum": self.spots_raised,
            "spots_lowered_to_zero": self.spots_lowered,
            "interlock": None if self.interlock is None else vars(self.interlock).copy(),
            "fields": [vars(f).copy() for f in self.fields],
        }
