"""The dose grid: where the dose engine computes, and the structures on it.

The dose grid covers the CT's bounding box with its own (usually coarser)
spacing; its voxel centres sit symmetrically inside the CT box. A structure
lands on it as its *occupancy*: the fraction of each dose voxel that the
structure's mask (on the CT grid) covers, from the exact overlap of the two
grids' voxel boxes, so that Σ occupancy × voxel volume is the structure's own
volume (a 0.4 cm³ optic chiasm stays 0.4 cm³ on a 3 mm grid). The optimizer's
objectives weigh each voxel by it; the boolean masks (tissue maps, the optimizer's
voxel sets) are the voxels at least half inside, and metrics, goals and DVHs count
those, each whole (:mod:`ionbeam.evaluation._distribution`). The voxels where dose is computed
are those that any structure touches (the ``Body`` at least), as in matRad,
or, for a patient without structures, those with SPR above air.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ionbeam.errors import ConfigError, StructureError
from ionbeam.patient.grid import Grid
from ionbeam.patient.structures import Structure

__all__ = [
    "calculation_mask",
    "make_dose_grid",
    "masks_from_occupancy",
    "masks_on_grid",
    "occupancy_on_grid",
]

#: SPR below which a voxel counts as air when a patient has no structures.
AIR_SPR_THRESHOLD = 0.05


def make_dose_grid(ct_grid: Grid, spacing_mm: float | tuple[float, float, float]) -> Grid:
    """A grid with ``spacing_mm`` covering the bounding box of ``ct_grid``."""
    spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,))
    if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise ConfigError(f"dose grid spacing must be positive mm values; got {spacing_mm}")
    if np.allclose(spacing, ct_grid.spacing_mm):
        return ct_grid
    low, high = ct_grid.extent_mm
    shape = [
        max(1, math.ceil((h - lo) / s - 1e-6)) for lo, h, s in zip(low, high, spacing, strict=True)
    ]
    centre = 0.5 * (low + high)
    origin = centre - 0.5 * (np.asarray(shape) - 1) * spacing
    return Grid(tuple(shape), tuple(spacing), tuple(origin))


def occupancy_on_grid(structures: Iterable[Structure], grid: Grid) -> dict[str, np.ndarray]:
    """The fraction (0–1, float64) of each voxel of ``grid`` that each structure covers.

    Exact for grids with parallel axes: the overlap of every structure voxel's box
    with every ``grid`` voxel's box, one axis at a time (the overlaps are separable),
    so that the occupancies sum to the structure's volume wherever ``grid`` covers it.
    """
    return {s.name: _occupancy(s, grid) for s in structures}


def masks_on_grid(structures: Iterable[Structure], grid: Grid) -> dict[str, np.ndarray]:
    """Boolean masks of ``structures`` on ``grid``: the voxels at least half inside
    (occupancy ≥ 0.5, see :func:`occupancy_on_grid`).

    A structure too small to fill half of any voxel of the (coarser) grid — an optic
    chiasm on a 4 mm grid — keeps every voxel it touches, so that no structure
    silently vanishes from the optimization.
    """
    return {
        name: masks_from_occupancy(occupancy)
        for name, occupancy in occupancy_on_grid(structures, grid).items()
    }


def masks_from_occupancy(occupancy: np.ndarray) -> np.ndarray:
    """The voxels at least half inside, or every voxel touched when none is."""
    mask = occupancy >= 0.5
    if not mask.any():
        mask = occupancy > 0.0
    return mask


def _occupancy(structure: Structure, grid: Grid) -> np.ndarray:
    if structure.grid == grid:
        return np.asarray(structure.mask, dtype=np.float64)
    out = np.zeros(grid.shape)
    if structure.is_empty:
        return out
    lo, hi = structure.bounding_box()
    block = np.asarray(structure.mask[tuple(slice(a, b + 1) for a, b in zip(lo, hi, strict=True))],
                       dtype=np.float64)  # fmt: skip
    rows = []
    for axis in range(3):
        weights, first = _overlap_1d(structure.grid, grid, axis, int(lo[axis]), int(hi[axis]))
        block = np.moveaxis(np.tensordot(weights, block, axes=(1, axis)), 0, axis)
        rows.append(slice(first, first + weights.shape[0]))
    out[tuple(rows)] = np.clip(block, 0.0, 1.0)
    return out


def _overlap_1d(source: Grid, target: Grid, axis: int, lo: int, hi: int) -> tuple[np.ndarray, int]:
    """Overlap fractions [n_target, hi − lo + 1] of the source voxels lo…hi (along
    ``axis``) with the target voxels they meet (per target voxel length), and the index
    of the first of those target voxels."""
    s_step = float(source.spacing_mm[axis])
    t_step = float(target.spacing_mm[axis])
    centres = float(source.origin_mm[axis]) + s_step * np.arange(lo, hi + 1)
    s_lo, s_hi = centres - 0.5 * s_step, centres + 0.5 * s_step
    t0 = float(target.origin_mm[axis]) - 0.5 * t_step  # lower face of target voxel 0
    n = int(target.shape[axis])
    first = min(max(math.floor((s_lo[0] - t0) / t_step), 0), n - 1)
    last = min(max(math.ceil((s_hi[-1] - t0) / t_step) - 1, first), n - 1)
    t_lo = t0 + t_step * np.arange(first, last + 1)
    overlap = np.minimum(t_lo[:, None] + t_step, s_hi[None, :]) - np.maximum(
        t_lo[:, None], s_lo[None, :]
    )
    overlap[overlap < 1e-9 * t_step] = 0.0  # faces that meet (rounding) share no volume
    return overlap / t_step, first


def calculation_mask(
    masks: dict[str, np.ndarray], spr_on_grid: np.ndarray | None = None
) -> np.ndarray:
    """Voxels where dose is computed: the union of the structure masks (or, with no
    structure, the voxels whose SPR is above air)."""
    if masks:
        union = np.zeros(next(iter(masks.values())).shape, dtype=bool)
        for mask in masks.values():
            union |= mask
        if union.any():
            return union
    if spr_on_grid is None:
        raise StructureError("no structure to compute dose in; add a Body contour")
    return np.asarray(spr_on_grid) > AIR_SPR_THRESHOLD
