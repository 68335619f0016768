"""Numba kernels of the halo by convolution (:mod:`.halo`): per-voxel halo widths of
one energy layer, and the gather of the layer's Gaussian-filtered fluence maps.

Inputs are the tuples of :mod:`._dose_kernels` (``voxels``, ``model``, ``average``);
the maps are stacked flat, level after level, with per-level origin, pixel size and
shape (each level has its own pixel size, a third of its σ).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["WIDTH_CHUNKS", "filtered_maps", "gather_halo", "halo_widths"]


@numba.njit(cache=True, inline="always")
def _at(table: np.ndarray, row: int, x: float) -> float:
    """Linear interpolation of ``table[row]`` at fractional bin x (clamped)."""
    x = min(max(x, 0.0), table.shape[1] - 1.0)
    k = min(int(x), table.shape[1] - 2)
    f = x - k
    return (1.0 - f) * table[row, k] + f * table[row, k + 1]


#: Fixed chunks of the voxels in :func:`halo_widths` (each keeps its own minima and
#: maxima; fixed so that nothing depends on the threads, though minima are exact anyway).
WIDTH_CHUNKS = 64


@numba.njit(cache=True, parallel=True)
def halo_widths(e, voxels, model, average, mcs2_w, w0, dw, part_sigma2, lever2_w):
    """Isocentre-plane σ (mm) of each of the halo's Gaussians (``part_sigma2`` [part,
    energy, depth]: their σ² in water) of energy ``e`` at every voxel, [part, voxel], 0
    where the voxel's WEPL span misses the energy's depth table, and each part's
    smallest and largest σ over the voxels it reaches, [part, 2] (0, 0: none). σ₂² =
    σ_air² + σ²_MCS + the Gaussian's excess over the primaries' MCS variance in water
    (as in the dose kernels), with σ²_MCS the layer's fluence-weighted mean along its
    rays (``mcs2_w`` at depths w₀ + k Δw) and the excess times the layer's lever-arm
    factor there (``lever2_w``, :func:`.halo._lever_arm_factor`), divided by the
    magnification (geometric mean of the two axes). One pass over the voxels for all the
    parts: they share all but the excess."""
    _, _, _, mag_u, mag_v, vox_w, vox_wepl, _ = voxels
    step, max_depth, air_a, air_b, air_c = model[:5]
    sigma_mcs2 = model[6]
    wepl_up, wepl_down = average[0], average[1]
    n = vox_w.size
    n_parts = part_sigma2.shape[0]
    out = np.zeros((n_parts, n))
    low = np.full((WIDTH_CHUNKS, n_parts), np.inf)
    high = np.zeros((WIDTH_CHUNKS, n_parts))
    per_chunk = (n + WIDTH_CHUNKS - 1) // WIDTH_CHUNKS
    for chunk in numba.prange(WIDTH_CHUNKS):
        least = np.full(n_parts, np.inf)  # the chunk's own: no shared cache lines
        most = np.zeros(n_parts)
        for j in range(chunk * per_chunk, min(n, (chunk + 1) * per_chunk)):
            if vox_wepl[j] + wepl_down[j] < 0.0 or vox_wepl[j] - wepl_up[j] >= max_depth[e]:
                continue
            centre = min(max(vox_wepl[j], 0.0), max_depth[e] * (1.0 - 1e-9)) / step[e]
            w = vox_w[j]
            x = min(max((w - w0) / dw, 0.0), mcs2_w.size - 1.0)
            k = min(int(x), mcs2_w.size - 2)
            mcs2 = (1.0 - (x - k)) * mcs2_w[k] + (x - k) * mcs2_w[k + 1]
            lever2 = (1.0 - (x - k)) * lever2_w[k] + (x - k) * lever2_w[k + 1]
            primaries = _at(sigma_mcs2, e, centre)
            base = air_a[e] + w * (air_b[e] + w * air_c[e]) + mcs2
            mag = mag_u[j] * mag_v[j]
            for p in range(n_parts):
                excess = lever2 * max(_at(part_sigma2[p], e, centre) - primaries, 0.0)
                s = math.sqrt(max(base + excess, 1e-6) / mag)
                out[p, j] = s
                least[p] = min(least[p], s)
                most[p] = max(most[p], s)
        low[chunk] = least
        high[chunk] = most
    ranges = np.zeros((n_parts, 2))
    for p in range(n_parts):
        least_p = np.inf
        most_p = 0.0
        for chunk in range(WIDTH_CHUNKS):
            least_p = min(least_p, low[chunk, p])
            most_p = max(most_p, high[chunk, p])
        if most_p > 0.0:
            ranges[p, 0] = least_p
            ranges[p, 1] = most_p
    return out, ranges


@numba.njit(cache=True, inline="always")
def _bilinear(maps, start, origin_u, origin_v, pixel, nu, nv, level, u, v) -> float:
    """Bilinear interpolation of map ``level`` at (u, v) (0 outside it)."""
    x = (u - origin_u[level]) / pixel[level]
    y = (v - origin_v[level]) / pixel[level]
    if x < 0.0 or y < 0.0 or x > nu[level] - 1.0 or y > nv[level] - 1.0:
        return 0.0
    i = min(int(x), nu[level] - 2)
    k = min(int(y), nv[level] - 2)
    fx = x - i
    fy = y - k
    base = start[level] + i * nv[level] + k
    n = nv[level]
    return (1.0 - fx) * ((1.0 - fy) * maps[base] + fy * maps[base + 1]) + fx * (
        (1.0 - fy) * maps[base + n] + fy * maps[base + n + 1]
    )


@numba.njit(cache=True, inline="always")
def _phi(s, levels, first, last, maps, start, origin_u, origin_v, pixel, nu, nv, u, v) -> float:
    """The fluence filtered at σ ``s``, interpolated in σ between the two maps (of
    levels ``first`` … ``last`` − 1, σ increasing) that bracket it."""
    if s <= levels[first]:
        a, t = first, 0.0
    elif s >= levels[last - 1]:
        a, t = last - 1, 0.0
    else:
        a = first
        while levels[a + 1] < s:
            a += 1
        t = (s - levels[a]) / (levels[a + 1] - levels[a])
    phi = (1.0 - t) * _bilinear(maps, start, origin_u, origin_v, pixel, nu, nv, a, u, v)
    if t > 0.0:
        phi += t * _bilinear(maps, start, origin_u, origin_v, pixel, nu, nv, a + 1, u, v)
    return phi


@numba.njit(cache=True, parallel=True)
def gather_halo(
    e, voxels, model, average, sigma, levels, part_levels, maps, start, origin_u, origin_v,
    pixel, nu, nv, part_idd, part_cum, with_let, with_bio, out_dose, out_let, out_alpha,
    out_sqrt_beta,
):  # fmt: skip
    """Add the halo of energy ``e`` to every voxel: Σ_parts h_p · Φ_σp(u, v) / (mag_u
    mag_v) · ⟨T⟩ for the voxel-averaged depth tables T (IDD, LET×IDD, α×IDD, √β×IDD),
    each of the halo's Gaussians p with its share h_p = ⟨h_p·IDD⟩ / ⟨IDD⟩ over the voxel
    (``part_idd``, ``part_cum`` [part, energy, depth]: h_p·IDD and its cumulative, as
    the dose kernels average it) and Φ_σ the layer's fluence (particles/mm²) filtered
    by a Gaussian of the voxel's σ of that part (``sigma`` [part, voxel]), interpolated
    between the two maps whose σ bracket it: part p's maps are levels
    ``part_levels[p]`` … ``part_levels[p + 1]`` − 1 (σ increasing; none where the part
    reaches no voxel). One pass over the voxels for all the parts: they share the
    depth tables' means."""
    vox_index, vox_u, vox_v, mag_u, mag_v, _, vox_wepl, vox_tissue = voxels
    step, max_depth = model[0], model[1]
    idd = model[5]
    wepl_up, wepl_down, idd_cum, let_dose, let_cum = average[:5]
    alpha_dose, alpha_cum, beta_dose, beta_cum = average[5:9]
    n_parts = part_idd.shape[0]
    n_depth = idd.shape[1]
    for j in numba.prange(vox_u.size):  # a beam's voxels are distinct: no write conflict
        lo = (vox_wepl[j] - wepl_up[j]) / step[e]
        hi = (vox_wepl[j] + wepl_down[j]) / step[e]
        centre = min(max(vox_wepl[j], 0.0), max_depth[e] * (1.0 - 1e-9)) / step[e]
        idd_mean = -1.0
        g = 0.0
        for p in range(n_parts):
            s = sigma[p, j]
            first, last = part_levels[p], part_levels[p + 1]
            if s <= 0.0 or last <= first:
                continue
            phi = _phi(s, levels, first, last, maps, start, origin_u, origin_v, pixel, nu,
                       nv, vox_u[j], vox_v[j])  # fmt: skip
            if phi == 0.0:
                continue
            if idd_mean < 0.0:
                idd_mean = _mean(idd, idd_cum, e, lo, hi, centre, n_depth)
            if idd_mean <= 0.0:
                break
            halo_mean = _mean(part_idd[p], part_cum[p], e, lo, hi, centre, n_depth)
            h = min(max(halo_mean / idd_mean, 0.0), 1.0)
            g += h * phi / (mag_u[j] * mag_v[j])
        if g == 0.0:
            continue
        i = vox_index[j]
        out_dose[i] += g * idd_mean
        if with_let:
            out_let[i] += g * _mean(let_dose, let_cum, e, lo, hi, centre, n_depth)
        if with_bio:
            row = vox_tissue[j] * idd.shape[0] + e
            out_alpha[i] += g * _mean(alpha_dose, alpha_cum, row, lo, hi, centre, n_depth)
            out_sqrt_beta[i] += g * _mean(beta_dose, beta_cum, row, lo, hi, centre, n_depth)


@numba.njit(cache=True, inline="always")
def _integral(table, cum, row, t, n):
    t = min(max(t, 0.0), n - 1.0)
    k = min(int(t), n - 2)
    f = t - k
    a = table[row, k]
    return cum[row, k] + f * (a + 0.5 * f * (table[row, k + 1] - a))


@numba.njit(cache=True, inline="always")
def _mean(table, cum, row, lo, hi, centre, n) -> float:
    """Mean of ``table[row]`` over [lo, hi] bins (its value at ``centre`` for a span
    under 10⁻⁶ bin), as the dose kernels average it."""
    if hi - lo < 1e-6:
        return _at(table, row, centre)
    return (_integral(table, cum, row, hi, n) - _integral(table, cum, row, lo, n)) / (hi - lo)


@numba.njit(cache=True, parallel=True)
def filtered_maps(u, v, weights, origin_u, origin_v, pixel, nu, nv, start, taps, tap_start):
    """The maps of one layer, all levels at once (stacked flat as :func:`gather_halo`
    reads them, level ``l`` at ``start[l]``, [nu, nv] C order): the spots' fluence
    (``weights`` particles at ``u``, ``v``) splatted bilinearly on the level's lattice,
    correlated along each axis in turn (u then v) with the level's 1-D Gaussian
    ``taps[tap_start[l] : tap_start[l + 1]]`` (odd length, zero outside the map), per
    mm² (÷ pixel²). Levels run in parallel, each alone: the same numbers whatever the
    threads."""
    out = np.zeros(start[-1])
    for level in numba.prange(nu.size):
        n_u, n_v, px = nu[level], nv[level], pixel[level]
        fluence = np.zeros((n_u, n_v))
        for s in range(u.size):
            x = (u[s] - origin_u[level]) / px
            y = (v[s] - origin_v[level]) / px
            i, k = int(x), int(y)  # x, y > 0: the maps reach 5 σ beyond the spots
            fx, fy = x - i, y - k
            fluence[i, k] += weights[s] * (1.0 - fx) * (1.0 - fy)
            fluence[i, k + 1] += weights[s] * (1.0 - fx) * fy
            fluence[i + 1, k] += weights[s] * fx * (1.0 - fy)
            fluence[i + 1, k + 1] += weights[s] * fx * fy
        kernel = taps[tap_start[level] : tap_start[level + 1]]
        radius = (kernel.size - 1) // 2
        along_u = np.zeros((n_u, n_v))
        for i in range(n_u):
            for t in range(max(0, radius - i), min(kernel.size, n_u + radius - i)):
                c = kernel[t]
                row = i + t - radius
                for k in range(n_v):
                    along_u[i, k] += c * fluence[row, k]
        scale = 1.0 / (px * px)
        base = start[level]
        for i in range(n_u):
            for k in range(n_v):
                acc = 0.0
                for t in range(max(0, radius - k), min(kernel.size, n_v + radius - k)):
                    acc += kernel[t] * along_u[i, k + t - radius]
                out[base + i * n_v + k] = acc * scale
    return out
