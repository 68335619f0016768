"""Spot vs raster scanning, extraction while the beam is off, intensity per layer, and
multi-energy extraction."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.delivery import deliver_plan
from ionbeam.delivery._spill_loop import SpillTables

CHOPPER_MS = 0.1


def _fixed_intensity(ideal, **options):
    """Options where nothing lowers the intensity (so that both modes run the same spill)."""
    return ideal(min_spot_time_ms=0.0, raster_max_transit_fraction=1e9, **options)


def test_raster_saves_exactly_the_beam_off_time_of_spot_scanning(machine, make_plan, ideal):
    """With extraction paused while the beam is off, both modes spend the same spill time
    delivering the same particles; spot scanning adds, before every spot but the first,
    the move, the settling and the chopper's switching time."""
    plan = make_plan("carbon", [(0, 1.0e6)], n=7)
    spot = deliver_plan(plan, machine, options=_fixed_intensity(ideal, extraction_when_off="pause"))
    raster = deliver_plan(
        plan, machine,
        options=_fixed_intensity(ideal, extraction_when_off="pause", scan_mode="raster"),
    )  # fmt: skip
    duration = {
        name: r.layers.end_s[0] - r.layers.start_s[0]
        for name, r in (("spot", spot), ("raster", raster))
    }
    n = plan.n_spots
    dead = spot.layers.move_time_s[0] + (n - 1) * CHOPPER_MS * 1e-3
    assert duration["spot"] - duration["raster"] == pytest.approx(dead, rel=1e-9)
    assert raster.beam_on_s == pytest.approx(spot.beam_on_s, rel=1e-9)
    for record in (spot, raster):
        np.testing.assert_array_equal(record.spots.delivered, record.spots.target)
    assert np.all(spot.spots.transit_particles == 0)
    # particles counted while moving in raster mode: intensity × travel time (no settling)
    intensity = 4.0e8 / machine.cycle.spill_length_s
    order = np.argsort(raster.spots.scan_position)
    x, y = raster.spots.x_mm[order], raster.spots.y_mm[order]
    travel_s = np.maximum(np.abs(np.diff(x)) / 20.0, np.abs(np.diff(y)) / 5.0) * 1e-3
    transit = raster.spots.transit_particles[order]
    assert transit[0] == 0
    np.testing.assert_allclose(transit[1:], intensity * travel_s, rtol=0.01)


def test_raster_switches_the_beam_off_for_long_jumps(machine, ideal):
    from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap

    e = machine.energy_library("carbon").energies_mev_u[-1]
    x = np.array([0.0, 3.0, 6.0, 66.0, 69.0])
    spots = SpotMap(np.full(5, e), x, np.zeros(5), np.full(5, 1e6))
    plan = Plan("carbon", (Beam("B", BeamGeometry(), spots),), Prescription("PTV", 2.0))
    record = deliver_plan(plan, machine, options=_fixed_intensity(ideal, scan_mode="raster"))
    np.testing.assert_array_equal(record.spots.transit_particles > 0, [0, 1, 1, 0, 1])
    gap = record.spots.start_s[3] - record.spots.end_s[2]
    assert gap == pytest.approx((60.0 / 20.0 + 0.1 + CHOPPER_MS) * 1e-3)


def test_dumped_particles_while_the_beam_is_off(machine, make_plan, ideal):
    """A betatron-core machine keeps extracting during beam-off moves; the chopper dumps
    those particles (intensity × beam-off time); with paused extraction nothing is lost."""
    plan = make_plan("carbon", [(0, 1.0e6)], n=7)
    dump = deliver_plan(plan, machine, options=_fixed_intensity(ideal))
    pause = deliver_plan(
        plan, machine, options=_fixed_intensity(ideal, extraction_when_off="pause")
    )
    off_s = dump.layers.move_time_s[0] + plan.n_spots * CHOPPER_MS * 1e-3
    assert dump.spills.chopped[0] == pytest.approx(4.0e8 * off_s, rel=0.02)
    assert pause.spills.chopped[0] == 0.0
    assert dump.spills.unused[0] == pytest.approx(
        4.0e8 - dump.delivered_particles - dump.spills.chopped[0], abs=1.0
    )


def test_layer_intensity_is_lowered_for_small_spots(machine, make_plan, ideal):
    """5000 carbon ions (the minimum) at the full 4·10⁸ /s would last 12.5 µs; the DDS needs
    100 µs, so with per-layer modulation that layer runs at 1/8 of the intensity (fewer ions
    per spill when the spill is not stretched)."""
    weight = np.full(25, 2.0e6)
    weight[7] = 5000.0
    plan = make_plan("carbon", [(0, 2.0e6), (3, weight)])
    layer_mode = {"intensity_modulation": "layer", "stretch_spill": False}
    record = deliver_plan(plan, machine, options=ideal(**layer_mode))
    peak = SpillTables(machine, "carbon", "servo").peak_intensity_pps(record.layers.energy_mev_u[1])
    expected = 5000.0 / (peak * 1e-4)
    np.testing.assert_allclose(record.layers.intensity_fraction, [1.0, expected], rtol=1e-12)
    assert expected == pytest.approx(0.125, rel=0.01)
    np.testing.assert_allclose(record.spills.particles, [4.0e8, 4.0e8 * expected], rtol=1e-12)
    in_layer = record.spots.layer == 1
    assert np.all(record.spots.beam_on_s[in_layer] >= 1e-4 * (1 - 1e-9))
    floor = deliver_plan(plan, machine, options=ideal(min_intensity_fraction=0.5, **layer_mode))
    assert floor.layers.intensity_fraction[1] == 0.5


def test_spot_modulation_slows_only_the_small_spot(machine, make_plan, ideal):
    """Per-spot modulation (CNAO/HIT): the 5000-ion spot lasts the DDS's 100 µs, every other
    spot of its layer keeps the full intensity, and the layer is faster than when the whole
    layer runs at 1/8 intensity."""
    weight = np.full(25, 2.0e6)
    weight[7] = 5000.0
    plan = make_plan("carbon", [(0, 2.0e6), (3, weight)])
    spot = deliver_plan(plan, machine, options=ideal())
    layer = deliver_plan(plan, machine, options=ideal(intensity_modulation="layer"))
    np.testing.assert_array_equal(spot.layers.intensity_fraction, [1.0, 1.0])
    small = (spot.spots.layer == 1) & (spot.spots.target == 5000)
    assert spot.spots.beam_on_s[small][0] == pytest.approx(1e-4, rel=1e-9)
    big = (spot.spots.layer == 1) & ~small
    ratio = np.median(layer.spots.beam_on_s[big]) / np.median(spot.spots.beam_on_s[big])
    assert ratio == pytest.approx(8.0, rel=0.01)
    assert spot.beam_on_s < layer.beam_on_s / 4
    assert spot.delivered_particles == layer.delivered_particles


def test_a_dimmed_spill_is_stretched_not_emptied(machine, make_plan, ideal):
    """At 1/8 intensity a stretched spill lasts up to the machine's longest flat top (5 s for
    CNAO's 1 s spills) and so holds 5/8 of the full spill's ions instead of 1/8."""
    weight = np.full(25, 2.0e6)
    weight[7] = 5000.0
    plan = make_plan("carbon", [(3, weight)])
    options = ideal(intensity_modulation="layer", variable_flat_top=False)
    stretched = deliver_plan(plan, machine, options=options)
    fraction = stretched.layers.intensity_fraction[0]
    assert fraction == pytest.approx(0.125, rel=0.01)
    assert stretched.spills.particles[0] == pytest.approx(4.0e8 * fraction * 5.0, rel=1e-9)
    flat_top = stretched.spills.end_s[0] - stretched.spills.start_s[0]
    assert 5.0 <= flat_top < 5.1


def test_raster_intensity_keeps_transit_below_the_limit(machine, make_plan, ideal):
    plan = make_plan("carbon", [(0, 2.0e5)], n=6)
    record = deliver_plan(
        plan, machine, options=ideal(scan_mode="raster", raster_max_transit_fraction=0.2)
    )
    fraction = record.layers.intensity_fraction[0]
    assert 0.01 < fraction < 1.0
    share = record.spots.transit_particles / record.spots.target
    assert share.max() <= 0.2 * 1.02 and share.max() > 0.15


def test_multi_energy_extraction_shares_a_flat_top(machine, make_plan, ideal):
    plan = make_plan("carbon", [(3 * k, 1.0e5) for k in range(4)])
    single = deliver_plan(plan, machine, options=ideal())
    multi = deliver_plan(plan, machine, options=ideal(multi_energy_extraction=True))
    assert single.n_cycles == 4 and multi.n_cycles == 1
    assert (multi.spills.first_layer[0], multi.spills.last_layer[0]) == (0, 3)
    e = multi.layers.energy_mev_u
    cycle = machine.with_cycle(multi_energy_extraction=True).cycle
    steps = [float(cycle.gap_s("carbon", e[k - 1], e[k])) + CHOPPER_MS * 1e-3 for k in (1, 2, 3)]
    np.testing.assert_allclose(multi.layers.switch_s[1:], steps, rtol=1e-9)
    assert multi.fraction_time_s < single.fraction_time_s - 2.0
    assert multi.delivered_particles == single.delivered_particles


def test_multi_energy_needs_a_new_cycle_when_the_intensity_must_drop(machine, make_plan, ideal):
    """The ring's content is fixed at injection: a layer that needs a lower intensity cannot
    continue in the flat top of a brighter spill; a brighter-tolerant layer can."""
    small = np.full(25, 2.0e5)
    small[0] = 5000.0
    plan = make_plan("carbon", [(0, 2.0e5), (3, small), (6, 2.0e5)])
    options = ideal(multi_energy_extraction=True, intensity_modulation="layer")
    record = deliver_plan(plan, machine, options=options)
    np.testing.assert_array_equal(record.spills.first_layer, [0, 1])
    np.testing.assert_array_equal(record.spills.last_layer, [0, 2])
