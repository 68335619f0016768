"""How far a stopping-power ratio taken at one energy puts the proton range in tissue.

A benchmark, not a test (issue 11, item 6). The CT's SPR is evaluated at
``DEFAULT_SPR_ENERGY_MEV_U`` (100 MeV) whatever the beam energy; the range of a proton
in a homogeneous material is then R_water(E) / SPR(100 MeV), against the CSDA range
R_m(E) computed with the material's own stopping power. Printed per material and
energy: R_water/SPR − R_m (mm). Then, for the reference tissues of the
stoichiometric calibration, how far the calibration curve's SPR at each tissue's CT
number lies from the tissue's own SPR (the other source of range error in tissue).

Usage::

    python bench/spr_energy.py
"""

from __future__ import annotations

import numpy as np

from ionbeam.patient.stoichiometric import (
    DEFAULT_SPR_ENERGY_MEV_U,
    stoichiometric_calibration,
    tissue_points,
)
from ionbeam.physics.materials import get_material
from ionbeam.physics.ranges import csda_range_mm
from ionbeam.physics.wet import relative_stopping_power

MATERIALS = ("adipose", "muscle", "brain", "soft_tissue", "lung", "cortical_bone", "pmma")
ENERGIES_MEV = (70.0, 100.0, 150.0, 230.0)


def main() -> None:
    water = get_material("water")
    print(f"R_water(E) / SPR({DEFAULT_SPR_ENERGY_MEV_U:g} MeV) − R_material(E), mm")
    print(f"{'material':<15}{'SPR':>8}" + "".join(f"{e:>9.0f}" for e in ENERGIES_MEV))
    for name in MATERIALS:
        material = get_material(name)
        spr = float(relative_stopping_power(material, energy_mev_u=DEFAULT_SPR_ENERGY_MEV_U))
        errors = [
            float(csda_range_mm("proton", e, water)) / spr
            - float(csda_range_mm("proton", e, material))
            for e in ENERGIES_MEV
        ]
        print(f"{name:<15}{spr:>8.4f}" + "".join(f"{x:>+9.2f}" for x in errors))
    points = tissue_points()
    curve = stoichiometric_calibration().hu_to_spr(points.hu)
    deviation = 100.0 * (curve / points.spr - 1.0)
    order = np.argsort(-np.abs(deviation))
    print("\ncalibration curve SPR at the tissue's HU vs the tissue's own SPR (largest first), %")
    for i in order[:8]:
        print(f"{points.names[i]:<28}{points.hu[i]:>7.0f} HU{deviation[i]:>+8.2f} %")


if __name__ == "__main__":
    main()
