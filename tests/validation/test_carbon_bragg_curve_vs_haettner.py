"""Carbon-ion Bragg curve, fragment tail and fragment yields against measurements.

Reference: E. Haettner, H. Iwase, D. Schardt, "Experimental fragmentation studies
with 12C therapy beams", Radiat. Prot. Dosim. 122 (2006) 485, and E. Haettner,
H. Iwase, M. Krämer, G. Kraft, D. Schardt, Phys. Med. Biol. 58 (2013) 8265 —
400 MeV/u 12C in water at GSI, the IAEA benchmark data set distributed with Geant4
(examples/advanced/hadrontherapy/experimentalData/iaeaBenchmark: ``400tdk.dat``,
the Bragg curve measured with a large-area ionisation chamber, ±2.5 % per point;
``yields/TDK{H,He,Li,Be,B}.dat``, fragment yields per primary versus water depth, before
and behind the Bragg peak, digitised from the papers' yield figures). The yields are
integrals of angular distributions measured from 0° to 10° (``angularDistributions/*``;
"yields 0-10 degrees" in Geant4's plotting macro for these files): they count the
fragments within a 10° cone, not the wide-angle participant protons knocked out at
20°–70° (those deposit dose, and count in the ionisation curve), and not the spectator
protons that Goldhaber's momentum spread (90 MeV/c, 5.4° at 400 MeV/u, wider for those
born deeper at lower speed) throws beyond 10°. The model's yields are therefore its
fluence within the cone (``cone_half_angle_deg=10``); for Z ≥ 2 the cone keeps nearly
everything. Behind the water the fragments cross the tank's 2 mm PMMA exit wall (RSP
1.165: 2.3 mm of water) and ~2.8 m of air to the telescope (ρ = 1.205 mg/cm³, stopping
power 0.88 of water's per g/cm²: 3.0 mm), as in Geant4's model of this set-up
(``IAEADetectorConstruction``, after Haettner's 2006 thesis): a fragment with less than
``DETECTOR_WET_MM`` of residual range never reaches it. This matters only for Li–B near
the end of their range, behind the peak (11B at 34.9 cm: 43 MeV/u on average). The ΔE
detector's own thickness, which the data files do not give, is left out: the threshold
used is a lower bound.

What is compared and why these tolerances:

* the ionisation curve relative to the entrance (2.23 cm): at 10.2 cm within 3 % (the
  measurement's point-to-point scatter is ±2.5 %), and at 20.4 cm within 3 % too;
* the fragment tail behind the peak (28.2–33.3 cm) within 15 %;
* the Bragg-peak depth (27.50 cm measured) within 1.5 mm (water I-value, set-up);
* H and He yields within 20 %, Li, Be and B yields within 30 %, before and behind the
  peak (forward rows of the model's fluence spectra). Points the model does not yet meet
  are marked ``xfail(strict=True)`` with the measured discrepancy, so that a fix shows.

The peak height is not compared: it depends on the experiment's energy spread and
depth resolution.
"""

import numpy as np
import pytest

from ionbeam.physics.depth_dose import DepthDose, depth_dose
from ionbeam.physics.fragmentation import fragmentation_model

ENTRANCE_CM, ENTRANCE_IONISATION = 2.22967614442, 1.50466086821
# (depth cm, relative ionisation, tolerance) from 400tdk.dat
PLATEAU = [(10.2148744751, 1.48476929677, 0.03), (20.3633137018, 1.61574164359, 0.03)]
TAIL = [
    (28.2049481909, 0.680915792348),
    (29.2499382451, 0.646515074691),
    (30.2949282993, 0.612114357034),
    (31.2655199761, 0.540972736846),
    (32.2358841348, 0.506416006865),
    (33.2808741891, 0.472015289208),
]
MEASURED_PEAK_CM = 27.5046478672
# fragment yields per primary (depth cm, N/N0), from yields/TDK*.dat; the Bragg peak is at
# 27.5 cm, so the last three (H, He) or four (Li, Be, B) points lie behind it
YIELDS = {
    1: [(5.72667614569, 0.273285573663), (15.7943782128, 0.55909438915),
        (25.7748003937, 0.761582631521), (27.9446571147, 0.763458383463),
        (31.1556381932, 0.723515257574), (34.7406759269, 0.68351744504)],
    2: [(5.74927466832, 0.198788766514), (15.7797667671, 0.42075716177),
        (25.7891327005, 0.558220895186), (27.892876257, 0.573195121264),
        (28.8572857103, 0.530832934284), (34.6118419199, 0.44905777302)],
    3: [(5.68165039212, 0.0291750825335), (16.0198637674, 0.0469868642828),
        (26.0229283038, 0.0576013038209), (28.0267171851, 0.0543609745226),
        (29.0455362242, 0.0486341918678), (31.2662107008, 0.0438794244244),
        (34.8855674268, 0.0345604479795)],
    4: [(5.71400606832, 0.0134449936381), (15.7502202212, 0.0220483018499),
        (25.9215033767, 0.0290909758246), (27.9935401781, 0.0252586375648),
        (29.0280904375, 0.0231963883723), (31.3448174611, 0.0137107272193),
        (34.748947832, 0.0074216991289)],
    5: [(5.81477867471, 0.0334111372306), (15.944735208, 0.051621684556),
        (25.9130222656, 0.0660771311984), (28.1304887785, 0.05338474674),
        (28.8337177326, 0.037208373991), (31.3352701144, 0.0189745409385),
        (34.8939945001, 0.00225039918389)],
}  # fmt: skip
TOLERANCE = {1: 0.20, 2: 0.20, 3: 0.30, 4: 0.30, 5: 0.30}
# (charge, depth cm): the model's excess where it misses the tolerance, as a strict xfail
# with the measured discrepancy (none since MODEL_VERSION 8). B at 34.9 cm (11B born in
# the first 4 cm, at the end of its range: 43 MeV/u on average, 44 % below 40 MeV/u) was
# +32 % with the fragments' Goldhaber range spread on three Gauss–Hermite nodes; the
# yield there is the tail of that spread, which three nodes overstate: seven give +27.9 %
# (9 / 15 / 25 nodes: +27.6 / +27.4 / +28.3 %). Still a lower bound on the threshold:
# the ΔE detector's own thickness is not known (1 mm more water-equivalent, about −10
# points).
KNOWN_GAPS: dict[tuple[int, float], str] = {}
CONE_DEG = 10.0
#: Water-equivalent thickness between the water and the telescope, mm (see above).
DETECTOR_WET_MM = 2.0 * 1.165 + 2800.0 * 1.205e-3 * 0.88


@pytest.fixture(scope="module")
def carbon400() -> DepthDose:
    return depth_dose("carbon", 400.0, with_spectra=True, cone_half_angle_deg=CONE_DEG)


def _relative(d: DepthDose, depth_cm: float) -> float:
    entrance = np.interp(ENTRANCE_CM * 10, d.depth_mm, d.idd_mev_mm)
    return float(np.interp(depth_cm * 10, d.depth_mm, d.idd_mev_mm) / entrance)


@pytest.mark.parametrize(("depth_cm", "measured", "tolerance"), PLATEAU)
def test_plateau_relative_to_entrance(
    carbon400: DepthDose, depth_cm: float, measured: float, tolerance: float
) -> None:
    expected = measured / ENTRANCE_IONISATION
    assert _relative(carbon400, depth_cm) == pytest.approx(expected, rel=tolerance)


@pytest.mark.parametrize(("depth_cm", "measured"), TAIL)
def test_fragment_tail_behind_the_peak(
    carbon400: DepthDose, depth_cm: float, measured: float
) -> None:
    assert _relative(carbon400, depth_cm) == pytest.approx(measured / ENTRANCE_IONISATION, rel=0.15)


def test_bragg_peak_depth(carbon400: DepthDose) -> None:
    assert carbon400.bragg_peak_mm == pytest.approx(MEASURED_PEAK_CM * 10, abs=1.5)


def _yield_cases() -> list:
    cases = []
    for charge, points in YIELDS.items():
        for depth_cm, measured in points:
            gap = KNOWN_GAPS.get((charge, round(depth_cm, 1)))
            marks = [pytest.mark.xfail(strict=True, reason=f"model {gap}")] if gap else []
            cases.append(pytest.param(charge, depth_cm, measured, marks=marks))
    return cases


@pytest.mark.parametrize(("charge", "depth_cm", "measured"), _yield_cases())
def test_forward_fragment_yields(
    carbon400: DepthDose, charge: int, depth_cm: float, measured: float
) -> None:
    spectra = carbon400.spectra
    assert spectra is not None
    per_depth = spectra.forward_fluence(
        charge, within_cone=True, min_residual_range_mm=DETECTOR_WET_MM
    )
    model = np.interp(depth_cm * 10, carbon400.depth_mm, per_depth)
    assert model == pytest.approx(measured, rel=TOLERANCE[charge])


def test_wide_angle_participants_are_apart_from_the_forward_yields(
    carbon400: DepthDose,
) -> None:
    """The participant protons are in the fluence (and dose) but not in the forward rows;
    with them, hydrogen would exceed the forward-angle measurement by far."""
    spectra = carbon400.spectra
    assert spectra is not None and any(spectra.participant)
    hydrogen = [i for i, (z, _) in enumerate(spectra.species) if z == 1]
    everything = spectra.fluence[hydrogen].sum(axis=(0, 1))
    forward = spectra.fluence[spectra.forward_rows(1)].sum(axis=(0, 1))
    at = np.searchsorted(carbon400.depth_mm, 157.9)
    assert everything[at] > 1.5 * forward[at]


def test_cone_keeps_the_goldhaber_share_of_hydrogen_and_all_heavy_fragments(
    carbon400: DepthDose,
) -> None:
    """Near the entrance the share of forward H within 10° is the Goldhaber one (Goldhaber
    1974; σ₀ = 90 MeV/c, Greiner et al. 1975) at ~395 MeV/u, computed here from the
    model's p, d, t multiplicities: σ_θ = σ_p/p, share 1 − exp(−θ²/2σ_θ²) (within 2 pp);
    it falls with depth (fragments born slower spread wider), while B keeps > 99 %."""
    spectra = carbon400.spectra
    assert spectra is not None
    model = fragmentation_model("carbon")
    p_u = float(np.sqrt(395.0 * (395.0 + 2.0 * 931.494)))
    spectators = [c for c in model.channels if c.z == 1 and not c.participant]
    sigmas = [model.momentum_spread_mev_c(c) / (c.a * p_u) for c in spectators]
    shares = [-np.expm1(-(np.radians(CONE_DEG) ** 2) / (2.0 * s**2)) for s in sigmas]
    expected = np.average(shares, weights=[c.multiplicity for c in spectators])
    depth = carbon400.depth_mm
    with np.errstate(divide="ignore", invalid="ignore"):
        hydrogen = spectra.forward_fluence(1, within_cone=True) / spectra.forward_fluence(1)
        boron = spectra.forward_fluence(5, within_cone=True) / spectra.forward_fluence(5)
    at = [np.searchsorted(depth, z) for z in (20.0, 158.0, 258.0)]
    assert hydrogen[at[0]] == pytest.approx(expected, abs=0.02)
    assert hydrogen[at[0]] > hydrogen[at[1]] > hydrogen[at[2]]
    assert boron[at[2]] > 0.99


def test_residual_range_threshold_counts_the_fluence_a_few_mm_deeper(
    carbon400: DepthDose,
) -> None:
    """B behind the peak with more than R of residual range at depth d are those still
    present at d + R (CSDA; nuclear loss over 5 mm, ~2 %, and the energy binning allow 5 %)."""
    spectra = carbon400.spectra
    assert spectra is not None
    depth = carbon400.depth_mm
    boron = spectra.forward_fluence(5)
    reaching = spectra.forward_fluence(5, min_residual_range_mm=DETECTOR_WET_MM)
    for z in (290.0, 310.0, 330.0):
        later = np.interp(z + DETECTOR_WET_MM, depth, boron)
        assert np.interp(z, depth, reaching) == pytest.approx(later, rel=0.05)
