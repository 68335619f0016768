"""Numba kernel of the lateral range mixing (:mod:`._range_mixing`)."""

from __future__ import annotations

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam.planning._dose_kernels import _along_ray
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
    Fermi–Eyges conditional variance V(w') = σ²(w) − σ²(w') − 2 (w − w') M₁(w') (a broad
    beam's paths through the voxel; σ² and M₁ of the ray ``vox_ray`` of the voxel). The
    weight of w' is the lateral contrast of the WEPL gained over 2 mm of depth there:
    Σ |ΔWEPL(beside) − ΔWEPL(on the ray)| over four points ±√3 σ(w) beside the voxel's
    ray along u and v (capped at ``max_reach_mm``). Zero where nothing varies laterally.
    Each voxel is independent: the result does not depend on the thread count."""
    n = vox_u.size
    out = np.zeros(n)
    stride = max(1, round(_DEPTH_STEP_MM / step[2]))
    dz = stride * step[2]
    for j in numba.prange(n):
        w, r = vox_w[j], vox_ray[j]
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
                weighted += contrast * max(s2w - s2 - 2.0 * (w - wm) * m1, 0.0)
            wk += dz
        if total > 0.0:
            out[j] = weighted / total
    return out
