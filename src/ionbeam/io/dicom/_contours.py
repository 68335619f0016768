"""Masks ↔ closed planar contours (the geometry of RTSTRUCT).

Writing: each axial slice of a mask is outlined at the 0.5 level of the
binary image (marching squares, ``contourpy``) after padding it with
background, so every outline is closed; the outlines pass half-way between
inside and outside pixel centres, so filling them again by the even–odd
rule gives back exactly the same pixels. Collinear vertices are dropped.

Reading: the polygons of a plane are filled by the even–odd rule
(:func:`~ionbeam.io.dicom._contour_kernels.fill_even_odd`), which handles
holes and several contours per slice whatever their orientation. Each CT
slice takes the contour plane nearest to it, if that plane is within half
the larger of the CT slice spacing and the structure's contour-plane
spacing (so structures contoured on every other slice, or between slices,
still fill every slice they span).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import contourpy
import numpy as np

from ionbeam.io.dicom._contour_kernels import fill_even_odd
from ionbeam.patient.grid import Grid

__all__ = ["mask_to_polygons", "polygons_to_mask"]


def mask_to_polygons(mask_slice: np.ndarray) -> list[np.ndarray]:
    """Closed outlines [n, 2] of a 2-D mask [nx, ny], in pixel-index units (i, j)."""
    padded = np.pad(np.asarray(mask_slice, dtype=np.float64), 1)
    generator = contourpy.contour_generator(
        z=padded.T, line_type=contourpy.LineType.Separate, name="serial"
    )
    polygons = []
    for line in generator.lines(0.5):
        points = np.asarray(line, dtype=float)[:-1] - 1.0  # closed: drop the repeated point
        points = _drop_collinear(points)
        if len(points) >= 3:
            polygons.append(points)
    return polygons


def _drop_collinear(points: np.ndarray) -> np.ndarray:
    previous = np.roll(points, 1, axis=0)
    following = np.roll(points, -1, axis=0)
    a, b = points - previous, following - points
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    dot = (a * b).sum(axis=1)
    return points[(np.abs(cross) > 1e-9) | (dot <= 0)]


def polygons_to_mask(planes: Mapping[float, Sequence[np.ndarray]], grid: Grid) -> np.ndarray:
    """Boolean mask [x, y, z] from closed planar polygons grouped by plane z (mm);
    each polygon is [n, 2] (x, y) in mm."""
    mask = np.zeros(grid.shape, dtype=bool)
    if not planes:
        return mask
    plane_z = np.array(sorted(planes))
    slice_z = grid.axes_mm()[2]
    plane_spacing = float(np.median(np.diff(plane_z))) if plane_z.size > 1 else grid.spacing_mm[2]
    tolerance = 0.5 * max(grid.spacing_mm[2], plane_spacing) + 1e-3
    nearest = np.abs(slice_z[:, None] - plane_z[None, :]).argmin(axis=1)
    filled: dict[int, np.ndarray] = {}
    for k, p in enumerate(nearest):
        if abs(slice_z[k] - plane_z[p]) > tolerance:
            continue
        if p not in filled:
            filled[p] = _fill_plane(planes[float(plane_z[p])], grid)
        mask[:, :, k] = filled[p]
    return mask


def _fill_plane(polygons: Sequence[np.ndarray], grid: Grid) -> np.ndarray:
    (ox, oy, _), (dx, dy, _) = grid.origin_mm, grid.spacing_mm
    xs = np.concatenate([(p[:, 0] - ox) / dx for p in polygons])
    ys = np.concatenate([(p[:, 1] - oy) / dy for p in polygons])
    starts = np.cumsum([0] + [len(p) for p in polygons]).astype(np.int64)
    return fill_even_odd(xs, ys, starts, grid.shape[0], grid.shape[1])
