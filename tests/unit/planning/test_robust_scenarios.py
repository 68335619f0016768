"""Error scenarios: the standard sets, and what a scenario does to the dose."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.machine import cnao_beam_line, cnao_energy_library
from ionbeam.patient.phantoms import make_phantom
from ionbeam.patient.stoichiometric import stoichiometric_calibration
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap
from ionbeam.planning.planner import PlanningOptions
from ionbeam.planning.robust import (
    Scenario,
    ScenarioSet,
    sampled_scenarios,
    scenario_calibration,
    scenario_dose,
    scenario_plan,
    scenario_set,
)

OPTIONS = PlanningOptions(dose_grid_mm=2.0)


@pytest.fixture(scope="module")
def water():
    return make_phantom("water", spacing_mm=2.0, box_size_mm=140.0, target_size_mm=30.0)


@pytest.fixture(scope="module")
def one_spot():
    """One proton spot, gantry 0 (the beam travels along +y), peak near 90 mm."""
    energy = float(cnao_energy_library("proton").energies_mev_u[40])
    geometry = BeamGeometry(gantry_deg=0.0, sad_mm=cnao_beam_line().sad_mm)
    beam = Beam("B1", geometry, SpotMap([energy], [0.0], [0.0], [1e9]))
    return Plan("proton", (beam,), Prescription("Target", 2.0), rbe_model="none")


def test_standard_sets_follow_matrad() -> None:
    """9 = nominal + six one-axis shifts + two range errors; 21 = 7 shifts × 3 ranges
    (matRad's wcScen sets); the nominal first, equal probabilities."""
    nine = scenario_set("9", range_error=0.035, setup_error_mm=3.0)
    assert len(nine) == 9 and nine.scenarios[0].is_nominal
    shifts = {s.shift_mm for s in nine.scenarios}
    assert (3.0, 0.0, 0.0) in shifts and (0.0, 0.0, -3.0) in shifts and len(shifts) == 7
    assert sorted({s.range_error for s in nine.scenarios}) == [-0.035, 0.0, 0.035]
    assert all(s.range_error == 0 or s.shift_mm == (0, 0, 0) for s in nine.scenarios)
    twenty_one = scenario_set("21")
    assert len(twenty_one) == 21
    assert len({(s.range_error, s.shift_mm) for s in twenty_one.scenarios}) == 21
    np.testing.assert_allclose(twenty_one.probabilities, 1 / 21)
    assert len(scenario_set("nominal")) == 1
    assert len(scenario_set("9", setup_error_mm=0.0)) == 3
    assert nine.scenarios[8].label == "R-3.5%"


def test_sampled_scenarios_are_reproducible() -> None:
    """Sampled systematic errors come from the given generator only."""
    a = sampled_scenarios(6, range_sd=0.01, setup_sd_mm=2.0, rng=np.random.default_rng(4))
    b = sampled_scenarios(6, range_sd=0.01, setup_sd_mm=2.0, rng=np.random.default_rng(4))
    assert a.scenarios == b.scenarios and len(a) == 6 and a.scenarios[0].is_nominal
    spread = np.std([s.shift_mm for s in a.scenarios[1:]])
    assert 0.3 < spread < 6.0


def test_bad_scenarios_are_refused() -> None:
    with pytest.raises(UnknownNameError, match="scenario set"):
        scenario_set("12")
    with pytest.raises(ConfigError, match="range error"):
        scenario_set("9", range_error=3.5)  # a percentage where a fraction is due
    with pytest.raises(ConfigError, match="set-up shift"):
        Scenario(0.0, (1.0, 2.0))
    with pytest.raises(ConfigError, match="nominal"):
        ScenarioSet.equal((Scenario(0.01),))


def test_range_error_scales_the_spr_and_the_set_up_error_moves_the_isocentre(one_spot) -> None:
    """A range error r multiplies every SPR of the calibration by 1 + r; a patient shift
    s puts the room-fixed isocentre at −s in patient coordinates."""
    base = stoichiometric_calibration()
    scaled = scenario_calibration(None, Scenario(0.035))
    np.testing.assert_allclose(scaled.spr, 1.035 * base.spr)
    assert scenario_calibration(base, Scenario()) is base
    moved = scenario_plan(one_spot, Scenario(0.0, (4.0, 0.0, -2.0)))
    assert moved.beams[0].geometry.isocenter_mm == (-4.0, 0.0, 2.0)
    assert moved.weights.tolist() == one_spot.weights.tolist()


def test_set_up_shift_translates_the_dose_in_water(water, one_spot) -> None:
    """In a homogeneous water box a 4 mm patient shift along x (two voxels) translates
    the spot's dose by −4 mm in patient coordinates: equal voxel by voxel (1e-6
    relative; the beam crosses the same water and air)."""
    nominal = scenario_dose(water, one_spot, Scenario(), options=OPTIONS)
    shifted = scenario_dose(water, one_spot, Scenario(0.0, (4.0, 0.0, 0.0)), options=OPTIONS)
    inner = slice(10, -10)
    np.testing.assert_allclose(shifted[inner], nominal[12:-8], rtol=1e-6, atol=1e-6 * nominal.max())
    assert not np.allclose(shifted, nominal, atol=1e-3 * nominal.max())


def test_range_error_scales_the_depth_of_the_dose_in_water(water, one_spot) -> None:
    """SPR × (1 ± 0.035) in water: WEPL = SPR × path, so the dose-weighted mean depth of
    the spot below the water surface (10 mm of air in front, whose WEPL barely counts)
    becomes its nominal value / (1 ± 0.035). Tolerance 0.1 mm (0.2 % of ~51 mm): the
    centroid of a dose sampled at 2 mm is not affected by the distal fall-off lying
    within one voxel, unlike R80 on this grid."""
    grid = water.grid
    y_mm = grid.origin_mm[1] + grid.spacing_mm[1] * np.arange(grid.shape[1])
    body = water.structures["Body"].mask[grid.shape[0] // 2, :, grid.shape[2] // 2]
    surface_mm = y_mm[np.flatnonzero(body)[0]] - 0.5 * grid.spacing_mm[1]
    depth = {}
    for r in (-0.035, 0.0, 0.035):
        dose = scenario_dose(water, one_spot, Scenario(r), options=OPTIONS).sum(axis=(0, 2))
        depth[r] = float((dose * y_mm).sum() / dose.sum()) - surface_mm
    assert 40.0 < depth[0.0] < 70.0
    for r in (-0.035, 0.035):
        assert depth[r] == pytest.approx(depth[0.0] / (1 + r), abs=0.1)


def test_range_margin_widens_the_energy_layers(water) -> None:
    """place_spots with range_margin_fraction f keeps the nominal layers and adds layers
    whose peaks reach up to f beyond the target's deepest WEPL (and f before its
    shallowest); a bad fraction is refused."""
    from ionbeam.machine.beam_model import build_beam_model
    from ionbeam.planning.spot_placement import place_spots

    energies = cnao_energy_library("proton").energies_mev_u
    model = build_beam_model("proton", energies, cnao_beam_line())
    geometry = BeamGeometry(gantry_deg=0.0, sad_mm=cnao_beam_line().sad_mm)
    target = water.structures["Target"].mask
    kwargs = dict(
        energies_mev_u=model.energies_mev_u,
        peak_depths_mm=model.bragg_peak_mm,
        spot_spacing_mm=6.0,
    )
    spr = water.ct.spr()
    nominal = place_spots(spr, water.grid, target, geometry, **kwargs)
    wide = place_spots(spr, water.grid, target, geometry, range_margin_fraction=0.05, **kwargs)
    low, high = nominal.energy_mev_u.min(), nominal.energy_mev_u.max()
    assert wide.energy_mev_u.max() > high and wide.energy_mev_u.min() < low
    assert set(nominal.energy_mev_u) <= set(wide.energy_mev_u)
    deepest = model.bragg_peak_mm[np.searchsorted(model.energies_mev_u, high)]
    extra = model.bragg_peak_mm[np.searchsorted(model.energies_mev_u, wide.energy_mev_u.max())]
    assert deepest < extra <= 1.05 * (deepest + 2.0)  # + one voxel of the target's WEPL
    with pytest.raises(ConfigError, match="range_margin_fraction"):
        place_spots(spr, water.grid, target, geometry, range_margin_fraction=3.5, **kwargs)
    with pytest.raises(ConfigError, match="range_margin_fraction"):
        PlanningOptions(range_margin_fraction=-0.1)
