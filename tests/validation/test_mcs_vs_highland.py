"""Lateral MCS spread at the end of range: protons against the extended Highland
Fermi–Eyges model, and the carbon/proton ratio.

References:
* V. L. Highland, Nucl. Instrum. Methods 129 (1975) 497 (and erratum 161 (1979) 171),
  as applied to thick targets in the Fermi–Eyges moment by Gottschalk et al.,
  Nucl. Instrum. Methods B 74 (1993) 467, and Kanematsu (2008, Med. Phys. 35,
  arXiv:0810.1390), who found this "extended Highland" model to agree with measured
  end-point displacements of protons and ions in water within 2 %:
  σ_x² = ∫₀^R (R − s)² (14.1 MeV/pv(s))² (1 + ⅑ log₁₀(R/X₀))² ds/X₀, X₀ = 36.08 cm.
  ionbeam uses Gottschalk's differential Molière scattering power instead (Gottschalk
  2010, Med. Phys. 37, 352), which follows Molière–Fano–Hanson theory; it lies 2–7 %
  below extended Highland from 70 to 230 MeV. Tolerance 8 %, inside the 11 % accuracy
  Highland claims for his formula.
* D. Schardt, T. Elsässer, D. Schulz-Ertner, Rev. Mod. Phys. 82 (2010) 383, Sec. II.C:
  at the same range, carbon ions spread laterally about 3 times less than protons
  (MCS angle ∝ z/(pv), ranges ∝ A/z²). Tolerance: ratio within 0.25–0.40.
"""

import numpy as np
import pytest

from ionbeam.physics.particles import get_particle
from ionbeam.physics.ranges import csda_range_mm, energy_from_range_mev_u
from ionbeam.physics.scattering import mcs_sigma_mm

X0_WATER_MM = 360.8


def _extended_highland_sigma_mm(energy_mev: float) -> float:
    proton = get_particle("proton")
    csda = float(csda_range_mm(proton, energy_mev))
    s = np.linspace(0.0, csda, 4001)[:-1]
    kinetic = energy_from_range_mev_u(proton, csda - s)
    pv = kinetic * (kinetic + 2 * proton.mass_mev) / (kinetic + proton.mass_mev)
    log_factor = (1.0 + np.log10(csda / X0_WATER_MM) / 9.0) ** 2
    power = (14.1 / pv) ** 2 * log_factor / X0_WATER_MM
    return float(np.sqrt(np.trapezoid((csda - s) ** 2 * power, s)))


@pytest.mark.parametrize("energy", [70.0, 100.0, 160.0, 230.0])
def test_proton_end_of_range_sigma_matches_extended_highland(energy: float) -> None:
    csda = float(csda_range_mm("proton", energy))
    assert float(mcs_sigma_mm("proton", energy, csda)) == pytest.approx(
        _extended_highland_sigma_mm(energy), rel=0.08
    )


def test_proton_end_of_range_sigma_is_about_two_percent_of_range() -> None:
    """Kanematsu (2008): the RMS end-point displacement is nearly proportional to range."""
    ratios = [float(mcs_sigma_mm("proton", e, csda_range_mm("proton", e)) / csda_range_mm(
        "proton", e)) for e in (70.0, 150.0, 230.0)]  # fmt: skip
    assert max(ratios) / min(ratios) < 1.05


def test_carbon_spreads_about_three_times_less_than_protons_at_equal_range() -> None:
    proton_range = float(csda_range_mm("proton", 160.0))
    carbon_energy = float(energy_from_range_mev_u("carbon", proton_range))
    ratio = float(mcs_sigma_mm("carbon", carbon_energy, proton_range)) / float(
        mcs_sigma_mm("proton", 160.0, proton_range)
    )
    assert 0.25 < ratio < 0.40
