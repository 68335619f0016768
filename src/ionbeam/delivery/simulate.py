"""``deliver_plan``: one fraction of a plan on the synchrotron, spill by spill.

The recipe: sequence the plan (:mod:`.sequence`: energies checked, integer
counts, layers high to low, scan paths), let the monitor chambers decide
how many particles each spot really gets and whether the interlock trips
(:mod:`.monitors`), choose each layer's intensity, run the cycles and
spills (:mod:`._spill_loop`), and gather the :class:`DeliveryRecord`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ionbeam.delivery._spill_loop import (
    SpillTables,
    Timing,
    layer_intensity_fractions,
    run_spills,
)
from ionbeam.delivery.monitors import InterlockTrip, MonitorReadings, find_interlock, read_monitors
from ionbeam.delivery.options import DeliveryOptions
from ionbeam.delivery.record import (
    DeliveryRecord,
    FieldSummary,
    Interlock,
    LayerRecord,
    SpillRecord,
    SpotRecord,
)
from ionbeam.delivery.ripple import spot_count_errors
from ionbeam.delivery.sequence import DeliverySequence, delivery_sequence
from ionbeam.machine.facility import Machine
from ionbeam.planning.plan import Plan

__all__ = ["deliver_plan", "resolve_options"]


def resolve_options(options: DeliveryOptions, machine: Machine) -> DeliveryOptions:
    """``options`` with the machine's settings where they say ``None`` (field-change time,
    extraction method); RF knock-out pauses the extraction while the beam is off."""
    extraction = options.extraction or machine.extraction
    changes: dict[str, Any] = {"extraction": extraction}
    if options.field_change_s is None:
        changes["field_change_s"] = machine.field_change_s
    if extraction == "rfko":
        changes["extraction_when_off"] = "pause"
    return replace(options, **changes)


def deliver_plan(
    plan: Plan,
    machine: Machine,
    *,
    options: DeliveryOptions | None = None,
    rng: np.random.Generator | None = None,
) -> DeliveryRecord:
    """Simulate the delivery of one fraction of ``plan`` on ``machine``.

    ``rng`` draws the monitor chambers' noise (needed when a chamber has a
    signal spread, as by default). Raises :class:`MachineLimitError` for
    energies the machine does not extract and for spot counts outside its
    limits (see ``options.below_minimum``).
    """
    options = resolve_options(options or DeliveryOptions(), machine)
    if options.multi_energy_extraction is not None:
        machine = machine.with_cycle(multi_energy_extraction=options.multi_energy_extraction)
    sequence = delivery_sequence(plan, machine, options=options)
    target = sequence.counts.target[sequence.spot]
    readings = read_monitors(target, options.monitors, rng=rng)
    trip = find_interlock(readings, sequence.beam[sequence.spot], options.monitors)
    n_run = sequence.spot.size if trip is None else trip.position + 1

    chopper = options.chopper_switch_ms * 1e-3
    beam_off = np.full(sequence.spot.size, True)
    if options.scan_mode == "raster":
        beam_off = sequence.distance_mm > options.raster_beam_off_distance_mm
    off_s = np.where(beam_off, sequence.move_s + chopper, 0.0)
    on_move_s = np.where(beam_off, 0.0, sequence.travel_s)
    tables = SpillTables(machine, plan.particle, options.spill_ramp)
    fractions = layer_intensity_fractions(sequence, target, on_move_s, tables, options)
    timing = run_spills(
        sequence, np.asarray(readings.delivered[:n_run]), fractions, off_s, on_move_s,
        machine=machine, particle=plan.particle, tables=tables, options=options,
    )  # fmt: skip
    if options.ripple is not None:
        _apply_ripple(timing, beam_off, options, rng, n_run)
    spots = _spot_record(plan, sequence, readings, timing, n_run)
    layers = _layer_record(sequence, timing, fractions, n_run)
    spills = SpillRecord(**{k: np.asarray(v) for k, v in timing.spills.items()})
    return DeliveryRecord(
        particle=plan.particle,
        machine=machine.name,
        options=options,
        spots=spots,
        spills=spills,
        layers=layers,
        fields=_field_summaries(plan, spots, spills, layers),
        spots_raised=sequence.counts.raised,
        spots_lowered=sequence.counts.lowered,
        interlock=_interlock(trip, sequence, timing),
    )


def _apply_ripple(
    timing: Timing,
    beam_off: np.ndarray,
    options: DeliveryOptions,
    rng: np.random.Generator | None,
    n_run: int,
) -> None:
    """Each spot followed by a beam-off (and each spill's last) ends off its count by what
    the ripple adds during the chopper's switching time (:mod:`.ripple`)."""
    ripple = options.ripple
    assert ripple is not None
    generator = rng if rng is not None else np.random.default_rng(0)
    n_spills = len(timing.spills["start_s"])
    phases = generator.uniform(0.0, 2 * np.pi, (n_spills, len(ripple.frequencies_hz)))
    done = np.flatnonzero(np.isfinite(timing.end[:n_run]) & (timing.beam_on[:n_run] > 0))
    next_off = np.append(beam_off[1:n_run], True)
    last_in_spill = np.append(timing.end_spill[1:n_run] != timing.end_spill[: n_run - 1], True)
    done = done[next_off[done] | last_in_spill[done]]
    spill = timing.end_spill[done]
    start = np.asarray(timing.spills["start_s"], float)[spill]
    rate = timing.delivered[done] / timing.beam_on[done]
    chopper = options.chopper_switch_ms * 1e-3
    errors = spot_count_errors(ripple, rate, timing.end[done] - start, phases[spill], chopper)
    timing.delivered[done] = np.maximum(timing.delivered[done] + errors, 0)


def _spot_record(
    plan: Plan, sequence: DeliverySequence, readings: MonitorReadings, timing: Timing, n_run: int
) -> SpotRecord:
    n = plan.n_spots
    done = sequence.spot[:n_run]

    def scattered(values: np.ndarray, fill: float | int, dtype: type) -> np.ndarray:
        out: np.ndarray = np.full(n, fill, dtype=dtype)
        out[done] = values[:n_run]
        return out

    position = np.arange(sequence.spot.size)
    return SpotRecord(
        beam=sequence.beam.copy(),
        layer=sequence.layer.copy(),
        scan_position=scattered(position, -1, np.int64),
        energy_mev_u=sequence.energy_mev_u.copy(),
        x_mm=np.concatenate([b.spots.x_mm for b in plan.beams]) if n else np.empty(0),
        y_mm=np.concatenate([b.spots.y_mm for b in plan.beams]) if n else np.empty(0),
        planned_weight=plan.weights.astype(float) if n else np.empty(0),
        target=sequence.counts.target.copy(),
        delivered=scattered(timing.delivered, 0, np.int64),
        primary_reading=scattered(readings.primary, 0.0, float),
        secondary_reading=scattered(readings.secondary, 0.0, float),
        spill=scattered(timing.spill, -1, np.int64),
        end_spill=scattered(timing.end_spill, -1, np.int64),
        start_s=scattered(timing.start, np.nan, float),
        end_s=scattered(timing.end, np.nan, float),
        beam_on_s=scattered(timing.beam_on, 0.0, float),
        transit_particles=scattered(timing.transit, 0, np.int64),
    )


def _layer_record(
    sequence: DeliverySequence, timing: Timing, fractions: np.ndarray, n_run: int
) -> LayerRecord:
    n_layers = sequence.n_layers
    columns = {name: np.full(n_layers, np.nan) for name in ("start_s", "end_s", "switch_s")}
    n_spots = np.zeros(n_layers, np.int64)
    n_spills = np.zeros(n_layers, np.int64)
    move = np.zeros(n_layers)
    previous_end, previous_beam = np.nan, -1
    for layer in range(n_layers):
        lo = int(sequence.layer_offsets[layer])
        hi = min(int(sequence.layer_offsets[layer + 1]), n_run)
        if hi <= lo:
            continue
        n_spots[layer] = hi - lo
        n_spills[layer] = timing.end_spill[lo:hi].max() - timing.spill[lo:hi].min() + 1
        move[layer] = sequence.move_s[lo:hi].sum()
        start, end = float(np.nanmin(timing.start[lo:hi])), float(np.nanmax(timing.end[lo:hi]))
        columns["start_s"][layer], columns["end_s"][layer] = start, end
        beam = int(sequence.layer_beam[layer])
        if beam == previous_beam:
            columns["switch_s"][layer] = start - previous_end
        previous_end, previous_beam = end, beam
    return LayerRecord(
        beam=sequence.layer_beam.copy(),
        energy_mev_u=sequence.layer_energy_mev_u.copy(),
        n_spots=n_spots,
        n_spills=n_spills,
        intensity_fraction=np.asarray(fractions, dtype=float).copy(),
        move_time_s=move,
        plan_move_time_s=sequence.layer_plan_move_s.copy(),
        path_method=np.asarray(sequence.layer_path, dtype=str),
        **columns,
    )


def _field_summaries(
    plan: Plan, spots: SpotRecord, spills: SpillRecord, layers: LayerRecord
) -> tuple[FieldSummary, ...]:
    summaries = []
    for b, beam in enumerate(plan.beams):
        in_spills = spills.beam == b
        in_spots = spots.beam == b
        in_layers = (layers.beam == b) & (layers.n_spots > 0)
        scanned = in_spots & (spots.scan_position >= 0)
        start = float(spills.cycle_start_s[in_spills].min()) if in_spills.any() else np.nan
        end = float(np.nanmax(spots.end_s[scanned])) if scanned.any() else np.nan
        same_layer = np.flatnonzero(in_spills[1:] & in_spills[:-1]) + 1
        same_layer = same_layer[spills.first_layer[same_layer] == spills.last_layer[same_layer - 1]]
        refill = float(np.sum(spills.start_s[same_layer] - spills.end_s[same_layer - 1]))
        summaries.append(
            FieldSummary(
                name=beam.name,
                start_s=start,
                end_s=end,
                delivery_time_s=end - start if scanned.any() else 0.0,
                beam_on_s=float(spots.beam_on_s[in_spots].sum()),
                n_layers=int(in_layers.sum()),
                n_spills=int(in_spills.sum()),
                n_spots=int(scanned.sum()),
                layer_switching_s=float(np.nansum(layers.switch_s[in_layers])),
                refill_s=refill,
                planned_particles=int(spots.target[in_spots].sum()),
                delivered_particles=int(spots.delivered[in_spots].sum()),
            )
        )
    return tuple(summaries)


def _interlock(
    trip: InterlockTrip | None, sequence: DeliverySequence, timing: Timing
) -> Interlock | None:
    if trip is None:
        return None
    spot = int(sequence.spot[trip.position])
    return Interlock(
        spot=spot,
        beam=int(sequence.beam[spot]),
        layer=int(sequence.layer[spot]),
        time_s=float(timing.end[trip.position]),
        reason=trip.reason,
    )
