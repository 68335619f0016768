"""Proton stopping powers in liquid water against NIST PSTAR (I = 75 eV).

Reference: M. J. Berger, J. S. Coursey, M. A. Zucker, J. Chang, "ESTAR, PSTAR and
ASTAR: computer programs for calculating stopping-power and range tables for
electrons, protons and helium ions", NIST Standard Reference Database 124
(ICRU Report 49 data), material "WATER, LIQUID", total stopping power column
(MeV cm²/g). Above 10 MeV the nuclear stopping is below 0.1 % of the total, so
the total is compared with ionbeam's electronic stopping.

Tolerance 1 % (the issue's requirement); ICRU 49 quotes 1–2 % uncertainty for
its Bethe-based values in this range, and both use the same theory.
"""

import numpy as np
import pytest

from ionbeam.physics.materials import get_material
from ionbeam.physics.stopping import mass_stopping_power

# fmt: off
PSTAR_WATER = {  # MeV: MeV cm²/g
    10.0: 45.67, 12.5: 38.15, 15.0: 32.92, 20.0: 26.07, 25.0: 21.75, 30.0: 18.76,
    40.0: 14.88, 50.0: 12.45, 60.0: 10.78, 70.0: 9.559, 80.0: 8.625, 90.0: 7.888,
    100.0: 7.289, 125.0: 6.192, 150.0: 5.445, 175.0: 4.903, 200.0: 4.492,
    225.0: 4.170, 250.0: 3.911, 275.0: 3.698, 300.0: 3.520,
}
# fmt: on


def test_proton_stopping_in_water_matches_pstar_within_1_percent() -> None:
    energies = np.array(list(PSTAR_WATER))
    reference = np.array(list(PSTAR_WATER.values()))
    water = get_material("water", i_value_ev=75.0)
    computed = mass_stopping_power("proton", energies, water)
    np.testing.assert_allclose(computed, reference, rtol=0.01)


@pytest.mark.parametrize(("energy", "reference"), [(1.0, 260.8), (2.0, 158.6), (5.0, 79.11)])
def test_low_energy_proton_stopping_within_3_percent(energy: float, reference: float) -> None:
    """Below 10 MeV ICRU 49 interpolates between experiment and Bethe theory; ionbeam
    bridges ZBL (1985) fits and Bethe, so 3 % is the honest tolerance (PSTAR values)."""
    water = get_material("water", i_value_ev=75.0)
    assert mass_stopping_power("proton", energy, water) == pytest.approx(reference, rel=0.03)
