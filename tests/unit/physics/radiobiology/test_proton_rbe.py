"""Proton RBE models: published equations, limits, linearity in LET_d, registry."""

import numpy as np
import pytest

from ionbeam.errors import OutOfRangeError, UnknownNameError
from ionbeam.physics.radiobiology.lq import biological_effect, rbe_weighted_dose
from ionbeam.physics.radiobiology.proton_rbe import (
    PROTON_RBE_MODELS,
    McNamara2015,
    get_proton_rbe_model,
)

MODELS = list(PROTON_RBE_MODELS.values())


def test_constant_rbe_is_1_1_at_every_dose_and_let() -> None:
    model = get_proton_rbe_model("constant")
    dose, let = np.array([0.1, 2.0, 10.0]), np.array([0.5, 5.0, 15.0])
    np.testing.assert_allclose(model.rbe(dose, let, 0.1, 0.05), 1.1, rtol=1e-14)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_rbe_tends_to_rbe_max_and_rbe_min(model) -> None:
    let, ab = np.array([3.0]), np.array([3.0])
    assert model.rbe(1e-6, let, 0.3, 0.1)[0] == pytest.approx(model.rbe_max(let, ab)[0], 1e-5)
    assert model.rbe(1e6, let, 0.3, 0.1)[0] == pytest.approx(model.rbe_min(let, ab)[0], 1e-4)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_rbe_agrees_with_the_lq_route(model) -> None:
    """RBE(D) of the closed form equals D_RBE(E(α, β, D))/D."""
    dose, let = np.array([0.5, 2.0, 6.0]), np.array([1.0, 4.0, 12.0])
    alpha, beta = model.alpha_beta(let, 0.15, 0.05)
    via_lq = rbe_weighted_dose(biological_effect(alpha, beta, dose), 0.15, 0.05) / dose
    np.testing.assert_allclose(model.rbe(dose, let, 0.15, 0.05), via_lq, rtol=1e-12)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_alpha_and_sqrt_beta_are_linear_in_let(model) -> None:
    """What makes per-pencil-beam tables and per-voxel LET_d agree under dose weighting."""
    let = np.array([1.0, 3.0, 5.0])
    alpha, beta = model.alpha_beta(let, 0.1, 0.05)
    assert alpha[1] == pytest.approx(0.5 * (alpha[0] + alpha[2]), rel=1e-12)
    assert np.sqrt(beta[1]) == pytest.approx(0.5 * (np.sqrt(beta[0]) + np.sqrt(beta[2])), 1e-12)


def test_low_let_limits() -> None:
    """At LET_d → 0 RBE_max tends to p0 = 0.99064 (McNamara), 1 (Wedenberg), 0.843 (Carabe)."""
    zero, ab = np.array([0.0]), np.array([2.0])
    assert get_proton_rbe_model("mcnamara2015").rbe_max(zero, ab)[0] == 0.99064
    assert get_proton_rbe_model("wedenberg2013").rbe_max(zero, ab)[0] == 1.0
    assert get_proton_rbe_model("carabe2012").rbe_max(zero, ab)[0] == 0.843


def test_rbe_rises_with_let_and_falls_with_alpha_beta() -> None:
    model = McNamara2015()
    let = np.array([1.0, 2.0, 4.0, 8.0])
    low_ab = model.rbe(2.0, let, 0.1, 0.05)
    high_ab = model.rbe(2.0, let, 0.3, 0.03)
    assert np.all(np.diff(low_ab) > 0) and np.all(low_ab > high_ab)


def test_registry_and_bad_inputs() -> None:
    assert get_proton_rbe_model("McNamara") is PROTON_RBE_MODELS["mcnamara2015"]
    with pytest.raises(UnknownNameError, match="carabe2012, constant"):
        get_proton_rbe_model("lem")
    with pytest.raises(OutOfRangeError, match="LET_d"):
        McNamara2015().alpha_beta(150.0, 0.1, 0.05)
    with pytest.raises(OutOfRangeError, match="LET_d"):
        McNamara2015().rbe(2.0, np.nan, 0.1, 0.05)


def test_rbe_tends_to_about_one_at_low_let() -> None:
    """At LET_d → 0 protons act like photons: Wedenberg exactly 1, McNamara between its
    RBE_max and RBE_min limits 0.99064 and 1.1012."""
    dose = np.array([0.2, 2.0, 10.0])
    wedenberg = get_proton_rbe_model("wedenberg2013").rbe(dose, 0.0, 0.1, 0.05)
    np.testing.assert_allclose(wedenberg, 1.0, rtol=1e-14)
    mcnamara = get_proton_rbe_model("mcnamara2015").rbe(dose, 0.0, 0.1, 0.05)
    assert np.all((mcnamara > 0.99) & (mcnamara < 1.102))
