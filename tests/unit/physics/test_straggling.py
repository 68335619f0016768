"""Range/energy straggling and the range spread from the beam's energy spread."""

import numpy as np
import pytest

from ionbeam.errors import OutOfRangeError
from ionbeam.physics.ranges import csda_range_mm
from ionbeam.physics.straggling import (
    energy_straggling_sigma_mev_u,
    range_spread_sigma_mm,
    range_straggling_sigma_mm,
)


def test_heavier_ions_straggle_less_relative_to_range() -> None:
    """σ_R/R scales roughly as 1/√A at equal speed (Bohr)."""
    proton = range_straggling_sigma_mm("proton", 300.0) / csda_range_mm("proton", 300.0)
    carbon = range_straggling_sigma_mm("carbon", 300.0) / csda_range_mm("carbon", 300.0)
    assert carbon / proton == pytest.approx(1 / np.sqrt(12), rel=0.15)


def test_energy_spread_adds_in_quadrature() -> None:
    straggling = range_straggling_sigma_mm("proton", 150.0)
    total = range_spread_sigma_mm("proton", 150.0, energy_spread_rel=0.01)
    # dR/dE · σ_E with R ∝ E^1.77: 1.77 R σ_E/E
    expected = np.hypot(straggling, 1.77 * csda_range_mm("proton", 150.0) * 0.01)
    assert total == pytest.approx(expected, rel=0.03)
    assert range_spread_sigma_mm("proton", 150.0, energy_spread_rel=0.0) == pytest.approx(
        straggling
    )


def test_energy_straggling_grows_with_depth_and_vanishes_beyond_range() -> None:
    depths = np.array([0.0, 50.0, 100.0, 150.0, 200.0])
    sigma = energy_straggling_sigma_mev_u("proton", 150.0, depths)
    assert sigma[0] == 0.0 and sigma[-1] == 0.0
    assert np.all(np.diff(sigma[:4]) > 0)


def test_bad_energy_is_refused() -> None:
    with pytest.raises(OutOfRangeError):
        range_straggling_sigma_mm("proton", 0.1)
