"""Sub-voxel rows near the target (``oar_supersampling_mm``): geometry, matrices, and an
organ maximum that holds on a finer grid.

The phantom: a water box (2 mm CT) with a 24 mm cubic target and an organ at risk
("OAR", 12 mm thick) that abuts it laterally, one proton field at 90°, planned on a
4 mm dose grid and recomputed on the 2 mm grid (the sub-voxels' own grid)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.machine import cnao_machine
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.patient.grid import Grid
from ionbeam.patient.patient import Patient
from ionbeam.patient.phantoms import make_phantom
from ionbeam.patient.structures import Structure
from ionbeam.planning.dose_grid import make_dose_grid, occupancy_on_grid
from ionbeam.planning.optimize import SolverOptions, SquaredDeviation, SquaredOverdose
from ionbeam.planning.optimize.influence_rows import restrict_influence
from ionbeam.planning.plan import Prescription
from ionbeam.planning.planner import (
    PlanningOptions,
    _engine_influence,
    _engine_options,
    dose_of_plan,
    plan_patient,
)
from ionbeam.planning.sub_voxels import (
    band_voxels,
    split_voxels,
    sub_voxel_fractions,
    sub_voxel_influence,
)

SOLVER = SolverOptions(progress=False, relative_tolerance=2e-3, max_iterations=200)
#: Dose per fraction (Gy) and the organ's maximum (a fraction of it).
DOSE_GY = 2.0
OAR_MAX = 0.8


@pytest.fixture(scope="module")
def patient() -> Patient:
    water = make_phantom("water", spacing_mm=2.0, box_size_mm=100.0, target_size_mm=24.0)
    x, y, z = np.meshgrid(*water.grid.axes_mm(), indexing="ij")
    oar = (np.abs(x) <= 12) & (y > 12) & (y <= 24) & (np.abs(z) <= 12)
    structures = [*water.structures.values(), Structure("OAR", oar, water.grid)]
    return Patient(water.name, water.ct, structures, "Target", dict(water.metadata))


def _options(band_mm: float, **changes) -> PlanningOptions:
    return PlanningOptions(
        gantry_deg=(90.0,), dose_grid_mm=4.0, spot_spacing_mm=5.0, energy_stride=2,
        solver=SOLVER, oar_supersampling_mm=band_mm, **changes,
    )  # fmt: skip


def _objectives() -> dict:
    return {
        "Target": (SquaredDeviation(DOSE_GY, weight=1000.0),),
        "OAR": (SquaredOverdose(OAR_MAX * DOSE_GY, weight=3000.0),),
    }


@pytest.fixture(scope="module")
def plans(patient):
    """(planned on 4 mm, recomputed on 2 mm) without and with 4 mm of sub-voxels."""
    out = {}
    for band in (0.0, 4.0):
        options = _options(band)
        result = plan_patient(
            patient, Prescription("Target", 60.0, 30), particle="proton",
            objectives=_objectives(), options=options,
        )  # fmt: skip
        fine = dose_of_plan(
            patient, result.plan, options=dataclasses.replace(options, dose_grid_mm=2.0)
        )
        out[band] = (result, fine)
    return out


def _max(result, name: str) -> float:
    return float(result.evaluated_dose_gy[result.masks[name]].max())


def test_split_voxels_are_the_finer_grids_voxels() -> None:
    """The sub-voxels of a voxel are the 8 voxels of the half-spacing grid inside it:
    their centres lie ±¼ spacing from its centre and coincide with the centres of
    ``make_dose_grid`` at half the spacing (so a recomputation there sees them)."""
    ct = Grid((30, 30, 30), (2.0, 2.0, 2.0), (-29.0, -29.0, -29.0))
    coarse, fine = make_dose_grid(ct, 4.0), make_dose_grid(ct, 2.0)
    parents = np.array([0, 1234, coarse.size - 1])
    sub = split_voxels(coarse, parents)
    assert sub.n_rows == 24 and sub.n_split == 3
    assert np.all(np.diff(sub.fine_index) > 0)
    centres = sub.fine_grid.index_to_world(
        np.stack(np.unravel_index(sub.fine_index, sub.fine_grid.shape), axis=1)
    )
    parent_centres = coarse.index_to_world(
        np.stack(np.unravel_index(sub.parent, coarse.shape), axis=1)
    )
    np.testing.assert_allclose(np.abs(centres - parent_centres), 1.0, atol=1e-9)
    on_fine = fine.world_to_index(centres)
    np.testing.assert_allclose(on_fine, np.round(on_fine), atol=1e-9)
    values = np.arange(coarse.size, dtype=float)
    np.testing.assert_array_equal(sub.extend(values)[coarse.size :], sub.parent)
    rows = np.array([5, coarse.size, coarse.size + 23])
    np.testing.assert_array_equal(sub.parents_of(rows), np.sort([5, *sub.parent[[0, 23]]]))
    with pytest.raises(ConfigError, match="oar_supersampling_mm = 0"):
        split_voxels(coarse, np.array([], dtype=np.int64))


def test_band_and_fractions_keep_each_structures_volume(patient) -> None:
    """The band holds the voxels next to the target's faces (inside and out) and not
    those farther than the band; the optimizer's weights keep each structure's volume
    (Σ share × voxel volume, sub-voxels counted 1/8) and give a voxel in both
    structures to the first in priority."""
    grid = make_dose_grid(patient.grid, 4.0)
    occupancy = occupancy_on_grid(list(patient.structures.values()), grid)
    carried = (occupancy["Target"] > 0) | (occupancy["OAR"] > 0)
    band = band_voxels(occupancy["Target"], grid, 4.0, carried)
    centres = np.round(grid.voxel_centres_mm()).astype(int).reshape(-1, 3)
    in_band = np.zeros(grid.size, dtype=bool)
    in_band[band] = True
    target = occupancy["Target"].reshape(-1) > 0
    edge = np.abs(centres).max(axis=1) >= 10  # centres ≤ 4 mm from a face (at 12 mm)
    np.testing.assert_array_equal(in_band[target], edge[target])
    oar = occupancy["OAR"].reshape(-1) > 0
    np.testing.assert_array_equal(in_band[oar], centres[oar, 1] == 14)  # beside the target
    sub = split_voxels(grid, band)
    structures = list(patient.structures.values())
    shares = sub_voxel_fractions(sub, structures, occupancy, ["OAR", "Target"])
    for name in ("OAR", "Target"):
        volume = float(np.sum(occupancy[name])) * grid.voxel_volume_mm3
        assert float(np.sum(shares[name])) * grid.voxel_volume_mm3 == pytest.approx(volume)
    assert np.all(shares["OAR"] + shares["Target"] <= np.concatenate(
        [np.ones(grid.size), np.full(sub.n_rows, 1 / 8)]) + 1e-12)  # fmt: skip


def test_sub_voxel_rows_equal_the_finer_grids_rows(patient, plans) -> None:
    """The rows the optimizer reads for the sub-voxels are the rows of the influence
    matrix computed on the whole 2 mm grid (same engine, halo in its disc) to float32
    precision: cropping the fine grid to the band changes nothing."""
    result, _ = plans[4.0]
    options = _options(4.0)
    grid = make_dose_grid(patient.grid, 4.0)
    occupancy = occupancy_on_grid(list(patient.structures.values()), grid)
    carried = (occupancy["Target"] > 0) | (occupancy["OAR"] > 0)
    sub = split_voxels(grid, band_voxels(occupancy["Target"], grid, 4.0, carried))
    engine_options = dataclasses.replace(_engine_options(options), halo="disc")
    model_plan = result.plan
    energies = np.unique(model_plan.beams[0].spots.energy_mev_u)
    model = build_beam_model("proton", energies, cnao_machine().beam_line)

    def compute(**where):
        return _engine_influence(options)(
            patient.ct, model_plan, model, options=engine_options, **where
        )

    sub = sub_voxel_influence(sub, compute, None)
    full = compute(dose_grid=make_dose_grid(patient.grid, 2.0),
                   structures=list(patient.structures.values()))  # fmt: skip
    fine_grid = full.grid
    centres = sub.fine_grid.index_to_world(
        np.stack(np.unravel_index(sub.fine_index, sub.fine_grid.shape), axis=1)
    )
    on_full = np.ravel_multi_index(
        tuple(np.round(fine_grid.world_to_index(centres)).astype(int).T), fine_grid.shape
    )
    influence = dataclasses.replace(result.influence, sub_voxels=sub, halo=None)
    rows = restrict_influence(influence, grid.size + np.arange(sub.n_rows))
    w = np.ones(result.plan.n_spots)
    expected = full.dose @ w
    np.testing.assert_allclose(rows.times("dose", w), expected[on_full], rtol=1e-5, atol=1e-12)


def test_an_organ_maximum_planned_on_4_mm_holds_on_2_mm(plans) -> None:
    """Without sub-voxels, the organ's 4 mm voxels meet their maximum (0.8 × 2 Gy, within
    3 %) but its 2 mm voxels beside the target exceed it by more than 10 % (the lateral
    fall-off inside one 4 mm voxel); with 4 mm of sub-voxels the 2 mm maximum stays
    within 3 % of the limit, and the target's D95 on 2 mm is no worse. Tolerance: 3 %,
    the issue's criterion for a maximum recomputed on a finer grid."""
    limit = OAR_MAX * DOSE_GY
    plain, plain_fine = plans[0.0]
    split, split_fine = plans[4.0]
    assert _max(plain, "OAR") <= 1.03 * limit
    assert _max(plain_fine, "OAR") > 1.10 * limit
    assert _max(split_fine, "OAR") <= 1.03 * limit

    def d95(result) -> float:
        return float(np.percentile(result.evaluated_dose_gy[result.masks["Target"]], 5))

    assert d95(split_fine) >= d95(plain_fine) - 1e-3
    assert split.plan.settings["planning"]["oar_supersampling_mm"] == 4.0
    assert "sub_voxel_influence_s" in split.timings_s


def test_bad_settings_are_refused(patient) -> None:
    """A negative, too large or non-numeric band is refused; so is the band with robust
    optimization (not supported there)."""
    for bad in (-1.0, 50.0, "4", True):
        with pytest.raises(ConfigError, match="oar_supersampling_mm"):
            _options(bad)
    from ionbeam.planning.robust.options import RobustOptions

    with pytest.raises(ConfigError, match="robust"):
        plan_patient(
            patient, Prescription("Target", 60.0, 30), particle="proton",
            objectives=_objectives(), options=_options(4.0), robust=RobustOptions(),
        )  # fmt: skip


def test_sfud_honours_the_sub_voxels(patient) -> None:
    """SFUD (each field alone) plans on the sub-voxels too: its organ maximum on 2 mm
    stays within 3 % of the limit, as IMPT's does."""
    options = _options(4.0, technique="sfud")
    result = plan_patient(
        patient, Prescription("Target", 60.0, 30), particle="proton",
        objectives=_objectives(), options=options,
    )  # fmt: skip
    on_2_mm = dataclasses.replace(options, dose_grid_mm=2.0)
    fine = dose_of_plan(patient, result.plan, options=on_2_mm)
    assert _max(fine, "OAR") <= 1.03 * OAR_MAX * DOSE_GY
    assert "sub_voxel_influence_s" in result.timings_s
