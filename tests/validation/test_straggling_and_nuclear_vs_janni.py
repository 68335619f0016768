"""Proton range straggling and nuclear interaction probability in water against Janni (1982).

Reference: J. F. Janni, "Proton range-energy tables, 1 keV–10 GeV", Atomic Data and
Nuclear Data Tables 27 (1982) 147–339, table for water: range straggling (standard
deviation, % of the range) and the percentage of protons that undergo a non-elastic
nuclear interaction before stopping, 50–250 MeV.

Tolerances: straggling within 8 % — Janni's values are ~5 % above Bohr/Tschalär
straggling (ICRU 49 and Bortfeld 1997, σ = 0.012 R^0.935, lie ~5 % below ionbeam);
interaction probability within 2.5 percentage points — ionbeam uses the ICRU 63
non-elastic cross sections (which postdate Janni's evaluation and stay at 295 mb for
oxygen above 150 MeV); observed −1.0 to +2.2 pp, the largest at 250 MeV.
"""

import numpy as np

from ionbeam.physics.materials import get_material
from ionbeam.physics.nuclear import primary_survival
from ionbeam.physics.ranges import csda_range_mm
from ionbeam.physics.straggling import range_straggling_sigma_mm

ENERGY_MEV = np.array([50, 60, 70, 80, 90, 100, 125, 150, 175, 200, 225, 250], dtype=float)
# fmt: off
JANNI_STRAGGLING_PERCENT = np.array([1.249, 1.227, 1.210, 1.195, 1.181, 1.169, 1.144, 1.123,
                                     1.105, 1.090, 1.076, 1.063])
JANNI_INTERACTING_PERCENT = np.array([3.487, 4.636, 5.860, 7.136, 8.465, 9.833, 13.29, 16.63,
                                      19.92, 23.30, 26.75, 30.22])
# fmt: on


def test_range_straggling_matches_janni_within_8_percent() -> None:
    water = get_material("water", i_value_ev=75.0)
    relative = (
        100.0
        * range_straggling_sigma_mm("proton", ENERGY_MEV, water)
        / csda_range_mm("proton", ENERGY_MEV, water)
    )
    np.testing.assert_allclose(relative, JANNI_STRAGGLING_PERCENT, rtol=0.08)


def test_fraction_of_protons_interacting_before_stopping() -> None:
    water = get_material("water", i_value_ev=75.0)
    interacting = np.array([
        100.0 * (1.0 - float(primary_survival("proton", e, csda_range_mm("proton", e, water),
                                              water)))
        for e in ENERGY_MEV
    ])  # fmt: skip
    np.testing.assert_allclose(interacting, JANNI_INTERACTING_PERCENT, atol=2.5)
