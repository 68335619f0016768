"""Lateral spread along each spot's own ray through real materials, and sub-beam rays."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.machine import cnao_beam_line
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.patient import CT, Grid
from ionbeam.planning._ray_tables import trace_ray_tables
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.scattering_power import (
    mass_scattering_power_ratio,
    relative_scattering_power,
)


@pytest.fixture(scope="module")
def model():
    return build_beam_model("proton", [100.0, 150.0], cnao_beam_line())


def _grid() -> Grid:
    # beam along +y (gantry 0°): depth y from 0 to 200 mm, voxel faces at x = 0
    return Grid((8, 200, 5), (1.0, 1.0, 1.0), (-3.5, 0.5, -2.0))


def _tables(model, spr, scattering, u=(0.0,), energy=(1,)):
    grid = _grid()
    geometry = BeamGeometry(0.0, 0.0, (0.0, 0.0, 0.0), model.beam_line.sad_mm)
    return trace_ray_tables(
        spr, scattering, grid, geometry, model, np.array(u, dtype=float),
        np.zeros(len(u)), np.array(energy), depth_range_mm=(0.5, 199.5), depth_step_mm=0.5,
    )  # fmt: skip


def test_water_reproduces_the_beam_models_mcs_table(model) -> None:
    """In water the Fermi–Eyges moment along the ray is the beam model's σ_MCS table (same
    Gottschalk scattering power, same integral) within 1.5 % beyond 20 mm: the tolerance
    covers the midpoint rule per 1 mm voxel against the table's finer quadrature."""
    ones = np.ones(_grid().shape)
    tables = _tables(model, ones, ones)
    wepl = tables.wepl_mm[0, 0]
    table = np.interp(wepl, model.depth_mm(1), model.sigma_mcs_mm2[1])
    use = (wepl > 20.0) & (wepl < model.r80_mm[1])
    assert np.allclose(tables.sigma2_mm2[0][use], table[use], rtol=0.03)  # σ² ⇒ 1.5 % in σ


@pytest.mark.parametrize(("spr", "power"), [(0.25, 0.25), (1.5, 2.0)])
def test_homogeneous_medium_scales_as_fermi_eyges_predicts(model, spr, power) -> None:
    """A uniform medium of stopping-power ratio p and relative scattering power q per mm:
    substituting t = p z in σ²(z) = ∫ q T_w(p z′)(z − z′)² dz′ gives
    σ²(z) = q / p³ · σ_w²(t) exactly, with σ_w² the water moment at the same WEPL — four
    times the water-equivalent σ for lung-like p = q = 1/4, where a water table read at
    the WEPL gives 1×. Tolerance 1 %: the same quadrature in both."""
    ones = np.ones(_grid().shape)
    water = _tables(model, ones, ones)
    medium = _tables(model, spr * ones, power * ones)
    t = medium.wepl_mm[0, 0]
    w = np.interp(t, water.wepl_mm[0, 0], water.sigma2_mm2[0])
    use = (t > 15.0) & (t < 0.9 * model.r80_mm[1])
    assert use.sum() > 20
    assert np.allclose(medium.sigma2_mm2[0][use], power / spr**3 * w[use], rtol=0.02)


def test_a_ray_along_a_voxel_face_samples_both_sides_without_interpolating(model) -> None:
    """A bone slab (SPR 1.6) on the x < 0 side with its edge on the ray: the two rays of the
    pair carry the WEPL of water and of bone behind the slab, never their mean."""
    spr = np.ones(_grid().shape)
    spr[:4, 20:40, :] = 1.6
    tables = _tables(model, spr, spr)
    depth = tables.w_start + 200 * tables.w_step  # ≈ 100 mm, behind the slab
    behind = tables.wepl_mm[0, :, 200]
    assert sorted(behind) == pytest.approx([depth, depth + 0.6 * 20.0], abs=0.01)


def test_scattering_power_of_tissues() -> None:
    """Relative scattering power per mm = ρ × X_S,water / X_S (Gottschalk's scattering length
    from the Woodard–White compositions): water 1, lung (0.26 g/cm³) 0.26 × 0.987, cortical
    bone (1.92 g/cm³) 1.92 × 1.42 — bone scatters 1.4× more per gram than water."""
    assert mass_scattering_power_ratio(1.0) == pytest.approx(1.0, abs=1e-6)
    assert mass_scattering_power_ratio(0.26) == pytest.approx(0.987, abs=0.002)
    assert mass_scattering_power_ratio(1.92) == pytest.approx(1.420, abs=0.005)
    grid = Grid((3, 1, 1), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    power = relative_scattering_power(CT(np.array([-750.0, 0.0, 1000.0])[:, None, None], grid))
    assert power[1, 0, 0] == pytest.approx(1.0, abs=1e-6)
    assert 0.2 < power[0, 0, 0] < 0.3
    assert 1.9 < power[2, 0, 0] < 2.3


@pytest.mark.parametrize(("spr", "power"), [(1.0, 1.0), (0.25, 0.25)])
def test_angle_position_covariance_is_half_the_slope_of_the_variance(model, spr, power) -> None:
    """M₁(z) = ∫ T(z′)(z − z′) dz′, the covariance that fine sampling's mean paths use, is
    ½ dσ²/dz exactly (differentiate σ²(z) = ∫ T(z′)(z − z′)² dz′ under the integral), in any
    medium. Central differences of the σ² table over 0.5 mm against M₁, within 1 % of M₁
    before the end of range (where σ² stops growing by convention); and in water
    M₁ ≈ 3σ²/(2z) for a scattering power that varies slowly (T constant: σ² = T z³/3,
    M₁ = T z²/2), within 15 % at mid-range."""
    ones = np.ones(_grid().shape)
    tables = _tables(model, spr * ones, power * ones)
    sigma2 = tables.sigma2_mm2[0].astype(float)
    m1 = tables.m1_mm[0].astype(float)
    wepl = tables.wepl_mm[0, 0]
    slope = (sigma2[2:] - sigma2[:-2]) / (2 * tables.w_step)
    use = (wepl[1:-1] > 10.0) & (wepl[1:-1] < 0.8 * model.r80_mm[1])
    assert use.sum() > 50
    assert np.allclose(0.5 * slope[use], m1[1:-1][use], rtol=0.01)
    if spr == 1.0:
        depth = tables.w_start + tables.w_step * np.arange(sigma2.size)
        mid = np.argmin(np.abs(wepl - 0.5 * model.r80_mm[1]))
        assert m1[mid] == pytest.approx(1.5 * sigma2[mid] / depth[mid], rel=0.15)
