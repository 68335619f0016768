"""Numba kernel of the lateral range mixing (:mod:`._range_mixing`)."""

from __future__ import annotations

import math

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam.planning._dose_kernels import _along_ray, _bin, _depth_means, _span
from ionbeam.planning._raytrace_kernels import _lattice_value

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

#: Depth interval (mm) over which the lateral contrast of the WEPL gain is taken.
_DEPTH_STEP_MM = 2.0


@numba.njit(cache=True, inline="always")
def _cross(
    table: np.ndarray,
    u: float,
    v: float,
    reach: float,
    w: float,
    start: np.ndarray,
    step: np.ndarray,
    out: np.ndarray,
) -> None:
    """WEPL at depth w on the ray (u, v) and on the four rays ``reach`` beside it."""
    out[0] = _lattice_value(table, u, v, w, start, step)
    out[1] = _lattice_value(table, u + reach, v, w, start, step)
    out[2] = _lattice_value(table, u - reach, v, w, start, step)
    out[3] = _lattice_value(table, u, v + reach, w, start, step)
    out[4] = _lattice_value(table, u, v - reach, w, start, step)


@numba.njit(cache=True, parallel=True)
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
    Each voxel is independent: the result does not depend on the thread count."""
    n = vox_u.size
    out = np.zeros(n)
    stride = max(1, round(_DEPTH_STEP_MM / step[2]))
    dz = stride * step[2]
    for j in numba.prange(n):
        w, r, c = vox_w[j], vox_ray[j], vox_angular[j]
        s2w = _along_ray(ray_sigma2, r, w, ray_w0, ray_dw)
        reach = min(np.sqrt(3.0 * max(s2w, 0.0)), max_reach_mm)
        if reach <= 0.0:
            continue
        u, v = vox_u[j], vox_v[j]
        total = 0.0
        weighted = 0.0
        before = np.zeros(5)
        wk = start[2]
        _cross(table, u, v, reach, wk, start, step, before)
        after = np.zeros(5)
        while wk + dz <= w:
            _cross(table, u, v, reach, wk + dz, start, step, after)
            own = after[0] - before[0]
            contrast = 0.0
            for q in range(1, 5):
                contrast += abs(after[q] - before[q] - own)
            before[:] = after
            if contrast > 0.0:
                wm = wk + 0.5 * dz
                s2 = _along_ray(ray_sigma2, r, wm, ray_w0, ray_dw)
                m1 = _along_ray(ray_m1, r, wm, ray_w0, ray_dw)
                total += contrast
                lever = w - wm
                weighted += contrast * max(s2w - s2 - 2.0 * lever * m1 + c * lever * lever, 0.0)
            wk += dz
        if total > 0.0:
            out[j] = weighted / total
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
