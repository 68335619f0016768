"""deliver_plan: spills carry layers over, particles are conserved to the particle, cycles
per layer, determinism, the record's alignment with the plan, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ionbeam.delivery import DeliveryOptions, deliver_plan
from ionbeam.errors import ConfigError, MachineLimitError, UnknownNameError
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap

CHOPPER_S = DeliveryOptions().chopper_switch_ms * 1e-3


@pytest.mark.parametrize("mode", ["pause", "dump"])
def test_a_layer_larger_than_a_spill_carries_over(machine, make_plan, ideal, mode) -> None:
    """25 spots of 4.5·10⁷ carbon ions = 1.125·10⁹ > 4·10⁸ per spill: the layer needs three spills
    or more; each spill is used up before the next cycle starts, and a spot that a spill's
    end interrupts is finished in the next spill."""
    plan = make_plan("carbon", [(0, 4.5e7)])
    record = deliver_plan(plan, machine, options=ideal(extraction_when_off=mode))
    spills, spots = record.spills, record.spots
    assert machine.spill_particles("carbon") == 4.0e8
    assert len(spills) >= 3 and record.layers.n_spills[0] == len(spills)
    if mode == "pause":
        assert len(spills) == 3  # nothing is lost while the beam is off
    np.testing.assert_array_equal(spots.delivered, spots.target)
    assert spills.delivered.sum() == record.delivered_particles == 25 * 45_000_000
    # every spill but the last is used up: delivered + dumped = its content (to a particle)
    used = spills.delivered[:-1] + spills.chopped[:-1]
    np.testing.assert_allclose(used, spills.particles[:-1], atol=1.0)
    assert np.all(spills.unused[:-1] < 1.0)
    assert spills.unused[-1] > 0
    # the next spill starts one ramp-down, injection, ramp-up and set-up later
    energy = record.layers.energy_mev_u[0]
    ramp_down = float(machine.cycle.ramp_down_s("carbon", energy))
    spill_start = float(machine.cycle.spill_start_s("carbon", energy))
    np.testing.assert_allclose(spills.cycle_start_s[1:] - spills.end_s[:-1], ramp_down)
    np.testing.assert_allclose(spills.start_s[1:] - spills.end_s[:-1], ramp_down + spill_start)
    split = np.flatnonzero(spots.spill != spots.end_spill)
    assert split.size >= 1 and (mode == "dump" or split.size == len(spills) - 1)
    for i in split:
        first, last = spots.spill[i], spots.end_spill[i]
        assert last == first + 1
        assert spots.start_s[i] < spills.end_s[first] < spills.start_s[last] < spots.end_s[i]
    order = np.argsort(spots.scan_position)
    assert np.all(np.diff(spots.end_s[order]) > 0)


def test_total_delivered_equals_the_plan_to_the_particle(machine, ideal) -> None:
    rng = np.random.default_rng(4)
    library = machine.energy_library("carbon").energies_mev_u
    beams = []
    for b in range(2):
        energies = np.repeat(library[[100, 90, 75]], 40)
        weight = rng.uniform(1.0e4, 3.0e6, energies.size)  # fractional particle numbers
        weight[rng.choice(energies.size, 10, replace=False)] = 0.0
        spots = SpotMap(energies, rng.uniform(-30, 30, 120), rng.uniform(-30, 30, 120), weight)
        beams.append(Beam(f"F{b}", BeamGeometry(gantry_deg=45.0 * b), spots))
    plan = Plan("carbon", tuple(beams), Prescription("PTV", 3.0))
    record = deliver_plan(plan, machine, options=ideal())
    rounded = np.rint(plan.weights).astype(np.int64)
    assert record.delivered_particles == int(rounded.sum()) == record.planned_particles
    np.testing.assert_array_equal(record.spots.delivered, rounded)
    np.testing.assert_array_equal(record.spots.planned_weight, plan.weights)
    assert [f.delivered_particles for f in record.fields] == [
        int(rounded[:120].sum()),
        int(rounded[120:].sum()),
    ]
    assert record.spills.delivered.sum() == rounded.sum()
    skipped = rounded == 0
    assert np.all(record.spots.scan_position[skipped] == -1)
    assert np.all(record.spots.spill[skipped] == -1) and np.all(
        np.isnan(record.spots.end_s[skipped])
    )
    positions = np.sort(record.spots.scan_position[~skipped])
    np.testing.assert_array_equal(positions, np.arange(positions.size))
    # layers from high to low energy within each field, fields in plan order
    assert np.all(np.diff(record.layers.energy_mev_u[:3]) < 0)
    np.testing.assert_array_equal(record.layers.beam, [0, 0, 0, 1, 1, 1])
    assert record.fields[0].end_s < record.fields[1].start_s


def test_below_minimum_policy_changes_are_counted(machine, make_plan, ideal) -> None:
    weight = np.full(25, 2.0e5)
    weight[:3] = [100.0, 3000.0, 4999.4]  # carbon minimum is 5000
    plan = make_plan("carbon", [(0, weight)])
    with pytest.raises(MachineLimitError, match="minimum spot weight"):
        deliver_plan(plan, machine, options=ideal())
    record = deliver_plan(plan, machine, options=ideal(below_minimum="round"))
    assert (record.spots_raised, record.spots_lowered) == (2, 1)
    assert record.delivered_particles == 22 * 200_000 + 2 * 5000
    assert record.spots.scan_position[0] == -1


def test_one_cycle_per_layer_and_time_grows_with_layers(machine, make_plan, ideal) -> None:
    """Small layers (one spill each, no multi-energy extraction): every layer costs a new
    cycle, i.e. a ramp-down from the previous energy and a ramp-up to the next one."""
    times = []
    for n_layers in range(1, 5):
        plan = make_plan("carbon", [(3 * k, 1.0e5) for k in range(n_layers)])
        record = deliver_plan(plan, machine, options=ideal())
        assert record.n_cycles == record.n_spills == n_layers
        layers = record.layers
        e = layers.energy_mev_u
        expected = [
            float(machine.cycle.ramp_down_s("carbon", e[k - 1]))
            + float(machine.cycle.spill_start_s("carbon", e[k]))
            + CHOPPER_S
            for k in range(1, n_layers)
        ]
        np.testing.assert_allclose(layers.switch_s[1:], expected, rtol=1e-9)
        assert record.layer_switching_s == pytest.approx(sum(expected))
        times.append(record.fraction_time_s)
        first_start = float(machine.cycle.spill_start_s("carbon", e[0]))
        assert layers.start_s[0] == pytest.approx(first_start + CHOPPER_S)
    steps = np.diff(times)
    assert np.all(steps > 1.0)  # at least a ramp down and up (about 1.2 s for carbon here)
    np.testing.assert_allclose(steps, steps[0], rtol=0.05)


def test_a_fixed_flat_top_waits_for_the_end_of_the_spill(machine, make_plan, ideal) -> None:
    plan = make_plan("carbon", [(0, 1.0e5), (3, 1.0e5)])
    variable = deliver_plan(plan, machine, options=ideal())
    fixed = deliver_plan(plan, machine, options=ideal(variable_flat_top=False))
    spill_length = machine.cycle.spill_length_s
    assert fixed.spills.end_s[0] - fixed.spills.start_s[0] > spill_length
    extra = fixed.layers.switch_s[1] - variable.layers.switch_s[1]
    used = variable.spills.end_s[0] - variable.spills.start_s[0]
    # the flat top runs to the end of the spill table (spill length + transit delay)
    assert extra == pytest.approx(fixed.spills.end_s[0] - fixed.spills.start_s[0] - used)
    assert fixed.delivered_particles == variable.delivered_particles


def test_deterministic_with_a_seed(machine, make_plan) -> None:
    plan = make_plan("carbon", [(0, 1.0e6), (4, 3.0e5)], shuffle=1)
    a = deliver_plan(plan, machine, rng=np.random.default_rng(5))
    b = deliver_plan(plan, machine, rng=np.random.default_rng(5))
    c = deliver_plan(plan, machine, rng=np.random.default_rng(6))
    for name, column in a.spots.columns().items():
        np.testing.assert_array_equal(column, b.spots.columns()[name], err_msg=name)
    for name, column in a.spills.columns().items():
        np.testing.assert_array_equal(column, b.spills.columns()[name], err_msg=name)
    assert not np.array_equal(a.spots.secondary_reading, c.spots.secondary_reading)
    # the noise is physical: true counts scatter by 0.5·√n around the targets
    deviation = a.delivered_particles - a.planned_particles
    assert abs(deviation) < 5 * 0.5 * math.sqrt(a.planned_particles)
    assert a.completed and c.completed


def test_bad_input(machine, make_plan, ideal) -> None:
    library = machine.energy_library("carbon").energies_mev_u
    between = 0.5 * (library[50] + library[51])
    geometry = BeamGeometry()

    def one_spot(energy: float, weight: float = 1e5) -> Plan:
        spots = SpotMap([energy], [0.0], [0.0], [weight])
        return Plan("carbon", (Beam("B", geometry, spots),), Prescription("PTV", 2.0))

    with pytest.raises(MachineLimitError, match="no such energy"):
        deliver_plan(one_spot(between), machine, options=ideal())
    with pytest.raises(MachineLimitError):
        deliver_plan(one_spot(450.0), machine, options=ideal())
    with pytest.raises(MachineLimitError, match="split the field"):
        deliver_plan(one_spot(library[0], 6.0e7), machine, options=ideal())
    with pytest.raises(ConfigError, match="random generator"):
        deliver_plan(make_plan(), machine)  # noisy chambers by default: rng needed
    with pytest.raises(UnknownNameError):
        DeliveryOptions(scan_mode="line")
    with pytest.raises(UnknownNameError):
        DeliveryOptions(scan_path="tsp")
    for bad in (
        {"chopper_switch_ms": -1.0},
        {"min_intensity_fraction": 0.0},
        {"raster_beam_off_distance_mm": 0.0},
        {"field_change_s": float("nan")},
    ):
        with pytest.raises(ConfigError):
            DeliveryOptions(**bad)
    # a plan energy within 0.05 MeV/u of a library energy is that energy
    record = deliver_plan(one_spot(library[60] + 0.01), machine, options=ideal())
    assert record.spots.energy_mev_u[0] == library[60]
