"""Mixed-field mMKM: dose weighting of z*_1D and α over species and energies."""

import numpy as np
import pytest

from ionbeam.errors import GridMismatchError
from ionbeam.physics.depth_dose import FluenceSpectra
from ionbeam.physics.radiobiology.mixed_field import mixed_field_lq
from ionbeam.physics.radiobiology.mkm import single_ion_alpha_gy
from ionbeam.physics.radiobiology.tissue import TISSUES
from ionbeam.physics.stopping import let_kev_um

HSG = TISSUES["hsg"].mkm_parameters()
EDGES = np.geomspace(1.0, 1000.0, 31)
CENTRES = np.sqrt(EDGES[1:] * EDGES[:-1])


def spectra(species, fluence) -> FluenceSpectra:
    return FluenceSpectra(tuple(species), EDGES, np.asarray(fluence, dtype=float))


def test_a_mono_energetic_field_has_the_single_ion_alpha() -> None:
    fluence = np.zeros((1, 30, 2))
    fluence[0, 20, :] = [1.0, 3.0]  # same ions at two depths, different fluence
    lq = mixed_field_lq(spectra([(6, 12)], fluence), HSG)
    expected = single_ion_alpha_gy("carbon", CENTRES[20], HSG)
    np.testing.assert_allclose(lq.alpha_gy, expected, rtol=1e-12)
    np.testing.assert_allclose(lq.sqrt_beta_gy, np.sqrt(HSG.beta0_gy2))


def test_alpha_is_dose_weighted_over_species() -> None:
    """α_mix = Σ d_i α_i / Σ d_i with d_i ∝ Φ_i · LET_i (Inaniwa 2010)."""
    fluence = np.zeros((2, 30, 1))
    fluence[0, 10, 0] = 1.0  # carbon at ~10 MeV/u
    fluence[1, 25, 0] = 40.0  # protons at ~500 MeV
    lq = mixed_field_lq(spectra([(6, 12), (1, 1)], fluence), HSG)
    e_c, e_p = CENTRES[10], CENTRES[25]
    d_c, d_p = let_kev_um("carbon", e_c), 40.0 * let_kev_um("proton", e_p)
    a_c = single_ion_alpha_gy("carbon", e_c, HSG)
    a_p = single_ion_alpha_gy("proton", e_p, HSG)
    assert lq.alpha_gy[0] == pytest.approx((d_c * a_c + d_p * a_p) / (d_c + d_p), rel=1e-12)
    assert lq.dose_weight[0] == pytest.approx(d_c + d_p, rel=1e-12)


def test_depths_without_dose_get_a_finite_alpha() -> None:
    fluence = np.zeros((1, 30, 3))
    fluence[0, 5, 0] = 1.0
    lq = mixed_field_lq(spectra([(2, 4)], fluence), HSG)
    assert lq.dose_weight[1] == 0.0 and lq.alpha_gy[1] == pytest.approx(HSG.alpha0_gy)
    assert np.all(np.isfinite(lq.alpha_gy))


def test_inconsistent_spectra_are_refused() -> None:
    with pytest.raises(GridMismatchError, match="n_species, n_energy, n_depth"):
        mixed_field_lq(spectra([(6, 12), (1, 1)], np.zeros((1, 30, 4))), HSG)
