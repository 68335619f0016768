"""Carbon-ion stopping and CSDA ranges in water against ICRU Report 73; helium against ICRU 49.

References:
* ICRU Report 73, "Stopping of ions heavier than helium" (2005), Table for 12C in
  liquid water (electronic stopping, MeV cm²/g, as tabulated in the libamtrack
  data set ``AT_StoppingPowerDataICRU``). ICRU 73's tables were computed with a
  water I-value of 67.2 eV; the 2009 erratum recomputed them with 78 eV (ICRU 90's
  value). We therefore compare at I = 67.2 eV, the value behind these numbers.
* ICRU Report 49 (NIST ASTAR), helium ions in water, I = 75 eV.

The reference CSDA ranges are obtained by integrating the published stopping
table (log–log interpolation; the part below 0.025 MeV/u is < 1 µm), exactly as
ICRU 73 derives its ranges.

Tolerances: 1 % for carbon ranges 100–430 MeV/u (the issue's requirement) and for
stopping powers above 20 MeV/u (ICRU 73 quotes ~1–2 % uncertainty there); 5 %
for 1–10 MeV/u, where effective-charge models differ by that much and less than
0.5 mm of range is spent.
"""

import numpy as np
import pytest

from ionbeam.physics.materials import get_material
from ionbeam.physics.ranges import csda_range_mm
from ionbeam.physics.stopping import mass_stopping_power

# fmt: off
ICRU73_ENERGY_MEV_U = np.array([
    0.025, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
    0.6, 0.7, 0.8, 0.9, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0,
    20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 150.0, 200.0, 250.0,
    300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0, 1000.0])
ICRU73_CARBON_MEV_CM2_G = 1000.0 * np.array([
    4.154, 4.593, 5.358, 6.009, 6.568, 7.049, 7.460, 7.809, 8.103, 8.968, 9.262, 9.311,
    9.250, 8.994, 8.680, 8.358, 8.045, 7.747, 7.465, 7.199, 6.093, 5.269, 4.636, 4.137,
    3.403, 2.891, 2.516, 2.230, 2.004, 1.823, 1.673, 1.200, 0.9483, 0.7904, 0.6817, 0.5406,
    0.4525, 0.3920, 0.3477, 0.3138, 0.2870, 0.2653, 0.1983, 0.1637, 0.1426, 0.1284, 0.1107,
    0.1002, 0.09335, 0.08865, 0.08528, 0.08278, 0.08088])
ICRU49_HELIUM = {2.0: 630.6, 5.0: 314.6, 10.0: 181.6, 20.0: 103.7, 50.0: 49.52,
                 100.0: 29.01, 200.0: 17.89}
# fmt: on
ICRU73_WATER_I_EV = 67.2


def _icru73_range_mm(energy_mev_u: float) -> float:
    grid = np.geomspace(ICRU73_ENERGY_MEV_U[0], energy_mev_u, 20001)
    log_s = np.interp(np.log(grid), np.log(ICRU73_ENERGY_MEV_U), np.log(ICRU73_CARBON_MEV_CM2_G))
    integrand = 12.0 * grid / np.exp(log_s)  # dR/dlnE in g/cm²
    start = 2.0 * 12.0 * grid[0] / ICRU73_CARBON_MEV_CM2_G[0]
    return 10.0 * (start + np.trapezoid(integrand, np.log(grid)))


@pytest.mark.parametrize("energy", [100.0, 150.0, 200.0, 250.0, 300.0, 350.0, 400.0, 430.0])
def test_carbon_csda_range_matches_icru73_within_1_percent(energy: float) -> None:
    water = get_material("water", i_value_ev=ICRU73_WATER_I_EV)
    assert csda_range_mm("carbon", energy, water) == pytest.approx(
        _icru73_range_mm(energy), rel=0.01
    )


def test_carbon_stopping_matches_icru73() -> None:
    water = get_material("water", i_value_ev=ICRU73_WATER_I_EV)
    e = ICRU73_ENERGY_MEV_U
    fast = (e >= 20.0) & (e <= 450.0)
    slow = (e >= 1.0) & (e < 20.0)
    computed = mass_stopping_power("carbon", e, water)
    np.testing.assert_allclose(computed[fast], ICRU73_CARBON_MEV_CM2_G[fast], rtol=0.01)
    np.testing.assert_allclose(computed[slow], ICRU73_CARBON_MEV_CM2_G[slow], rtol=0.05)


def test_helium_stopping_matches_icru49_within_1_percent() -> None:
    water = get_material("water", i_value_ev=75.0)
    energies = np.array(list(ICRU49_HELIUM))
    reference = np.array(list(ICRU49_HELIUM.values()))
    np.testing.assert_allclose(mass_stopping_power("helium", energies, water), reference, rtol=0.01)
