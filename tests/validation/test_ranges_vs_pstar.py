"""Proton CSDA ranges in liquid water against NIST PSTAR (I = 75 eV).

Reference: NIST PSTAR (Berger et al., NIST SRD 124; ICRU Report 49), material
"WATER, LIQUID", CSDA range column (g/cm², equal to cm at 1 g/cm³):
70 MeV 4.080, 100 MeV 7.718, 150 MeV 15.77, 200 MeV 25.96, 250 MeV 37.94.

Tolerance 0.5 % (the issue's requirement), about half of the range uncertainty
that ICRU 49 attributes to its I-value.
"""

import numpy as np

from ionbeam.physics.materials import get_material
from ionbeam.physics.ranges import csda_range_mm

PSTAR_CSDA_G_CM2 = {70.0: 4.080, 100.0: 7.718, 150.0: 15.77, 200.0: 25.96, 250.0: 37.94}


def test_proton_csda_ranges_match_pstar_within_half_a_percent() -> None:
    water = get_material("water", i_value_ev=75.0)
    energies = np.array(list(PSTAR_CSDA_G_CM2))
    reference_mm = np.array(list(PSTAR_CSDA_G_CM2.values())) * 10.0
    np.testing.assert_allclose(csda_range_mm("proton", energies, water), reference_mm, rtol=0.005)


def test_default_water_i_value_gives_longer_ranges_than_pstar() -> None:
    """With ICRU 90's 78 eV the ranges grow by ~0.3–0.5 % relative to PSTAR's 75 eV."""
    pstar = csda_range_mm("proton", 150.0, get_material("water", i_value_ev=75.0))
    icru90 = csda_range_mm("proton", 150.0)
    assert 1.002 < icru90 / pstar < 1.006
