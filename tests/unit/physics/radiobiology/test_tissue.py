"""Tissue parameters: defaults, the MKM derivation from photon LQ, and input checks."""

import dataclasses
import math

import pytest

from ionbeam.errors import ConfigError, OutOfRangeError, UnknownNameError
from ionbeam.physics.radiobiology.tissue import (
    HSG_PHOTON_Z1D_GY,
    TISSUES,
    MKMParameters,
    TissueParameters,
    get_tissue,
)


def test_default_alpha_beta_ratios_are_those_of_the_issue() -> None:
    assert get_tissue("tumour").alpha_beta_gy == pytest.approx(10.0)
    assert get_tissue("late_normal").alpha_beta_gy == pytest.approx(2.0)
    assert get_tissue("tumor") is TISSUES["tumour"]


def test_saturation_parameter_matches_hand_value_for_hsg() -> None:
    """z0 = R_n²/(r_d √(β(r_d²+R_n²))) = 15.21/(0.32·√(0.0615·15.3124)) = 48.98 Gy."""
    assert TISSUES["hsg"].mkm_parameters().saturation_z0_gy == pytest.approx(48.980, abs=2e-3)


def test_mkm_from_photon_lq_reproduces_the_hsg_fit() -> None:
    """α₀ = α_x − β_x z_1D,x returns Inaniwa's α₀ = 0.172 from the HSG X-ray α_x = 0.313."""
    derived = MKMParameters.from_photon_lq(0.313, 0.0615)
    assert derived.alpha0_gy == pytest.approx(0.172)
    assert derived.beta0_gy2 == 0.0615
    assert (derived.domain_radius_um, derived.nucleus_radius_um) == (0.32, 3.9)


def test_derived_mkm_parameters_follow_edits_of_the_tissue() -> None:
    edited = dataclasses.replace(TISSUES["tumour"], alpha_x_gy=0.4)
    expected = 0.4 - 0.03 * HSG_PHOTON_Z1D_GY
    assert edited.mkm_parameters().alpha0_gy == pytest.approx(expected)
    assert TISSUES["tumour"].mkm_parameters().alpha0_gy == pytest.approx(0.3 - 0.03 * 2.2927, 1e-4)


def test_tissues_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TISSUES["hsg"].alpha_x_gy = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(("alpha", "beta"), [(-0.1, 0.05), (0.1, math.nan), (0.0, 0.05)])
def test_bad_photon_parameters_are_refused(alpha: float, beta: float) -> None:
    with pytest.raises(OutOfRangeError, match="tissue 'x'"):
        TissueParameters("x", alpha, beta)


def test_bad_mkm_parameters_are_refused() -> None:
    with pytest.raises(ConfigError, match="nucleus radius"):
        MKMParameters(0.17, 0.06, 4.0, 3.9)
    with pytest.raises(OutOfRangeError, match="domain radius"):
        MKMParameters(0.17, 0.06, -0.3, 3.9)
    with pytest.raises(OutOfRangeError, match="alpha0"):
        MKMParameters(math.inf, 0.06, 0.3, 3.9)


def test_unknown_tissue_names_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="hsg, late_normal, tumour"):
        get_tissue("liver")
