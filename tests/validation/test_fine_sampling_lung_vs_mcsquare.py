"""Fine sampling against MCsquare at the lateral edge of a tumour inside lung.

Reference: MCsquare 1.1 (K. Souris, J. A. Lee, E. Sterpin, Med. Phys. 43 (2016)
2447–2459), run by ``bench/lung_edge.py --simulate``: single spots of ionbeam's CNAO
beam in a 1 mm box of lung (−750 HU) with a water tumour at x < 0 (depths 40–90 mm), its
face x = 0 parallel to the beam; dose to water, 10⁶ primaries per spot (1.3–1.6 %
statistical uncertainty in the high-dose voxels). Stored planes:
``tests/data/mcsquare/lung_edge_spots.npz`` (README there); set-up and metrics:
``bench/mcsquare/_lung_edge.py``.

Fine sampling with lateral range mixing (a sub-beam's residual spread in air read along
the voxel's own ray) and its scattered protons' share read along their Fermi–Eyges paths
to the voxel (mean ± conditional spread; :mod:`ionbeam.planning._dose_kernels`), and
what it must do here:

* ``low_edge`` (Bragg peak in the tumour's distal part, the spot on the interface):
  fine sampling 3 × 3 no worse than the plain pencil beam in the plane z = 0, gamma
  2 %/2 mm and RMS difference (observed 97.7 % / 4.7 % against 93.2 % / 9.6 %; 97.5 % /
  6.1 % before the parallel share's paths;
  98.0 % / 6.2 % with the Gauss–Hermite split before December 2026; with every
  sub-beam's whole dose along its own ray 73.6 % / 5.9 %: worse than plain).
* ``high_edge`` (the spot on the interface, crossing the tumour into the lung behind
  it): the same (observed 94.4 % / 6.2 % against 89.6 % / 15.5 %; 96.5 % / 7.6 % before
  the parallel share's paths).
* ``lung_matched`` (a spot in the lung 5 mm beside the tumour, its peak at the tumour's
  depths along its lung ray, as a lung plan's margin spots): the dose it puts into the
  tumour no further from MC's than the plain pencil beam's (observed −0.6 % against
  −17.1 %; −7.3 % before the parallel share's paths, −5.8 % with the Gauss–Hermite
  split). With the scattered protons along
  the sub-beam's ray (7 December 2026) it was +20.6 %, and with every sub-beam's
  whole dose along its ray +91 %: the sub-beams carried the lung range into the
  tumour's voxels, the mechanism of fine sampling's excess in the lung phantom's GTV
  (+9.6 % then, +4.4 % in the second round, plain +3.8 %). The MC's
  statistical uncertainty summed over a region is well below 1 %.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "mcsquare"))
from _lung_edge import (  # noqa: E402
    SPOTS,
    edge_grid,
    ionbeam_plane,
    plane_gamma_percent,
    plane_rms_percent,
    region_ratios,
    stored_beam_model,
    stored_planes,
)


@pytest.fixture(scope="module")
def stored():
    return stored_planes()


@pytest.fixture(scope="module")
def model(stored):
    return stored_beam_model(stored)


def _planes(name: str, stored, model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spot = next(s for s in SPOTS if s.name == name)
    mc = stored[f"{name}_plane_dose_gy"].astype(float)
    return mc, ionbeam_plane(spot, model), ionbeam_plane(spot, model, fine_sampling=3)


@pytest.mark.parametrize("name", ["low_edge", "high_edge"])
def test_fine_sampling_on_the_interface_is_no_worse_than_plain(name, stored, model) -> None:
    mc, plain, fine = _planes(name, stored, model)
    grid = edge_grid()
    assert plane_gamma_percent(fine, mc, grid) >= plane_gamma_percent(plain, mc, grid)
    assert plane_rms_percent(fine, mc) <= plane_rms_percent(plain, mc)


def test_margin_spot_in_lung_does_not_carry_its_range_into_the_tumour(stored, model) -> None:
    mc, plain, fine = _planes("lung_matched", stored, model)
    grid = edge_grid()
    plain_error = region_ratios(plain, mc, grid)["tumour"]
    fine_error = region_ratios(fine, mc, grid)["tumour"]
    assert -25.0 < plain_error < -10.0  # the set-up: −17 %
    assert abs(fine_error) <= abs(plain_error), (fine_error, plain_error)  # before: +20.6 %
    assert abs(fine_error) < 10.0, fine_error


def test_margin_spot_puts_mcs_dose_into_the_tumour(stored, model) -> None:
    """The lung-margin spot's dose in the tumour within 5 % of MC's (MC's uncertainty
    summed over the region well below 1 %). Observed −0.6 % since the parallel share's
    paths spread around the voxel's ray (``_dose_kernels._parallel_paths``); −7.3 %
    before, when that share read the voxel's own WEPL only (plain pencil beam −17.1 %)."""
    mc, _, fine = _planes("lung_matched", stored, model)
    fine_error = region_ratios(fine, mc, edge_grid())["tumour"]
    assert abs(fine_error) < 5.0, fine_error


def test_spot_beside_the_tumour_fits_mc_in_its_plane(stored, model) -> None:
    """The spot 4 mm into the lung beside the tumour (its peak in the tumour's distal part
    along the tumour's rays): RMS difference in the plane z = 0 below 4 % of the maximum
    and gamma 2 %/2 mm ≥ 99 % (observed 3.4 %, 99.6 %; plain 8.9 %, 94.2 %; 4.4 %, 99.1 %
    before the parallel share's paths). Its tumour sum (+5.4 %, plain +1.2 %) is not the
    measure: plain's +5 % at depths 60–75 mm (its peak, beside the interface) and −5 % at
    75–90 mm (no proton of the tumour's WEPL arrives there) cancel in the sum."""
    mc, _, fine = _planes("low_lung", stored, model)
    grid = edge_grid()
    assert plane_rms_percent(fine, mc) < 4.0
    assert plane_gamma_percent(fine, mc, grid) >= 99.0
