"""LQ effect and RBE-weighted dose: round trips, limits, derivative, input checks."""

import numpy as np
import pytest

from ionbeam.errors import GridMismatchError, OutOfRangeError
from ionbeam.physics.radiobiology.lq import (
    biological_effect,
    effect_from_rbe_weighted_dose,
    rbe,
    rbe_weighted_dose,
    rbe_weighted_dose_derivative,
)

RNG = np.random.default_rng(5)


def test_photons_are_their_own_reference() -> None:
    dose = np.linspace(0.0, 10.0, 41)
    effect = biological_effect(0.3, 0.03, dose)
    np.testing.assert_allclose(rbe_weighted_dose(effect, 0.3, 0.03), dose, rtol=1e-13, atol=1e-14)


def test_effect_and_rbe_weighted_dose_round_trip_per_voxel() -> None:
    alpha_x = RNG.uniform(0.05, 0.5, 1000)
    beta_x = RNG.uniform(0.005, 0.1, 1000)
    d_rbe = RNG.uniform(0.0, 20.0, 1000)
    effect = effect_from_rbe_weighted_dose(d_rbe, alpha_x, beta_x)
    np.testing.assert_allclose(rbe_weighted_dose(effect, alpha_x, beta_x), d_rbe, rtol=1e-12)


def test_rbe_weighted_dose_matches_the_textbook_form() -> None:
    """(√(α_x² + 4β_x E) − α_x)/(2β_x), the form of the issue, at moderate E."""
    effect = np.array([0.1, 0.7, 2.0, 9.0])
    textbook = (np.sqrt(0.1**2 + 4 * 0.05 * effect) - 0.1) / (2 * 0.05)
    np.testing.assert_allclose(rbe_weighted_dose(effect, 0.1, 0.05), textbook, rtol=1e-12)


def test_constant_rbe_scales_the_dose() -> None:
    """α = 1.1 α_x and β = 1.1² β_x give D_RBE = 1.1 D exactly, at every dose."""
    dose = np.array([0.01, 0.5, 2.0, 8.0])
    effect = biological_effect(1.1 * 0.1, 1.21 * 0.05, dose)
    np.testing.assert_allclose(rbe_weighted_dose(effect, 0.1, 0.05), 1.1 * dose, rtol=1e-13)
    np.testing.assert_allclose(rbe(0.11, 0.0605, dose, 0.1, 0.05), 1.1, rtol=1e-13)


def test_beta_x_zero_is_the_linear_limit() -> None:
    np.testing.assert_allclose(rbe_weighted_dose([0.0, 0.6], 0.3, 0.0), [0.0, 2.0])


def test_derivative_matches_finite_differences() -> None:
    effect = RNG.uniform(0.0, 5.0, 50)
    alpha_x, beta_x = 0.2, np.full(50, 0.04)
    h = 1e-6
    numeric = (
        rbe_weighted_dose(effect + h, alpha_x, beta_x) - rbe_weighted_dose(effect, alpha_x, beta_x)
    ) / h
    analytic = rbe_weighted_dose_derivative(effect + h / 2, alpha_x, beta_x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)
    assert rbe_weighted_dose_derivative(0.0, 0.2, 0.04) == pytest.approx(1 / 0.2)


def test_inputs_are_not_modified() -> None:
    effect = np.array([0.5, 1.0])
    alpha_x = np.array([0.1, 0.2])
    rbe_weighted_dose(effect, alpha_x, 0.05)
    np.testing.assert_array_equal(effect, [0.5, 1.0])
    np.testing.assert_array_equal(alpha_x, [0.1, 0.2])


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(OutOfRangeError, match="biological effect"):
        rbe_weighted_dose([1.0, np.nan], 0.1, 0.05)
    with pytest.raises(OutOfRangeError, match="biological effect"):
        rbe_weighted_dose(-0.1, 0.1, 0.05)
    with pytest.raises(OutOfRangeError, match="dose per fraction"):
        biological_effect(0.1, 0.05, [-1.0])
    with pytest.raises(OutOfRangeError, match="alpha_x"):
        rbe_weighted_dose(1.0, 0.0, 0.05)
    with pytest.raises(GridMismatchError, match="broadcastable"):
        rbe_weighted_dose(np.ones(3), np.ones(4), 0.05)
