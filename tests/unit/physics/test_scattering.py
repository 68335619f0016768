"""Multiple Coulomb scattering: scattering length, Fermi–Eyges sigma."""

import numpy as np
import pytest

from ionbeam.physics.materials import get_material
from ionbeam.physics.ranges import csda_range_mm
from ionbeam.physics.scattering import mcs_sigma_mm, scattering_length_g_cm2


def test_scattering_length_of_water_is_gottschalks() -> None:
    """Gottschalk (2010), Table: X_S(water) = 46.88 g/cm²."""
    assert scattering_length_g_cm2("water") == pytest.approx(46.88, rel=2e-3)


def test_sigma_grows_with_depth_and_saturates_beyond_range() -> None:
    r = float(csda_range_mm("proton", 150.0))
    sigma = mcs_sigma_mm("proton", 150.0, [0.0, r / 3, 2 * r / 3, r, 1.5 * r])
    assert sigma[0] == 0.0
    assert np.all(np.diff(sigma[:4]) > 0)
    assert sigma[4] == pytest.approx(sigma[3])


def test_denser_high_z_material_scatters_more_per_mm() -> None:
    depth = 10.0
    water = mcs_sigma_mm("proton", 150.0, depth)
    aluminium = mcs_sigma_mm("proton", 150.0, depth, get_material("aluminium"))
    assert aluminium > 1.5 * water
