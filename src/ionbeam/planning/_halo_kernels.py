"""Numba kernels of the halo by convolution (:mod:`.halo`): per-voxel halo widths of
one energy layer, the gather of the layer's Gaussian-filtered fluence maps (the
reference: :func:`halo_widths` then :func:`gather_halo`; by default :func:`gather_layers`,
σ computed where the maps are read), and the disc halo a matrix holds, from its entries'
halo shares (:func:`disc_sums`).

Inputs are the tuples of :mod:`._dose_kernels` (``voxels``, ``model``, ``average``);
the maps are stacked flat, level after level, with per-level origin, pixel size and
shape (each level has its own pixel size, a third of its σ).

Each public function runs a serial ``nogil`` kernel on a few threads
(:func:`~ionbeam.planning._strips.strips`; strip *k* of *n* computes its own voxels,
chunks, levels or rows, written at their own places), compiled as numba compiles a
``prange`` body (:func:`~ionbeam.planning._strips.strip_kernel`: numpy's error model,
no reference counting): numba's parallel compile took ~9 CPU s of a cold demo for these
kernels. The numbers are those of the ``prange`` kernels they replace, bit for bit, and
the same whatever the number of threads (``n_threads``; default numba's).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam.planning._strips import strip_kernel, strips

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = [
    "DISC_BLOCK",
    "GATHER_BLOCK",
    "SHARE_UNIT",
    "WIDTH_CHUNKS",
    "disc_sums",
    "filtered_maps",
    "gather_halo",
    "gather_layers",
    "halo_widths",
]


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


def _threads(n_threads: int | None, n_items: int) -> int:
    """The threads to run ``n_items`` items on: ``n_threads`` (default numba's), at most
    one per item, at least one."""
    n = numba.get_num_threads() if n_threads is None else int(n_threads)
    return max(1, min(n, n_items))


def halo_widths(e, voxels, model, average, mcs2_w, w0, dw, part_sigma2, lever2_w,
                n_threads=None):  # fmt: skip
    """Isocentre-plane σ (mm) of each of the halo's Gaussians (``part_sigma2`` [part,
    energy, depth]: their σ² in water) of energy ``e`` at every voxel, [part, voxel], 0
    where the voxel's WEPL span misses the energy's depth table, and each part's
    smallest and largest σ over the voxels it reaches, [part, 2] (0, 0: none). σ₂² =
    σ_air² + σ²_MCS + the Gaussian's excess over the primaries' MCS variance in water
    (as in the dose kernels), with σ²_MCS the layer's fluence-weighted mean along its
    rays (``mcs2_w`` at depths w₀ + k Δw) and the excess times the part's lever-arm
    factor there (``lever2_w`` [part, depth], :func:`.halo._lever_arm_factors`), divided by the
    magnification (geometric mean of the two axes). One pass over the voxels for all the
    parts: they share all but the excess. The voxels come in :data:`WIDTH_CHUNKS` fixed
    chunks, each with its own extremes."""
    n = voxels[5].size
    n_parts = part_sigma2.shape[0]
    out = np.zeros((n_parts, n))
    low = np.full((WIDTH_CHUNKS, n_parts), np.inf)
    high = np.zeros((WIDTH_CHUNKS, n_parts))
    args = (int(e), voxels, model, average, mcs2_w, float(w0), float(dw), part_sigma2, lever2_w)
    with strips(_threads(n_threads, WIDTH_CHUNKS)) as run:
        run(_widths_strip, *args, out, low, high)
    least, most = low.min(axis=0), high.max(axis=0)  # extremes: exact in any order
    ranges = np.zeros((n_parts, 2))
    reached = most > 0.0
    ranges[reached, 0] = least[reached]
    ranges[reached, 1] = most[reached]
    return out, ranges


@strip_kernel
def _widths_strip(
    strip, n_strips, e, voxels, model, average, mcs2_w, w0, dw, part_sigma2, lever2_w, out,
    low, high,
):  # fmt: skip
    """Chunks ``strip, strip + n_strips, …`` of :func:`halo_widths`' voxels: σ into
    ``out``, each chunk's extremes into its row of ``low`` and ``high``."""
    _, _, _, mag_u, mag_v, vox_w, vox_wepl, _ = voxels
    step, max_depth, air_a, air_b, air_c = model[:5]
    sigma_mcs2 = model[6]
    wepl_up, wepl_down = average[0], average[1]
    n = vox_w.size
    n_parts = part_sigma2.shape[0]
    per_chunk = (n + WIDTH_CHUNKS - 1) // WIDTH_CHUNKS
    for chunk in range(strip, WIDTH_CHUNKS, n_strips):
        for j in range(chunk * per_chunk, min(n, (chunk + 1) * per_chunk)):
            if vox_wepl[j] + wepl_down[j] < 0.0 or vox_wepl[j] - wepl_up[j] >= max_depth[e]:
                continue
            centre = min(max(vox_wepl[j], 0.0), max_depth[e] * (1.0 - 1e-9)) / step[e]
            w = vox_w[j]
            x = min(max((w - w0) / dw, 0.0), mcs2_w.size - 1.0)
            k = min(int(x), mcs2_w.size - 2)
            mcs2 = (1.0 - (x - k)) * mcs2_w[k] + (x - k) * mcs2_w[k + 1]
            primaries = _at(sigma_mcs2, e, centre)
            base = air_a[e] + w * (air_b[e] + w * air_c[e]) + mcs2
            mag = mag_u[j] * mag_v[j]
            for p in range(n_parts):
                lever2 = (1.0 - (x - k)) * lever2_w[p, k] + (x - k) * lever2_w[p, k + 1]
                excess = lever2 * max(_at(part_sigma2[p], e, centre) - primaries, 0.0)
                s = math.sqrt(max(base + excess, 1e-6) / mag)
                out[p, j] = s
                low[chunk, p] = min(low[chunk, p], s)
                high[chunk, p] = max(high[chunk, p], s)


@numba.njit(cache=True, inline="always")
def _bilinear_at(maps, start, nu, nv, level, x, y) -> float:
    """Bilinear interpolation of map ``level`` at pixel coordinates (x, y) (0 outside it)."""
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
def _bilinear(maps, start, origin_u, origin_v, pixel, nu, nv, level, u, v) -> float:
    """Bilinear interpolation of map ``level`` at (u, v) (0 outside it)."""
    x = (u - origin_u[level]) / pixel[level]
    y = (v - origin_v[level]) / pixel[level]
    return _bilinear_at(maps, start, nu, nv, level, x, y)


@numba.njit(cache=True, inline="always")
def _bracket(s, levels, first, last) -> tuple[int, float]:
    """The level a of ``first`` … ``last`` − 1 (σ increasing) at or below σ ``s`` and the
    fraction t of the way to level a + 1 (0 at or beyond either end)."""
    if s <= levels[first]:
        return first, 0.0
    if s >= levels[last - 1]:
        return last - 1, 0.0
    a = first
    while levels[a + 1] < s:
        a += 1
    return a, (s - levels[a]) / (levels[a + 1] - levels[a])


@numba.njit(cache=True, inline="always")
def _phi(s, levels, first, last, maps, start, origin_u, origin_v, pixel, nu, nv, u, v) -> float:
    """The fluence filtered at σ ``s``, interpolated in σ between the two maps (of
    levels ``first`` … ``last`` − 1, σ increasing) that bracket it."""
    a, t = _bracket(s, levels, first, last)
    phi = (1.0 - t) * _bilinear(maps, start, origin_u, origin_v, pixel, nu, nv, a, u, v)
    if t > 0.0:
        phi += t * _bilinear(maps, start, origin_u, origin_v, pixel, nu, nv, a + 1, u, v)
    return phi


def gather_halo(
    e, voxels, model, average, sigma, levels, part_levels, maps, start, origin_u, origin_v,
    pixel, nu, nv, part_idd, part_cum, with_let, with_bio, out_dose, out_let, out_alpha,
    out_sqrt_beta, n_threads=None,
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
    depth tables' means. Blocks of :data:`GATHER_BLOCK` voxels dealt to the threads
    (each voxel alone)."""
    n_blocks = (voxels[1].size + GATHER_BLOCK - 1) // GATHER_BLOCK
    with strips(_threads(n_threads, n_blocks)) as run:
        run(
            _gather_halo_strip, int(e), voxels, model, average, sigma, levels, part_levels,
            maps, start, origin_u, origin_v, pixel, nu, nv, part_idd, part_cum,
            bool(with_let), bool(with_bio), out_dose, out_let, out_alpha, out_sqrt_beta,
        )  # fmt: skip


@strip_kernel
def _gather_halo_strip(
    strip, n_strips, e, voxels, model, average, sigma, levels, part_levels, maps, start,
    origin_u, origin_v, pixel, nu, nv, part_idd, part_cum, with_let, with_bio, out_dose,
    out_let, out_alpha, out_sqrt_beta,
):  # fmt: skip
    """Blocks ``strip, strip + n_strips, …`` of :func:`gather_halo`'s voxels."""
    vox_index, vox_u, vox_v, mag_u, mag_v, _, vox_wepl, vox_tissue = voxels
    step, max_depth = model[0], model[1]
    idd = model[5]
    wepl_up, wepl_down, idd_cum, let_dose, let_cum = average[:5]
    alpha_dose, alpha_cum, beta_dose, beta_cum = average[5:9]
    n_parts = part_idd.shape[0]
    n_depth = idd.shape[1]
    n = vox_u.size
    for b in range(strip, (n + GATHER_BLOCK - 1) // GATHER_BLOCK, n_strips):
        for j in range(b * GATHER_BLOCK, min(n, (b + 1) * GATHER_BLOCK)):  # distinct voxels
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


def filtered_maps(u, v, weights, origin_u, origin_v, pixel, nu, nv, start, taps, tap_start,
                  n_threads=None):  # fmt: skip
    """The maps of one layer, all levels at once (stacked flat as :func:`gather_halo`
    reads them, level ``l`` at ``start[l]``, [nu, nv] C order): the spots' fluence
    (``weights`` particles at ``u``, ``v``) splatted bilinearly on the level's lattice,
    correlated along each axis in turn (u then v) with the level's 1-D Gaussian
    ``taps[tap_start[l] : tap_start[l + 1]]`` (odd length, zero outside the map), per
    mm² (÷ pixel²). The splats run level by level on the threads, then the filters row
    by row (a row of every level: each row of the u pass into the strip's own scratch
    row, then its v pass): each level's splat and each row alone, in a fixed order, so
    the same numbers whatever the threads."""
    out = np.zeros(start[-1])
    fluence = np.zeros(start[-1])
    with strips(_threads(n_threads, nu.size)) as run:
        run(_splat_strip, u, v, weights, origin_u, origin_v, pixel, nu, nv, start, fluence)
    row_level = np.repeat(np.arange(nu.size, dtype=np.int64), nu)
    row_start = np.concatenate([[0], np.cumsum(nu)]).astype(np.int64)
    n_threads = _threads(n_threads, row_level.size)
    scratch = np.zeros((n_threads, int(nv.max())))
    with strips(n_threads) as run:
        run(_filter_strip, fluence, pixel, nu, nv, start, taps, tap_start, row_level,
            row_start, scratch, out)  # fmt: skip
    return out


@strip_kernel
def _splat_strip(strip, n_strips, u, v, weights, origin_u, origin_v, pixel, nu, nv, start,
                 fluence):  # fmt: skip
    """Levels ``strip, strip + n_strips, …`` of :func:`filtered_maps`: the spots' fluence
    splatted bilinearly on each level's lattice (``fluence``, stacked flat as the maps)."""
    for level in range(strip, nu.size, n_strips):
        n_v, px = nv[level], pixel[level]
        base = start[level]
        for s in range(u.size):
            x = (u[s] - origin_u[level]) / px
            y = (v[s] - origin_v[level]) / px
            i, k = int(x), int(y)  # x, y > 0: the maps reach 5 σ beyond the spots
            fx, fy = x - i, y - k
            at = base + i * n_v + k
            fluence[at] += weights[s] * (1.0 - fx) * (1.0 - fy)
            fluence[at + 1] += weights[s] * (1.0 - fx) * fy
            fluence[at + n_v] += weights[s] * fx * (1.0 - fy)
            fluence[at + n_v + 1] += weights[s] * fx * fy


@strip_kernel
def _filter_strip(
    strip, n_strips, fluence, pixel, nu, nv, start, taps, tap_start, row_level, row_start,
    scratch, out,
):  # fmt: skip
    """Rows ``strip, strip + n_strips, …`` (of all levels, ``row_level``: each row's level,
    ``row_start``: each level's first row) of :func:`filtered_maps`: the u pass of the
    row into the strip's ``scratch`` row, then its v pass into ``out``."""
    along_u = scratch[strip]
    for r in range(strip, row_level.size, n_strips):
        level = row_level[r]
        i = r - row_start[level]
        n_u, n_v, px = nu[level], nv[level], pixel[level]
        t0, t1 = tap_start[level], tap_start[level + 1]
        size = t1 - t0
        radius = (size - 1) // 2
        base = start[level]
        for k in range(n_v):
            along_u[k] = 0.0
        for t in range(max(0, radius - i), min(size, n_u + radius - i)):
            c = taps[t0 + t]
            row = base + (i + t - radius) * n_v
            for k in range(n_v):
                along_u[k] += c * fluence[row + k]
        scale = 1.0 / (px * px)
        for k in range(n_v):
            acc = 0.0
            for t in range(max(0, radius - k), min(size, n_v + radius - k)):
                acc += taps[t0 + t] * along_u[k + t - radius]
            out[base + i * n_v + k] = acc * scale


#: The units of :func:`disc_sums`' shares: an entry's halo share is ``share / SHARE_UNIT``.
SHARE_UNIT = 65535.0


def disc_sums(
    indptr, indices, share, dose, let_dose, alpha_dose, sqrt_beta_dose, w, first, local,
    n_local, bounds, with_let, with_bio, n_threads=None,
):  # fmt: skip
    """The halo a dose-influence matrix holds in its columns' discs, for the columns
    ``first`` … ``first + w.size − 1`` with weights ``w``: Σ_s w_s (share/65535) M[:, s]
    for the dose and (``with_let``) LET×dose, (``with_bio``) α×dose and √β×dose (the
    matrices' float32 values, ``share`` uint16: each entry's halo share, written by
    ``fill_layers``), on the beam's voxels (``local``: a grid voxel's number among them).
    The columns come in chunks ``bounds[c]`` … ``bounds[c + 1]`` − 1 (numbered from
    ``first``), each summed apart in column order, the chunks then added in order: the
    same numbers whatever the number of threads. Returns four arrays of ``n_local``
    (zeros for a quantity not asked for)."""
    n_chunks = bounds.size - 1
    n_q = 4 if with_bio else 2
    n_local = int(n_local)
    partial = np.zeros((n_chunks, n_local, n_q))
    with strips(_threads(n_threads, n_chunks)) as run:
        run(_disc_chunk_strip, indptr, indices, share, dose, let_dose, alpha_dose,
            sqrt_beta_dose, w, int(first), local, bounds, bool(with_let), bool(with_bio),
            partial)  # fmt: skip
    total = np.zeros((4, n_local))
    n_blocks = (n_local + DISC_BLOCK - 1) // DISC_BLOCK
    with strips(_threads(n_threads, n_blocks)) as run:
        run(_disc_total_strip, partial, total)
    return total[0], total[1], total[2], total[3]


#: Voxels per block of :func:`disc_sums`' sum of the chunks.
DISC_BLOCK = 1 << 14


@strip_kernel
def _disc_chunk_strip(
    strip, n_strips, indptr, indices, share, dose, let_dose, alpha_dose, sqrt_beta_dose, w,
    first, local, bounds, with_let, with_bio, partial,
):  # fmt: skip
    """Chunks ``strip, strip + n_strips, …`` of :func:`disc_sums`' columns, each into its
    own ``partial[c]`` [voxel, quantity]."""
    scale = 1.0 / SHARE_UNIT
    for c in range(strip, bounds.size - 1, n_strips):
        out = partial[c]
        for s in range(bounds[c], bounds[c + 1]):
            ws = w[s]
            if ws == 0.0:
                continue
            column = first + s
            for p in range(indptr[column], indptr[column + 1]):
                x = ws * (share[p] * scale)
                i = local[indices[p]]
                out[i, 0] += x * dose[p]
                if with_let:
                    out[i, 1] += x * let_dose[p]
                if with_bio:
                    out[i, 2] += x * alpha_dose[p]
                    out[i, 3] += x * sqrt_beta_dose[p]


@strip_kernel
def _disc_total_strip(strip, n_strips, partial, total):
    """Blocks ``strip, strip + n_strips, …`` of :data:`DISC_BLOCK` voxels of
    :func:`disc_sums`: the chunks' partial sums added in chunk order."""
    n_chunks, n_local, n_q = partial.shape
    for b in range(strip, (n_local + DISC_BLOCK - 1) // DISC_BLOCK, n_strips):
        for i in range(b * DISC_BLOCK, min(n_local, (b + 1) * DISC_BLOCK)):
            for q in range(n_q):
                acc = 0.0
                for c in range(n_chunks):
                    acc += partial[c, i, q]
                total[q, i] = acc


#: Voxels per block of :func:`gather_layers`' parallel loop (each voxel is computed alone:
#: the blocks only deal the work out).
GATHER_BLOCK = 256


def gather_layers(
    layer_e, mcs2_w, lever2_w, w0, dw, part_sigma2, part_levels, boxes, voxels, model,
    average, levels, maps, start, origin_u, origin_v, per_mm, nu, nv, part_idd, part_cum,
    with_let, with_bio, out_dose, out_let, out_alpha, out_sqrt_beta, n_threads=None,
):  # fmt: skip
    """Add the halo of every energy layer of a beam to its voxels, voxel by voxel with all
    the layers in turn (each voxel's inputs read once, its sums written once): for layer
    l (energy ``layer_e[l]``), Σ_parts h_p · Φ_σp(u, v) / (mag_u mag_v) · ⟨T⟩ as
    :func:`gather_halo` adds it, with σ_p computed in place as :func:`halo_widths` does
    (``mcs2_w[l]``: the layer's fluence-weighted σ²_MCS at depths w₀ + k Δw, ``lever2_w[l, p]``
    part p's lever-arm factor there, :func:`.halo._lever_arm_factors`). Part p's
    maps of layer l are levels ``part_levels[l, p, 0]`` … ``part_levels[l, p, 1]`` − 1 (σ
    increasing, their ends bracketing every σ of the part in the layer; parts may share
    levels, as where one part's ladder begins another's; ``per_mm``: each
    level's pixels per mm); ``boxes[l]`` (u_min, u_max, v_min, v_max): where the
    layer's widest maps reach (no halo beyond). Each voxel alone: the same numbers
    whatever the threads (blocks of :data:`GATHER_BLOCK` voxels dealt to them)."""
    n_blocks = (voxels[1].size + GATHER_BLOCK - 1) // GATHER_BLOCK
    with strips(_threads(n_threads, n_blocks)) as run:
        run(
            _gather_layers_strip, layer_e, mcs2_w, lever2_w, float(w0), float(dw),
            part_sigma2, part_levels, boxes, voxels, model, average, levels, maps, start,
            origin_u, origin_v, per_mm, nu, nv, part_idd, part_cum, bool(with_let),
            bool(with_bio), out_dose, out_let, out_alpha, out_sqrt_beta,
        )  # fmt: skip


@strip_kernel
def _gather_layers_strip(
    strip, n_strips, layer_e, mcs2_w, lever2_w, w0, dw, part_sigma2, part_levels, boxes,
    voxels, model, average, levels, maps, start, origin_u, origin_v, per_mm, nu, nv,
    part_idd, part_cum, with_let, with_bio, out_dose, out_let, out_alpha, out_sqrt_beta,
):  # fmt: skip
    """Blocks ``strip, strip + n_strips, …`` of :func:`gather_layers`' voxels."""
    vox_index, vox_u, vox_v, mag_u, mag_v, vox_w, vox_wepl, vox_tissue = voxels
    step, max_depth, air_a, air_b, air_c = model[:5]
    idd, sigma_mcs2 = model[5], model[6]
    wepl_up, wepl_down, idd_cum, let_dose, let_cum = average[:5]
    alpha_dose, alpha_cum, beta_dose, beta_cum = average[5:9]
    n_parts = part_idd.shape[0]
    n_depth = idd.shape[1]
    n_layers = layer_e.size
    n = vox_u.size
    n_w = mcs2_w.shape[1]
    for b in range(strip, (n + GATHER_BLOCK - 1) // GATHER_BLOCK, n_strips):
        for j in range(b * GATHER_BLOCK, min(n, (b + 1) * GATHER_BLOCK)):
            u, v, wepl, w = vox_u[j], vox_v[j], vox_wepl[j], vox_w[j]
            mag = mag_u[j] * mag_v[j]
            x = min(max((w - w0) / dw, 0.0), n_w - 1.0)
            kw = min(int(x), n_w - 2)
            fw = x - kw
            dose_sum = 0.0
            let_sum = 0.0
            alpha_sum = 0.0
            beta_sum = 0.0
            for layer in range(n_layers):
                e = layer_e[layer]
                if wepl + wepl_down[j] < 0.0 or wepl - wepl_up[j] >= max_depth[e]:
                    continue
                if (u < boxes[layer, 0] or u > boxes[layer, 1] or v < boxes[layer, 2]
                        or v > boxes[layer, 3]):  # fmt: skip
                    continue
                centre = min(max(wepl, 0.0), max_depth[e] * (1.0 - 1e-9)) / step[e]
                k_c, f_c = _bin_of(centre, n_depth)  # the same bins for every depth table
                lo = (wepl - wepl_up[j]) / step[e]
                hi = (wepl + wepl_down[j]) / step[e]
                span = hi - lo
                k_lo, f_lo = _bin_of(lo, n_depth)
                k_hi, f_hi = _bin_of(hi, n_depth)
                mcs2 = (1.0 - fw) * mcs2_w[layer, kw] + fw * mcs2_w[layer, kw + 1]
                primaries = (1.0 - f_c) * sigma_mcs2[e, k_c] + f_c * sigma_mcs2[e, k_c + 1]
                base = air_a[e] + w * (air_b[e] + w * air_c[e]) + mcs2
                idd_mean = -1.0
                g = 0.0
                for p in range(n_parts):
                    first, last = part_levels[layer, p, 0], part_levels[layer, p, 1]
                    if last <= first:
                        continue
                    width2 = (1.0 - f_c) * part_sigma2[p, e, k_c] + f_c * part_sigma2[p, e, k_c + 1]
                    lever2 = (1.0 - fw) * lever2_w[layer, p, kw] + fw * lever2_w[layer, p, kw + 1]
                    excess = lever2 * max(width2 - primaries, 0.0)
                    s = math.sqrt(max(base + excess, 1e-6) / mag)
                    phi = _phi_scaled(s, levels, first, last, maps, start, origin_u, origin_v,
                                      per_mm, nu, nv, u, v)  # fmt: skip
                    if phi == 0.0:
                        continue
                    if idd_mean < 0.0:
                        idd_mean = _span_mean(idd, idd_cum, e, k_lo, f_lo, k_hi, f_hi, span,
                                              k_c, f_c)  # fmt: skip
                    if idd_mean <= 0.0:
                        break
                    halo_mean = _span_mean3(part_idd, part_cum, p, e, k_lo, f_lo, k_hi, f_hi,
                                            span, k_c, f_c)  # fmt: skip
                    h = min(max(halo_mean / idd_mean, 0.0), 1.0)
                    g += h * phi / mag
                if g == 0.0:
                    continue
                dose_sum += g * idd_mean
                if with_let:
                    let_sum += g * _span_mean(let_dose, let_cum, e, k_lo, f_lo, k_hi, f_hi, span,
                                              k_c, f_c)  # fmt: skip
                if with_bio:
                    row = vox_tissue[j] * idd.shape[0] + e
                    alpha_sum += g * _span_mean(alpha_dose, alpha_cum, row, k_lo, f_lo, k_hi,
                                                f_hi, span, k_c, f_c)  # fmt: skip
                    beta_sum += g * _span_mean(beta_dose, beta_cum, row, k_lo, f_lo, k_hi, f_hi,
                                               span, k_c, f_c)  # fmt: skip
            if dose_sum == 0.0 and let_sum == 0.0:
                continue
            i = vox_index[j]  # a beam's voxels are distinct: no write conflict
            out_dose[i] += dose_sum
            if with_let:
                out_let[i] += let_sum
            if with_bio:
                out_alpha[i] += alpha_sum
                out_sqrt_beta[i] += beta_sum


@numba.njit(cache=True, inline="always")
def _phi_scaled(s, levels, first, last, maps, start, origin_u, origin_v, per_mm, nu, nv, u, v):
    """:func:`_phi` with each level's pixels per mm (``per_mm`` = 1 / pixel) instead of its
    pixel: multiplications instead of divisions."""
    a, t = _bracket(s, levels, first, last)
    phi = (1.0 - t) * _bilinear_scaled(maps, start, origin_u, origin_v, per_mm, nu, nv, a, u, v)
    if t > 0.0:
        phi += t * _bilinear_scaled(maps, start, origin_u, origin_v, per_mm, nu, nv, a + 1, u, v)
    return phi


@numba.njit(cache=True, inline="always")
def _bilinear_scaled(maps, start, origin_u, origin_v, per_mm, nu, nv, level, u, v) -> float:
    """:func:`_bilinear` with the level's pixels per mm."""
    x = (u - origin_u[level]) * per_mm[level]
    y = (v - origin_v[level]) * per_mm[level]
    return _bilinear_at(maps, start, nu, nv, level, x, y)


@numba.njit(cache=True, inline="always")
def _bin_of(t: float, n: int) -> tuple[int, float]:
    """Bin k and fraction f of t (in bins) clamped to a table of n depths, as :func:`_at`
    and :func:`_integral` clamp it."""
    t = min(max(t, 0.0), n - 1.0)
    k = min(int(t), n - 2)
    return k, t - k


@numba.njit(cache=True, inline="always")
def _span_mean(table, cum, row, k_lo, f_lo, k_hi, f_hi, span, k_c, f_c) -> float:
    """:func:`_mean` of ``table[row]`` with the span's ends and centre already in bins
    (:func:`_bin_of`; ``span``: hi − lo unclamped, as :func:`_mean` divides by it)."""
    if span < 1e-6:
        return (1.0 - f_c) * table[row, k_c] + f_c * table[row, k_c + 1]
    a = table[row, k_hi]
    b = table[row, k_lo]
    upper = cum[row, k_hi] + f_hi * (a + 0.5 * f_hi * (table[row, k_hi + 1] - a))
    lower = cum[row, k_lo] + f_lo * (b + 0.5 * f_lo * (table[row, k_lo + 1] - b))
    return (upper - lower) / span


@numba.njit(cache=True, inline="always")
def _span_mean3(table, cum, p, row, k_lo, f_lo, k_hi, f_hi, span, k_c, f_c) -> float:
    """:func:`_span_mean` of ``table[p]`` and ``cum[p]`` without making the views."""
    if span < 1e-6:
        return (1.0 - f_c) * table[p, row, k_c] + f_c * table[p, row, k_c + 1]
    a = table[p, row, k_hi]
    b = table[p, row, k_lo]
    upper = cum[p, row, k_hi] + f_hi * (a + 0.5 * f_hi * (table[p, row, k_hi + 1] - a))
    lower = cum[p, row, k_lo] + f_lo * (b + 0.5 * f_lo * (table[p, row, k_lo + 1] - b))
    return (upper - lower) / span
