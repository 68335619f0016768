"""The beam at the isocentre: spot size in air, its propagation, range shifter, ripple filter."""

import math

import numpy as np
import pytest

from ionbeam.errors import ConfigError, MachineLimitError, UnknownNameError
from ionbeam.machine.beamline import (
    FWHM_PER_SIGMA,
    BeamLine,
    RangeShifter,
    RippleFilter,
    SpotSizeTable,
    cnao_beam_line,
)
from ionbeam.machine.energy_library import cnao_energy_library
from ionbeam.machine.kinematics import lorentz_beta, momentum_per_nucleon_mev_c


@pytest.mark.parametrize("particle", ["proton", "helium", "carbon", "oxygen"])
def test_spot_fwhm_is_4_to_10_mm_and_shrinks_with_energy(particle: str) -> None:
    energies = cnao_energy_library(particle).energies_mev_u
    fwhm = cnao_beam_line().fwhm_air_mm(particle, energies)
    assert np.all((fwhm >= 3.9) & (fwhm <= 10.1))
    assert np.all(np.diff(fwhm) <= 1e-12)


def test_sigma_in_air_follows_the_phase_space() -> None:
    table = SpotSizeTable("proton", np.array([50.0, 250.0]), np.array([3.0, 3.0]),
                          np.array([2.0, 2.0]), np.array([-0.5, -0.5]))  # fmt: skip
    line = BeamLine("test", {"proton": table}, (6000.0, 5500.0))
    z = np.array([-300.0, 0.0, 300.0, 750.0])
    expected = np.sqrt(9.0 + 2 * -0.5 * 3.0 * 2e-3 * z + (2e-3 * z) ** 2)
    np.testing.assert_allclose(line.sigma_air_mm("proton", 100.0, z), expected)
    # The waist sits where dσ²/dz = 0: z = −ρσ₀/σ' = +750 mm.
    assert line.sigma_air_mm("proton", 100.0, 750.0) < line.sigma_air_mm("proton", 100.0, 0.0)
    assert line.fwhm_air_mm("proton", 100.0) == pytest.approx(3.0 * FWHM_PER_SIGMA)


def test_range_shifter_angle_is_highland() -> None:
    rs = RangeShifter(wet_mm=30.0, distance_to_isocentre_mm=200.0)
    e = 100.0
    pv = momentum_per_nucleon_mev_c("proton", e) * lorentz_beta("proton", e)
    t = 30.0 / 360.8
    expected = 14.1 / pv * math.sqrt(t) * (1 + math.log10(t) / 9)
    assert rs.scattering_angle_rad("proton", e) == pytest.approx(expected)
    # Carbon at the same speed scatters less: z/(pv) with A = 12, z = 6 → half.
    assert rs.scattering_angle_rad("carbon", e) == pytest.approx(expected * 6 / 12, rel=1e-3)


def test_range_shifter_widens_low_energy_spots_most() -> None:
    line = cnao_beam_line()
    shifted = line.with_range_shifter(RangeShifter(30.0, 300.0))
    low = shifted.sigma_air_mm("proton", 70.0) / line.sigma_air_mm("proton", 70.0)
    high = shifted.sigma_air_mm("proton", 220.0) / line.sigma_air_mm("proton", 220.0)
    assert low > high > 1.0
    assert line.range_shifter is None and shifted.with_range_shifter(None).range_shifter is None


def test_ripple_filter_and_sad() -> None:
    line = cnao_beam_line().with_ripple_filter(RippleFilter())
    assert line.ripple_filter.modulation_mm == 3.0
    assert line.sad_mm[0] > line.sad_mm[1] > 1000.0


def test_bad_beam_line_input() -> None:
    line = cnao_beam_line()
    with pytest.raises(MachineLimitError):
        line.sigma_air_mm("carbon", 50.0)
    with pytest.raises(UnknownNameError):
        BeamLine("x", {}, (1.0, 1.0)).spot_table("proton")
    with pytest.raises(ConfigError):
        BeamLine("x", {}, (0.0, 1.0))
    with pytest.raises(ConfigError):
        RangeShifter(-1.0, 100.0)
    with pytest.raises(ConfigError):
        SpotSizeTable("proton", np.array([1.0, 2.0]), np.array([1.0, -1.0]),
                      np.array([1.0, 1.0]), np.array([0.0, 0.0]))  # fmt: skip
