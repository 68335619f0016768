"""Numba kernels of the ray tracer: exact voxel traversal and WEPL sampling.

The traversal is the incremental form of Siddon's algorithm (Jacobs et al.
1998; Amanatides & Woo 1987): a ray o + t d (d a unit vector, t in mm) is
clipped to the grid's bounding box, then walked from voxel to voxel by
taking, at each step, the nearest of the next x, y and z voxel boundaries.
The length of every segment is the exact chord through its voxel; the
segments' lengths sum to the clipped chord length up to rounding.

Grids are described by the lower corner of voxel [0, 0, 0] (``low``, mm, the
voxel *edge*, not its centre), the voxel size ``spacing`` and ``shape``;
voxel indices are C-order flat indices of [x, y, z]. All functions are pure
and work on float64 arrays.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam.planning._strips import strip_kernel, strips

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = [
    "box_interval",
    "fan_coordinates",
    "interpolate_lattice",
    "interpolate_lattice_points",
    "lattice_at",
    "max_segments",
    "trace_segments",
    "voxel_fan",
    "wepl_at_distances",
    "wepl_lattice",
]


@numba.njit(cache=True)
def max_segments(shape: np.ndarray) -> int:
    """Upper bound on the number of voxels one ray can cross."""
    return int(shape[0] + shape[1] + shape[2] + 3)


@numba.njit(cache=True)
def box_interval(
    origin: np.ndarray, direction: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[float, float]:
    """Parameters [t_enter, t_exit] of the ray inside the box (empty if t_enter ≥ t_exit)."""
    t_enter = -math.inf
    t_exit = math.inf
    for axis in range(3):
        d = direction[axis]
        if d == 0.0:
            if origin[axis] < low[axis] or origin[axis] > high[axis]:
                return 1.0, 0.0
            continue
        t0 = (low[axis] - origin[axis]) / d
        t1 = (high[axis] - origin[axis]) / d
        if t0 > t1:
            t0, t1 = t1, t0
        t_enter = max(t_enter, t0)
        t_exit = min(t_exit, t1)
    return t_enter, t_exit


@numba.njit(cache=True)
def trace_segments(
    origin: np.ndarray,
    direction: np.ndarray,
    t_start: float,
    t_stop: float,
    low: np.ndarray,
    spacing: np.ndarray,
    shape: np.ndarray,
    voxel_out: np.ndarray,
    length_out: np.ndarray,
    t_out: np.ndarray,
) -> int:
    """Voxels crossed by the ray between ``t_start`` and ``t_stop`` (mm along the ray).

    Writes the flat voxel index, the chord length (mm) and the entry parameter
    of each segment into the output arrays (size ≥ ``max_segments``) and
    returns how many segments there are.
    """
    high = low + spacing * shape
    t_enter, t_exit = box_interval(origin, direction, low, high)
    t0 = max(t_enter, t_start)
    t1 = min(t_exit, t_stop)
    if not t0 < t1:
        return 0
    index = np.empty(3, dtype=np.int64)
    step = np.empty(3, dtype=np.int64)
    t_next = np.empty(3)
    t_mid = t0 + 1e-9 * (t1 - t0)
    for axis in range(3):
        position = (origin[axis] + t_mid * direction[axis] - low[axis]) / spacing[axis]
        i = math.floor(position)
        i = min(max(i, 0), shape[axis] - 1)
        index[axis] = i
        d = direction[axis]
        if d > 0.0:
            step[axis] = 1
            t_next[axis] = (low[axis] + (i + 1) * spacing[axis] - origin[axis]) / d
        elif d < 0.0:
            step[axis] = -1
            t_next[axis] = (low[axis] + i * spacing[axis] - origin[axis]) / d
        else:
            step[axis] = 0
            t_next[axis] = math.inf
    n = 0
    t = t0
    ny_nz = shape[1] * shape[2]
    while t < t1:
        axis = 0
        if t_next[1] < t_next[axis]:
            axis = 1
        if t_next[2] < t_next[axis]:
            axis = 2
        t_end = min(t_next[axis], t1)
        if t_end > t:
            voxel_out[n] = index[0] * ny_nz + index[1] * shape[2] + index[2]
            length_out[n] = t_end - t
            t_out[n] = t
            n += 1
            t = t_end
        if t >= t1:
            break
        i = index[axis] + step[axis]
        if i < 0 or i >= shape[axis]:
            break
        index[axis] = i
        offset = i + 1 if step[axis] > 0 else i
        t_next[axis] = (low[axis] + offset * spacing[axis] - origin[axis]) / direction[axis]
    return n


@numba.njit(cache=True)
def _sample_cumulative(
    spr: np.ndarray,
    voxels: np.ndarray,
    lengths: np.ndarray,
    entries: np.ndarray,
    n_segments: int,
    distances: np.ndarray,
    out: np.ndarray,
) -> None:
    """Cumulative Σ SPR × length at each (ascending) distance along a traced ray."""
    k = 0
    n_samples = distances.size
    cumulative = 0.0
    for s in range(n_segments):
        start = entries[s]
        end = start + lengths[s]
        value = spr[voxels[s]]
        while k < n_samples and distances[k] <= end:
            inside = distances[k] - start
            out[k] = cumulative + value * inside if inside > 0.0 else cumulative
            k += 1
        cumulative += value * lengths[s]
    while k < n_samples:
        out[k] = cumulative
        k += 1


def wepl_at_distances(
    spr: np.ndarray,
    low: np.ndarray,
    spacing: np.ndarray,
    shape: np.ndarray,
    origins: np.ndarray,
    directions: np.ndarray,
    distances: np.ndarray,
) -> np.ndarray:
    """WEPL (mm) along each ray [n, 3] from its origin to each distance [n, m]
    (ascending per ray); ``spr`` is the flat C-order SPR volume. Rays in contiguous
    blocks on the threads (each ray alone)."""
    out = np.zeros(distances.shape)
    with strips(max(1, min(numba.get_num_threads(), origins.shape[0]))) as run:
        run(_distances_strip, spr, low, spacing, shape, origins, directions, distances, out)
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _distances_strip(strip, n_strips, spr, low, spacing, shape, origins, directions, distances,
                     out):  # fmt: skip
    """Block ``strip`` of ``n_strips`` of the rays of :func:`wepl_at_distances` (its own
    scratch arrays for the traced segments)."""
    capacity = max_segments(shape)
    voxels = np.empty(capacity, dtype=np.int64)
    lengths = np.empty(capacity)
    entries = np.empty(capacity)
    for r in range(*_block(strip, n_strips, origins.shape[0])):
        t_stop = distances[r, distances.shape[1] - 1]
        n = trace_segments(
            origins[r], directions[r], 0.0, t_stop, low, spacing, shape, voxels, lengths, entries
        )
        _sample_cumulative(spr, voxels, lengths, entries, n, distances[r], out[r])


@numba.njit(cache=True)
def fan_coordinates(
    point: np.ndarray,
    isocenter: np.ndarray,
    rotation: np.ndarray,
    inv_sad: np.ndarray,
) -> tuple[float, float, float]:
    """(u, v, w) of a patient point: isocentre-plane spot position (u, v) of the ray
    through it and depth w downstream of the isocentre plane (mm)."""
    dx = point[0] - isocenter[0]
    dy = point[1] - isocenter[1]
    dz = point[2] - isocenter[2]
    x = dx * rotation[0, 0] + dy * rotation[1, 0] + dz * rotation[2, 0]
    y = dx * rotation[0, 1] + dy * rotation[1, 1] + dz * rotation[2, 1]
    w = -(dx * rotation[0, 2] + dy * rotation[1, 2] + dz * rotation[2, 2])
    return x / (1.0 + w * inv_sad[0]), y / (1.0 + w * inv_sad[1]), w


def wepl_lattice(
    spr: np.ndarray,
    low: np.ndarray,
    spacing: np.ndarray,
    shape: np.ndarray,
    isocenter: np.ndarray,
    rotation: np.ndarray,
    inv_sad: np.ndarray,
    u_nodes: np.ndarray,
    v_nodes: np.ndarray,
    w_nodes: np.ndarray,
) -> np.ndarray:
    """Cumulative WEPL table [nu, nv, nw] (float32, mm): along the ray of each
    isocentre-plane node (u, v), the exact WEPL from upstream of the grid to
    the depth of each w node."""
    table = np.zeros((u_nodes.size, v_nodes.size, w_nodes.size), dtype=np.float32)
    geometry = (spr, low, spacing, shape, isocenter, rotation, inv_sad)
    with strips(numba.get_num_threads()) as run:
        run(_wepl_lattice_strip, geometry, u_nodes, v_nodes, w_nodes, table)
    return table


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _wepl_lattice_strip(strip, n_strips, geometry, u_nodes, v_nodes, w_nodes, table):
    """Rows ``strip, strip + n_strips, …`` (in u) of :func:`wepl_lattice`'s table."""
    spr, low, spacing, shape, isocenter, rotation, inv_sad = geometry
    nu, nv, nw = u_nodes.size, v_nodes.size, w_nodes.size
    capacity = max_segments(shape)
    w0 = w_nodes[0]
    for i in range(strip, nu, n_strips):
        voxels = np.empty(capacity, dtype=np.int64)
        lengths = np.empty(capacity)
        entries = np.empty(capacity)
        distances = np.empty(nw)
        samples = np.empty(nw)
        origin = np.empty(3)
        direction = np.empty(3)
        for j in range(nv):
            u = u_nodes[i]
            v = v_nodes[j]
            # BEV slope of the ray per unit depth, and its start point at depth w0.
            sx = u * inv_sad[0]
            sy = v * inv_sad[1]
            norm = math.sqrt(sx * sx + sy * sy + 1.0)
            bx = u + w0 * sx
            by = v + w0 * sy
            for a in range(3):
                origin[a] = (
                    isocenter[a] + bx * rotation[a, 0] + by * rotation[a, 1] - w0 * rotation[a, 2]
                )
                direction[a] = (sx * rotation[a, 0] + sy * rotation[a, 1] - rotation[a, 2]) / norm
            for k in range(nw):
                distances[k] = (w_nodes[k] - w0) * norm
            n = trace_segments(
                origin,
                direction,
                0.0,
                distances[nw - 1],
                low,
                spacing,
                shape,
                voxels,
                lengths,
                entries,
            )
            _sample_cumulative(spr, voxels, lengths, entries, n, distances, samples)
            for k in range(nw):
                table[i, j, k] = samples[k]


@numba.njit(cache=True, inline="always")
def _block(strip: int, n_strips: int, n: int) -> tuple[int, int]:
    """Items [lo, hi) of contiguous block ``strip`` of ``n_strips`` over n items (contiguous,
    so that threads writing neighbouring outputs do not share cache lines)."""
    return strip * n // n_strips, (strip + 1) * n // n_strips


@numba.njit(cache=True, inline="always")
def _lattice_value(
    table: np.ndarray,
    u: float,
    v: float,
    w: float,
    lattice_start: np.ndarray,
    lattice_step: np.ndarray,
) -> float:
    """Trilinear interpolation of the lattice table at fan coordinates (u, v, w),
    clamped to the lattice."""
    nu, nv, nw = table.shape
    fu = min(max((u - lattice_start[0]) / lattice_step[0], 0.0), nu - 1.0)
    fv = min(max((v - lattice_start[1]) / lattice_step[1], 0.0), nv - 1.0)
    fw = min(max((w - lattice_start[2]) / lattice_step[2], 0.0), nw - 1.0)
    i0 = min(int(fu), nu - 2) if nu > 1 else 0
    j0 = min(int(fv), nv - 2) if nv > 1 else 0
    k0 = min(int(fw), nw - 2) if nw > 1 else 0
    i1 = min(i0 + 1, nu - 1)
    j1 = min(j0 + 1, nv - 1)
    k1 = min(k0 + 1, nw - 1)
    a = fu - i0
    b = fv - j0
    c = fw - k0
    return (
        (1 - a) * (1 - b) * ((1 - c) * table[i0, j0, k0] + c * table[i0, j0, k1])
        + a * (1 - b) * ((1 - c) * table[i1, j0, k0] + c * table[i1, j0, k1])
        + (1 - a) * b * ((1 - c) * table[i0, j1, k0] + c * table[i0, j1, k1])
        + a * b * ((1 - c) * table[i1, j1, k0] + c * table[i1, j1, k1])
    )


def interpolate_lattice(
    table: np.ndarray,
    origin: np.ndarray,
    spacing: np.ndarray,
    shape: np.ndarray,
    isocenter: np.ndarray,
    rotation: np.ndarray,
    inv_sad: np.ndarray,
    lattice_start: np.ndarray,
    lattice_step: np.ndarray,
) -> np.ndarray:
    """Trilinear interpolation of the WEPL table at every voxel centre [nx, ny, nz]
    (x planes in contiguous blocks on the threads, each voxel alone)."""
    out = np.empty((shape[0], shape[1], shape[2]), dtype=np.float32)
    lattice = (table, lattice_start, lattice_step)
    frame = (origin, spacing, isocenter, rotation, inv_sad)
    with strips(max(1, min(numba.get_num_threads(), int(shape[0])))) as run:
        run(_interpolate_strip, lattice, frame, out)
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _interpolate_strip(strip, n_strips, lattice, frame, out):
    """Block ``strip`` of ``n_strips`` of the x planes of :func:`interpolate_lattice`."""
    table, lattice_start, lattice_step = lattice
    origin, spacing, isocenter, rotation, inv_sad = frame
    nx, ny, nz = out.shape
    point = np.empty(3)
    for ix in range(*_block(strip, n_strips, nx)):
        point[0] = origin[0] + ix * spacing[0]
        for iy in range(ny):
            point[1] = origin[1] + iy * spacing[1]
            for iz in range(nz):
                point[2] = origin[2] + iz * spacing[2]
                u, v, w = fan_coordinates(point, isocenter, rotation, inv_sad)
                out[ix, iy, iz] = _lattice_value(table, u, v, w, lattice_start, lattice_step)


def interpolate_lattice_points(
    table: np.ndarray,
    points: np.ndarray,
    isocenter: np.ndarray,
    rotation: np.ndarray,
    inv_sad: np.ndarray,
    lattice_start: np.ndarray,
    lattice_step: np.ndarray,
) -> np.ndarray:
    """Trilinear interpolation of the WEPL table at points [n, 3] (patient mm)."""
    out = np.empty(points.shape[0], dtype=np.float32)
    lattice = (table, lattice_start, lattice_step)
    with strips(numba.get_num_threads()) as run:
        run(_points_strip, lattice, points, isocenter, rotation, inv_sad, out)
    return out


@strip_kernel
def _points_strip(strip, n_strips, lattice, points, isocenter, rotation, inv_sad, out):
    """Block ``strip`` of ``n_strips`` of the points of :func:`interpolate_lattice_points`."""
    table, lattice_start, lattice_step = lattice
    for i in range(*_block(strip, n_strips, points.shape[0])):
        u, v, w = fan_coordinates(points[i], isocenter, rotation, inv_sad)
        out[i] = _lattice_value(table, u, v, w, lattice_start, lattice_step)


def voxel_fan(
    flat_index: np.ndarray,
    origin: np.ndarray,
    spacing: np.ndarray,
    shape: np.ndarray,
    isocenter: np.ndarray,
    rotation: np.ndarray,
    inv_sad: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fan coordinates (u, v, w) of the centres of the voxels ``flat_index`` (C-order)
    of a grid (``origin`` = centre of voxel [0, 0, 0])."""
    n = flat_index.size
    fan = (np.empty(n), np.empty(n), np.empty(n))
    grid = (origin, spacing, shape)
    with strips(numba.get_num_threads()) as run:
        run(_voxel_fan_strip, flat_index, grid, isocenter, rotation, inv_sad, fan)
    return fan


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _voxel_fan_strip(strip, n_strips, flat_index, grid, isocenter, rotation, inv_sad, fan):
    """Block ``strip`` of ``n_strips`` of the voxels of :func:`voxel_fan`."""
    origin, spacing, shape = grid
    u_out, v_out, w_out = fan
    nyz = shape[1] * shape[2]
    for i in range(*_block(strip, n_strips, flat_index.size)):
        flat = flat_index[i]
        point = np.empty(3)
        point[0] = origin[0] + (flat // nyz) * spacing[0]
        point[1] = origin[1] + ((flat // shape[2]) % shape[1]) * spacing[1]
        point[2] = origin[2] + (flat % shape[2]) * spacing[2]
        u_out[i], v_out[i], w_out[i] = fan_coordinates(point, isocenter, rotation, inv_sad)


def lattice_at(
    table: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    lattice_start: np.ndarray,
    lattice_step: np.ndarray,
) -> np.ndarray:
    """Trilinear interpolation of the WEPL table at fan coordinates (u, v, w)."""
    out = np.empty(u.size)
    with strips(numba.get_num_threads()) as run:
        run(_lattice_at_strip, (table, lattice_start, lattice_step), u, v, w, out)
    return out


@strip_kernel
def _lattice_at_strip(strip, n_strips, lattice, u, v, w, out):
    """Block ``strip`` of ``n_strips`` of the points of :func:`lattice_at`."""
    table, lattice_start, lattice_step = lattice
    for i in range(*_block(strip, n_strips, u.size)):
        out[i] = _lattice_value(table, u[i], v[i], w[i], lattice_start, lattice_step)


def wepl_per_voxel(
    spr: np.ndarray,
    low: np.ndarray,
    spacing: np.ndarray,
    shape: np.ndarray,
    origin: np.ndarray,
    isocenter: np.ndarray,
    rotation: np.ndarray,
    inv_sad: np.ndarray,
    start_depth: float,
) -> np.ndarray:
    """Exact WEPL [nx, ny, nz] (float32, mm) to every voxel centre, one traced ray
    per voxel: from depth ``start_depth`` (upstream) along the spot ray through it
    (x planes in contiguous blocks on the threads, each voxel alone)."""
    out = np.empty((shape[0], shape[1], shape[2]), dtype=np.float32)
    grid = (spr, low, spacing, shape, origin)
    frame = (isocenter, rotation, inv_sad)
    with strips(max(1, min(numba.get_num_threads(), int(shape[0])))) as run:
        run(_exact_strip, grid, frame, float(start_depth), out)
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _exact_strip(strip, n_strips, grid, frame, start_depth, out):
    """Block ``strip`` of ``n_strips`` of the x planes of :func:`wepl_per_voxel` (its own
    scratch arrays for the traced segments)."""
    spr, low, spacing, shape, origin = grid
    isocenter, rotation, inv_sad = frame
    nx, ny, nz = shape[0], shape[1], shape[2]
    capacity = max_segments(shape)
    voxels = np.empty(capacity, dtype=np.int64)
    lengths = np.empty(capacity)
    entries = np.empty(capacity)
    point = np.empty(3)
    ray_origin = np.empty(3)
    direction = np.empty(3)
    for ix in range(*_block(strip, n_strips, nx)):
        point[0] = origin[0] + ix * spacing[0]
        for iy in range(ny):
            point[1] = origin[1] + iy * spacing[1]
            for iz in range(nz):
                point[2] = origin[2] + iz * spacing[2]
                u, v, w = fan_coordinates(point, isocenter, rotation, inv_sad)
                sx = u * inv_sad[0]
                sy = v * inv_sad[1]
                norm = math.sqrt(sx * sx + sy * sy + 1.0)
                bx = u + start_depth * sx
                by = v + start_depth * sy
                for a in range(3):
                    ray_origin[a] = (
                        isocenter[a] + bx * rotation[a, 0] + by * rotation[a, 1]
                        - start_depth * rotation[a, 2]
                    )  # fmt: skip
                    direction[a] = (
                        sx * rotation[a, 0] + sy * rotation[a, 1] - rotation[a, 2]
                    ) / norm
                t_stop = (w - start_depth) * norm
                n = trace_segments(
                    ray_origin, direction, 0.0, t_stop, low, spacing, shape,
                    voxels, lengths, entries,
                )  # fmt: skip
                total = 0.0
                for s in range(n):
                    total += spr[voxels[s]] * lengths[s]
                out[ix, iy, iz] = total


@numba.njit(cache=True, inline="always")
def _water_power(power: np.ndarray, e: int, wepl: float, step: float) -> float:
    """Water's scattering power (rad²/mm) of energy ``e`` after ``wepl`` mm, by linear
    interpolation in its table (zero beyond the table)."""
    x = wepl / step
    if x < 0.0:
        x = 0.0
    k = int(x)
    if k >= power.shape[1] - 1:
        return 0.0
    f = x - k
    return (1.0 - f) * power[e, k] + f * power[e, k + 1]


@numba.njit(cache=True, inline="always")
def _variance_at(
    d: float,
    start: float,
    a0: float,
    a1: float,
    a2: float,
    power: np.ndarray,
    e: int,
    wepl: float,
    p: float,
    q: float,
    step: float,
) -> tuple[float, float]:
    """Fermi–Eyges σ² and angle–position covariance M₁ = ∫ T (d − z) dz at distance d
    inside a segment that starts at ``start`` (moments a0…a2 up to there, WEPL ``wepl``
    there, SPR p and relative scattering power q)."""
    part = d - start
    if part <= 0.0:
        return max(d * d * a0 - 2.0 * d * a1 + a2, 0.0), max(d * a0 - a1, 0.0)
    t = q * _water_power(power, e, wepl + 0.5 * p * part, step)
    b0 = a0 + t * part
    b1 = a1 + t * 0.5 * (d * d - start * start)
    b2 = a2 + t * (d * d * d - start * start * start) / 3.0
    return max(d * d * b0 - 2.0 * d * b1 + b2, 0.0), max(d * b0 - b1, 0.0)


@numba.njit(cache=True)
def _sample_ray(
    spr: np.ndarray,
    scattering: np.ndarray,
    voxels: np.ndarray,
    lengths: np.ndarray,
    entries: np.ndarray,
    n: int,
    distances: np.ndarray,
    wepl_offset: float,
    power: np.ndarray,
    e: int,
    step: float,
    range_end: float,
    wepl_out: np.ndarray,
    var_out: np.ndarray,
    m1_out: np.ndarray,
) -> None:
    """Along one traced ray (``n`` segments), write the WEPL at each of the ascending
    ``distances`` (mm from the ray's start) into ``wepl_out`` and add half its Fermi–Eyges
    σ² and half its angle–position covariance M₁ there to ``var_out`` and ``m1_out`` (see
    :func:`ray_tables`)."""
    wepl = wepl_offset
    a0 = a1 = a2 = 0.0
    frozen = -1.0
    frozen_here = 0.0
    frozen_m1 = 0.0
    frozen_m1_here = 0.0
    k = 0
    nw = distances.size
    for s in range(n + 1):
        if s < n:
            start = entries[s]
            end = start + lengths[s]
            p = spr[voxels[s]]
            q = scattering[voxels[s]]
        else:  # past the grid: vacuum
            start = entries[n - 1] + lengths[n - 1] if n > 0 else 0.0
            end = math.inf
            p = 0.0
            q = 0.0
        # where in this segment the ion reaches the end of its range (σ² stays there)
        cross = math.inf
        if frozen < 0.0 and p > 0.0 and wepl + p * (end - start) >= range_end:
            cross = start + max(range_end - wepl, 0.0) / p
            frozen_here, frozen_m1_here = _variance_at(
                cross, start, a0, a1, a2, power, e, wepl, p, q, step
            )
        while k < nw and distances[k] <= end:
            d = distances[k]
            wepl_out[k] = wepl + p * max(d - start, 0.0)
            if frozen >= 0.0:
                var, m1 = frozen, frozen_m1
            elif d >= cross:
                var, m1 = frozen_here, frozen_m1_here
            else:
                var, m1 = _variance_at(d, start, a0, a1, a2, power, e, wepl, p, q, step)
            var_out[k] += np.float32(0.5 * var)
            m1_out[k] += np.float32(0.5 * m1)
            k += 1
        if s == n or k >= nw:
            break
        if cross < math.inf:
            frozen = frozen_here
            frozen_m1 = frozen_m1_here
        length = end - start
        power_mid = q * _water_power(power, e, wepl + 0.5 * p * length, step)
        a0 += power_mid * length
        a1 += power_mid * 0.5 * (end * end - start * start)
        a2 += power_mid * (end * end * end - start * start * start) / 3.0
        wepl += p * length


def ray_tables(
    spr: np.ndarray,
    scattering: np.ndarray,
    low: np.ndarray,
    spacing: np.ndarray,
    shape: np.ndarray,
    isocenter: np.ndarray,
    rotation: np.ndarray,
    inv_sad: np.ndarray,
    ray_u: np.ndarray,
    ray_v: np.ndarray,
    ray_energy: np.ndarray,
    pair_offset: float,
    with_wepl: bool,
    w_start: float,
    w_nodes: np.ndarray,
    wepl_offset: float,
    power: np.ndarray,
    power_step: np.ndarray,
    range_end: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WEPL, Fermi–Eyges variance and angle–position covariance along the rays of
    isocentre-plane positions (u, v), each traced as a pair of rays offset by
    ± ``pair_offset`` (mm) in u and in v: ([n_rays, 2, nw] WEPL of each ray of the pair (mm,
    ``wepl_offset`` included; [0, 2, 1] unless ``with_wepl``), [n_rays, nw] σ² (mm², mean of
    the pair), [n_rays, nw] M₁ = ∫ T (z − z') dz' (mm, mean of the pair)), float32, at the
    depths ``w_nodes`` (ascending, downstream of ``w_start``, where each ray starts
    upstream of the grid).

    Each ray is traced exactly (Siddon); in each voxel segment [a, b] (geometric mm from
    the start) the scattering power is ``scattering`` (per geometric mm relative to
    water) × water's scattering power ``power[e]`` of the ray's energy index e at the
    segment's mid-WEPL (its table has step ``power_step[e]`` in WEPL), and the moments
    A_n = ∫ T z^n dz accumulate exactly over the segment; σ²(z) = z² A₀ − 2 z A₁ + A₂ and
    M₁(z) = z A₀ − A₁ (the covariance of position at z' and z is σ²(z') + (z − z') M₁(z'),
    which fine sampling's mean paths need).
    Once the WEPL passes ``range_end[e]`` (the end of the ion's range) σ² stays at its
    value there (the water tables' convention)."""
    n_rays = ray_u.size
    nw = w_nodes.size
    wepl_out = np.zeros((n_rays if with_wepl else 0, 2, nw if with_wepl else 1), np.float32)
    var_out = np.zeros((n_rays, nw), dtype=np.float32)
    m1_out = np.zeros((n_rays, nw), dtype=np.float32)
    geometry = (spr, scattering, low, spacing, shape, isocenter, rotation, inv_sad)
    rays = (ray_u, ray_v, ray_energy, w_nodes, power, power_step, range_end)
    options = (float(pair_offset), bool(with_wepl), float(w_start), float(wepl_offset))
    with strips(numba.get_num_threads()) as run:
        run(_ray_tables_strip, geometry, rays, options, wepl_out, var_out, m1_out)
    return wepl_out, var_out, m1_out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _ray_tables_strip(strip, n_strips, geometry, rays, options, wepl_out, var_out, m1_out):
    """Rays ``strip, strip + n_strips, …`` of :func:`ray_tables` into its outputs."""
    spr, scattering, low, spacing, shape, isocenter, rotation, inv_sad = geometry
    ray_u, ray_v, ray_energy, w_nodes, power, power_step, range_end = rays
    pair_offset, with_wepl, w_start, wepl_offset = options
    n_rays = ray_u.size
    nw = w_nodes.size
    capacity = max_segments(shape)
    for r in range(strip, n_rays, n_strips):
        voxels = np.empty(capacity, dtype=np.int64)
        lengths = np.empty(capacity)
        entries = np.empty(capacity)
        scratch = np.empty(nw, dtype=np.float32)
        for i in range(2):
            offset = pair_offset if i == 0 else -pair_offset
            u = ray_u[r] + offset
            v = ray_v[r] + offset
            sx = u * inv_sad[0]
            sy = v * inv_sad[1]
            norm = math.sqrt(sx * sx + sy * sy + 1.0)
            origin = np.empty(3)
            direction = np.empty(3)
            for a in range(3):
                origin[a] = (
                    isocenter[a] + (u + w_start * sx) * rotation[a, 0]
                    + (v + w_start * sy) * rotation[a, 1] - w_start * rotation[a, 2]
                )  # fmt: skip
                direction[a] = (sx * rotation[a, 0] + sy * rotation[a, 1] - rotation[a, 2]) / norm
            t_stop = (w_nodes[nw - 1] - w_start) * norm
            n = trace_segments(
                origin, direction, 0.0, t_stop, low, spacing, shape, voxels, lengths, entries
            )
            _sample_ray(
                spr, scattering, voxels, lengths, entries, n, (w_nodes - w_start) * norm,
                wepl_offset, power, ray_energy[r], power_step[ray_energy[r]],
                range_end[ray_energy[r]], wepl_out[r, i] if with_wepl else scratch, var_out[r],
                m1_out[r],
            )  # fmt: skip
