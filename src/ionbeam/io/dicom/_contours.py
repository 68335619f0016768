"""Masks ↔ closed planar contours (the geometry of RTSTRUCT).

Writing: each axial slice of a mask is outlined at the 0.5 level of the
binary image (marching squares, ``contourpy``) after padding it with
background, so every outline is closed; the outlines pass half-way between
inside and outside pixel centres. Each connected region becomes **one**
polygon: its holes are joined to its outer boundary by zero-width cuts
("keyhole" contours, :func:`_keyhole`), so that systems which fill each
contour on its own (by the nonzero rule, then take the union: plastimatch
among them) read a ring as a ring and not as a filled disc, and even–odd
readers read the same. An island inside a hole is a polygon of its own.
Collinear vertices are dropped. Each slice is checked by filling it again:
the even–odd fill of its polygons gives back exactly the same pixels (should
a degenerate shape ever fail that, the slice keeps nested outlines, which
even–odd readers still read right).

Reading: the polygons of a plane are filled by the even–odd rule
(:func:`~ionbeam.io.dicom._contour_kernels.fill_even_odd`), which handles
holes (nested or keyhole) and several contours per slice whatever their
orientation. Each CT slice takes the contour plane nearest to it, if that
plane is within half the larger of the CT slice spacing and the structure's
contour-plane spacing (so structures contoured on every other slice, or
between slices, still fill every slice they span).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import contourpy
import numpy as np

from ionbeam.io.dicom._contour_kernels import fill_even_odd
from ionbeam.patient.grid import Grid

__all__ = ["mask_to_polygons", "polygons_to_mask"]


def mask_to_polygons(mask_slice: np.ndarray) -> list[np.ndarray]:
    """Closed outlines [n, 2] of a 2-D mask [nx, ny], in pixel-index units (i, j): one
    keyhole polygon per connected region (holes joined by zero-width cuts)."""
    mask_slice = np.asarray(mask_slice, dtype=bool)
    padded = np.pad(mask_slice.astype(np.float64), 1)
    generator = contourpy.contour_generator(
        z=padded.T, fill_type=contourpy.FillType.OuterOffset, name="serial"
    )
    polygons, nested = [], []
    for points, offsets in zip(*generator.filled(0.5, 2.0), strict=True):
        rings = [
            _drop_collinear(np.asarray(points[a : b - 1], dtype=float) - 1.0)
            for a, b in itertools.pairwise(offsets)
        ]  # each ring is closed: drop the repeated point
        rings = [r for r in rings if len(r) >= 3]
        if not rings:
            continue
        nested.extend(rings)
        polygons.append(_keyhole(rings[0], rings[1:]))
    if not _fills_to(polygons, mask_slice):
        return nested
    return polygons


def _drop_collinear(points: np.ndarray) -> np.ndarray:
    previous = np.roll(points, 1, axis=0)
    following = np.roll(points, -1, axis=0)
    a, b = points - previous, following - points
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    dot = (a * b).sum(axis=1)
    return points[(np.abs(cross) > 1e-9) | (dot <= 0)]


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _keyhole(outer: np.ndarray, holes: Sequence[np.ndarray]) -> np.ndarray:
    """One polygon: ``outer`` (anticlockwise) with each hole (clockwise) spliced in
    through a horizontal zero-width cut.

    Holes are taken by decreasing largest x. From the rightmost crossing S of a
    hole with a line y = y* (y* between the half-pixel levels on which all
    outline vertices lie, and different for each hole), a ray towards +x meets
    first either the outer chain or another hole, at I; the cut S–I crosses
    nothing, and the hole is spliced there (into that other hole when it is met
    first, which then carries both). Pixel centres lie on integer y, never on a
    cut, so the cuts change no pixel.
    """
    chain = outer if _signed_area(outer) > 0 else outer[::-1]
    pending = [h if _signed_area(h) < 0 else h[::-1] for h in holes]
    pending.sort(key=lambda h: float(h[:, 0].max()), reverse=True)
    boxes = np.array([_box(h) for h in pending]).reshape(-1, 3)  # x max, y min, y max
    alive = np.ones(len(pending), dtype=bool)
    for index, hole in enumerate(pending):
        alive[index] = False
        level = _cut_level(hole, 0.1 + 0.3 * (len(pending) - index - 1) / len(pending))
        start, s_x = _rightmost_crossing(hole, level)
        others = np.flatnonzero(
            alive & (boxes[:, 0] > s_x) & (boxes[:, 1] < level) & (boxes[:, 2] > level)
        )  # pending holes whose box the ray y = level, x > s_x meets
        hits = {-1: _nearest_crossing(chain, level, s_x)}
        hits.update({int(k): _nearest_crossing(pending[k], level, s_x) for k in others})
        which = min(hits, key=lambda k: hits[k][1])
        edge, i_x = hits[which]
        target = chain if which < 0 else pending[which]
        merged = _splice(target, edge, (i_x, level), hole, start, (s_x, level))
        if which < 0:
            chain = merged
        else:
            pending[which] = merged
            boxes[which] = _box(merged)
    return chain


def _box(ring: np.ndarray) -> tuple[float, float, float]:
    return float(ring[:, 0].max()), float(ring[:, 1].min()), float(ring[:, 1].max())


def _cut_level(hole: np.ndarray, offset: float) -> float:
    """A y just above (or below) the hole's rightmost vertex that the hole crosses."""
    top = hole[int(np.argmax(hole[:, 0]))]
    for level in (top[1] + offset, top[1] - offset):
        if np.any(_crosses(hole, level)):
            return float(level)
    return float(top[1] + offset)  # unreachable for a closed outline with area


def _crosses(ring: np.ndarray, level: float) -> np.ndarray:
    y0, y1 = ring[:, 1], np.roll(ring[:, 1], -1)
    return (y0 - level) * (y1 - level) < 0


def _crossing_x(ring: np.ndarray, level: float) -> np.ndarray:
    x0, y0 = ring[:, 0], ring[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(_crosses(ring, level), x0 + (level - y0) * (x1 - x0) / (y1 - y0), np.nan)


def _rightmost_crossing(ring: np.ndarray, level: float) -> tuple[int, float]:
    x = _crossing_x(ring, level)
    edge = int(np.nanargmax(x))
    return edge, float(x[edge])


def _nearest_crossing(ring: np.ndarray, level: float, from_x: float) -> tuple[int, float]:
    x = _crossing_x(ring, level)
    x = np.where(x > from_x, x, np.inf)
    edge = int(np.argmin(x))
    return edge, float(x[edge])


def _splice(
    ring: np.ndarray,
    edge: int,
    entry: tuple[float, float],
    hole: np.ndarray,
    hole_edge: int,
    exit_: tuple[float, float],
) -> np.ndarray:
    """``ring`` with ``hole`` inserted on its edge ``edge`` (after vertex ``edge``) through
    the cut ``entry`` (on the ring) – ``exit_`` (on the hole's edge ``hole_edge``)."""
    around = np.concatenate([hole[hole_edge + 1 :], hole[: hole_edge + 1]])
    cut_in = np.array([entry, exit_])
    cut_out = np.array([exit_, entry])
    return np.concatenate([ring[: edge + 1], cut_in, around, cut_out, ring[edge + 1 :]])


def _fills_to(polygons: Sequence[np.ndarray], mask_slice: np.ndarray) -> bool:
    nx, ny = mask_slice.shape
    if not polygons:
        return not mask_slice.any()
    xs = np.concatenate([p[:, 0] for p in polygons])
    ys = np.concatenate([p[:, 1] for p in polygons])
    starts = np.cumsum([0] + [len(p) for p in polygons]).astype(np.int64)
    return bool(np.array_equal(fill_even_odd(xs, ys, starts, nx, ny), mask_slice))


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
