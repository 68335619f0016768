"""The nuclear halo's far tail in lung against MCsquare: energy far from a spot's axis.

Reference: MCsquare 1.1 (K. Souris, J. A. Lee, E. Sterpin, Med. Phys. 43 (2016)
2447–2459), the stored shares of ``tests/data/mcsquare/lung_peak_tails.npz`` (README
there; the runs of ``lung_peak_spots.npz``, set-up ``bench/mcsquare/_lung_peak.py``):
single spots of ionbeam's CNAO beam in laterally uniform boxes of 1 mm voxels (±40 mm),
2·10⁶ primaries each, dose to water; the share (%) of the energy of the three 1 mm planes
around a depth that lies beyond 8–30 mm of the axis. Without MCsquare's nuclear
interactions the lung's share beyond 15 mm is 0.3 % at 128 mm (7.1 % with them): this is
the nuclear halo's tail (``docs/validation.md``, "The nuclear halo's far tail in lung").

Tolerances: MCsquare's shares carry ≈ 0.1 point of statistical uncertainty (≥ 10⁴ of the
primaries' deposits beyond 15 mm per plane). In the lung 128 mm deep behind the water
"tumour" (30 mm of lung behind it) the shares beyond 10, 12, 15, 20 and 25 mm are within
1 point (measured +0.16, +0.08, +0.46, +0.19, +0.03; before the narrow halo Gaussian's
local lever-arm factor −3.6, −3.8, −2.9, −1.7, −0.8). At every depth of the lung behind
the tumour (96–192 mm) and of the lung behind the chest wall the share beyond 15 mm is at
most 2 points short (measured −1.8 at 160 mm, the largest; before −3.6). In water, where
both factors are 1, the share beyond 15 mm at 50–84 mm is within 0.5 point (measured
+0.35 and −0.03, the same before; at 34 mm the water halo's own −0.63 is left out).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "mcsquare"))
from _lung_peak import (  # noqa: E402
    STORED_TAILS,
    TAIL_RADII_MM,
    case_by_name,
    pb_dose,
    stored_beam_model,
    stored_curves,
    tail_shares,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(STORED_TAILS) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def shares(reference):
    """ionbeam's and MC's shares per case: (depths, PB [depth, radius], MC [depth, radius])."""
    model = stored_beam_model(stored_curves())
    out = {}
    for name in ("tumour_slab", "lung_peak", "water_ref"):
        depths = tuple(float(d) for d in reference[f"{name}_depths_mm"])
        pb = tail_shares(pb_dose(case_by_name(name), model), depths)
        out[name] = (depths, pb, reference[f"{name}_tail_percent"])
    return out


def _column(radius_mm: float) -> int:
    return TAIL_RADII_MM.index(radius_mm)


def test_the_tail_128_mm_deep_in_lung_behind_the_tumour(shares) -> None:
    depths, pb, mc = shares["tumour_slab"]
    row = depths.index(128.5)
    for radius in (10.0, 12.0, 15.0, 20.0, 25.0):
        k = _column(radius)
        assert abs(pb[row, k] - mc[row, k]) <= 1.0, (radius, pb[row, k], mc[row, k])


@pytest.mark.parametrize("name", ["tumour_slab", "lung_peak"])
def test_the_share_beyond_15_mm_in_lung_is_at_most_2_points_short(shares, name: str) -> None:
    depths, pb, mc = shares[name]
    k = _column(15.0)
    for row, depth in enumerate(depths):
        if name == "tumour_slab" and depth < 90.0:  # inside the water "tumour"
            continue
        assert pb[row, k] >= mc[row, k] - 2.0, (depth, pb[row, k], mc[row, k])


def test_the_share_beyond_15_mm_in_water_within_half_a_point(shares) -> None:
    depths, pb, mc = shares["water_ref"]
    k = _column(15.0)
    for row, depth in enumerate(depths):
        if depth < 40.0:
            continue
        assert abs(pb[row, k] - mc[row, k]) <= 0.5, (depth, pb[row, k], mc[row, k])
