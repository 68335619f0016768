"""Kiefer–Chatterjee track and domain specific energy: conservation laws and limits."""

import math

import numpy as np
import pytest

from ionbeam.physics.radiobiology._track_kernels import (
    KEV_UM_TO_GY_UM2,
    _disc_overlap,
    domain_specific_energy,
    gauss_legendre_unit,
    single_ion_z1d,
    track_parameters,
)

NODES, WEIGHTS = gauss_legendre_unit(24)
AMU = 931.49410242


def beta_of(energy: float) -> float:
    return math.sqrt(1.0 - 1.0 / (1.0 + energy / AMU) ** 2)


def z1d(z: float, energy: float, let: float, r_d: float, z0: float) -> tuple[float, ...]:
    out = single_ion_z1d(
        np.array([z]), np.array([beta_of(energy)]), np.array([energy]), np.array([let]),
        r_d, z0, NODES, WEIGHTS,
    )  # fmt: skip
    return tuple(float(a[0]) for a in out)


@pytest.mark.parametrize(
    ("z", "energy", "let"),
    [(1, 200.0, 0.45), (2, 20.0, 14.0), (6, 290.0, 13.0), (6, 3.0, 450.0), (8, 0.5, 900.0)],
)
def test_radial_dose_integrates_to_the_let(z: int, energy: float, let: float) -> None:
    """∫ D(r) 2πr dr = L/ρ: core + penumbra hold exactly the energy lost per unit path."""
    rc, rp, k, core = track_parameters(z, beta_of(energy), energy, let)
    total = core * math.pi * rc**2 + 2 * math.pi * k * math.log(rp / rc)
    assert total == pytest.approx(KEV_UM_TO_GY_UM2 * let, rel=1e-12)
    assert core >= 0.0 and rp > rc


@pytest.mark.parametrize(
    ("z", "energy", "let", "r_d"),
    [(1, 150.0, 0.55, 0.32), (6, 290.0, 13.0, 0.32), (6, 2.0, 600.0, 0.32), (2, 1.0, 190.0, 1.0)],
)
def test_domain_specific_energy_integrates_to_the_let(z, energy, let, r_d) -> None:
    """∫ z(b) 2πb db = L/ρ (energy conservation of the b and r quadratures), including
    tracks narrower than the domain (R_p < r_d at 1–2 MeV/u)."""
    _, _, norm = z1d(z, energy, let, r_d, 0.0)
    assert norm == pytest.approx(KEV_UM_TO_GY_UM2 * let, rel=5e-4)


def test_narrow_track_deposits_everything_in_the_domain() -> None:
    """At 0.3 MeV/u, R_p = 8 nm ≪ r_d: z(0) = L/ρ/(π r_d²) and z_1D tends to it."""
    energy, let, r_d = 0.3, 900.0, 0.32
    rc, rp, k, core = track_parameters(6, beta_of(energy), energy, let)
    expected = KEV_UM_TO_GY_UM2 * let / (math.pi * r_d**2)
    assert domain_specific_energy(0.0, r_d, rc, rp, k, core, NODES, WEIGHTS) == pytest.approx(
        expected, rel=1e-9
    )
    _, plain, _ = z1d(6, energy, let, r_d, 0.0)
    assert plain == pytest.approx(expected, rel=0.03)


def test_far_from_the_track_there_is_no_energy() -> None:
    rc, rp, k, core = track_parameters(6, beta_of(10.0), 10.0, 170.0)
    assert domain_specific_energy(rp + 0.33, 0.32, rc, rp, k, core, NODES, WEIGHTS) == 0.0


def test_saturation_lowers_z1d_and_vanishes_for_large_z0() -> None:
    star, plain, _ = z1d(6, 20.0, 90.0, 0.32, 48.98)
    assert star < plain
    star_big, plain_big, _ = z1d(6, 20.0, 90.0, 0.32, 1e6)
    assert star_big == pytest.approx(plain_big, rel=1e-6)


def test_disc_overlap_limits() -> None:
    assert _disc_overlap(1.0, 2.0, 0.5) == pytest.approx(math.pi)  # small disc inside
    assert _disc_overlap(1.0, 1.0, 2.0) == 0.0
    # two unit discs at distance 1: 2π/3 − √3/2
    assert _disc_overlap(1.0, 1.0, 1.0) == pytest.approx(2 * math.pi / 3 - math.sqrt(3) / 2)
