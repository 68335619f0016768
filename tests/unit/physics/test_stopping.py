"""Stopping power: shapes, scaling laws, continuity and input checks."""

import numpy as np
import pytest

from ionbeam.errors import OutOfRangeError, UnknownNameError
from ionbeam.physics._stopping_kernels import BETHE_MIN_MEV_U, LOW_ENERGY_MAX_MEV_U
from ionbeam.physics.materials import get_material
from ionbeam.physics.stopping import let_kev_um, linear_stopping_power, mass_stopping_power


def test_shapes_follow_the_input() -> None:
    assert mass_stopping_power("proton", 100.0).shape == ()
    assert mass_stopping_power("proton", np.ones((2, 3)) * 50).shape == (2, 3)


def test_linear_stopping_and_let_units() -> None:
    bone = get_material("cortical_bone")
    mass = mass_stopping_power("proton", 100.0, bone)
    linear = linear_stopping_power("proton", 100.0, bone)
    assert linear == pytest.approx(mass * 1.92 / 10.0)  # MeV cm²/g × g/cm³ → MeV/mm
    assert let_kev_um("proton", 100.0, bone) == pytest.approx(linear)  # 1 MeV/mm = 1 keV/µm


@pytest.mark.parametrize(("particle", "z"), [("helium", 2), ("carbon", 6), ("oxygen", 8)])
def test_fast_ions_scale_with_charge_squared(particle: str, z: int) -> None:
    """At equal speed, Bethe stopping scales as z² up to the small z³/z⁴ corrections."""
    ratio = mass_stopping_power(particle, 300.0) / mass_stopping_power("proton", 300.0)
    assert ratio == pytest.approx(z * z, rel=0.01)


def test_higher_i_value_lowers_stopping() -> None:
    low = mass_stopping_power("proton", 100.0, get_material("water", i_value_ev=75.0))
    high = mass_stopping_power("proton", 100.0, get_material("water", i_value_ev=78.0))
    # dS/S ≈ -dlnI / L with L ≈ 7.8 at 100 MeV
    assert high / low - 1 == pytest.approx(-np.log(78 / 75) / 7.8, rel=0.1)


@pytest.mark.parametrize("edge", [LOW_ENERGY_MAX_MEV_U, BETHE_MIN_MEV_U])
@pytest.mark.parametrize("particle", ["proton", "carbon"])
def test_stopping_is_continuous_across_model_junctions(edge: float, particle: str) -> None:
    below, above = mass_stopping_power(particle, np.array([edge * 0.9999, edge * 1.0001]))
    assert above / below == pytest.approx(1.0, abs=1e-3)


def test_proton_stopping_falls_monotonically_above_the_peak() -> None:
    energies = np.geomspace(0.2, 1000.0, 500)
    assert np.all(np.diff(mass_stopping_power("proton", energies)) < 0)


@pytest.mark.parametrize("energy", [0.0, -5.0, float("nan"), 2000.0])
def test_energies_outside_the_model_are_refused(energy: float) -> None:
    with pytest.raises(OutOfRangeError):
        mass_stopping_power("proton", energy)


def test_unknown_particle_and_material() -> None:
    with pytest.raises(UnknownNameError):
        mass_stopping_power("muon", 100.0)
    with pytest.raises(UnknownNameError):
        mass_stopping_power("proton", 100.0, "unobtainium")


def test_input_array_is_not_modified() -> None:
    energies = np.array([10.0, 100.0])
    mass_stopping_power("carbon", energies)
    assert energies.tolist() == [10.0, 100.0]
