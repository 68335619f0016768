"""Proton Bragg-peak shape against Bortfeld's analytical model.

Reference: T. Bortfeld, "An analytical approximation of the Bragg curve for
therapeutic proton beams", Med. Phys. 24 (1997) 2024–2033, Eq. (27) with his
parameters for water: R₀ = α E₀^p (α = 0.0022 cm MeV^−p, p = 1.77),
σ_mono = 0.012 R₀^0.935 cm, σ² = σ_mono² + σ_E² α² p² E₀^(2p−2), non-elastic loss
β = 0.012 /cm, locally absorbed share γ = 0.6, ε = 0 (no low-energy tail); the
curve is evaluated with parabolic cylinder functions (scipy.special.pbdv) and, far
from the peak (ζ > 8), with Bortfeld's own unstraggled expression.

Compared, for 1 % energy spread (Bortfeld's example) at 70–250 MeV:

* R80 − R₀ (the distal 80 % point coincides with the mean range) within 0.7 mm:
  Bortfeld's R₀ is the CSDA range, whereas ionbeam's protons scattered
  elastically by nuclei at large angles (ICRU 63) stop short of it, which moves R80
  upstream by 0.0 (70 MeV) to 0.55 mm (250 MeV);
* the distal fall-off R80 − R20 within 10 % (ionbeam's straggling is ~5 % wider than
  Bortfeld's fit, see test_straggling_and_nuclear_vs_janni);
* the peak-to-mid-range dose ratio (mid-range R₀/2, where the nuclear secondaries
  are in equilibrium) 0–14 % *below* Bortfeld's: his model removes primaries by
  non-elastic reactions only (β = 0.012/cm), while ionbeam, like Monte Carlo codes,
  also removes the protons scattered elastically on hydrogen (p–p) and on oxygen
  (ICRU 63), which stop upstream of the peak — a loss of peak height that grows
  with the range (observed 4 % at 70 MeV to 11 % at 250 MeV). Against MCsquare,
  which simulates those channels, the peak agrees within 2 % at 120–220 MeV
  (test_dose_engine_vs_mcsquare);
* the peak-to-entrance ratio 0–20 % below Bortfeld's (observed 3–17 %, same
  reason), with Bortfeld's entrance dose taken without his local nuclear term
  (γ = 0 at z = 0): Bortfeld deposits 60 % of the non-elastic energy where it is
  released, which lifts his surface dose by up to 30 % at 250 MeV, whereas at the
  surface the secondaries have not built up yet (ionbeam transports them
  downstream).
"""

import numpy as np
import pytest
from scipy.special import gamma, pbdv

from ionbeam.physics.depth_dose import depth_dose, distal_depth

ALPHA, P, BETA, GAMMA_LOCAL = 0.0022, 1.77, 0.012, 0.6
SPREAD = 0.01


def _bortfeld(z_cm: np.ndarray, e0: float, local: float = GAMMA_LOCAL) -> tuple[float, np.ndarray]:
    r0 = ALPHA * e0**P
    sigma = np.sqrt((0.012 * r0**0.935) ** 2 + (SPREAD * e0) ** 2 * ALPHA**2 * P**2
                    * e0 ** (2 * P - 2))  # fmt: skip
    zeta = (r0 - z_cm) / sigma
    dose = np.empty_like(z_cm)
    far = zeta > 8.0
    residual = r0 - z_cm[far]
    scale = P * ALPHA ** (1 / P) * (1 + BETA * r0)
    dose[far] = (residual ** (1 / P - 1) + (BETA + local * BETA * P) * residual ** (1 / P)) / (
        scale
    )
    near = zeta[~far]
    prefactor = (
        np.exp(-(near**2) / 4) * sigma ** (1 / P) * gamma(1 / P) / (np.sqrt(2 * np.pi) * scale)
    )
    dose[~far] = prefactor * (
        pbdv(-1 / P, -near)[0] / sigma + (BETA / P + local * BETA) * pbdv(-1 / P - 1, -near)[0]
    )
    return r0 * 10.0, dose


@pytest.mark.parametrize("energy", [70.0, 100.0, 150.0, 200.0, 250.0])
def test_proton_bragg_peak_matches_bortfeld(energy: float) -> None:
    z_cm = np.linspace(0.0, 1.1 * ALPHA * energy**P, 20001)
    r0_mm, reference = _bortfeld(z_cm, energy)
    z_mm = z_cm * 10.0
    ours = depth_dose("proton", energy, energy_spread_rel=SPREAD, water_i_value_ev=75.0)

    assert ours.r80_mm - ours.csda_range_mm == pytest.approx(
        distal_depth(z_mm, reference, 0.8) - r0_mm, abs=0.7
    )
    falloff_ref = distal_depth(z_mm, reference, 0.2) - distal_depth(z_mm, reference, 0.8)
    assert ours.distal_depth_mm(0.2) - ours.r80_mm == pytest.approx(falloff_ref, rel=0.10)
    peak_to_mid_ref = reference.max() / np.interp(r0_mm / 2, z_mm, reference)
    mid = np.interp(ours.csda_range_mm / 2, ours.depth_mm, ours.idd_mev_mm)
    assert 0.86 < (ours.idd_mev_mm.max() / mid) / peak_to_mid_ref < 1.0
    entrance_ref = _bortfeld(np.array([0.0]), energy, local=0.0)[1][0]
    ratio = (ours.idd_mev_mm.max() / ours.idd_mev_mm[0]) / (reference.max() / entrance_ref)
    assert 0.80 < ratio < 1.0
