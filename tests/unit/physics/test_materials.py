"""Materials: compositions, derived quantities, I-values and input checks."""

import math

import pytest

from ionbeam.errors import ConfigError, OutOfRangeError, UnknownNameError
from ionbeam.physics.materials import (
    MATERIALS,
    WATER_I_VALUE_EV,
    Material,
    bragg_additivity_i_value,
    get_material,
)

REQUIRED = (
    "water",
    "air",
    "adipose",
    "muscle",
    "brain",
    "lung",
    "cortical_bone",
    "soft_tissue",
    "pmma",
    "polyethylene",
    "aluminium",
)


@pytest.mark.parametrize("name", REQUIRED)
def test_library_has_required_materials(name: str) -> None:
    material = get_material(name)
    assert name in MATERIALS
    assert math.isclose(sum(material.mass_fractions.values()), 1.0, rel_tol=1e-12)


def test_water_z_over_a_and_electron_density_from_the_formula() -> None:
    water = get_material("water")
    # H2O: 10 electrons per (2 × 1.008 + 15.999) g/mol
    assert water.z_over_a == pytest.approx(10.0 / 18.015, rel=2e-4)
    assert water.electron_density_per_cm3 == pytest.approx(3.343e23, rel=1e-3)


def test_water_default_i_value_and_override() -> None:
    assert get_material("water").i_value_ev == WATER_I_VALUE_EV == 78.0
    assert get_material("water", i_value_ev=75.0).i_value_ev == 75.0


def test_bragg_additivity_of_water_is_icru37_value() -> None:
    """ICRU 37 condensed-phase elemental values (H 19.2, O 106 eV) give 75.3 eV."""
    assert bragg_additivity_i_value({1: 0.111894, 8: 0.888106}) == pytest.approx(75.3, abs=0.05)


@pytest.mark.parametrize(
    "name", ["adipose", "muscle", "brain", "lung", "cortical_bone", "soft_tissue"]
)
def test_bragg_additivity_reproduces_nist_tissue_i_values(name: str) -> None:
    """NIST (Hubbell & Seltzer, Table 2) I-values of ICRU 44 tissues follow ICRU 37's rule."""
    tissue = get_material(name)
    assert bragg_additivity_i_value(tissue.mass_fractions) == pytest.approx(
        tissue.i_value_ev, abs=0.15
    )


def test_with_i_value_and_density_return_new_materials() -> None:
    water = get_material("water")
    heavier = water.with_density(1.1)
    other = water.with_i_value(75.0)
    assert (heavier.density_g_cm3, other.i_value_ev) == (1.1, 75.0)
    assert (water.density_g_cm3, water.i_value_ev) == (1.0, 78.0)


def test_materials_are_hashable_and_compare_by_value() -> None:
    a = Material("x", 1.0, mass_fractions={1: 0.5, 6: 0.5}, i_value_ev=60.0)
    b = Material("x", 1.0, mass_fractions={6: 0.5, 1: 0.5}, i_value_ev=60.0)
    assert a == b and hash(a) == hash(b)
    assert a != a.with_i_value(61.0)


def test_fractions_are_renormalised_within_tolerance() -> None:
    m = Material("x", 1.0, mass_fractions={1: 0.5, 8: 0.5004}, i_value_ev=70.0)
    assert sum(m.mass_fractions.values()) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(
    ("fractions", "error"),
    [
        ({1: 11.19, 8: 88.81}, ConfigError),  # percentages
        ({}, ConfigError),
        ({1: float("nan")}, ConfigError),
        ({1: -0.1, 8: 1.1}, ConfigError),
        ({99: 1.0}, UnknownNameError),
    ],
)
def test_bad_compositions_are_refused(fractions: dict, error: type) -> None:
    with pytest.raises(error):
        Material("bad", 1.0, mass_fractions=fractions, i_value_ev=70.0)


@pytest.mark.parametrize(
    ("density", "i_value"), [(0.0, 70.0), (-1.0, 70.0), (float("nan"), 70.0), (1.0, 0.0)]
)
def test_bad_density_or_i_value_is_refused(density: float, i_value: float) -> None:
    with pytest.raises(OutOfRangeError):
        Material("bad", density, mass_fractions={1: 1.0}, i_value_ev=i_value)


def test_unknown_material_name() -> None:
    with pytest.raises(UnknownNameError, match="unknown material 'kryptonite'"):
        get_material("kryptonite")


def test_aliases() -> None:
    assert get_material("Aluminum").name == "aluminium"
    assert get_material("bone").name == "cortical_bone"
