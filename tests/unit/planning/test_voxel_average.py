"""The dose of a voxel is its average over the voxel (DESIGN.md, "What the dose means")."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.machine import cnao_beam_line, cnao_energy_library
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning import _dose_kernels as kernels
from ionbeam.planning._voxel_average import depth_tables, voxel_extent
from ionbeam.planning.dose_engine import calc_dose_influence
from ionbeam.planning.dose_grid import make_dose_grid
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap
from ionbeam.planning.raytrace import wepl_map

BEAM_LINE = cnao_beam_line()


@pytest.fixture(scope="module")
def carbon():
    """Two CNAO carbon energies around a 60–70 mm peak (FWHM ≈ 2 mm: the sharpest case)."""
    energies = cnao_energy_library("carbon").energies_mev_u[14:16]
    return build_beam_model("carbon", energies, BEAM_LINE)


def _one_spot(model, energy: float) -> Plan:
    geometry = BeamGeometry(gantry_deg=0.0, isocenter_mm=(0.0, 0.0, 0.0), sad_mm=BEAM_LINE.sad_mm)
    beam = Beam("B1", geometry, SpotMap([energy], [0.0], [0.0], [1.0]))
    return Plan(model.particle, (beam,), Prescription("Target", 2.0))


def test_average_of_a_piecewise_linear_table_is_exact() -> None:
    """The kernels' mean of a depth table over [lo, hi] equals the analytic mean of its
    linear interpolant: a triangle 0 → 1 → 0 on bins 0…4 (peak at bin 2), averaged
    over [1.5, 3.25] bins: ∫ = 0.5·(0.75+1)·0.5 + 0.5·(1+0.375)·1.25 = 1.296875,
    mean = 1.296875 / 1.75 (to rounding); outside the table it counts as zero."""
    table = np.array([[0.0, 0.5, 1.0, 0.5, 0.0]])
    cumulative = depth_tables(table, table, np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), False)[0]

    def mean(lo: float, hi: float, k: int = 2, f: float = 0.375) -> float:
        ends = (*kernels._bin(lo, 5), *kernels._bin(hi, 5))
        return kernels._average(table, cumulative, 0, hi - lo, *ends, k, f)

    assert mean(1.5, 3.25) == pytest.approx(1.296875 / 1.75, rel=1e-12)
    assert mean(3.0, 6.0) == pytest.approx(0.25 / 3.0, rel=1e-12)  # 0.25 bins of dose
    assert mean(-1.0, 1.0) == pytest.approx(0.25 / 2.0, rel=1e-12)  # half upstream
    assert mean(2.5, 2.5, 2, 0.5) == pytest.approx(0.75, rel=1e-12)  # a voxel in air


def test_voxel_extent_along_and_across_the_beam() -> None:
    """A beam along y sees a 2 × 3 × 4 mm voxel 3 mm long and adds (2² + 4²)/24 mm²
    across it (the mean of the two lateral box variances a²/12)."""
    patient = make_phantom("water", spacing_mm=2.0, box_size_mm=40.0, target_size_mm=10.0)
    grid = make_dose_grid(patient.grid, (2.0, 3.0, 4.0))
    extent = voxel_extent(BeamGeometry(gantry_deg=0.0, sad_mm=BEAM_LINE.sad_mm), grid)
    assert extent.length_mm == pytest.approx(3.0)
    assert extent.lateral_variance_mm2 == pytest.approx((4.0 + 16.0) / 24.0)


def test_coarse_voxel_equals_the_mean_of_the_fine_dose_inside_it(carbon) -> None:
    """One carbon spot (peak FWHM ≈ 2 mm) in water: the dose of each 3 mm voxel equals
    the mean of the 1 mm doses inside it (27 sub-voxels, grids aligned), within 2 % of
    the maximum (the lateral box average is a variance broadening, exact to ~1 % of the
    peak for σ ≥ a/2, and σ varies slightly across a voxel). The dose at the 3 mm
    voxels' centres — what a point-sampling engine stores — misses it by far more."""
    patient = make_phantom(
        "water", spacing_mm=1.0, box_size_mm=(42.0, 102.0, 42.0), target_size_mm=10.0,
        air_margin_mm=9.0,
    )  # fmt: skip
    plan = _one_spot(carbon, float(carbon.energies_mev_u[0]))
    body = [patient.structures["Body"]]
    fine = calc_dose_influence(patient.ct, plan, carbon, structures=body).dose_gy(plan.weights)
    grid = make_dose_grid(patient.grid, 3.0)
    coarse = calc_dose_influence(patient.ct, plan, carbon, dose_grid=grid, structures=body).dose_gy(
        plan.weights
    )
    nx, ny, nz = grid.shape
    blocks = fine.reshape(nx, 3, ny, 3, nz, 3).mean(axis=(1, 3, 5))
    peak = float(blocks.max())
    np.testing.assert_allclose(coarse, blocks, rtol=0, atol=0.02 * peak)
    assert coarse.sum() * 27 == pytest.approx(fine.sum(), rel=0.005)
    centres = fine[1::3, 1::3, 1::3]
    assert np.abs(centres - blocks).max() > 0.1 * peak


def test_laterally_integrated_dose_on_a_coarse_grid_is_the_idd_over_each_slab(carbon) -> None:
    """Energy conservation with averaging: one carbon spot on a 4 mm grid (sharper than
    the grid), integrated over each 4 mm slab normal to the beam, equals the beam
    model's IDD averaged over that slab's WEPL span, within 1 %; summed over the slabs
    it is the IDD's integral through the box (nothing of the narrow peak is lost
    between voxel centres).

    The box is 160 mm wide: the halo's wide Gaussian (the fragments' protons) reaches
    σ ≈ 16 mm just behind the peak, and 8 % of it left a 64 mm box (dose is computed
    only in the water), which made the peak slab 0.974 of the IDD. What remains is a
    −0.45 % systematic in every plateau slab, the same in the matrices alone (core and
    disc halo, without the full-width halo): the core truncated at 3σ₁ and renormalised
    for the continuous disc, summed over the 4 mm voxels whose centres fall inside it.
    The sum over the slabs is −0.98 % (as before the halo's split, −0.97 %): −0.45 % that
    systematic, −0.49 % the 0.5 mm of water in the dose voxel that straddles the surface
    (its centre is in the air, outside the Body, so it gets no dose) and −0.04 % the same
    at the far face."""
    patient = make_phantom(
        "water", spacing_mm=2.0, box_size_mm=(160.0, 104.0, 160.0), target_size_mm=10.0,
        air_margin_mm=8.0,
    )  # fmt: skip
    energy = float(carbon.energies_mev_u[1])
    plan = _one_spot(carbon, energy)
    grid = make_dose_grid(patient.grid, 4.0)
    influence = calc_dose_influence(
        patient.ct, plan, carbon, dose_grid=grid, structures=[patient.structures["Body"]]
    )
    dose = influence.dose_gy(plan.weights)
    integrated = dose.sum(axis=(0, 2)) * grid.spacing_mm[0] * grid.spacing_mm[2]
    # WEPL at the CT's voxel faces along the central axis; every second one bounds a slab
    wepl = wepl_map(patient.ct.spr(), patient.grid, plan.beams[0].geometry)
    axis = wepl[patient.grid.shape[0] // 2, :, patient.grid.shape[2] // 2]
    faces = np.concatenate([[0.0], 0.5 * (axis[1:] + axis[:-1]), [axis[-1]]])[::2]
    e = int(carbon.energy_index([energy])[0])
    samples = np.linspace(faces[:-1], faces[1:], 801)
    expected = np.interp(samples, carbon.depth_mm(e), carbon.idd_gy_mm2[e]).mean(axis=0)
    span = np.diff(faces)  # WEPL of each slab: ~0 in the air before the water
    dose_slabs = (expected > 0.02 * expected.max()) & (span > 1.0)
    assert dose_slabs.sum() > 15
    np.testing.assert_allclose(integrated[dose_slabs], expected[dose_slabs], rtol=0.01)
    depth = np.linspace(0.0, faces[-1], 20001)  # the fragment tail beyond the box is lost
    total = np.trapezoid(np.interp(depth, carbon.depth_mm(e), carbon.idd_gy_mm2[e]), depth)
    assert float(np.sum(integrated * span)) == pytest.approx(total, rel=0.01)
