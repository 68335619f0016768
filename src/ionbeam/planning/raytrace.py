"""Ray tracing through the patient: exact radiological paths and WEPL.

* :func:`trace_ray` — the voxels a straight ray crosses between two points
  and the exact chord length in each (Siddon 1985, in the incremental form
  of Jacobs et al. 1998), as a :class:`RayPath` (structure of arrays).
* :func:`wepl_along_rays` — water-equivalent path length, WEPL = Σ SPR × length,
  along many rays at given distances from their origins (numba, parallel).
* :func:`wepl_map` — WEPL from outside the patient to the centre of every
  voxel along one beam (matRad's "radiological depth cube").

Everything outside the grid counts as vacuum (SPR 0): a WEPL starts where
the ray enters the grid, so the CT should include the air in front of the
patient (as CTs do).

Accuracy of :func:`wepl_map`: rays are traced exactly through a lattice of
isocentre-plane positions (u, v) (spaced about one voxel across the beam)
and sampled at depths spaced half a voxel along it; the WEPL of a voxel
centre is the trilinear interpolation of that table at the voxel's fan
coordinates (u, v, depth), following the divergence of the two scanning
magnets (parallel rays for infinite SAD). Along a ray it is exact where
the SPR is constant over a half-voxel sample; across rays it interpolates
between neighbours one voxel apart, so it is exact for laterally uniform
media (slabs normal or oblique to the beam) and errs only next to
heterogeneity edges running along the beam, by at most the difference
between neighbouring rays. For a beam along a grid axis without divergence
the lattice passes through the voxel centres and the map is exact. On the
head phantom (2 mm voxels, SAD 6.5/6.0 m) the lattice map differs from
exact per-voxel rays by a median 0.01–0.4 mm and a 95th percentile of
0.5–1.5 mm inside the PTV, the largest errors (a few mm) on rays grazing
the skull. ``method="exact"`` traces one ray per voxel instead.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ionbeam.errors import GeometryError, GridMismatchError, UnknownNameError
from ionbeam.patient.grid import Grid
from ionbeam.planning import _raytrace_kernels as kernels
from ionbeam.planning.geometry import BeamGeometry

__all__ = [
    "RayPath",
    "WeplLattice",
    "lattice_wepl",
    "trace_ray",
    "voxel_fan_coordinates",
    "wepl_along_rays",
    "wepl_at_points",
    "wepl_lattice",
    "wepl_map",
]


@dataclass(frozen=True, eq=False)
class RayPath:
    """The voxels a ray crosses, in order: C-order flat ``voxel_index``, chord
    ``length_mm`` in each, and ``entry_mm`` (distance from the start point where
    the ray enters each voxel)."""

    voxel_index: np.ndarray
    length_mm: np.ndarray
    entry_mm: np.ndarray

    @property
    def total_length_mm(self) -> float:
        """Length of the path inside the grid, mm."""
        return float(self.length_mm.sum())

    def wepl(self, spr: np.ndarray) -> float:
        """Σ SPR × length over the path, mm (``spr`` on the traced grid)."""
        return float(np.dot(np.asarray(spr).reshape(-1)[self.voxel_index], self.length_mm))

    def __len__(self) -> int:
        return int(self.voxel_index.size)


def _grid_arrays(grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spacing = np.asarray(grid.spacing_mm, dtype=float)
    low = np.asarray(grid.origin_mm, dtype=float) - 0.5 * spacing
    return low, spacing, np.asarray(grid.shape, dtype=np.int64)


def _checked_spr(spr: np.ndarray, grid: Grid) -> np.ndarray:
    grid.check_volume(spr, "SPR volume")
    flat = np.ascontiguousarray(spr, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(flat)) or flat.min() < 0:
        raise GridMismatchError("SPR values must be finite and ≥ 0; found NaN, inf or negatives")
    return flat


def _finite_points(points: np.ndarray, name: str) -> np.ndarray:
    # C order always: the kernels then compile once, not once more for Fortran-ordered
    # points (e.g. from a transposed product) and their non-contiguous rows.
    array = np.array(points, dtype=float, order="C")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != 3 or not np.all(np.isfinite(array)):
        raise GeometryError(
            f"{name} must be finite (x, y, z) mm values, shape [n, 3]; got {np.shape(points)}"
        )
    return array


def trace_ray(grid: Grid, start_mm: np.ndarray, end_mm: np.ndarray) -> RayPath:
    """Exact path of the straight segment ``start_mm`` → ``end_mm`` through ``grid``."""
    start = _finite_points(start_mm, "start_mm")[0]
    end = _finite_points(end_mm, "end_mm")[0]
    chord = float(np.linalg.norm(end - start))
    if chord == 0.0:
        raise GeometryError("the ray's start and end points coincide; give two distinct points")
    direction = (end - start) / chord
    low, spacing, shape = _grid_arrays(grid)
    capacity = kernels.max_segments(shape)
    voxels = np.empty(capacity, dtype=np.int64)
    lengths = np.empty(capacity)
    entries = np.empty(capacity)
    n = kernels.trace_segments(
        start, direction, 0.0, chord, low, spacing, shape, voxels, lengths, entries
    )
    return RayPath(voxels[:n].copy(), lengths[:n].copy(), entries[:n].copy())


def wepl_along_rays(
    spr: np.ndarray,
    grid: Grid,
    origins_mm: np.ndarray,
    directions: np.ndarray,
    *,
    distances_mm: np.ndarray,
) -> np.ndarray:
    """WEPL (mm) along each ray from its origin to each distance.

    ``origins_mm`` and ``directions`` are [n, 3] (directions need not be
    normalised); ``distances_mm`` (mm from the origin, ≥ 0) is [m] for all rays
    or [n, m] per ray. Returns [n, m] float64.
    """
    origins = _finite_points(origins_mm, "origins_mm")
    raw = _finite_points(directions, "directions")
    if raw.shape != origins.shape:
        raise GridMismatchError(
            f"need one direction per origin; got {origins.shape[0]} origins and "
            f"{raw.shape[0]} directions"
        )
    norms = np.linalg.norm(raw, axis=1)
    if np.any(norms == 0):
        raise GeometryError("ray directions must be non-zero vectors")
    distances = np.asarray(distances_mm, dtype=float)
    if distances.ndim == 1:
        distances = np.broadcast_to(distances, (origins.shape[0], distances.size))
    if distances.ndim != 2 or distances.shape[0] != origins.shape[0] or distances.shape[1] == 0:
        raise GridMismatchError(
            f"distances_mm must be [m] or [n_rays, m]; got {np.shape(distances_mm)} for "
            f"{origins.shape[0]} rays"
        )
    if not np.all(np.isfinite(distances)) or distances.min() < 0:
        raise GeometryError("distances_mm must be finite and ≥ 0 mm")
    order = np.argsort(distances, axis=1, kind="stable")
    sorted_distances = np.ascontiguousarray(np.take_along_axis(distances, order, axis=1))
    low, spacing, shape = _grid_arrays(grid)
    result = kernels.wepl_at_distances(
        _checked_spr(spr, grid),
        low,
        spacing,
        shape,
        origins,
        raw / norms[:, None],
        sorted_distances,
    )
    out = np.empty_like(result)
    np.put_along_axis(out, order, result, axis=1)
    return out


def wepl_map(
    spr: np.ndarray,
    grid: Grid,
    geometry: BeamGeometry,
    *,
    method: Literal["lattice", "exact"] = "lattice",
    lateral_step_mm: float | None = None,
    depth_step_mm: float | None = None,
) -> np.ndarray:
    """WEPL (mm, float32 [x, y, z]) from outside the grid to every voxel centre
    along the (divergent) rays of ``geometry``.

    ``method="lattice"`` (fast) interpolates a table of exactly traced rays;
    ``lateral_step_mm`` (default: about one voxel across the beam) and
    ``depth_step_mm`` (default: half a voxel along it) set its lattice.
    ``method="exact"`` traces one ray per voxel: exact, but some 50 times slower
    (≈ 20 s for 256 × 256 × 100 voxels on 2 cores). See the module docstring
    for the accuracy.
    """
    if method not in ("lattice", "exact"):
        raise UnknownNameError("WEPL map method", method, ("lattice", "exact"))
    flat_spr = _checked_spr(spr, grid)
    rotation = np.ascontiguousarray(geometry.gantry_to_patient)
    iso = np.asarray(geometry.isocenter_mm, dtype=float)
    inv_sad = np.array([0.0 if math.isinf(s) else 1.0 / s for s in geometry.sad_mm])
    spacing = np.asarray(grid.spacing_mm, dtype=float)
    if method == "exact":
        low, _, shape = _grid_arrays(grid)
        start, _ = _lattice(grid, iso, rotation, inv_sad, np.ones(3))
        return kernels.wepl_per_voxel(
            flat_spr,
            low,
            spacing,
            shape,
            np.asarray(grid.origin_mm, dtype=float),
            iso,
            rotation,
            inv_sad,
            float(start[2]),
        )
    table, start, steps = _wepl_lattice(
        flat_spr, grid, geometry, rotation, iso, inv_sad, lateral_step_mm, depth_step_mm
    )
    return kernels.interpolate_lattice(
        table,
        np.asarray(grid.origin_mm, dtype=float),
        spacing,
        _grid_arrays(grid)[2],
        iso,
        rotation,
        inv_sad,
        start,
        steps,
    )


def wepl_at_points(
    spr: np.ndarray,
    grid: Grid,
    geometry: BeamGeometry,
    points_mm: np.ndarray,
    *,
    lateral_step_mm: float | None = None,
    depth_step_mm: float | None = None,
) -> np.ndarray:
    """WEPL (mm, float32 [n]) along the beam's rays from outside ``grid`` to each of
    ``points_mm`` [n, 3] (patient coordinates; e.g. the voxel centres of a coarser dose
    grid). Same lattice and accuracy as :func:`wepl_map` with ``method="lattice"``;
    points outside the traced lattice take the nearest lattice value."""
    points = _finite_points(points_mm, "points_mm")
    flat_spr = _checked_spr(spr, grid)
    rotation = np.ascontiguousarray(geometry.gantry_to_patient)
    iso = np.asarray(geometry.isocenter_mm, dtype=float)
    inv_sad = np.array([0.0 if math.isinf(s) else 1.0 / s for s in geometry.sad_mm])
    bev = geometry.patient_to_bev(points)
    magnification = 1.0 + bev[:, 2:3] * inv_sad[None, :]
    fan = np.column_stack([bev[:, :2] / np.maximum(magnification, 1e-6), bev[:, 2]])
    table, start, steps = _wepl_lattice(
        flat_spr, grid, geometry, rotation, iso, inv_sad, lateral_step_mm, depth_step_mm,
        within=(fan.min(axis=0), fan.max(axis=0)),
    )  # fmt: skip
    return kernels.interpolate_lattice_points(table, points, iso, rotation, inv_sad, start, steps)


@dataclass(frozen=True, eq=False)
class WeplLattice:
    """WEPL along a beam's rays, traced exactly on a lattice of isocentre-plane
    positions (u, v) and depths w: ``table`` [nu, nv, nw] (mm), the fan coordinates
    of its first node ``start`` and the node ``step`` (mm, per axis)."""

    table: np.ndarray
    start: np.ndarray
    step: np.ndarray


def wepl_lattice(
    spr: np.ndarray,
    grid: Grid,
    geometry: BeamGeometry,
    *,
    within: tuple[np.ndarray, np.ndarray] | None = None,
) -> WeplLattice:
    """The WEPL lattice of ``geometry`` through ``spr`` on ``grid`` (see :func:`wepl_map`);
    ``within`` = (lowest, highest) fan coordinates (u, v, w) that will be looked up
    limits the rays traced to those needed."""
    flat_spr = _checked_spr(spr, grid)
    rotation = np.ascontiguousarray(geometry.gantry_to_patient)
    iso = np.asarray(geometry.isocenter_mm, dtype=float)
    inv_sad = _inverse_sad(geometry)
    table, start, steps = _wepl_lattice(flat_spr, grid, geometry, rotation, iso, inv_sad,
                                        None, None, within)  # fmt: skip
    return WeplLattice(table, start, steps)


def voxel_fan_coordinates(
    geometry: BeamGeometry, grid: Grid, flat_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fan coordinates of the centres of the voxels ``flat_index`` of ``grid``: the
    isocentre-plane spot position (u, v) of the ray through each and its depth w
    downstream of the isocentre plane (mm)."""
    return kernels.voxel_fan(
        np.ascontiguousarray(flat_index, dtype=np.int64),
        np.asarray(grid.origin_mm, dtype=float),
        np.asarray(grid.spacing_mm, dtype=float),
        np.asarray(grid.shape, dtype=np.int64),
        np.asarray(geometry.isocenter_mm, dtype=float),
        np.ascontiguousarray(geometry.gantry_to_patient),
        _inverse_sad(geometry),
    )


def lattice_wepl(lattice: WeplLattice, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """WEPL (mm) interpolated in ``lattice`` at fan coordinates (u, v, w)."""
    return kernels.lattice_at(lattice.table, u, v, w, lattice.start, lattice.step)


def _inverse_sad(geometry: BeamGeometry) -> np.ndarray:
    return np.array([0.0 if math.isinf(s) else 1.0 / s for s in geometry.sad_mm])


def _wepl_lattice(
    flat_spr: np.ndarray,
    grid: Grid,
    geometry: BeamGeometry,
    rotation: np.ndarray,
    iso: np.ndarray,
    inv_sad: np.ndarray,
    lateral_step_mm: float | None,
    depth_step_mm: float | None,
    within: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The traced WEPL table of the beam's (u, v, w) lattice, its start and steps."""
    spacing = np.asarray(grid.spacing_mm, dtype=float)
    steps = np.array(
        [
            _step_along(rotation[:, 0], spacing, lateral_step_mm),
            _step_along(rotation[:, 1], spacing, lateral_step_mm),
            _step_along(rotation[:, 2], spacing, depth_step_mm, fraction=0.5),
        ]
    )
    start, counts = _lattice(grid, iso, rotation, inv_sad, steps, within)
    nodes = [start[a] + steps[a] * np.arange(counts[a]) for a in range(3)]
    low, _, shape = _grid_arrays(grid)
    table = kernels.wepl_lattice(flat_spr, low, spacing, shape, iso, rotation, inv_sad, *nodes)
    return table, start, steps


def _step_along(
    axis: np.ndarray, spacing: np.ndarray, override: float | None, fraction: float = 1.0
) -> float:
    """Lattice step along a unit vector: ``fraction`` of the voxel size seen along it."""
    if override is not None:
        step = float(override)
        if not math.isfinite(step) or step <= 0:
            raise GeometryError(f"lattice steps must be positive mm values; got {override}")
        return step
    return fraction / math.sqrt(float(np.sum((axis / spacing) ** 2)))


def _lattice(
    grid: Grid,
    iso: np.ndarray,
    rotation: np.ndarray,
    inv_sad: np.ndarray,
    steps: np.ndarray,
    within: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Start and node count of the (u, v, w) lattice covering the grid (or, with
    ``within`` = (lowest, highest) fan coordinates of query points, only what they
    need), anchored at the fan coordinates of voxel [0, 0, 0]'s centre."""
    low, high = grid.extent_mm
    corners = np.array(list(itertools.product(*zip(low, high, strict=True))))
    fan = np.array([kernels.fan_coordinates(c, iso, rotation, inv_sad) for c in corners])
    depth = fan[:, 2]
    if np.any(1.0 + depth[:, None] * inv_sad[None, :] <= 0.05):
        raise GeometryError(
            "part of the CT grid lies at or upstream of a virtual source; the beam's "
            "source-axis distances are too short for this isocentre"
        )
    anchor = np.array(
        kernels.fan_coordinates(np.asarray(grid.origin_mm, dtype=float), iso, rotation, inv_sad)
    )
    low_fan, high_fan = fan.min(axis=0), fan.max(axis=0)
    if within is not None:
        # trace only the rays (u, v) and depths up to w that the query points need;
        # depths keep their upstream start, since WEPL accumulates from the entry
        low_fan[:2] = np.maximum(low_fan[:2], within[0][:2])
        high_fan[:2] = np.minimum(high_fan[:2], within[1][:2])
        high_fan[2] = min(high_fan[2], within[1][2])
        high_fan = np.maximum(high_fan, low_fan)
    first = np.floor((low_fan - anchor) / steps) - 1
    last = np.ceil((high_fan - anchor) / steps) + 1
    return anchor + first * steps, (last - first + 1).astype(np.int64)
