"""The matrix-free forward dose of plain pencil beams, on threads without numba's
parallel compile.

:func:`forward_dose` sums w_s × the matrix column :func:`._dose_kernels.fill_entries`
would write for each spot (the physics described in that module, with its helpers),
without storing the matrix: the spots are split into ``n_chunks`` interleaved chunks,
each accumulating into its own arrays in spot order, and the chunks are summed at the
end, in order. The chunks are dealt to threads in strips
(:func:`ionbeam.planning._strips.strips`) by a plain ``nogil`` kernel, which compiles
in about a third of the time of a ``prange`` kernel on a cold start
(``bench/numba_compile.py``); the result depends on ``n_chunks``, never on the threads.
"""

from __future__ import annotations

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam.planning._dose_kernels import (
    _along_ray,
    _average,
    _beyond,
    _bin,
    _cell_range,
    _geometry,
    _halo_share,
    _lateral,
    _reach2,
    _span,
)
from ionbeam.planning._range_mixing_kernels import CROSS_COLUMNS, cross_means, mixed
from ionbeam.planning._strips import strip_kernel, strips

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = ["forward_dose"]


@strip_kernel
def _chunks_strip(
    strip, n_strips, weights, spots, voxels, cells, rays, model, average, options, sums, cross,
    memo,
):  # fmt: skip
    """Chunks ``strip, strip + n_strips, …`` of :func:`forward_dose` into their rows of
    ``sums`` (dose, LET×dose, α×dose, √β×dose [chunk, voxel]; ``options``: n_sigma,
    n_chunks, core, halo, with_bio; ``cross``: the range mixing's cross table; ``memo``:
    :func:`_cross_memo`'s, each strip's last depth part of each mixed voxel)."""
    spot_u, spot_v, spot_e, spot_radius = spots
    vox_index, vox_u, vox_v, mag_u, mag_v, vox_w, vox_wepl, vox_tissue = voxels
    cell_start, cell_origin, cell_mm, n_cells = cells
    ray_sigma2, _, w0, dw, _ = rays
    step, max_depth, air_a, air_b, air_c = model[:5]
    idd, sigma_mcs2, _, halo_sigma2 = model[5:9]
    wepl_up, wepl_down, idd_cum, let_table, let_cum = average[:5]
    alpha_table, alpha_cum, beta_table, beta_cum, halo_idd, halo_cum = average[5:]
    n_sigma, n_chunks, core, halo, with_bio = options
    dose, let_dose, alpha_dose, beta_dose = sums
    nsig2 = n_sigma * n_sigma
    n_depth = idd.shape[1]
    runs = memo[3]
    for run in range(runs.size - 1):  # runs of spots of one energy, chunk by chunk
        first, end = runs[run], runs[run + 1]
        for chunk in range(strip, n_chunks, n_strips):
            for s in range(first + (chunk - first % n_chunks + n_chunks) % n_chunks, end,
                           n_chunks):  # fmt: skip
                if weights[s] == 0.0:
                    continue
                e, su, sv = spot_e[s], spot_u[s], spot_v[s]
                iu0, iu1 = _cell_range(su, spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
                iv0, iv1 = _cell_range(sv, spot_radius[s], cell_origin[1], cell_mm, n_cells[1])
                reach2 = _reach2(spot_radius[s])
                for iu in range(iu0, iu1 + 1):
                    for iv in range(iv0, iv1 + 1):
                        c = iu * n_cells[1] + iv
                        for j in range(cell_start[c], cell_start[c + 1]):
                            if _beyond(vox_u[j] - su, vox_v[j] - sv, reach2):
                                continue
                            reached, centre, lo, hi = _span(
                                vox_wepl[j], wepl_up[j], wepl_down[j], step[e], max_depth[e]
                            )
                            if not reached:
                                continue
                            mcs2 = _along_ray(ray_sigma2, s, vox_w[j], w0, dw)
                            inside, r2, _, s1, k, f = _geometry(
                                j, e, su, sv, centre, mcs2, 0.0, vox_u, vox_v, mag_u, mag_v,
                                vox_w, step, max_depth, air_a, air_b, air_c, n_depth, nsig2,
                            )  # fmt: skip
                            if not inside:
                                continue
                            i = vox_index[j]
                            if mixed(cross, j):
                                _mixed_deposit(
                                    weights[s], chunk, i, j, e, r2, s1, k, f, cross, memo, strip,
                                    step,
                                    max_depth, vox_tissue, idd, sigma_mcs2, halo_sigma2, idd_cum,
                                    let_table, let_cum, alpha_table, alpha_cum, beta_table,
                                    beta_cum, halo_idd, halo_cum, nsig2, core, halo, with_bio,
                                    dose, let_dose, alpha_dose, beta_dose,
                                )  # fmt: skip
                                continue
                            k_lo, f_lo = _bin(lo, n_depth)
                            k_hi, f_hi = _bin(hi, n_depth)
                            span = hi - lo
                            idd_mean = _average(idd, idd_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f)
                            h = _halo_share(
                                idd_mean, halo_idd, halo_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f
                            )
                            g = weights[s] * _lateral(
                                r2, s1, h, e, k, f, halo_sigma2, sigma_mcs2, nsig2, core, halo
                            )
                            dose[chunk, i] += g * idd_mean
                            let_dose[chunk, i] += g * _average(
                                let_table, let_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f
                            )
                            if with_bio:
                                row = vox_tissue[j] * idd.shape[0] + e
                                alpha_dose[chunk, i] += g * _average(
                                    alpha_table, alpha_cum, row, span, k_lo, f_lo, k_hi, f_hi, k, f
                                )
                                beta_dose[chunk, i] += g * _average(
                                    beta_table, beta_cum, row, span, k_lo, f_lo, k_hi, f_hi, k, f
                                )


@numba.njit(cache=True, nogil=True)
def _mixed_deposit(
    weight, chunk, i, j, e, r2, s1, k, f, cross, memo, strip, step, max_depth, vox_tissue,
    idd, sigma_mcs2, halo_sigma2, idd_cum, let_table, let_cum, alpha_table, alpha_cum,
    beta_table, beta_cum, halo_idd, halo_cum, nsig2, core, halo, with_bio, dose, let_dose,
    alpha_dose, beta_dose,
):  # fmt: skip
    """Add a spot's dose (and LET×dose, α×dose, √β×dose) at voxel j (output index i)
    with the depth part read over the voxel's cross (:func:`cross_means`), kept in
    ``memo`` for the strip's next spot of the same energy (a spot's neighbours in its
    layer read the same five depth–doses: the same numbers, read once)."""
    slot, memo_e, parts, _ = memo
    m = slot[j]
    if memo_e[strip, m] != e:
        idd_mean, h, let_mean, alpha_mean, beta_mean = cross_means(
            cross, j, e, step, max_depth, vox_tissue[j], idd, halo_idd, halo_cum, idd_cum,
            let_table, let_cum, alpha_table, alpha_cum, beta_table, beta_cum, True, with_bio,
        )  # fmt: skip
        memo_e[strip, m] = e
        parts[strip, m, 0], parts[strip, m, 1], parts[strip, m, 2] = idd_mean, h, let_mean
        parts[strip, m, 3], parts[strip, m, 4] = alpha_mean, beta_mean
    else:
        idd_mean, h, let_mean = parts[strip, m, 0], parts[strip, m, 1], parts[strip, m, 2]
        alpha_mean, beta_mean = parts[strip, m, 3], parts[strip, m, 4]
    g = weight * _lateral(r2, s1, h, e, k, f, halo_sigma2, sigma_mcs2, nsig2, core, halo)
    dose[chunk, i] += g * idd_mean
    let_dose[chunk, i] += g * let_mean
    if with_bio:
        alpha_dose[chunk, i] += g * alpha_mean
        beta_dose[chunk, i] += g * beta_mean


def _cross_memo(
    cross: np.ndarray, n_strips: int, spot_e: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per strip, room for the last depth part of each voxel that ``cross`` mixes: each
    voxel's slot (-1: not mixed), the energy read into it (-1: none yet) and its five
    means (:func:`cross_means`); and the first spot of each run of spots of one energy
    (then the number of spots), which the strips visit run by run (each chunk's spots
    still in their order: the same sums)."""
    is_mixed = ~np.isnan(cross[:, 0]) if cross.shape[0] else np.zeros(0, dtype=bool)
    slot = np.where(is_mixed, np.cumsum(is_mixed) - 1, -1).astype(np.int64)
    n_mixed = int(is_mixed.sum())
    changes = np.flatnonzero(np.diff(spot_e)) + 1
    runs = np.concatenate([[0], changes, [spot_e.size]]).astype(np.int64)
    memo = (np.full((n_strips, n_mixed), -1, np.int64), np.zeros((n_strips, n_mixed, 5)))
    return slot, *memo, runs


def forward_dose(
    weights: np.ndarray, n_out: int, spots: tuple, voxels: tuple, cells: tuple, rays: tuple,
    model: tuple, average: tuple, n_sigma: float, n_chunks: int, core: float, halo: float,
    with_bio: bool, cross: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Voxel-averaged dose (Gy), LET×dose, α×dose and √β×dose (the last two zero unless
    ``with_bio``) of weighted spots on ``n_out`` voxels, without a matrix (plain pencil
    beams: one sub-beam per spot); ``core`` and ``halo`` scale the two parts of the
    lateral profile (1, 1: the whole dose the matrix would hold). The result depends on
    ``n_chunks`` (the grouping of the sums), never on the number of threads. ``cross``:
    the range mixing's cross table (:class:`._beam_setup.BeamSetup`; None: no mixing)."""
    n_chunks = int(n_chunks)
    n_bio = n_chunks if with_bio else 1
    sums = (
        np.zeros((n_chunks, n_out)),
        np.zeros((n_chunks, n_out)),
        np.zeros((n_bio, n_out if with_bio else 1)),
        np.zeros((n_bio, n_out if with_bio else 1)),
    )
    options = (float(n_sigma), n_chunks, float(core), float(halo), bool(with_bio))
    n_strips = min(numba.get_num_threads(), n_chunks)
    cross = np.empty((0, CROSS_COLUMNS)) if cross is None else cross
    with strips(n_strips) as run:
        run(_chunks_strip, weights, spots, voxels, cells, rays, model, average, options, sums,
            cross, _cross_memo(cross, max(n_strips, 1), np.asarray(spots[2])))  # fmt: skip
    totals = [np.zeros(n_out) for _ in range(4)]
    for chunk in range(n_chunks):  # in chunk order, as the reference
        totals[0] += sums[0][chunk]
        totals[1] += sums[1][chunk]
        if with_bio:
            totals[2] += sums[2][chunk]
            totals[3] += sums[3][chunk]
    return totals[0], totals[1], totals[2], totals[3]
