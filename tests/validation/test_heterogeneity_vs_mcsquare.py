"""ionbeam's proton pencil beam against MCsquare behind slabs of lung and bone.

Reference: MCsquare 1.1 (K. Souris, J. A. Lee, E. Sterpin, Med. Phys. 43 (2016)
2447–2459), run by ``bench/mcsquare/make_slab_spots.py``: one 150 MeV spot of
ionbeam's CNAO beam (same σ₀, divergence, correlation, SADs, 0.2 % energy spread)
in 1 mm water boxes with 30 mm of lung (−750 HU, 0.25 g/cm³) or 20 mm of bone
(+1000 HU, 1.62 g/cm³) across the beam, or the bone slab on one side only with its
edge on the beam axis. MCsquare's Scanner is built from ionbeam's HU calibration
(same density and SPR at every HU; MCsquare's Schneider composition and radiation
length), dose to water, 2·10⁶ primaries (≈ 0.9 % statistical uncertainty in its
high-dose voxels). Stored curves: ``tests/data/mcsquare/slab_spots.npz`` (README
there). Metrics and set-up: ``bench/mcsquare/_slabs.py``.

Tolerances, and why:

* Core σ of the lateral profile within 3 % of MC at every depth beyond the slab
  (every 2 mm from 3 mm behind it to the 90 % distal dose): the issue's target; the
  fit's scatter on the MC noise is ≈ 0.5 %. Observed (6σ cut-off): lung −2.4…−0.2 %,
  bone −1.9…0.0 %; the water-scaled tables it replaces gave lung −4.7…−1.3 %.
* What the slab adds to the error in water (the ratio PB/MC of the slab case divided
  by that of the same beam in water at the same WEPL): σ within 2 % and the dose on
  the axis within 3 % (observed: lung ±0.9 % and −0.2…+1.3 %, bone ≤ 1.6 % and
  −1.9…−0.2 %; before, lung axis dose +2.8…+6.0 %). The absolute axis dose is not
  pinned here: in water itself ionbeam's pencil beam is up to 18 % above MC at the
  Bragg peak (its peak height, ``test_dose_engine_vs_mcsquare.py``) and the
  renormalised 3σ cut-off adds ≈ 8 % on the axis; neither is the heterogeneity's.
* Half bone slab (x < 0), edge on the axis: fine sampling (3 × 3 and 5 × 5) in the plane
  through the edge: RMS dose difference at most half the plain pencil beam's (observed 1.7 %
  against 7.4 %), on the two voxel lines beside the edge (|x| = 0.5 mm) at most a
  quarter of plain's (observed 2.2 %, 5 × 5 1.9 %, against 12.3 %; 1.6 % with the
  broad-beam edge factor on the parallel share alone, 2.1 % before any, 3.9 %
  before the parallel share's paths, December 2026), gamma 2 %/2 mm not below plain's
  (observed 100.0 % and 99.95 % against 98.3 %; 98.5 % and 97.9 % with the broad-beam
  edge factor, 97.3 % before any, when the test allowed
  1.5 points below), and its R80 beside the edge within 1 mm of MC on both sides
  (observed +0.08 and −0.27 mm; plain −0.47 and +8.51 mm; a sub-beam WEPL interpolated
  across the edge gave +4.3 mm). MC has a ridge on the water side of the edge and a
  trough on the bone side (x = ±0.5 mm, 45–100 mm deep: dose at +0.5 / −0.5 mm 1.071):
  the bone side's protons, scattered more, spread into the water more than the water
  side's spread back (the edge effect, Goitein, Med. Phys. 5 (1978) 258). Fine sampling's
  edge effect per sub-beam (``planning/_edge_kernels.py``, ``sub_beam_edge``) gives 1.047
  (3 × 3) and 1.049 (5 × 5; asserted > 1.04; gamma 2 %/2 mm 100.0 and 99.95 %, plain
  98.3 %; with the broad-beam edge factor on the parallel share alone 1.025 and gamma
  98.5 / 97.9 %, 5 × 5 then below plain; 0.992 without any), the plain pencil beam
  0.970 (asserted < 1: it has no edge effect; MC's > 1.05 is asserted too, the
  reference's own sign). Gamma was ≥ plain's
  (100 %) while fine sampling's sub-beams summed to a spot 2–10 % more peaked than its
  Gaussian; within 0.5 points (97.8 %) until the parallel share's paths (December 2026)
  lowered x = −0.5 mm towards MC (68.0 → 67.6 % of MC's maximum at 60 mm; MC 65.8 %)
  and raised x = +0.5 mm (66.6 → 67.1 %; MC 70.8 %): the ridge's voxels had passed by
  the distance search onto their too-high neighbour. The line-by-line RMS is the
  measure that does not reward that.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "mcsquare" / "slab_spots.npz"
sys.path.insert(0, str(REPO / "bench" / "mcsquare"))
from _slabs import (  # noqa: E402
    ENERGY_MEV,
    case_by_name,
    central_plane,
    edge_agreement,
    ionbeam_slab_dose,
    slab_grid,
    spot_agreement,
)

from ionbeam.machine import cnao_beam_line  # noqa: E402
from ionbeam.machine.beam_model import build_beam_model  # noqa: E402


@pytest.fixture(scope="module")
def stored():
    with np.load(DATA) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def model():
    return build_beam_model("proton", [ENERGY_MEV], cnao_beam_line())


@pytest.fixture(scope="module")
def water_dose(model):
    return ionbeam_slab_dose(case_by_name("water"), model, lateral_cutoff_sigma=6.0)


@pytest.mark.parametrize("name", ["lung", "bone"])
def test_spread_and_axis_dose_behind_slab(name, stored, model, water_dose) -> None:
    case = case_by_name(name)
    dose = ionbeam_slab_dose(case, model, lateral_cutoff_sigma=6.0)
    agreement = spot_agreement(case, dose, water_dose, stored)
    assert agreement.depth_mm.size > 40
    assert np.all(np.abs(agreement.sigma_ratio - 1.0) < 0.03), agreement.sigma_ratio
    assert np.all(np.abs(agreement.sigma_vs_water - 1.0) < 0.02), agreement.sigma_vs_water
    assert np.all(np.abs(agreement.axis_vs_water - 1.0) < 0.03), agreement.axis_vs_water


@pytest.mark.parametrize("n", [3, 5])
def test_fine_sampling_at_a_slab_edge_is_no_worse_than_plain(stored, model, n: int) -> None:
    case = case_by_name("half_bone")
    grid = slab_grid(case)
    mc = stored["half_bone_plane_dose_gy"].astype(float)
    plain_plane = central_plane(ionbeam_slab_dose(case, model), grid)
    fine_plane = central_plane(ionbeam_slab_dose(case, model, fine_sampling=n), grid)
    plain = edge_agreement(plain_plane, mc, grid)
    fine = edge_agreement(fine_plane, mc, grid)
    assert fine.gamma_2_2 >= plain.gamma_2_2
    assert fine.rms_percent <= 0.5 * plain.rms_percent
    x = grid.axes_mm()[0]
    # the edge effect: the lines beside the edge, 45–100 mm deep (water / bone side)
    y = grid.axes_mm()[1]
    deep = (y > 45.0) & (y < 100.0)
    water, bone = int(np.argmin(np.abs(x - 0.5))), int(np.argmin(np.abs(x + 0.5)))

    def edge_ratio(plane: np.ndarray) -> float:
        return float(plane[water, deep].sum() / plane[bone, deep].sum())

    assert edge_ratio(mc) > 1.05
    assert edge_ratio(fine_plane) > 1.04
    assert edge_ratio(plain_plane) < 1.0
    beside = (mc > 0.1 * float(mc.max())) & (np.abs(x) < 1.0)[:, None]

    def rms_beside(plane: np.ndarray) -> float:
        return float(np.sqrt(np.mean((plane[beside] - mc[beside]) ** 2)))

    assert rms_beside(fine_plane) <= 0.25 * rms_beside(plain_plane)
    assert abs(fine.r80_shift_bone_mm) < 1.0
    assert abs(fine.r80_shift_water_mm) < 1.0
