"""ionbeam's proton pencil beam against MCsquare single spots in water.

Reference: MCsquare 1.1 (K. Souris, J. A. Lee, E. Sterpin, "Fast multipurpose
Monte Carlo simulation for proton therapy using multi- and many-core CPU
architectures", Med. Phys. 43 (2016) 2447–2459), run by
``bench/mcsquare/make_water_spots.py`` with a beam data library built from
ionbeam's CNAO beam line (same σ₀, divergence, correlation, SADs and 0.2 %
energy spread) on water (MCsquare's Geant4 water table agrees with ionbeam's
I = 78 eV water within 0.05 % in stopping power and 0.1 mm in CSDA range,
70–230 MeV). The stored curves (``tests/data/mcsquare/water_spots.npz``; see
the README there) are the laterally integrated depth–dose and the radial
profiles every 2 mm of depth of 5·10⁶ primaries per energy; MCsquare's own
statistical uncertainty is about 0.5 %.

Tolerances, and why:

* R80 and Bragg-peak depth within 1 mm — the clinical range tolerance; the MC
  noise on R80 is < 0.05 mm and the 1 mm depth voxels are interpolated.
* Distal fall-off R80–R20 within 15 % — straggling models (ionbeam's
  Bohr/Tschalär Gaussian against MCsquare's Vavilov-like sampling) differ by a
  few percent; 15 % is a fraction of a millimetre at these energies.
* Depth–dose in the plateau point by point: within 3 % from 0.2 R80 to 0.8 R80
  and within 5 % in the build-up region (10 mm to 0.2 R80). The differences are
  the nuclear models (both use ICRU 63 cross sections; the angular and energy
  spectra of the secondaries differ: ionbeam's three-group secondary-proton
  spectrum and its p–p products put up to 4.5 % more dose than MCsquare at
  30–50 mm of a 220 MeV beam, its mid-range and deep plateau agree within 2 %);
  Grassberger et al. (PMB 59 (2014) 6059) place a good pencil beam within ~2–3 %
  of MC on the integrated depth–dose of a single spot in water.
* Total deposited energy within 2 %: both conserve energy except what
  neutrons and γ carry away.
* Peak-to-plateau ratio (peak over the mean at 10–20 mm) of the beam model's
  IDD averaged over MCsquare's 1 mm voxels within 3 % (observed within 1 % at
  70–220 MeV). Until MODEL_VERSION 2 ionbeam's peak was 7–13 % too high: its
  primaries were removed by non-elastic reactions only. Elastic p–p scattering
  (Fippel & Soukup 2004) and p–nucleus scattering above 5° (ICRU 63), which
  MCsquare, Geant4 and FLUKA all simulate, send protons to stop upstream of the
  peak and lower it by 4–11 % (``ionbeam.physics.nuclear``). No parameter was fitted to
  MCsquare: the cross sections are the published evaluations.
* Core σ of the lateral profile within 6 % at 10/50/90 % of the range — the
  spot-size tolerance of commissioning (±10 %) halved, above the ~2 %
  scatter of the σ fit on MC noise.
* Axis dose (mean over r < 1.5 mm) with the default 3σ cut-off within 3 % from 10 mm
  to 0.9 R80. Until the halo was computed at its full width by convolution
  (``ionbeam.planning.halo``) the engine lowered both Gaussians to zero at 3σ₁ and
  renormalised the halo over the core's disc: +5 … +12 % on the axis. With the halo as
  one Gaussian matched to the second moment of all secondaries (MODEL_VERSION ≤ 4) it
  was −3.7 … +1.1 %, 220 MeV failing (−3.1 % at every depth beyond 40 mm: the few
  far-travelling knock-out protons set that moment, so the Gaussian was too wide for the
  bulk of the halo's energy). Since MODEL_VERSION 6 the secondaries are sorted by their
  own lateral width (``ionbeam.physics._halo_split``: those no wider than the primaries
  in the core, the rest two Gaussians): −1.3 … +2.5 % at 70–220 MeV.
* Where the halo puts the energy, at half the range: the share of the energy (annuli to
  60 mm) within 10 mm and within 20 mm of the axis within 2.5 percentage points of
  MCsquare's (6σ cut-off; MCsquare's statistical noise on these shares is < 0.1 point).
  The one-Gaussian halo (MODEL_VERSION ≤ 4) missed by 5–7 points at 170 and 220 MeV
  (220 MeV, 152 mm: 82.5 / 87.0 % against 88.9 / 93.9 %); the halo of two Gaussians
  from the secondaries' own widths: 88.1 / 92.1 %.
* Near the end of range (0.85 / 0.9 / 0.95 R80): the share within 10 mm within 1.5
  points of MCsquare's. MODEL_VERSION 6 missed by up to 2.0 points (too narrow: the ≈ 5°
  p–nucleus elastic scatterings stayed in the primaries without their deflection).
* Halo: the dose at 2σ relative to the axis within 15 % (relative) with a
  6σ cut-off (observed: within 12 %). The tail beyond 3σ is where pencil beams are known to differ
  most from MC; the test pins what the model must at least reproduce.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "mcsquare" / "water_spots.npz"
sys.path.insert(0, str(REPO / "bench" / "mcsquare"))
from _water_spots import (  # noqa: E402
    core_sigma_mm,
    depth_dose_metrics,
    energy_within,
    halo_ratios,
    idd_mev_mm,
    ionbeam_dose,
    peak_at_equal_r80,
    radial_profiles,
    voxel_averaged_idd,
)

from ionbeam.machine import cnao_beam_line  # noqa: E402
from ionbeam.machine.beam_model import build_beam_model  # noqa: E402
from ionbeam.patient import Grid  # noqa: E402

REFERENCE = np.load(DATA)
ENERGIES = [float(e) for e in REFERENCE["energies_mev"]]


def _mc(energy: float, name: str) -> np.ndarray:
    return REFERENCE[f"e{energy:.0f}_{name}"]


@pytest.fixture(scope="module")
def model():
    return build_beam_model("proton", ENERGIES, cnao_beam_line())


@pytest.fixture(scope="module")
def pencil_beam(model) -> dict[tuple[float, float], tuple[Grid, np.ndarray]]:
    """ionbeam's dose of each spot on the MC grid, with the default 3σ and a 6σ cut-off."""
    out = {}
    for energy in ENERGIES:
        grid = Grid(
            tuple(_mc(energy, "grid_shape")),
            tuple(_mc(energy, "grid_spacing_mm")),
            tuple(_mc(energy, "grid_origin_mm")),
        )
        for cut in (3.0, 6.0):
            out[energy, cut] = grid, ionbeam_dose(energy, grid, model, lateral_cutoff_sigma=cut)
    return out


@pytest.mark.parametrize("energy", ENERGIES)
def test_range_and_falloff(energy, pencil_beam):
    grid, dose = pencil_beam[energy, 3.0]
    depth = _mc(energy, "depth_mm")
    mc = depth_dose_metrics(depth, _mc(energy, "idd_mev_mm"))
    pb = depth_dose_metrics(depth, idd_mev_mm(dose, grid))
    assert abs(pb.r80_mm - mc.r80_mm) < 1.0
    assert abs(pb.peak_mm - mc.peak_mm) < 1.0
    assert pb.falloff_mm == pytest.approx(mc.falloff_mm, rel=0.15)


@pytest.mark.parametrize("energy", ENERGIES)
def test_depth_dose_in_the_plateau(energy, pencil_beam):
    grid, dose = pencil_beam[energy, 3.0]
    depth = _mc(energy, "depth_mm")
    idd_mc = _mc(energy, "idd_mev_mm")
    idd_pb = idd_mev_mm(dose, grid)
    r80 = depth_dose_metrics(depth, idd_mc).r80_mm
    build_up = (depth >= 10.0) & (depth < 0.2 * r80)
    plateau = (depth >= 0.2 * r80) & (depth <= 0.8 * r80)
    np.testing.assert_allclose(idd_pb[build_up], idd_mc[build_up], rtol=0.05)
    np.testing.assert_allclose(idd_pb[plateau], idd_mc[plateau], rtol=0.03)
    assert idd_pb.sum() == pytest.approx(float(idd_mc.sum()), rel=0.02)


@pytest.mark.parametrize("energy", ENERGIES)
def test_peak_to_plateau(energy, model):
    depth = _mc(energy, "depth_mm")
    mc = depth_dose_metrics(depth, _mc(energy, "idd_mev_mm"))
    pb = depth_dose_metrics(depth, voxel_averaged_idd(model, energy, depth))
    assert pb.peak_to_plateau == pytest.approx(mc.peak_to_plateau, rel=0.03)


@pytest.mark.parametrize("energy", ENERGIES)
def test_peak_and_mid_range_dose_at_equal_r80(energy, model):
    """Issue 11's measure: the beam model's IDD averaged over MCsquare's 1 mm voxels and
    shifted until the R80 of those voxels equals MCsquare's — one R80 estimator on both
    curves — then the peak (MC's highest voxel) within 3 % and the mid-range (0.4–0.6
    R80) within 1.5 % of MCsquare, and the shift within 0.3 mm (the done-when range
    tolerance). Observed (MODEL_VERSION 7): peak −0.0 / +1.0 / +1.3 / +1.6 %, mid-range
    within 0.2 %, shift 0.09–0.27 mm at 70 / 120 / 170 / 220 MeV. Putting the curve's
    *continuous* R80 at MC's voxel R80 instead gave −3.3 % at 70 MeV: there the distal
    fall-off (R80−R20 = 1.1 mm) is about a voxel wide and R80 interpolated between voxel
    centres lies 0.19 mm upstream of the curve's own, so that comparison moved ionbeam's
    peak 0.14 mm too far upstream against the voxel grid (docs/validation.md)."""
    depth = _mc(energy, "depth_mm").astype(float)
    q = peak_at_equal_r80(model, energy, depth, _mc(energy, "idd_mev_mm").astype(float))
    assert abs(q.shift_mm) < 0.3
    assert q.peak_ratio == pytest.approx(1.0, abs=0.03)
    assert q.mid_range_ratio == pytest.approx(1.0, abs=0.015)


@pytest.mark.parametrize("energy", ENERGIES)
def test_engine_peak_voxel(energy, pencil_beam):
    """The dose engine's own 1 mm voxels (each the mean over its WEPL span, laterally
    integrated, default 3σ cut-off, no shift): MCsquare's highest voxel within 3 %
    (observed within 0.6 % at 70–220 MeV) and R80 of the voxels within 0.3 mm."""
    grid, dose = pencil_beam[energy, 3.0]
    depth = _mc(energy, "depth_mm")
    idd_mc = _mc(energy, "idd_mev_mm")
    idd_pb = idd_mev_mm(dose, grid)
    i = int(np.argmax(idd_mc))
    assert idd_pb[i] == pytest.approx(float(idd_mc[i]), rel=0.03)
    r80_mc = depth_dose_metrics(depth, idd_mc).r80_mm
    assert depth_dose_metrics(depth, idd_pb).r80_mm == pytest.approx(r80_mc, abs=0.3)


@pytest.mark.parametrize("energy", ENERGIES)
def test_lateral_width_against_depth(energy, pencil_beam):
    grid, dose = pencil_beam[energy, 6.0]
    radius = _mc(energy, "radius_mm")
    depth = _mc(energy, "radial_depth_mm")
    mc_profiles = _mc(energy, "radial_dose_gy")
    pb_profiles = radial_profiles(dose, grid)
    r80 = depth_dose_metrics(_mc(energy, "depth_mm"), _mc(energy, "idd_mev_mm")).r80_mm
    for fraction in (0.1, 0.5, 0.9):
        k = int(np.argmin(np.abs(depth - fraction * r80)))
        sigma_mc = core_sigma_mm(radius, mc_profiles[k])
        assert core_sigma_mm(radius, pb_profiles[k]) == pytest.approx(sigma_mc, rel=0.06)
        halo_mc = halo_ratios(radius, mc_profiles[k], sigma_mc)
        halo_pb = halo_ratios(radius, pb_profiles[k], sigma_mc)
        assert halo_pb[0] == pytest.approx(halo_mc[0], rel=0.15)


@pytest.mark.parametrize("energy", ENERGIES)
def test_axis_dose_with_the_default_cutoff(energy, pencil_beam):
    """Dose on the beam axis (r < 1.5 mm: the central voxel and its 8 neighbours) with
    the default 3σ cut-off, every 2 mm from 10 mm to 0.9 R80: within 3 % of MCsquare."""
    grid, dose = pencil_beam[energy, 3.0]
    depth = _mc(energy, "radial_depth_mm")
    r80 = depth_dose_metrics(_mc(energy, "depth_mm"), _mc(energy, "idd_mev_mm")).r80_mm
    beyond_build_up = (depth >= 10.0) & (depth <= 0.9 * r80)
    mc = _mc(energy, "radial_dose_gy")
    pb = radial_profiles(dose, grid)
    axis_mc = (mc[:, 0] + 8.0 * mc[:, 1]) / 9.0
    axis_pb = (pb[:, 0] + 8.0 * pb[:, 1]) / 9.0
    np.testing.assert_allclose(axis_pb[beyond_build_up], axis_mc[beyond_build_up], rtol=0.03)


@pytest.mark.parametrize("energy", ENERGIES)
def test_energy_within_10_and_20_mm_at_half_the_range(energy, pencil_beam):
    grid, dose = pencil_beam[energy, 6.0]
    radius = _mc(energy, "radius_mm")
    depth = _mc(energy, "radial_depth_mm")
    r80 = depth_dose_metrics(_mc(energy, "depth_mm"), _mc(energy, "idd_mev_mm")).r80_mm
    k = int(np.argmin(np.abs(depth - 0.5 * r80)))
    mc = energy_within(radius, _mc(energy, "radial_dose_gy")[k], (10.0, 20.0, 60.0))
    pb = energy_within(radius, radial_profiles(dose, grid)[k], (10.0, 20.0, 60.0))
    np.testing.assert_allclose(100.0 * pb[:2], 100.0 * mc[:2], atol=2.5)


@pytest.mark.parametrize("energy", ENERGIES)
def test_energy_within_10_mm_near_the_end_of_range(energy, pencil_beam):
    """Share of the energy (annuli to 60 mm) within 10 mm of the axis at 0.85, 0.9 and
    0.95 R80 within 1.5 percentage points of MCsquare's (6σ cut-off; MC noise < 0.1
    point). MODEL_VERSION 6 kept the ≈ 5° p–nucleus elastic scatterings (ICRU 63's first
    angular group) in the primaries without their deflection and was too narrow there:
    170 MeV 88.5 / 86.5 / 83.4 % against MC's 86.7 / 84.6 / 81.4 %, 220 MeV 76.1 / 71.2 /
    66.0 % against 74.4 / 69.4 / 64.5 % (up to +2.0 points). Transported with their
    angle, as MCsquare does: within 1.2 points (docs/validation.md)."""
    grid, dose = pencil_beam[energy, 6.0]
    radius = _mc(energy, "radius_mm")
    depth = _mc(energy, "radial_depth_mm")
    r80 = depth_dose_metrics(_mc(energy, "depth_mm"), _mc(energy, "idd_mev_mm")).r80_mm
    pb_profiles = radial_profiles(dose, grid)
    for fraction in (0.85, 0.9, 0.95):
        k = int(np.argmin(np.abs(depth - fraction * r80)))
        mc = energy_within(radius, _mc(energy, "radial_dose_gy")[k], (10.0, 60.0))
        pb = energy_within(radius, pb_profiles[k], (10.0, 60.0))
        assert 100.0 * pb[0] == pytest.approx(100.0 * mc[0], abs=1.5), fraction
