"""Single 150 MeV proton spots through slabs of lung and bone in water: the set-up shared by
MCsquare and ionbeam, and the metrics the validation compares.

Three water boxes (voxels of 1 mm, depth y from 0 at the isocentre plane to 200 mm, the
spot on the axis, gantry 0°), each with one slab whose CT numbers both codes convert
with ionbeam's stoichiometric calibration (MCsquare through
:func:`_scanner.calibration_scanner`: the same density and SPR at every HU, the
elemental composition and radiation length of MCsquare's Schneider material there):

* ``lung``: 30 mm of lung (−750 HU: 0.25 g/cm³, SPR 0.249) at depths 20–50 mm;
* ``bone``: 20 mm of bone (+1000 HU: 1.62 g/cm³, SPR 1.470) at depths 20–40 mm;
* ``half_bone``: the same bone slab on the x < 0 side only, its edge on the beam axis
  (the box's voxel faces lie at x = 0, so the axis runs along the interface).

Pure numpy and ionbeam; no MCsquare here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ionbeam.patient import Grid

#: The spot's energy, MeV.
ENERGY_MEV = 150.0
#: Depth of the boxes (mm) and their lateral half-width (mm).
DEPTH_MM = 200
HALF_WIDTH_MM = 40


@dataclass(frozen=True)
class SlabCase:
    """A slab of ``hu`` between depths ``start_mm`` and ``stop_mm``; ``half``: only at
    x < 0 (its edge on the beam axis)."""

    name: str
    hu: float
    start_mm: float
    stop_mm: float
    half: bool = False


CASES: tuple[SlabCase, ...] = (
    SlabCase("lung", -750.0, 20.0, 50.0),
    SlabCase("bone", 1000.0, 20.0, 40.0),
    SlabCase("half_bone", 1000.0, 20.0, 40.0, half=True),
)


def case_by_name(name: str) -> SlabCase:
    """The case called ``name``."""
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


def slab_grid(case: SlabCase) -> Grid:
    """1 mm voxels; depth y from 0 to DEPTH_MM; a voxel centre on the axis in z, and in x
    too except for the half slab (voxel faces at x = 0)."""
    n_x = 2 * HALF_WIDTH_MM if case.half else 2 * HALF_WIDTH_MM + 1
    x0 = -HALF_WIDTH_MM + 0.5 if case.half else -float(HALF_WIDTH_MM)
    return Grid(
        (n_x, DEPTH_MM, 2 * HALF_WIDTH_MM + 1),
        (1.0, 1.0, 1.0),
        (x0, 0.5, -float(HALF_WIDTH_MM)),
    )


def slab_hu(case: SlabCase, grid: Grid) -> np.ndarray:
    """CT numbers [x, y, z]: water (0 HU) with the case's slab."""
    x, y, _ = grid.axes_mm()
    hu = np.zeros(grid.shape, dtype=np.float32)
    in_depth = (y > case.start_mm) & (y < case.stop_mm)
    in_x = x < 0.0 if case.half else np.ones(x.size, dtype=bool)
    hu[np.ix_(in_x, in_depth, np.ones(grid.shape[2], dtype=bool))] = case.hu
    return hu


def axis_dose(dose_gy: np.ndarray, grid: Grid) -> np.ndarray:
    """Mean dose of the 3 × 3 voxels around the beam axis at every depth (Gy per proton)."""
    x, _, z = grid.axes_mm()
    near_x = np.abs(x) < 1.6
    near_z = np.abs(z) < 1.1
    return dose_gy[near_x][:, :, near_z].mean(axis=(0, 2))


def central_plane(dose_gy: np.ndarray, grid: Grid) -> np.ndarray:
    """The dose in the plane z = 0 (through the axis, across a half slab's edge) [x, y]."""
    _, _, z = grid.axes_mm()
    return dose_gy[:, :, int(np.argmin(np.abs(z)))]


def radial_profiles(dose_gy: np.ndarray, grid: Grid, stride: int = 2) -> tuple[np.ndarray, ...]:
    """Depths (every ``stride`` mm), mean radius of 1 mm annuli and the mean dose per
    annulus [n_depth, n_radius] (Gy per proton): for the slabs that cover the beam."""
    x, y, z = grid.axes_mm()
    r = np.hypot(x[:, None], z[None, :])
    index = np.rint(r).astype(int)
    index[index > HALF_WIDTH_MM] = -1
    inside = index >= 0
    n = HALF_WIDTH_MM + 1
    counts = np.bincount(index[inside], minlength=n)
    radius = np.bincount(index[inside], weights=r[inside], minlength=n) / counts
    rows = range(0, grid.shape[1], stride)
    out = np.empty((len(rows), n))
    for k, j in enumerate(rows):
        out[k] = np.bincount(index[inside], weights=dose_gy[:, j, :][inside], minlength=n) / counts
    return y[::stride], radius, out


def core_sigma_mm(radius_mm: np.ndarray, profile: np.ndarray, level: float = 0.3) -> float:
    """σ of the Gaussian core: least squares of ln D against r² over the annuli above
    ``level`` × the axis dose (weights ∝ √D)."""
    use = profile > level * profile[0]
    use[0] = True
    if use.sum() < 3 or profile[0] <= 0:
        return math.nan
    slope = np.polyfit(radius_mm[use] ** 2, np.log(profile[use]), 1, w=np.sqrt(profile[use]))[0]
    return math.sqrt(-0.5 / slope) if slope < 0 else math.nan
