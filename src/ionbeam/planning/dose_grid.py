"""The dose grid: where the dose engine computes, and the structures on it.

The dose grid covers the CT's bounding box with its own (usually coarser)
spacing; its voxel centres sit symmetrically inside the CT box. Structures
are resampled onto it by nearest neighbour, and the voxels where dose is
computed are those inside any structure (the ``Body`` at least), as in
matRad, or, for a patient without structures, those with SPR above air.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ionbeam.errors import ConfigError, StructureError
from ionbeam.patient.grid import Grid
from ionbeam.patient.resample import resample
from ionbeam.patient.structures import Structure

__all__ = ["calculation_mask", "make_dose_grid", "masks_on_grid"]

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


def masks_on_grid(structures: Iterable[Structure], grid: Grid) -> dict[str, np.ndarray]:
    """Boolean masks of ``structures`` resampled onto ``grid`` (nearest neighbour).

    A structure too small to hold any voxel centre of the (coarser) grid — an optic
    chiasm on a 4 mm grid — keeps the grid voxels that contain its own voxel centres,
    so that no structure silently vanishes from the dose evaluation.
    """
    masks = {}
    for structure in structures:
        if structure.grid == grid:
            masks[structure.name] = np.asarray(structure.mask)
            continue
        resampled = resample(
            structure.mask.astype(np.float32),
            structure.grid,
            grid,
            method="nearest",
            fill_value=0.0,
        )
        mask = resampled > 0.5
        if not mask.any() and structure.mask.any():
            mask = _containing_voxels(structure, grid)
        masks[structure.name] = mask
    return masks


def _containing_voxels(structure: Structure, grid: Grid) -> np.ndarray:
    """The voxels of ``grid`` that contain a voxel centre of ``structure``."""
    centres = structure.grid.index_to_world(np.argwhere(structure.mask))
    index = np.rint(grid.world_to_index(centres)).astype(np.int64)
    inside = np.all((index >= 0) & (index < np.asarray(grid.shape)), axis=1)
    mask = np.zeros(grid.shape, dtype=bool)
    mask[tuple(index[inside].T)] = True
    return mask


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
