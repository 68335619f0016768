"""The halo's lever-arm factor (:func:`ionbeam.planning.halo._lever_arm_factor`).

The halo's excess variance over the primaries' MCS is a sum of the secondaries' angles
times their lever arm to the voxel squared. In a uniform medium of stopping-power ratio
p and scattering power s per geometric mm (relative to water), the Fermi–Eyges moment
along a ray at WEPL W is σ²(W) = ∫ s T_w(w) ((W − w)/p)² dw/p = s/p³ × water's σ²_MCS at
W (Gottschalk 2010, Fermi–Eyges moments with geometric lever arms), so the factor is
s/p³: 1 in water and 1/p² in a lung whose scattering per WE mm is water's (s = p). A
range shifter scatters before the patient (air terms), so water behind it has the
factor 1 again: water's σ² is counted from the shifter's exit (the beam model's table
σ²(W) minus the moments of the water the shifter replaces).
"""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.machine import cnao_beam_line
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.patient import Grid
from ionbeam.planning import halo
from ionbeam.planning._beam_setup import setup_beam
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, SpotMap

ENERGY_MEV = 150.0


@pytest.fixture(scope="module")
def model():
    return build_beam_model("proton", [ENERGY_MEV], cnao_beam_line())


def _setup(model, spr, scattering, shifter_mm: float = 0.0):
    """A 150 MeV spot's beam set-up in a box (2 mm voxels, 300 mm deep) of SPR ``spr``
    (a number, or one per 2 mm of depth along the beam)."""
    grid = Grid((5, 150, 5), (2.0, 2.0, 2.0), (-4.0, -149.0, -4.0))
    spots = SpotMap(np.array([ENERGY_MEV]), np.zeros(1), np.zeros(1), np.ones(1))
    geometry = BeamGeometry(0.0, 0.0, (0.0, 0.0, 0.0), model.beam_line.sad_mm)
    index = np.arange(grid.size)
    setup = setup_beam(
        Beam("B1", geometry, spots, range_shifter_wet_mm=shifter_mm),
        model,
        _along_depth(spr, grid.shape),
        grid,
        grid,
        index.astype(np.int64),
        np.zeros(index.size, dtype=np.int64),
        n_sigma=3.0,
        scattering=_along_depth(scattering, grid.shape),
    )
    return setup


def _along_depth(value, shape: tuple[int, int, int]) -> np.ndarray:
    """A volume of ``value``: a number, or one per voxel along the beam (y, upstream first)."""
    column = np.asarray(value, dtype=np.float64)
    if column.ndim == 0:
        return np.full(shape, float(column))
    return np.broadcast_to(column[None, :, None], shape).copy()


def _factor(model, spr: float, scattering: float, shifter_mm: float = 0.0):
    """The factor along a 150 MeV spot's ray in a uniform box (2 mm voxels, 300 mm deep),
    and the water-equivalent depth (mm) of each table depth."""
    setup = _setup(model, spr, scattering, shifter_mm)
    ray_sigma2, ray_wepl = setup.rays[0], setup.rays[1]
    weights = np.ones(1)
    factor = halo._lever_arm_factor(0, setup, weights, np.arange(1), ray_sigma2[0])
    return factor, ray_wepl[0].mean(axis=0) - shifter_mm


def _inside(wepl: np.ndarray, model) -> np.ndarray:
    """Depths from 20 mm WE to 80 % of the CSDA range (away from the entrance, where
    both variances vanish and the shallowest table bins differ by up to 4 %, and from the
    end of range)."""
    return (wepl > 20.0) & (wepl < 0.8 * float(model.max_depth_mm[0]))


def test_factor_is_one_in_water(model) -> None:
    """Water: the rays' Fermi–Eyges σ² is the beam model's table (within 2 %)."""
    factor, wepl = _factor(model, 1.0, 1.0)
    inside = _inside(wepl, model)
    assert inside.sum() > 20
    np.testing.assert_allclose(factor[inside], 1.0, atol=0.02)


@pytest.mark.parametrize("spr", [0.3, 0.5])
def test_factor_in_uniform_lung_is_the_squared_lever_arm(model, spr: float) -> None:
    """Lung-like medium (scattering per WE mm as water's): 1/p² within 3 % (11.1 and 4);
    the water-equivalent treatment that the halo had before is a factor of 1."""
    factor, wepl = _factor(model, spr, spr)
    inside = _inside(wepl, model)
    assert inside.sum() > 5
    np.testing.assert_allclose(factor[inside], 1.0 / spr**2, rtol=0.03)


def test_factor_carries_the_scattering_power_per_we_mm(model) -> None:
    """A medium that scatters 1.5 times water per WE mm at SPR 1.5 (bone-like):
    s/p³ = 2.25/3.375 = 0.667 within 3 %."""
    factor, wepl = _factor(model, 1.5, 2.25)
    inside = _inside(wepl, model)
    assert inside.sum() > 5
    np.testing.assert_allclose(factor[inside], 2.25 / 1.5**3, rtol=0.03)


def test_factor_is_one_in_water_behind_a_range_shifter(model) -> None:
    """Water behind a 40 mm WET range shifter: 1 within 3 % (water's σ² counted from the
    shifter's exit; without that it would be ~0.25–0.6 in the first centimetres)."""
    factor, wepl = _factor(model, 1.0, 1.0, shifter_mm=40.0)
    inside = (wepl > 5.0) & (wepl < 0.8 * float(model.max_depth_mm[0]) - 40.0)
    assert inside.sum() > 20
    np.testing.assert_allclose(factor[inside], 1.0, atol=0.03)


def _local(model, spr, shifter_mm: float = 0.0):
    """The narrow halo's local factor (:func:`~ionbeam.planning.halo._local_lever_arm_factor`)
    along the spot's ray, with the rays' WEPL (mm, from the patient's entry) and depth (mm)."""
    setup = _setup(model, spr, spr, shifter_mm)
    factor = halo._local_lever_arm_factor(
        setup, np.ones(1), np.arange(1), halo.NARROW_LEVER_WINDOW_MM
    )
    depth = setup.rays[2] + setup.rays[3] * np.arange(factor.size)
    return factor, setup.rays[1][0].mean(axis=0) - shifter_mm, depth


@pytest.mark.parametrize("spr", [1.0, 0.25, 1.6])
def test_local_factor_in_a_uniform_medium_is_one_over_spr_squared(model, spr: float) -> None:
    """In a uniform medium of SPR p the geometric depth per WE mm is 1/p everywhere, so the
    local factor is 1/p² (1 in water, 16 in lung of SPR 0.25) to 1 % past the window."""
    factor, wepl, _ = _local(model, spr)
    inside = (wepl > halo.NARROW_LEVER_WINDOW_MM + 1.0) & (wepl < 150.0)
    assert inside.sum() > 10
    np.testing.assert_allclose(factor[inside], 1.0 / spr**2, rtol=0.01)


def test_local_factor_behind_a_water_slab_is_lungs_own(model) -> None:
    """Water for the first 60 mm, lung (SPR 0.25) beyond: the local factor is 1 in the
    water and 16 once the window lies in the lung (within 1 %), where the primaries'
    path-integrated factor is still far below (its lever arms reach back into the water:
    under 8 in the first 40 mm of lung)."""
    spr = np.where(np.arange(150) < 30, 1.0, 0.25)
    factor, wepl, depth = _local(model, spr)
    entry = depth[np.argmax(wepl > 0.0)] - 1.0  # the box's upstream face, mm
    water = (wepl > 1.0) & (depth - entry < 58.0)
    lung = (depth - entry > 60.0 + 4.0 * halo.NARROW_LEVER_WINDOW_MM + 2.0) & (wepl < 100.0)
    assert water.sum() > 10 and lung.sum() > 10
    np.testing.assert_allclose(factor[water], 1.0, rtol=0.01)
    np.testing.assert_allclose(factor[lung], 16.0, rtol=0.01)
    setup = _setup(model, spr, spr)
    path = halo._lever_arm_factor(0, setup, np.ones(1), np.arange(1), setup.rays[0][0])
    near = lung & (depth - entry < 100.0)
    assert path[near].max() < 8.0


def test_local_factor_is_one_in_water_behind_a_range_shifter(model) -> None:
    """The window stops at the patient's entry: water behind a 40 mm WET shifter has 1."""
    factor, wepl, _ = _local(model, 1.0, shifter_mm=40.0)
    inside = (wepl > 1.0) & (wepl < 100.0)
    assert inside.sum() > 10
    np.testing.assert_allclose(factor[inside], 1.0, rtol=0.01)
