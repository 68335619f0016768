"""Numba kernels of the pencil-beam dose engine (pure functions on arrays).

One beam at a time. The voxels where dose is computed come sorted into a
regular grid of square *cells* in the isocentre plane (u, v: the spot
position whose central ray passes through the voxel), so that a spot only
visits the cells within its cut-off radius. Per voxel: ``u``, ``v`` (mm,
isocentre plane), ``mag_u``, ``mag_v`` (magnification of the isocentre-plane
distance at the voxel's depth: 1 + w/SAD), ``w`` (depth downstream of the
isocentre plane, mm, for the spot size in air), ``wepl`` (mm, range shifter
included) and ``tissue`` (index into the biology tables).

The dose of spot s at voxel j (Gy per particle) is

    idd(e, wepl) · [(1 − h) Ĝ(r; σ₁) + h Ĝ(r; σ₂)]

with σ₁² = σ_air(e, w)² + σ_mcs(e, wepl)², σ₂² = σ_air(e, w)² + σ_halo(e, wepl)²,
h the halo weight, and Ĝ a 2-D Gaussian cut at the radius r_c = n σ₁: lowered
by its value at r_c (so that it falls continuously to zero there) and
renormalised to unit integral over the disc. Every spot thus deposits its
whole IDD at every depth (energy conservation), the matrix stays sparse, and
summing over a voxel grid keeps the integral (no step at the edge).
Tables are read by linear interpolation on the uniform depth grid of each
energy (``step[e]``). Beyond ``max_depth[e]`` a spot deposits nothing.

Two passes fill a CSC matrix: ``count_entries`` (non-zeros per spot), then
``fill_entries`` at the offsets of the prefix sum. Both run in parallel over
spots and visit voxels in the same order, so the matrix is deterministic.
``forward_dose`` accumulates w_s × dose into per-thread dose arrays without
storing the matrix.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["count_entries", "fill_entries", "forward_dose", "sort_into_cells"]

_TWO_PI = 2.0 * math.pi


@numba.njit(cache=True)
def sort_into_cells(
    u: np.ndarray, v: np.ndarray, u0: float, v0: float, cell_mm: float, nu: int, nv: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counting sort of voxels into cells: (order of voxels, start of each cell [nu*nv+1])."""
    n = u.size
    cell = np.empty(n, dtype=np.int64)
    counts = np.zeros(nu * nv + 1, dtype=np.int64)
    for j in range(n):
        iu = min(max(int((u[j] - u0) / cell_mm), 0), nu - 1)
        iv = min(max(int((v[j] - v0) / cell_mm), 0), nv - 1)
        cell[j] = iu * nv + iv
        counts[cell[j] + 1] += 1
    for c in range(nu * nv):
        counts[c + 1] += counts[c]
    cursor = counts[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for j in range(n):
        order[cursor[cell[j]]] = j
        cursor[cell[j]] += 1
    return order, counts


@numba.njit(cache=True, inline="always")
def _lookup(table: np.ndarray, e: int, k: int, f: float) -> float:
    return (1.0 - f) * table[e, k] + f * table[e, k + 1]


@numba.njit(cache=True, inline="always")
def _cell_range(x: float, radius: float, origin: float, cell_mm: float, n: int) -> tuple[int, int]:
    lo = int((x - radius - origin) // cell_mm)
    hi = int((x + radius - origin) // cell_mm)
    return max(lo, 0), min(hi, n - 1)


@numba.njit(cache=True, inline="always")
def _pair(
    j: int,
    e: int,
    su: float,
    sv: float,
    wepl: float,
    air_shift: float,
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    vox_mag_u: np.ndarray,
    vox_mag_v: np.ndarray,
    vox_w: np.ndarray,
    step: np.ndarray,
    max_depth: np.ndarray,
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    sigma_mcs2: np.ndarray,
    nsig2: float,
) -> tuple[bool, float, float, float, int, float]:
    """Geometry of spot (e, su, sv) at voxel j whose WEPL along the spot is ``wepl``:
    (inside the cut-off, r², σ_air², σ₁², depth bin k, fraction f). ``air_shift`` is
    taken off the spot's variance in air (the part a sub-beam split represents)."""
    if wepl < 0.0 or wepl >= max_depth[e]:
        return False, 0.0, 0.0, 1.0, 0, 0.0
    du = (vox_u[j] - su) * vox_mag_u[j]
    dv = (vox_v[j] - sv) * vox_mag_v[j]
    r2 = du * du + dv * dv
    x = wepl / step[e]
    k = min(int(x), sigma_mcs2.shape[1] - 2)
    f = x - k
    w = vox_w[j]
    air = air_a[e] + w * (air_b[e] + w * air_c[e]) - air_shift
    s1 = air + _lookup(sigma_mcs2, e, k, f)
    return r2 <= nsig2 * s1, r2, air, s1, k, f


@numba.njit(cache=True, inline="always")
def _cut_gaussian(r2: float, sigma2: float, q: float) -> float:
    """2-D Gaussian of variance ``sigma2`` per axis, lowered by its value at the cut-off
    radius r_c (q = r_c²/2σ²) so that it reaches zero there, and renormalised to unit
    integral over the disc: (e^(−r²/2σ²) − e^(−q)) / (2πσ² (1 − e^(−q)(1 + q)))."""
    edge = math.exp(-q)
    norm = -math.expm1(-q) - q * edge
    if norm <= 1e-12:
        return 0.0
    return (math.exp(-0.5 * r2 / sigma2) - edge) / (_TWO_PI * sigma2 * norm)


@numba.njit(cache=True, inline="always")
def _lateral(
    r2: float,
    air: float,
    s1: float,
    e: int,
    k: int,
    f: float,
    halo_weight: np.ndarray,
    halo_sigma2: np.ndarray,
    nsig2: float,
) -> float:
    """Lateral density (mm⁻²) at r² ≤ r_c² = n² σ₁²: core and halo Gaussians, each cut
    at r_c to reach zero there and renormalised (no discontinuity at the edge, so the
    sum over a voxel grid keeps the integral)."""
    h = _lookup(halo_weight, e, k, f)
    g = (1.0 - h) * _cut_gaussian(r2, s1, 0.5 * nsig2)
    if h > 0.0:
        s2 = air + _lookup(halo_sigma2, e, k, f)
        g += h * _cut_gaussian(r2, s2, 0.5 * nsig2 * s1 / s2)
    return g


@numba.njit(cache=True, parallel=True)
def count_entries(
    spot_u: np.ndarray,
    spot_v: np.ndarray,
    spot_e: np.ndarray,
    spot_radius: np.ndarray,
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    vox_mag_u: np.ndarray,
    vox_mag_v: np.ndarray,
    vox_w: np.ndarray,
    vox_wepl: np.ndarray,
    cell_start: np.ndarray,
    cell_origin: np.ndarray,
    cell_mm: float,
    n_cells: np.ndarray,
    step: np.ndarray,
    max_depth: np.ndarray,
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    sigma_mcs2: np.ndarray,
    n_sigma: float,
) -> np.ndarray:
    """Number of voxels each spot reaches (r ≤ n σ₁, 0 ≤ wepl < max depth)."""
    n_spots = spot_u.size
    counts = np.zeros(n_spots, dtype=np.int64)
    nsig2 = n_sigma * n_sigma
    nv = n_cells[1]
    for s in numba.prange(n_spots):
        e = spot_e[s]
        su, sv = spot_u[s], spot_v[s]
        iu0, iu1 = _cell_range(su, spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(sv, spot_radius[s], cell_origin[1], cell_mm, nv)
        count = 0
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * nv + iv
                for j in range(cell_start[c], cell_start[c + 1]):
                    inside = _pair(j, e, su, sv, vox_wepl[j], 0.0, vox_u, vox_v, vox_mag_u,
                                   vox_mag_v, vox_w, step, max_depth, air_a, air_b, air_c,
                                   sigma_mcs2, nsig2)[0]  # fmt: skip
                    if inside:
                        count += 1
        counts[s] = count
    return counts


@numba.njit(cache=True, parallel=True)
def fill_entries(
    indptr: np.ndarray,
    spot_u: np.ndarray,
    spot_v: np.ndarray,
    spot_e: np.ndarray,
    spot_radius: np.ndarray,
    vox_index: np.ndarray,
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    vox_mag_u: np.ndarray,
    vox_mag_v: np.ndarray,
    vox_w: np.ndarray,
    vox_wepl: np.ndarray,
    vox_tissue: np.ndarray,
    cell_start: np.ndarray,
    cell_origin: np.ndarray,
    cell_mm: float,
    n_cells: np.ndarray,
    step: np.ndarray,
    max_depth: np.ndarray,
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    idd: np.ndarray,
    sigma_mcs2: np.ndarray,
    halo_weight: np.ndarray,
    halo_sigma2: np.ndarray,
    let_d: np.ndarray,
    alpha: np.ndarray,
    sqrt_beta: np.ndarray,
    n_sigma: float,
    with_let: bool,
    with_biology: bool,
    out_index: np.ndarray,
    out_dose: np.ndarray,
    out_let_dose: np.ndarray,
    out_alpha_dose: np.ndarray,
    out_sqrt_beta_dose: np.ndarray,
) -> None:
    """Write row indices and values of every spot's column at ``indptr[s]``
    (same visiting order and criteria as :func:`count_entries`)."""
    n_spots = spot_u.size
    nsig2 = n_sigma * n_sigma
    nv = n_cells[1]
    for s in numba.prange(n_spots):
        e = spot_e[s]
        su, sv = spot_u[s], spot_v[s]
        iu0, iu1 = _cell_range(su, spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(sv, spot_radius[s], cell_origin[1], cell_mm, nv)
        p = indptr[s]
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * nv + iv
                for j in range(cell_start[c], cell_start[c + 1]):
                    inside, r2, air, s1, k, f = _pair(
                        j, e, su, sv, vox_wepl[j], 0.0, vox_u, vox_v, vox_mag_u, vox_mag_v,
                        vox_w, step, max_depth, air_a, air_b, air_c, sigma_mcs2, nsig2,
                    )  # fmt: skip
                    if not inside:
                        continue
                    g = _lateral(r2, air, s1, e, k, f, halo_weight, halo_sigma2, nsig2)
                    dose = _lookup(idd, e, k, f) * g
                    out_index[p] = vox_index[j]
                    out_dose[p] = dose
                    if with_let:
                        out_let_dose[p] = dose * _lookup(let_d, e, k, f)
                    if with_biology:
                        t = vox_tissue[j]
                        out_alpha_dose[p] = dose * (
                            (1.0 - f) * alpha[t, e, k] + f * alpha[t, e, k + 1]
                        )
                        out_sqrt_beta_dose[p] = dose * (
                            (1.0 - f) * sqrt_beta[t, e, k] + f * sqrt_beta[t, e, k + 1]
                        )
                    p += 1


@numba.njit(cache=True, parallel=True)
def forward_dose(
    weights: np.ndarray,
    n_out: int,
    spot_u: np.ndarray,
    spot_v: np.ndarray,
    spot_e: np.ndarray,
    spot_radius: np.ndarray,
    vox_index: np.ndarray,
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    vox_mag_u: np.ndarray,
    vox_mag_v: np.ndarray,
    vox_w: np.ndarray,
    vox_wepl: np.ndarray,
    cell_start: np.ndarray,
    cell_origin: np.ndarray,
    cell_mm: float,
    n_cells: np.ndarray,
    step: np.ndarray,
    max_depth: np.ndarray,
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    idd: np.ndarray,
    sigma_mcs2: np.ndarray,
    halo_weight: np.ndarray,
    halo_sigma2: np.ndarray,
    let_d: np.ndarray,
    n_sigma: float,
    n_chunks: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Dose (Gy) and LET×dose of weighted spots on ``n_out`` voxels, without a matrix.

    Spots are split into ``n_chunks`` interleaved chunks, each accumulating into its
    own dose array (no write conflicts); the chunks are summed at the end.
    """
    dose = np.zeros((n_chunks, n_out))
    let_dose = np.zeros((n_chunks, n_out))
    n_spots = spot_u.size
    nsig2 = n_sigma * n_sigma
    nv = n_cells[1]
    for chunk in numba.prange(n_chunks):
        for s in range(chunk, n_spots, n_chunks):
            weight = weights[s]
            if weight == 0.0:
                continue
            e = spot_e[s]
            su, sv = spot_u[s], spot_v[s]
            iu0, iu1 = _cell_range(su, spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
            iv0, iv1 = _cell_range(sv, spot_radius[s], cell_origin[1], cell_mm, nv)
            for iu in range(iu0, iu1 + 1):
                for iv in range(iv0, iv1 + 1):
                    c = iu * nv + iv
                    for j in range(cell_start[c], cell_start[c + 1]):
                        inside, r2, air, s1, k, f = _pair(
                            j, e, su, sv, vox_wepl[j], 0.0, vox_u, vox_v, vox_mag_u,
                            vox_mag_v, vox_w, step, max_depth, air_a, air_b, air_c,
                            sigma_mcs2, nsig2,
                        )  # fmt: skip
                        if not inside:
                            continue
                        g = _lateral(r2, air, s1, e, k, f, halo_weight, halo_sigma2, nsig2)
                        value = weight * _lookup(idd, e, k, f) * g
                        out = vox_index[j]
                        dose[chunk, out] += value
                        let_dose[chunk, out] += value * _lookup(let_d, e, k, f)
    total = np.zeros(n_out)
    total_let = np.zeros(n_out)
    for chunk in range(n_chunks):
        total += dose[chunk]
        total_let += let_dose[chunk]
    return total, total_let
