"""The spill-by-spill loop: synchrotron cycles, spills, energy steps, and the DDS kernel.

Each cycle injects, ramps to the layer's energy and extracts one spill
(the reduced spill model at that energy, scaled by the layer's intensity
fraction; with ``stretch_spill`` the spill lasts longer at the lower
intensity, up to the machine's longest flat top, so that it holds as many
particles as it can; without, it holds fewer particles in the same spill
length). The DDS delivers
spots until the layer is done or the spill is empty; an empty spill ends
the cycle and the layer continues in the next one at the same energy. When
a layer is done, the flat top ends (``variable_flat_top``; otherwise the
rest of the spill is extracted and dumped) and the next layer gets a new
cycle, unless multi-energy extraction lets it continue in the same flat
top after an energy step (only downwards, only when the next layer's
intensity limit allows the spill's intensity, only while particles remain).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ionbeam.delivery import _delivery_kernels as kernels
from ionbeam.delivery.options import DeliveryOptions
from ionbeam.delivery.sequence import DeliverySequence
from ionbeam.machine.facility import Machine

__all__ = ["SpillTables", "Timing", "layer_intensity_fractions", "run_spills"]


class SpillTables:
    """Cumulative spill tables per energy (reduced spill model, computed once per energy)."""

    def __init__(self, machine: Machine, particle: str, ramp: str) -> None:
        self._machine, self._particle, self._ramp = machine, particle, ramp
        self._tables: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def table(self, energy_mev_u: float) -> tuple[np.ndarray, np.ndarray]:
        """(time_s, cumulative particles) of a full-intensity spill at ``energy_mev_u``."""
        if energy_mev_u not in self._tables:
            spill = self._machine.spill_model(self._particle, energy_mev_u, ramp=self._ramp)
            t = np.ascontiguousarray(spill.time_s, dtype=float)
            self._tables[energy_mev_u] = (t, np.asarray(spill.cumulative_particles(t), float))
        return self._tables[energy_mev_u]

    def peak_intensity_pps(self, energy_mev_u: float) -> float:
        """Highest extracted intensity of a full spill, particles/s."""
        t, c = self.table(energy_mev_u)
        return float(np.max(np.diff(c) / np.diff(t)))


def layer_intensity_fractions(
    sequence: DeliverySequence,
    target: np.ndarray,
    on_move_s: np.ndarray,
    tables: SpillTables,
    options: DeliveryOptions,
) -> np.ndarray:
    """Intensity fraction per layer: (``intensity_modulation="layer"`` only) the smallest spot
    lasts ``min_spot_time_ms``, and (raster) the particles arriving during a move stay below
    ``raster_max_transit_fraction`` of the next spot's; clipped to
    [``min_intensity_fraction``, 1]. With ``"spot"`` modulation the kernel stretches short
    spots instead (:mod:`._delivery_kernels`)."""
    fractions = np.ones(sequence.n_layers)
    t_min = options.min_spot_time_ms * 1e-3 if options.intensity_modulation == "layer" else 0.0
    for layer in range(sequence.n_layers):
        lo, hi = sequence.layer_offsets[layer], sequence.layer_offsets[layer + 1]
        if hi <= lo:
            continue
        peak = tables.peak_intensity_pps(float(sequence.layer_energy_mev_u[layer]))
        counts = target[lo:hi].astype(float)
        limit = 1.0
        if t_min > 0:
            limit = min(limit, counts.min() / (peak * t_min))
        moving = on_move_s[lo:hi] > 0
        if np.any(moving):
            ratio = options.raster_max_transit_fraction * counts[moving]
            limit = min(limit, float(np.min(ratio / (peak * on_move_s[lo:hi][moving]))))
        fractions[layer] = min(max(limit, options.min_intensity_fraction), 1.0)
    return fractions


@dataclass
class _Spill:
    """Working state of the spill being extracted (local to one run)."""

    index: int
    beam: int
    first_layer: int
    energy: float
    fraction: float
    time_s: np.ndarray
    cumulative: np.ndarray
    cycle_start: float
    start: float
    start_energy: float
    tau: float = 0.0
    stretch: float = 1.0
    last_layer: int = -1
    delivered: int = 0
    chopped: float = 0.0


@dataclass
class Timing:
    """What the loop produced: per scanned spot (delivery order) and per spill (lists)."""

    start: np.ndarray
    end: np.ndarray
    delivered: np.ndarray
    transit: np.ndarray
    beam_on: np.ndarray
    spill: np.ndarray
    end_spill: np.ndarray
    spills: dict[str, list] = field(default_factory=dict)


class _Cycle:
    """Cycle durations of one particle, as floats."""

    def __init__(self, machine: Machine, particle: str) -> None:
        self.cycle, self.particle = machine.cycle, particle

    def ramp_down(self, energy: float) -> float:
        return float(self.cycle.ramp_down_s(self.particle, energy))

    def spill_start(self, energy: float) -> float:
        return float(self.cycle.spill_start_s(self.particle, energy))

    def step(self, from_energy: float, to_energy: float) -> float:
        return float(self.cycle.gap_s(self.particle, from_energy, to_energy))


_SPILL_COLUMNS = ("beam", "first_layer", "last_layer", "energy_mev_u", "intensity_fraction",
                  "cycle_start_s", "start_s", "end_s", "particles", "delivered", "chopped",
                  "unused")  # fmt: skip


def run_spills(
    sequence: DeliverySequence,
    need: np.ndarray,
    fractions: np.ndarray,
    off_s: np.ndarray,
    on_move_s: np.ndarray,
    *,
    machine: Machine,
    particle: str,
    tables: SpillTables,
    options: DeliveryOptions,
) -> Timing:
    """Deliver the first ``need.size`` scanned spots (delivery order) spill by spill."""
    m = need.size
    timing = Timing(
        start=np.full(m, np.nan), end=np.full(m, np.nan), delivered=np.zeros(m, np.int64),
        transit=np.zeros(m, np.int64), beam_on=np.zeros(m), spill=np.full(m, -1, np.int64),
        end_spill=np.full(m, -1, np.int64), spills={name: [] for name in _SPILL_COLUMNS},
    )  # fmt: skip
    run = _Run(timing, machine, _Cycle(machine, particle), tables, options, off_s, on_move_s)
    for layer in range(sequence.n_layers):
        lo = int(sequence.layer_offsets[layer])
        hi = min(int(sequence.layer_offsets[layer + 1]), m)
        if hi > lo:
            beam = int(sequence.layer_beam[layer])
            energy = float(sequence.layer_energy_mev_u[layer])
            run.start_layer(layer, beam, energy, float(fractions[layer]))
            run.deliver_layer(need[lo:hi], lo)
    run.finish(interrupted=m < sequence.spot.size)
    return timing


class _Run:
    """The working state of one delivery: the clock and the spill being extracted."""

    def __init__(
        self, timing: Timing, machine: Machine, cycle: _Cycle, tables: SpillTables,
        options: DeliveryOptions, off_s: np.ndarray, on_move_s: np.ndarray,
    ) -> None:  # fmt: skip
        self.timing, self.machine, self.cycle, self.tables = timing, machine, cycle, tables
        self.options, self.off_s, self.on_move_s = options, off_s, on_move_s
        self.chopper_s = options.chopper_switch_ms * 1e-3
        change_s = options.field_change_s  # None: the machine's (as in resolve_options)
        self.field_change_s = machine.field_change_s if change_s is None else change_s
        self.pause = options.extraction_when_off == "pause"
        spot_mode = options.intensity_modulation == "spot"
        self.min_spot_s = options.min_spot_time_ms * 1e-3 if spot_mode else 0.0
        self.stretch_limit = (
            machine.max_spill_length_s / machine.cycle.spill_length_s
            if options.stretch_spill
            else 1.0
        )
        self.wall = 0.0
        self.last_spot_end = 0.0
        self.layer_fraction = 1.0
        self.spill: _Spill | None = None

    def start_layer(self, layer: int, beam: int, energy: float, fraction: float) -> None:
        """Continue the flat top (multi-energy extraction) or end it and start a new cycle."""
        self.layer_fraction = fraction
        spill = self.spill
        if spill is not None and _can_continue(spill, beam, energy, fraction, self.machine):
            self.wall += self.cycle.step(spill.energy, energy)
            _step_energy(spill, energy, self.tables)
        else:
            cycle_start = self.wall
            if spill is not None:
                end = _close(spill, self.timing, self.wall, self.options, interrupted=False)
                cycle_start = end + self.cycle.ramp_down(spill.energy)
                if beam != spill.beam:
                    cycle_start = max(cycle_start, self.last_spot_end + self.field_change_s)
            self._open(beam, layer, energy, fraction, cycle_start)
        self.spill.last_layer = layer  # type: ignore[union-attr]

    def _open(self, beam: int, layer: int, energy: float, fraction: float, cycle_start: float):
        self.spill = _open(len(self.timing.spills["beam"]), beam, layer, energy, fraction,
                           cycle_start, self.cycle, self.tables, self.stretch_limit)  # fmt: skip
        self.wall = self.spill.start

    def deliver_layer(self, need: np.ndarray, offset: int) -> None:
        """Deliver one layer's spots (``need``, scan order, starting at ``offset``)."""
        remaining = need.copy()
        hi = offset + need.size
        i = offset
        while i < hi:
            spill = self.spill
            assert spill is not None  # opened by start_layer
            result = kernels.deliver_in_spill(
                spill.time_s, spill.cumulative, spill.tau, self.wall, remaining[i - offset :],
                self.off_s[i:hi], self.on_move_s[i:hi], self.chopper_s, self.pause,
                self.min_spot_s,
            )  # fmt: skip
            touched, empty = result.n_touched, result.empty
            spill.tau, self.wall = result.tau_s, result.wall_s
            _store(self.timing, spill, i, result)
            spill.chopped += result.chopped
            remaining[i - offset : i - offset + touched] -= result.delivered[:touched]
            i += touched
            if touched and remaining[i - 1 - offset] > 0:
                i -= 1  # the spill ran out during this spot: it continues in the next one
            if empty:
                if touched == 0 and spill.delivered == 0:
                    raise RuntimeError("a fresh spill delivered nothing: empty spill table")
                end = _close(spill, self.timing, self.wall, self.options, interrupted=False,
                             emptied=True)  # fmt: skip
                self._open(spill.beam, spill.last_layer, spill.energy, self.layer_fraction,
                           end + self.cycle.ramp_down(spill.energy))  # fmt: skip
        self.last_spot_end = self.wall

    def finish(self, *, interrupted: bool) -> None:
        """Log the last spill."""
        if self.spill is not None:
            _close(self.spill, self.timing, self.wall, self.options, interrupted=interrupted)


def _open(
    index: int, beam: int, layer: int, energy: float, fraction: float, cycle_start: float,
    cycle: _Cycle, tables: SpillTables, stretch_limit: float = 1.0,
) -> _Spill:  # fmt: skip
    """A new spill at ``fraction`` of the full intensity. Below full intensity the spill is
    stretched (the feedback slows the extraction) by up to ``stretch_limit``, so that it
    holds ``fraction × stretch`` of the full spill's particles instead of ``fraction``."""
    t, c = tables.table(energy)
    stretch = min(1.0 / fraction, stretch_limit) if fraction > 0 else 1.0
    return _Spill(
        index=index, beam=beam, first_layer=layer, last_layer=layer, energy=energy,
        fraction=float(fraction), time_s=t * stretch, cumulative=c * fraction * stretch,
        cycle_start=cycle_start, start=cycle_start + cycle.spill_start(energy),
        start_energy=energy, stretch=stretch,
    )  # fmt: skip


def _can_continue(
    spill: _Spill, beam: int, energy: float, fraction: float, machine: Machine
) -> bool:
    """Multi-energy extraction: next layer in the same flat top?"""
    if not machine.cycle.multi_energy_extraction or beam != spill.beam:
        return False
    left = spill.cumulative[-1] - kernels.cumulative_at(spill.time_s, spill.cumulative, spill.tau)
    return energy < spill.energy and fraction >= spill.fraction and left >= 1.0


def _step_energy(spill: _Spill, energy: float, tables: SpillTables) -> None:
    """Continue the spill's extraction at ``energy`` from the particles already extracted."""
    taken = kernels.cumulative_at(spill.time_s, spill.cumulative, spill.tau)
    t, c = tables.table(energy)
    spill.time_s = t * spill.stretch
    spill.cumulative, spill.energy = c * spill.fraction * spill.stretch, energy
    spill.tau = kernels.time_of_count(spill.time_s, spill.cumulative, taken)


def _store(timing: Timing, spill: _Spill, i: int, result: kernels.SpillDelivery) -> None:
    touched = result.n_touched
    start, end, delivered = (
        result.start_s[:touched],
        result.end_s[:touched],
        result.delivered[:touched],
    )
    transit, beam_on = result.transit[:touched], result.beam_on_s[:touched]
    s = slice(i, i + touched)
    timing.start[s] = np.where(np.isnan(timing.start[s]), start, timing.start[s])
    timing.end[s] = np.where(np.isnan(end), timing.end[s], end)
    timing.delivered[s] += delivered
    timing.transit[s] += transit
    timing.beam_on[s] += beam_on
    timing.spill[s] = np.where(timing.spill[s] < 0, spill.index, timing.spill[s])
    timing.end_spill[s] = spill.index
    spill.delivered += int(delivered.sum())


def _close(
    spill: _Spill,
    timing: Timing,
    wall: float,
    options: DeliveryOptions,
    *,
    interrupted: bool,
    emptied: bool = False,
) -> float:
    """Log the spill; returns when its flat top ends."""
    extracted = kernels.cumulative_at(spill.time_s, spill.cumulative, spill.tau)
    end = wall
    if not (options.variable_flat_top or interrupted or emptied):
        end = wall + max(float(spill.time_s[-1]) - spill.tau, 0.0)
    row = {
        "beam": spill.beam, "first_layer": spill.first_layer, "last_layer": spill.last_layer,
        "energy_mev_u": spill.start_energy, "intensity_fraction": spill.fraction,
        "cycle_start_s": spill.cycle_start, "start_s": spill.start, "end_s": end,
        "particles": float(spill.cumulative[-1]), "delivered": spill.delivered,
        "chopped": spill.chopped, "unused": max(float(spill.cumulative[-1]) - extracted, 0.0),
    }  # fmt: skip
    for name, value in row.items():
        timing.spills[name].append(value)
    return end
