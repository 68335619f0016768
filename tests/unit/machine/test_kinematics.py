"""Rigidity, speed and revolution frequency of ions (relativistic kinematics)."""

import math

import numpy as np
import pytest

from ionbeam.errors import OutOfRangeError, UnknownNameError
from ionbeam.machine.kinematics import (
    SPEED_OF_LIGHT_M_S,
    energy_from_rigidity_mev_u,
    lorentz_beta,
    magnetic_rigidity_tm,
    revolution_frequency_hz,
)


def test_rigidity_of_250_mev_protons_and_400_mev_u_carbon() -> None:
    # Issue 7: 2.43 T·m and 6.35 T·m (the PIMMS/CNAO design maxima).
    assert magnetic_rigidity_tm("proton", 250.0) == pytest.approx(2.432, abs=2e-3)
    assert magnetic_rigidity_tm("carbon", 400.0) == pytest.approx(6.35, abs=5e-3)


def test_cnao_rigidity_ranges() -> None:
    # CNAO tables: 1.162–2.308 T·m (protons), 3.187–6.338 T·m (carbon), to the digits published.
    p = magnetic_rigidity_tm("proton", [62.58, 227.54])
    c = magnetic_rigidity_tm("carbon", [115.37, 399.06])
    np.testing.assert_allclose(p, [1.162, 2.308], atol=6e-4)
    np.testing.assert_allclose(c, [3.187, 6.338], atol=6e-4)


def test_rigidity_from_momentum_by_hand() -> None:
    # 1 GeV/c protons: Bρ = p/(ec) = 1e9 / 299792458 T·m.
    m = 938.27208816
    energy = math.sqrt(1000.0**2 + m**2) - m
    assert magnetic_rigidity_tm("proton", energy) == pytest.approx(
        1e9 / SPEED_OF_LIGHT_M_S, rel=1e-12
    )


def test_energy_from_rigidity_inverts() -> None:
    energies = np.array([7.0, 62.58, 250.0, 430.0])
    for particle in ("proton", "helium", "carbon", "oxygen"):
        brho = magnetic_rigidity_tm(particle, energies)
        np.testing.assert_allclose(energy_from_rigidity_mev_u(particle, brho), energies, rtol=1e-12)


def test_revolution_frequency_is_speed_over_circumference() -> None:
    beta = lorentz_beta("carbon", 400.0)
    f = revolution_frequency_hz("carbon", 400.0, 75.24)
    assert f == pytest.approx(beta * SPEED_OF_LIGHT_M_S / 75.24)
    # 400 MeV/u carbon: γ = 1 + 400/931.24 → β ≈ 0.7140, f ≈ 2.845 MHz on the PIMMS ring.
    assert f == pytest.approx(2.845e6, rel=2e-3)


@pytest.mark.parametrize("energy", [0.0, -5.0, float("nan"), float("inf")])
def test_bad_energy_is_refused(energy: float) -> None:
    with pytest.raises(OutOfRangeError):
        magnetic_rigidity_tm("proton", energy)


def test_bad_rigidity_and_particle_are_refused() -> None:
    with pytest.raises(OutOfRangeError):
        energy_from_rigidity_mev_u("carbon", -1.0)
    with pytest.raises(UnknownNameError):
        magnetic_rigidity_tm("neon", 100.0)
    with pytest.raises(OutOfRangeError):
        revolution_frequency_hz("proton", 100.0, 0.0)
