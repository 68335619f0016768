"""CSDA range tables: inverse, residual energy, scaling and input checks."""

import numpy as np
import pytest

from ionbeam.errors import OutOfRangeError
from ionbeam.physics.materials import get_material
from ionbeam.physics.particles import get_particle
from ionbeam.physics.ranges import (
    csda_range_mm,
    energy_from_range_mev_u,
    range_table,
    residual_energy_mev_u,
)


@pytest.mark.parametrize("particle", ["proton", "helium", "carbon", "oxygen"])
def test_energy_from_range_inverts_range(particle: str) -> None:
    energies = np.geomspace(1.0, 450.0, 40)
    back = energy_from_range_mev_u(particle, csda_range_mm(particle, energies))
    np.testing.assert_allclose(back, energies, rtol=1e-6)


def test_residual_energy_is_consistent_with_range() -> None:
    depths = np.linspace(0.0, 150.0, 16)
    residual = residual_energy_mev_u("proton", 160.0, depths)
    assert residual[0] == pytest.approx(160.0)
    assert np.all(np.diff(residual) < 0)
    np.testing.assert_allclose(
        csda_range_mm("proton", np.maximum(residual, 1.0)) + depths,
        csda_range_mm("proton", 160.0),
        rtol=1e-6,
        atol=csda_range_mm("proton", 1.0),
    )


def test_residual_energy_is_zero_beyond_the_range() -> None:
    r = float(csda_range_mm("carbon", 200.0))
    assert residual_energy_mev_u("carbon", 200.0, [r + 0.1, 2 * r]).tolist() == [0.0, 0.0]


def test_range_scales_inversely_with_density() -> None:
    water = get_material("water")
    ratio = csda_range_mm("proton", 150.0, water) / csda_range_mm(
        "proton", 150.0, water.with_density(2.0)
    )
    assert ratio == pytest.approx(2.0, rel=1e-9)


def test_ions_of_equal_speed_scale_as_a_over_z_squared() -> None:
    """R_ion(v) ≈ (A/z²) R_p(v): carbon reaches about a third of the proton range."""
    ratio = csda_range_mm("carbon", 300.0) / csda_range_mm("proton", 300.0)
    assert ratio == pytest.approx(12 / 36, rel=0.02)


def test_tables_are_cached_per_particle_and_material() -> None:
    water = get_material("water")
    proton = get_particle("proton")
    assert range_table(proton, water) is range_table(proton, get_material("water"))
    assert range_table(proton, water) is not range_table(proton, water.with_i_value(75.0))


@pytest.mark.parametrize("energy", [0.5, 451.0, float("nan")])
def test_beam_energy_outside_1_to_450_is_refused(energy: float) -> None:
    with pytest.raises(OutOfRangeError, match="1–450 MeV/u"):
        csda_range_mm("proton", energy)


def test_bad_range_and_depth_are_refused() -> None:
    with pytest.raises(OutOfRangeError):
        energy_from_range_mev_u("proton", -1.0)
    with pytest.raises(OutOfRangeError):
        energy_from_range_mev_u("proton", 1e5)
    with pytest.raises(OutOfRangeError):
        residual_energy_mev_u("proton", 100.0, -1.0)
