"""Proton–nucleus cross sections of the ICRU 63 evaluation, and p–p elastic scattering.

ICRU Report 63, *Nuclear Data for Neutron and Proton Radiotherapy and for
Radiation Protection* (2000; evaluation by Chadwick et al., GNASH/optical
model), tabulates for protons of 10–250 MeV on C, N, O, Ca, … the non-elastic
cross section and the nuclear-elastic cross section with its angular
distribution (centre-of-mass angles from 5°). The values below are read from
those tables at the energies of ``ENERGY_MEV`` (as distributed with MCsquare 1.1's
material data, which uses them): non-elastic and elastic cross sections in mb.

``OXYGEN_ELASTIC_ONE_MINUS_COS`` are four representative values of 1 − cos θ_lab of
a proton scattered elastically by oxygen (bins 0–0.01, 0.01–0.03, 0.03–0.08 and
> 0.08, the mean of each over the ICRU 63 angular distribution at 100–200 MeV),
and ``OXYGEN_ELASTIC_ANGLE_FRACTIONS`` the share of the elastic cross section in each
bin at each energy from 20 MeV (ICRU 63 distribution converted from the centre-of-mass to the
laboratory frame).

p–p elastic: the parametrisation of Fippel & Soukup (Med. Phys. 31 (2004) 2263),
the mass cross section of the hydrogen in water
Σ/ρ = 0.315 E^−1.126 + 3.78·10⁻⁶ E cm²/g (E in MeV, > 10 MeV), with hydrogen's
mass fraction 0.1119; per hydrogen atom it gives 32 mb at 100 MeV and 23 mb at
200 MeV, the free p–p nuclear elastic cross section (SAID/PDG compilations).
"""

from __future__ import annotations

import numpy as np

#: Proton energies of the tables, MeV.
ENERGY_MEV = np.array(
    [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 120, 150, 180, 200, 250], dtype=float
)

#: Non-elastic cross sections (mb), ICRU 63, by atomic number.
NONELASTIC_MB = {
    6: np.array(
        [320, 441, 401, 363, 334, 306, 281, 256, 237, 227, 222, 222, 214, 210, 210], dtype=float
    ),
    7: np.array(
        [415, 519, 472, 424, 362, 330, 300, 279, 266, 260, 258, 257, 257, 257, 257], dtype=float
    ),
    8: np.array(
        [425, 535, 501, 449, 401, 362, 333, 313, 302, 297, 295, 295, 295, 295, 295], dtype=float
    ),
    20: np.array(
        [703, 843, 880, 812, 755, 706, 664, 631, 604, 583, 557, 537, 527, 529, 535], dtype=float
    ),
}

#: Nuclear-elastic cross sections (mb) above 5° in the centre of mass, ICRU 63.
ELASTIC_MB = {
    6: np.array(
        [6781, 2053, 1148, 772, 557, 418, 353, 284, 232, 193, 137, 90, 68, 63, 74], dtype=float
    ),
    7: np.array(
        [8450, 2667, 1442, 941, 668, 496, 403, 323, 264, 219, 156, 103, 78, 72, 83], dtype=float
    ),
    8: np.array(
        [11703, 3273, 1690, 1077, 753, 553, 453, 360, 292, 241, 171, 112, 84, 76, 82], dtype=float
    ),
    20: np.array(
        [67410, 15016, 6251, 3471, 2242, 1575, 1160, 894, 708, 573, 395, 253, 189, 173, 182],
        dtype=float,
    ),
}

#: Representative 1 − cos θ_lab of the four angular bins of p–O elastic scattering.
OXYGEN_ELASTIC_ONE_MINUS_COS = np.array([0.0033, 0.020, 0.053, 0.13])

#: Share of the p–O elastic cross section in each angular bin, at ``ENERGY_MEV[1:]``
#: (rows; 20–250 MeV: elastic scattering below 20 MeV is not transported).
OXYGEN_ELASTIC_ANGLE_FRACTIONS = np.array(
    [
        [0.693, 0.088, 0.083, 0.136],
        [0.573, 0.091, 0.142, 0.194],
        [0.484, 0.103, 0.203, 0.210],
        [0.428, 0.120, 0.253, 0.199],
        [0.395, 0.138, 0.288, 0.179],
        [0.316, 0.369, 0.150, 0.165],
        [0.299, 0.414, 0.151, 0.136],
        [0.289, 0.453, 0.147, 0.111],
        [0.286, 0.485, 0.139, 0.090],
        [0.294, 0.532, 0.115, 0.059],
        [0.332, 0.558, 0.078, 0.032],
        [0.398, 0.540, 0.044, 0.018],
        [0.454, 0.506, 0.027, 0.013],
        [0.609, 0.380, 0.006, 0.005],
    ]
)

#: Fippel & Soukup (2004) p–p elastic mass cross section of water's hydrogen:
#: Σ/ρ = A E^B + C E (cm²/g of water) for E > threshold, hydrogen mass fraction.
PP_ELASTIC_A = 0.315
PP_ELASTIC_B = -1.126
PP_ELASTIC_C = 3.78e-6
PP_ELASTIC_THRESHOLD_MEV = 10.0
PP_WATER_HYDROGEN_FRACTION = 0.1119
