"""Numba kernel of the lateral range mixing (:mod:`._range_mixing`)."""

from __future__ import annotations

import math

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam.planning._dose_kernels import _along_ray, _bin, _depth_means, _span
from ionbeam.planning._raytrace_kernels import _block, _lattice_value
from ionbeam.planning._strips import strip_kernel, strips

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

#: Depth interval (mm) over which the lateral contrast of the WEPL gain is taken.
_DEPTH_STEP_MM = 2.0


@numba.njit(cache=True, inline="always")
def _column(
    table: np.ndarray, u: float, v: float, start: np.ndarray, step: np.ndarray
) -> tuple[int, int, int, int, float, float]:
    """The lattice column at (u, v): its four corner rays and bilinear weights, clamped to
    the lattice as :func:`._raytrace_kernels._lattice_value` clamps them."""
    nu, nv, _ = table.shape
    fu = min(max((u - start[0]) / step[0], 0.0), nu - 1.0)
    fv = min(max((v - start[1]) / step[1], 0.0), nv - 1.0)
    i0 = min(int(fu), nu - 2) if nu > 1 else 0
    j0 = min(int(fv), nv - 2) if nv > 1 else 0
    return i0, min(i0 + 1, nu - 1), j0, min(j0 + 1, nv - 1), fu - i0, fv - j0


@numba.njit(cache=True, inline="always")
def _at_node(table: np.ndarray, c: tuple[int, int, int, int, float, float], k: int) -> float:
    """WEPL of column ``c`` (:func:`_column`) at the lattice's depth node k: the trilinear
    interpolation of :func:`._raytrace_kernels._lattice_value` where the depth falls on
    a node (the same sum, term by term)."""
    i0, i1, j0, j1, a, b = c
    return (
        (1 - a) * (1 - b) * table[i0, j0, k]
        + a * (1 - b) * table[i1, j0, k]
        + (1 - a) * b * table[i0, j1, k]
        + a * b * table[i1, j1, k]
    )


@numba.njit(cache=True, inline="always")
def _voxel_variance(
    u: float,
    v: float,
    w: float,
    r: int,
    c: float,
    ray_sigma2: np.ndarray,
    ray_m1: np.ndarray,
    ray_w0: float,
    ray_dw: float,
    table: np.ndarray,
    start: np.ndarray,
    step: np.ndarray,
    max_reach_mm: float,
) -> float:
    """The mixing variance of one voxel (:func:`mixing_variance`). Its five rays are
    fixed lattice columns and its depth steps fall on the lattice's depth nodes, so the
    WEPL at each step is a bilinear read of one node per column."""
    s2w = _along_ray(ray_sigma2, r, w, ray_w0, ray_dw)
    reach = min(np.sqrt(3.0 * max(s2w, 0.0)), max_reach_mm)
    if reach <= 0.0:
        return 0.0
    stride = max(1, round(_DEPTH_STEP_MM / step[2]))
    dz = stride * step[2]
    last = table.shape[2] - 1
    c0 = _column(table, u, v, start, step)
    c1 = _column(table, u + reach, v, start, step)
    c2 = _column(table, u - reach, v, start, step)
    c3 = _column(table, u, v + reach, start, step)
    c4 = _column(table, u, v - reach, start, step)
    b0, b1, b2 = _at_node(table, c0, 0), _at_node(table, c1, 0), _at_node(table, c2, 0)
    b3, b4 = _at_node(table, c3, 0), _at_node(table, c4, 0)
    total = 0.0
    weighted = 0.0
    wk = start[2]
    k = 0
    while wk + dz <= w:
        k = min(k + stride, last)
        a0, a1, a2 = _at_node(table, c0, k), _at_node(table, c1, k), _at_node(table, c2, k)
        a3, a4 = _at_node(table, c3, k), _at_node(table, c4, k)
        own = a0 - b0
        contrast = abs(a1 - b1 - own) + abs(a2 - b2 - own) + abs(a3 - b3 - own) + abs(a4 - b4 - own)
        b0, b1, b2, b3, b4 = a0, a1, a2, a3, a4
        if contrast > 0.0:
            wm = wk + 0.5 * dz
            s2 = _along_ray(ray_sigma2, r, wm, ray_w0, ray_dw)
            m1 = _along_ray(ray_m1, r, wm, ray_w0, ray_dw)
            total += contrast
            lever = w - wm
            weighted += contrast * max(s2w - s2 - 2.0 * lever * m1 + c * lever * lever, 0.0)
        wk += dz
    return weighted / total if total > 0.0 else 0.0


@strip_kernel
def _cross_strip(strip, n_strips, voxels, rays, lattice, max_reach_mm, variance, out):
    """Block ``strip`` of ``n_strips`` of the voxels of :func:`mixing_cross`."""
    vox_u, vox_v, vox_w, vox_ray, vox_angular, wepl, wepl_up, wepl_down, offset = voxels
    ray_sigma2, ray_m1, ray_w0, ray_dw = rays
    table, start, step = lattice
    cross, out_wepl, out_up, out_down = out
    for j in range(*_block(strip, n_strips, vox_u.size)):
        u, v, w = vox_u[j], vox_v[j], vox_w[j]
        var = _voxel_variance(
            u, v, w, vox_ray[j], vox_angular[j], ray_sigma2, ray_m1, ray_w0, ray_dw, table,
            start, step, max_reach_mm,
        )  # fmt: skip
        variance[j] = var
        if var <= 0.0:
            continue
        sigma = math.sqrt(var)
        scale = sigma * min(1.0, max_reach_mm / (_ARM * sigma))
        nodes = (
            _lattice_value(table, u, v, w, start, step) + offset,
            _lattice_value(table, u + _ARM * scale, v, w, start, step) + offset,
            _lattice_value(table, u - _ARM * scale, v, w, start, step) + offset,
            _lattice_value(table, u, v + _ARM * scale, w, start, step) + offset,
            _lattice_value(table, u, v - _ARM * scale, w, start, step) + offset,
        )
        differs = False
        for q in range(N_NODES):
            differs = differs or nodes[q] != wepl[j]
        if not differs:
            continue
        mean = 0.0
        low = high = nodes[0]
        for q in range(N_NODES):
            mean += nodes[q] * NODE_WEIGHTS[q]
            low = min(low, nodes[q])
            high = max(high, nodes[q])
            cross[j, q] = nodes[q]
        cross[j, N_NODES] = wepl_up[j]
        cross[j, N_NODES + 1] = wepl_down[j]
        out_wepl[j] = mean
        out_up[j] = mean - low + wepl_up[j]
        out_down[j] = high - mean + wepl_down[j]


@strip_kernel
def _floor_strip(strip, n_strips, points, lattice, floor, out):
    """Block ``strip`` of ``n_strips`` of the points of :func:`cross_floor`."""
    vox_u, vox_v, vox_w = points
    table, start, step = lattice
    nw = table.shape[2]
    for j in range(*_block(strip, n_strips, vox_u.size)):
        i0, _, j0, _, _, _ = _column(table, vox_u[j], vox_v[j], start, step)
        fw = min(max((vox_w[j] - start[2]) / step[2], 0.0), nw - 1.0)
        k0 = min(int(fw), nw - 2) if nw > 1 else 0
        out[j] = min(floor[i0, j0, k0], floor[i0, j0, min(k0 + 1, nw - 1)])


def cross_floor(
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    vox_w: np.ndarray,
    table: np.ndarray,
    start: np.ndarray,
    step: np.ndarray,
    floor: np.ndarray,
) -> np.ndarray:
    """Per voxel, a lower bound (mm) of the WEPL at any node of its cross: the lowest of
    ``floor`` (the lattice ``table`` min-filtered laterally over the cross's reach and a
    node beyond, :func:`._range_mixing.node_floor`) at the corners of the voxel's lattice
    cell. A trilinear read is a convex sum of its cell's corners, so no node reads less."""
    out = np.empty(vox_u.size)
    points = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in (vox_u, vox_v, vox_w))
    lattice = (table, np.asarray(start, dtype=np.float64), np.asarray(step, dtype=np.float64))
    with strips(numba.get_num_threads()) as run:
        run(_floor_strip, points, lattice, floor, out)
    return out


#: The cross's nodes, offsets from the voxel's ray in units of the mixing σ (u, v), and
#: their weights: the 3-point Gauss–Hermite rule along u and along v (nodes 0, ±√3 σ;
#: 1/3 at the centre, 1/6 on each arm: the Gaussian's second and fourth moments along
#: each axis). A ring of six nodes at √2 σ (1/6 each; nearer the Gaussian's share of
#: paths beyond an interface) was measured too: docs/validation.md, "The cross in the
#: kernels".
NODES = (
    (0.0, 0.0),
    (math.sqrt(3.0), 0.0),
    (-math.sqrt(3.0), 0.0),
    (0.0, math.sqrt(3.0)),
    (0.0, -math.sqrt(3.0)),
)
NODE_WEIGHTS = (1.0 / 3.0, 1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0)
N_NODES = len(NODES)
#: Columns of a voxel's row of the cross table (:func:`cross_means`): the WEPL (mm) at
#: the cross's nodes, then the voxel's own WEPL span below and above its centre (mm).
#: NaN in column 0: the voxel is not mixed.
CROSS_COLUMNS = N_NODES + 2
_ARM = math.sqrt(3.0)  # the length of the cross's arms in σ


def mixing_cross(
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    vox_w: np.ndarray,
    vox_ray: np.ndarray,
    vox_angular: np.ndarray,
    ray_sigma2: np.ndarray,
    ray_m1: np.ndarray,
    ray_w0: float,
    ray_dw: float,
    table: np.ndarray,
    start: np.ndarray,
    step: np.ndarray,
    max_reach_mm: float,
    spans: tuple[np.ndarray, np.ndarray, np.ndarray, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per voxel, the variance (mm²) of the lateral offset of the paths that reach it,
    averaged over the depths where the WEPL varies laterally (see :mod:`._range_mixing`).

    At a depth w' < w the offset of an ion that reaches depth w on the voxel's ray has the
    Fermi–Eyges conditional variance V(w') = σ²(w) − σ²(w') − 2 (w − w') M₁(w') +
    c (w − w')² (a field of the beam's spots through the voxel; σ² and M₁ of the ray
    ``vox_ray`` of the voxel, c = ``vox_angular`` its spots' angular variance in air:
    the spread of their initial directions, mm²/mm²). The
    weight of w' is the lateral contrast of the WEPL gained over 2 mm of depth there:
    Σ |ΔWEPL(beside) − ΔWEPL(on the ray)| over four points ±√3 σ(w) beside the voxel's
    ray along u and v (capped at ``max_reach_mm``). Zero where nothing varies laterally.
    Each voxel is independent: the result does not depend on the thread count.

    ``spans`` = (WEPL, span below, span above, WET offset; mm) of the voxels (None: zero
    span and offset, WEPL NaN). Also returns the cross table (:data:`CROSS_COLUMNS`: the
    nodes' WEPL, :data:`NODES` with the arms capped at ``max_reach_mm``, read on the
    lattice at the voxel's depth plus the offset; then the voxel's own span; NaN where
    the nodes all read the voxel's WEPL: not mixed), and the voxels' WEPL, span below
    and above with the mixing: the nodes' mean and envelope where mixed, else their
    own."""
    n = vox_u.size
    f64 = np.float64
    if spans is None:
        spans = (np.full(n, np.nan), np.zeros(n), np.zeros(n), 0.0)
    wepl, up, down, offset = spans
    variance = np.zeros(n)
    cross = np.full((n, CROSS_COLUMNS), np.nan)
    out = (cross, np.array(wepl, dtype=f64), np.array(up, dtype=f64), np.array(down, dtype=f64))
    voxels = (
        np.ascontiguousarray(vox_u, dtype=f64),
        np.ascontiguousarray(vox_v, dtype=f64),
        np.ascontiguousarray(vox_w, dtype=f64),
        np.ascontiguousarray(vox_ray, dtype=np.int64),
        np.ascontiguousarray(vox_angular, dtype=f64),
        np.ascontiguousarray(wepl, dtype=f64),
        np.ascontiguousarray(up, dtype=f64),
        np.ascontiguousarray(down, dtype=f64),
        float(offset),
    )
    rays = (
        np.ascontiguousarray(ray_sigma2, dtype=f64),
        np.ascontiguousarray(ray_m1, dtype=f64),
        float(ray_w0),
        float(ray_dw),
    )
    lattice = (np.ascontiguousarray(table, dtype=f64), np.asarray(start, dtype=f64),
               np.asarray(step, dtype=f64))  # fmt: skip
    with strips(numba.get_num_threads()) as run:
        run(_cross_strip, voxels, rays, lattice, float(max_reach_mm), variance, out)
    return (variance, *out)


def mixing_variance(
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    vox_w: np.ndarray,
    vox_ray: np.ndarray,
    vox_angular: np.ndarray,
    ray_sigma2: np.ndarray,
    ray_m1: np.ndarray,
    ray_w0: float,
    ray_dw: float,
    table: np.ndarray,
    start: np.ndarray,
    step: np.ndarray,
    max_reach_mm: float,
) -> np.ndarray:
    """The mixing variance (mm²) per voxel alone (:func:`mixing_cross`'s first result)."""
    return mixing_cross(
        vox_u, vox_v, vox_w, vox_ray, vox_angular, ray_sigma2, ray_m1, ray_w0, ray_dw, table,
        start, step, max_reach_mm,
    )[0]  # fmt: skip


@numba.njit(cache=True, inline="always")
def mixed(cross: np.ndarray, j: int) -> bool:
    """Whether voxel j reads its depth–dose over a cross (a table with rows, not NaN)."""
    return cross.shape[0] > 0 and not math.isnan(cross[j, 0])


@numba.njit(cache=True, nogil=True)
def cross_means(
    cross: np.ndarray,
    j: int,
    e: int,
    step: np.ndarray,
    max_depth: np.ndarray,
    t: int,
    idd: np.ndarray,
    halo_idd: np.ndarray,
    halo_cum: np.ndarray,
    idd_cum: np.ndarray,
    let_dose: np.ndarray,
    let_cum: np.ndarray,
    alpha_dose: np.ndarray,
    alpha_cum: np.ndarray,
    beta_dose: np.ndarray,
    beta_cum: np.ndarray,
    with_let: bool,
    with_bio: bool,
) -> tuple[float, float, float, float, float]:
    """The depth part of voxel j for energy e read over its cross: at each node's WEPL
    (the voxel's own span shifted there, :func:`._dose_kernels._depth_means`), weighted
    by the node's weight (:data:`NODE_WEIGHTS`; nodes with equal WEPL read once): mean IDD, halo
    share ⟨h·IDD⟩ / ⟨IDD⟩, means of IDD × LET_d, × α, × √β. A node whose span misses
    the table adds nothing (the ions along it stopped before the voxel)."""
    n_x = idd.shape[1]
    up_x, down_x = cross[j, N_NODES], cross[j, N_NODES + 1]
    dose_x = halo_x = let_x = alpha_x = beta_x = 0.0
    for q_x in range(N_NODES):
        wepl_x = cross[j, q_x]
        seen_x = False
        for p_x in range(q_x):
            if cross[j, p_x] == wepl_x:
                seen_x = True
        if seen_x:
            continue
        weight_x = 0.0
        for p_x in range(q_x, N_NODES):
            if cross[j, p_x] == wepl_x:
                weight_x += NODE_WEIGHTS[p_x]
        meets_x, centre_x, lo_x, hi_x = _span(wepl_x, up_x, down_x, step[e], max_depth[e])
        if not meets_x:
            continue
        k_x, f_x = _bin(centre_x / step[e], n_x)
        d_x, h_x, lt_x, al_x, be_x = _depth_means(
            e, k_x, f_x, lo_x, hi_x, t, idd, halo_idd, halo_cum, idd_cum, let_dose, let_cum,
            alpha_dose, alpha_cum, beta_dose, beta_cum, with_let, with_bio,
        )  # fmt: skip
        dose_x += weight_x * d_x
        halo_x += weight_x * d_x * h_x
        let_x += weight_x * lt_x
        alpha_x += weight_x * al_x
        beta_x += weight_x * be_x
    share_x = min(max(halo_x / dose_x, 0.0), 1.0) if dose_x > 0.0 else 0.0
    return dose_x, share_x, let_x, alpha_x, beta_x
