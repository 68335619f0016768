"""The ripple filter in the beam model: WET distribution, folded depth–dose, per-beam use."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.machine import RippleFilter, cnao_beam_line, default_ripple_filter
from ionbeam.machine.beam_model import BeamModel, build_beam_model

ENERGIES = [120.0, 200.0, 300.0]


@pytest.fixture(scope="module")
def carbon() -> BeamModel:
    return build_beam_model("carbon", ENERGIES, cnao_beam_line())


def test_wet_distribution_is_uniform_over_the_modulation() -> None:
    thickness, probability = RippleFilter(wet_mm=2.0, modulation_mm=3.0).wet_distribution()
    assert probability.sum() == pytest.approx(1.0)
    assert np.sum(thickness * probability) == pytest.approx(2.0)
    assert thickness.min() > 0.5 and thickness.max() < 3.5
    # variance of a uniform distribution of width m: m²/12 (midpoint rule: within 1 %)
    variance = np.sum(probability * (thickness - 2.0) ** 2)
    assert variance == pytest.approx(3.0**2 / 12, rel=0.01)


def test_impossible_filters_are_refused() -> None:
    with pytest.raises(ConfigError, match="modulation"):
        RippleFilter(wet_mm=1.0, modulation_mm=3.0)
    with pytest.raises(ConfigError):
        RippleFilter(wet_mm=float("nan"))


def test_carbon_uses_it_by_default_protons_do_not() -> None:
    assert default_ripple_filter("carbon") and not default_ripple_filter("proton")
    assert cnao_beam_line().ripple_filter == RippleFilter()


def test_folded_curve_is_the_average_of_shifted_pristine_curves(carbon: BeamModel) -> None:
    """IDD_RiFi(z) = Σ p(t) IDD(z + t): checked against a direct np.interp average."""
    folded = carbon.with_ripple_filter(True)
    thickness, probability = RippleFilter().wet_distribution()
    for e in range(carbon.n_energies):
        z = carbon.depth_mm(e)
        expected = sum(
            p * np.interp(z + t, z, carbon.idd_gy_mm2[e], right=0.0)
            for t, p in zip(thickness, probability, strict=True)
        )
        assert np.allclose(folded.idd_gy_mm2[e], expected, rtol=1e-5, atol=1e-12)


def test_ripple_filter_broadens_the_pristine_peak(carbon: BeamModel) -> None:
    """A 3 mm filter (uniform WET over 3 mm) spreads a narrow carbon peak: the peak height
    drops (most at low energy, where the pristine peak is narrowest: σ_range ≈ 0.3 mm at
    120 MeV/u, so the peak falls towards 1/3 mm⁻¹ × its area), the fall-off moves upstream
    by the mean WET (2 mm) within the half-width of the modulation, and the energy is
    conserved but for what the filter itself takes."""
    folded = carbon.with_ripple_filter(True)
    wet = RippleFilter().wet_distribution()
    ratios = []
    for e in range(carbon.n_energies):
        z = carbon.depth_mm(e)
        pristine, broad = carbon.idd_gy_mm2[e], folded.idd_gy_mm2[e]
        entrance = np.interp(10.0, z, pristine)
        ratio = (broad.max() / np.interp(10.0, z, broad)) / (pristine.max() / entrance)
        ratios.append(ratio)
        assert ratio < 0.95
        shift = carbon.r80_mm[e] - folded.r80_mm[e]
        assert 0.5 < shift < 3.5
        # ∫ IDD_RiFi = ∫ IDD − Σ p(t) ∫₀ᵗ IDD: only the energy lost in the filter is missing
        lost = sum(
            p * np.interp(t, z, np.cumsum(pristine) * z[1]) for t, p in zip(*wet, strict=True)
        )
        assert broad.sum() * z[1] == pytest.approx(pristine.sum() * z[1] - lost, rel=0.005)
    assert ratios[0] < ratios[1] < ratios[2]  # the narrowest peak is cut the most
    assert ratios[0] < 0.6


def test_dose_averaged_tables_stay_consistent(carbon: BeamModel) -> None:
    """LET_d and the halo share of the folded model lie within those of the pristine curve
    (dose-weighted averages of its values), and the plateau is unchanged."""
    folded = carbon.with_ripple_filter(True)
    for e in range(carbon.n_energies):
        z = carbon.depth_mm(e)
        inside = z < folded.bragg_peak_mm[e] - 5.0
        let = carbon.let_d_kev_um[e]
        assert np.all(folded.let_d_kev_um[e][inside] <= let.max() + 1e-3)
        assert np.all(folded.let_d_kev_um[e][inside] >= let[inside].min() - 1e-3)
        plateau = (z > 20.0) & (z < 0.5 * folded.bragg_peak_mm[e])
        assert np.allclose(folded.idd_gy_mm2[e][plateau], carbon.idd_gy_mm2[e][plateau], rtol=0.02)


def test_filter_scattering_widens_the_spot_in_air(carbon: BeamModel) -> None:
    folded = carbon.with_ripple_filter(True)
    assert np.all(folded.sigma0_mm2 > carbon.sigma0_mm2)
    assert (
        folded.sigma0_mm2[0] - carbon.sigma0_mm2[0] > folded.sigma0_mm2[-1] - carbon.sigma0_mm2[-1]
    )


def test_biology_tables_are_folded_too() -> None:
    model = build_beam_model("carbon", [150.0], cnao_beam_line(), tissues=["late_normal"])
    folded = model.with_ripple_filter(True)
    assert folded.alpha_gy is not None and model.alpha_gy is not None
    alpha, alpha_pristine = folded.alpha_gy[0, 0], model.alpha_gy[0, 0]
    z = model.depth_mm(0)
    upstream = z < folded.bragg_peak_mm[0] - 5.0
    assert np.all(alpha[upstream] <= alpha_pristine.max() + 1e-4)
    # on the plateau, α varies slowly: the fold is α read about the mean WET (2 mm) deeper
    shifted = np.interp(z + 2.0, z, alpha_pristine)
    assert np.allclose(alpha[z < 20], shifted[z < 20], rtol=0.01)


def test_with_ripple_filter_is_honoured_or_refused(carbon: BeamModel) -> None:
    folded = carbon.with_ripple_filter(True)
    assert folded.ripple_filter == RippleFilter() and carbon.ripple_filter is None
    assert folded.with_ripple_filter(True) is folded and carbon.with_ripple_filter(False) is carbon
    with pytest.raises(ConfigError, match="folded in"):
        folded.with_ripple_filter(False)
    bare = build_beam_model("carbon", [200.0], cnao_beam_line().with_ripple_filter(None))
    with pytest.raises(ConfigError, match="has none"):
        bare.with_ripple_filter(True)
