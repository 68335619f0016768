"""Numba kernels of the plain pencil-beam dose-influence matrix, one energy layer at a time.

A plain pencil beam's dose at a voxel (:mod:`._dose_kernels`) is a *depth part* that
depends only on the voxel and the spot's energy — whether the voxel's WEPL span meets
the depth table, σ_air² at the voxel's depth, the means of IDD, IDD × halo weight,
IDD × LET_d, IDD × α and IDD × √β over the span, the halo's excess variance — times a
*lateral part* that depends on the spot (its distance to the voxel, σ²_MCS along its
own ray). Each voxel lies within the cut-off disc of some thirty spots of a layer, so
:func:`count_layers` and :func:`fill_layers` compute the depth part once per (layer,
voxel), into one row of :data:`ROW` float64 (one cache line) for the voxels of the
cells the layer's spots visit, and the layer's spots then read that row instead of
some thirty depth-table values spread over ten tables.

The expressions and their order of evaluation are those of
:func:`._dose_kernels.count_entries` and :func:`._dose_kernels.fill_entries` (kept as
the spot-by-spot reference), so the matrices are the same bit for bit, whatever the
thread count (each entry is computed on its own and written at its spot's offset).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam.planning._dose_kernels import (
    _TWO_PI,
    _average,
    _beyond,
    _bin,
    _cell_range,
    _cut_gaussian,
    _halo_share,
    _lookup,
    _reach2,
    _span,
)
from ionbeam.planning._halo_kernels import SHARE_UNIT
from ionbeam.planning._range_mixing_kernels import CROSS_COLUMNS, cross_means, mixed
from ionbeam.planning._strips import strip_kernel, strips

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = ["ROW", "count_layers", "fill_layers"]

#: Depth part of one (layer, voxel): reached (1/0), σ_air², ⟨IDD⟩, halo share h, halo
#: excess variance, ⟨IDD × LET_d⟩, ⟨IDD × α⟩, ⟨IDD × √β⟩.
ROW = 8


@numba.njit(cache=True)
def _layer_order(spot_e: np.ndarray, n_energy: int) -> tuple[np.ndarray, np.ndarray]:
    """Spots grouped by energy (counting sort, stable): (order, start of each energy)."""
    start = np.zeros(n_energy + 1, dtype=np.int64)
    for s in range(spot_e.size):
        start[spot_e[s] + 1] += 1
    for e in range(n_energy):
        start[e + 1] += start[e]
    cursor = start[:-1].copy()
    order = np.empty(spot_e.size, dtype=np.int64)
    for s in range(spot_e.size):
        order[cursor[spot_e[s]]] = s
        cursor[spot_e[s]] += 1
    return order, start


@numba.njit(cache=True)
def _cell_bounds(vox_u: np.ndarray, vox_v: np.ndarray, cell_start: np.ndarray) -> np.ndarray:
    """Smallest and largest u and v of the voxels of each cell [n_cells, 4]."""
    n = cell_start.size - 1
    bounds = np.empty((n, 4))
    for c in range(n):
        bounds[c, 0] = bounds[c, 2] = np.inf
        bounds[c, 1] = bounds[c, 3] = -np.inf
        for j in range(cell_start[c], cell_start[c + 1]):
            bounds[c, 0] = min(bounds[c, 0], vox_u[j])
            bounds[c, 1] = max(bounds[c, 1], vox_u[j])
            bounds[c, 2] = min(bounds[c, 2], vox_v[j])
            bounds[c, 3] = max(bounds[c, 3], vox_v[j])
    return bounds


@numba.njit(cache=True, inline="always")
def _cell_beyond(bounds: np.ndarray, c: int, u: float, v: float, reach2: float) -> bool:
    """Whether every voxel of cell c lies beyond a spot's largest cut-off radius (``_beyond``
    for each of them): the distance to the cell's bounding box exceeds it. Exact: rounding
    is monotonic, so no voxel's computed distance is below the box's."""
    du = max(bounds[c, 0] - u, 0.0, u - bounds[c, 1])
    dv = max(bounds[c, 2] - v, 0.0, v - bounds[c, 3])
    return du * du + dv * dv > reach2


@numba.njit(cache=True)
def _layer_cells(
    spots: np.ndarray,
    spot_u: np.ndarray,
    spot_v: np.ndarray,
    spot_radius: np.ndarray,
    cell_origin: np.ndarray,
    cell_mm: float,
    n_cells: np.ndarray,
    bounds: np.ndarray,
    stamp: np.ndarray,
    layer: int,
) -> np.ndarray:
    """The cells whose voxels any of ``spots`` may reach (``stamp``: scratch per cell, the
    last layer that marked it)."""
    marked = np.empty(stamp.size, dtype=np.int64)
    n = 0
    for s in spots:
        iu0, iu1 = _cell_range(spot_u[s], spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(spot_v[s], spot_radius[s], cell_origin[1], cell_mm, n_cells[1])
        reach2 = _reach2(spot_radius[s])
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * n_cells[1] + iv
                if stamp[c] != layer and not _cell_beyond(bounds, c, spot_u[s], spot_v[s], reach2):
                    stamp[c] = layer
                    marked[n] = c
                    n += 1
    return marked[:n]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _ray_bins(vox_w: np.ndarray, w0: float, dw: float, nw: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin and fraction of each voxel's depth in the ray tables (as ``_along_ray``)."""
    k = np.empty(vox_w.size, dtype=np.int64)
    f = np.empty(vox_w.size)
    for j in range(vox_w.size):
        x = min(max((vox_w[j] - w0) / dw, 0.0), nw - 1.0)
        k[j] = min(int(x), nw - 2)
        f[j] = x - k[j]
    return k, f


@numba.njit(cache=True, inline="always")
def _air(e: int, w: float, air_a: np.ndarray, air_b: np.ndarray, air_c: np.ndarray) -> float:
    return air_a[e] + w * (air_b[e] + w * air_c[e])


@numba.njit(cache=True, inline="always")
def _reaches(
    j: int,
    e: int,
    vox_wepl: np.ndarray,
    wepl_up: np.ndarray,
    wepl_down: np.ndarray,
    step: np.ndarray,
    max_depth: np.ndarray,
) -> tuple[bool, float, float, float]:
    """``_span`` of voxel j for energy e, and the depth check of ``_geometry`` on its
    centre: (reached, centre WEPL, span ends in bins)."""
    reached, centre, lo, hi = _span(vox_wepl[j], wepl_up[j], wepl_down[j], step[e], max_depth[e])
    if centre < 0.0 or centre >= max_depth[e]:
        reached = False
    return reached, centre, lo, hi


@numba.njit(cache=True, inline="always")
def _depth_row(
    rows: np.ndarray,
    j: int,
    e: int,
    vox_w: np.ndarray,
    vox_wepl: np.ndarray,
    vox_tissue: np.ndarray,
    step: np.ndarray,
    max_depth: np.ndarray,
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    idd: np.ndarray,
    sigma_mcs2: np.ndarray,
    halo_sigma2: np.ndarray,
    wepl_up: np.ndarray,
    wepl_down: np.ndarray,
    idd_cum: np.ndarray,
    let_dose: np.ndarray,
    let_cum: np.ndarray,
    alpha_dose: np.ndarray,
    alpha_cum: np.ndarray,
    beta_dose: np.ndarray,
    beta_cum: np.ndarray,
    halo_idd: np.ndarray,
    halo_cum: np.ndarray,
    with_let: bool,
    with_bio: bool,
    cross: np.ndarray,
) -> None:
    """Write voxel j's depth part for energy e into ``rows[j]`` (see :data:`ROW`); over
    its cross where ``cross`` mixes it (:func:`._range_mixing_kernels.cross_means`: then
    its span is the cross's envelope, which decides whether it is reached)."""
    reached, centre, lo, hi = _reaches(j, e, vox_wepl, wepl_up, wepl_down, step, max_depth)
    if not reached:
        rows[j, 0] = 0.0
        return
    n_depth = idd.shape[1]
    depth = centre / step[e]
    k = min(int(depth), n_depth - 2)
    f = depth - k
    if mixed(cross, j):
        idd_mean, h, let_mean, alpha_mean, beta_mean = cross_means(
            cross, j, e, step, max_depth, vox_tissue[j], idd, halo_idd, halo_cum, idd_cum,
            let_dose, let_cum, alpha_dose, alpha_cum, beta_dose, beta_cum, with_let, with_bio,
        )  # fmt: skip
        rows[j, 0] = 1.0
        rows[j, 1] = _air(e, vox_w[j], air_a, air_b, air_c)
        rows[j, 2] = idd_mean
        rows[j, 3] = h
        rows[j, 4] = max(_lookup(halo_sigma2, e, k, f) - _lookup(sigma_mcs2, e, k, f), 0.0)
        rows[j, 5] = let_mean
        rows[j, 6] = alpha_mean
        rows[j, 7] = beta_mean
        return
    k_lo, f_lo = _bin(lo, n_depth)
    k_hi, f_hi = _bin(hi, n_depth)
    span = hi - lo
    idd_mean = _average(idd, idd_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f)
    h = _halo_share(idd_mean, halo_idd, halo_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f)
    rows[j, 0] = 1.0
    rows[j, 1] = _air(e, vox_w[j], air_a, air_b, air_c)
    rows[j, 2] = idd_mean
    rows[j, 3] = h
    rows[j, 4] = max(_lookup(halo_sigma2, e, k, f) - _lookup(sigma_mcs2, e, k, f), 0.0)
    if with_let:
        rows[j, 5] = _average(let_dose, let_cum, e, span, k_lo, f_lo, k_hi, f_hi, k, f)
    if with_bio:
        t = vox_tissue[j] * idd.shape[0] + e
        rows[j, 6] = _average(alpha_dose, alpha_cum, t, span, k_lo, f_lo, k_hi, f_hi, k, f)
        rows[j, 7] = _average(beta_dose, beta_cum, t, span, k_lo, f_lo, k_hi, f_hi, k, f)


@numba.njit(cache=True, inline="always")
def _offset(j, s, u, v, ray_k, ray_f, ray_sigma2, voxels) -> tuple[float, float]:
    """Squared distance (mm², at the isocentre plane scaled to the voxel's depth) of voxel
    ``j`` from spot ``s`` at (u, v), and the spot's σ²_MCS there (its ray's table at the
    voxel's depth bin)."""
    vox_u, vox_v, mag_u, mag_v = voxels[1], voxels[2], voxels[3], voxels[4]
    k, f = ray_k[j], ray_f[j]
    mcs2 = (1.0 - f) * ray_sigma2[s, k] + f * ray_sigma2[s, k + 1]
    x = (vox_u[j] - u) * mag_u[j]
    y = (vox_v[j] - v) * mag_v[j]
    return x * x + y * y, mcs2


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _prepare(spot_e, vox_u, vox_v, vox_w, cell_start, rays, n_energy, n_cells):
    """What every layer reads: spots by energy (order, start), each voxel's bin and
    fraction in the ray tables, each cell's bounds, and a stamp per cell (-1)."""
    order, start = _layer_order(spot_e, n_energy)
    ray_k, ray_f = _ray_bins(vox_w, rays[2], rays[3], rays[0].shape[1])
    bounds = _cell_bounds(vox_u, vox_v, cell_start)
    stamp = np.full(n_cells[0] * n_cells[1], -1, dtype=np.int64)
    return order, start, ray_k, ray_f, bounds, stamp


@strip_kernel
def _air_strip(strip, n_strips, marked, e, air, cell_start, voxels, model, average):
    """σ_air² of layer e at the voxels of cells ``marked[strip::n_strips]``, NaN where the
    voxel's span misses the depth table."""
    vox_w, vox_wepl = voxels[5], voxels[6]
    step, max_depth, air_a, air_b, air_c = model[:5]
    wepl_up, wepl_down = average[0], average[1]
    for m in range(strip, marked.size, n_strips):
        c = marked[m]
        for j in range(cell_start[c], cell_start[c + 1]):
            reached = _reaches(j, e, vox_wepl, wepl_up, wepl_down, step, max_depth)[0]
            air[j] = _air(e, vox_w[j], air_a, air_b, air_c) if reached else np.nan


@strip_kernel
def _count_strip(strip, n_strips, layer, counts, spots, voxels, cells, rays, layer_data, nsig2):
    """Number of stored voxels of the spots ``layer[strip::n_strips]``, into ``counts``
    (``layer_data``: the cells' bounds, the layer's σ_air², the voxels' ray bins)."""
    spot_u, spot_v, _, spot_radius = spots
    vox_u, vox_v = voxels[1], voxels[2]
    cell_start, cell_origin, cell_mm, n_cells = cells
    ray_sigma2 = rays[0]
    bounds, air, ray_k, ray_f = layer_data
    for m in range(strip, layer.size, n_strips):
        s = layer[m]
        u, v = spot_u[s], spot_v[s]
        iu0, iu1 = _cell_range(u, spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(v, spot_radius[s], cell_origin[1], cell_mm, n_cells[1])
        reach2 = _reach2(spot_radius[s])
        count = 0
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * n_cells[1] + iv
                if _cell_beyond(bounds, c, u, v, reach2):
                    continue
                for j in range(cell_start[c], cell_start[c + 1]):
                    if _beyond(vox_u[j] - u, vox_v[j] - v, reach2) or math.isnan(air[j]):
                        continue
                    r2, mcs2 = _offset(j, s, u, v, ray_k, ray_f, ray_sigma2, voxels)
                    if r2 <= nsig2 * (air[j] + mcs2):
                        count += 1
        counts[s] = count


@strip_kernel
def _rows_strip(strip, n_strips, marked, e, rows, cell_start, voxels, model, average, flags, cross):
    """The depth parts of layer e at the voxels of cells ``marked[strip::n_strips]``, into
    ``rows`` (``flags``: with_let, with_bio; ``cross``: the range mixing's cross table,
    :data:`._range_mixing_kernels.CROSS_COLUMNS` columns, no rows without it)."""
    _, _, _, _, _, vox_w, vox_wepl, vox_tissue = voxels
    step, max_depth, air_a, air_b, air_c = model[:5]
    idd, sigma_mcs2, _, halo_sigma2 = model[5:9]
    wepl_up, wepl_down, idd_cum, let_dose, let_cum = average[:5]
    alpha_dose, alpha_cum, beta_dose, beta_cum, halo_idd, halo_cum = average[5:]
    with_let, with_bio = flags
    for m in range(strip, marked.size, n_strips):
        c = marked[m]
        for j in range(cell_start[c], cell_start[c + 1]):
            _depth_row(
                rows, j, e, vox_w, vox_wepl, vox_tissue, step, max_depth, air_a, air_b,
                air_c, idd, sigma_mcs2, halo_sigma2, wepl_up, wepl_down, idd_cum, let_dose,
                let_cum, alpha_dose, alpha_cum, beta_dose, beta_cum, halo_idd, halo_cum,
                with_let, with_bio, cross,
            )  # fmt: skip


@strip_kernel
def _fill_strip(
    strip, n_strips, layer, indptr, spots, voxels, cells, rays, layer_data, flags, outs
):
    """The columns of the spots ``layer[strip::n_strips]`` from ``indptr[s]`` on, from the
    layer's depth parts (``layer_data``: the cells' bounds, the depth parts, the voxels'
    ray bins; ``flags``: n_sigma, with_let, with_bio, with_share)."""
    spot_u, spot_v, _, spot_radius = spots
    vox_index, vox_u, vox_v = voxels[:3]
    cell_start, cell_origin, cell_mm, n_cells = cells
    ray_sigma2 = rays[0]
    bounds, rows, ray_k, ray_f = layer_data
    out_index, out_dose, out_let, out_alpha, out_sqrt_beta, out_halo = outs
    n_sigma, with_let, with_bio, with_share = flags
    nsig2 = n_sigma * n_sigma
    q = 0.5 * nsig2
    core_norm = -math.expm1(-q)  # the truncated core's normalisation (``_truncated_gaussian``)
    for m in range(strip, layer.size, n_strips):
        s = layer[m]
        u, v = spot_u[s], spot_v[s]
        iu0, iu1 = _cell_range(u, spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(v, spot_radius[s], cell_origin[1], cell_mm, n_cells[1])
        reach2 = _reach2(spot_radius[s])
        p = indptr[s]
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * n_cells[1] + iv
                if _cell_beyond(bounds, c, u, v, reach2):
                    continue
                for j in range(cell_start[c], cell_start[c + 1]):
                    if _beyond(vox_u[j] - u, vox_v[j] - v, reach2):
                        continue
                    if rows[j, 0] == 0.0:  # indexed, not sliced: a view costs a refcount
                        continue
                    r2, mcs2 = _offset(j, s, u, v, ray_k, ray_f, ray_sigma2, voxels)
                    s1 = rows[j, 1] + mcs2
                    if not r2 <= nsig2 * s1:
                        continue
                    h = rows[j, 3]
                    g = (1.0 - h) * (math.exp(-0.5 * r2 / s1) / (_TWO_PI * s1 * core_norm))
                    halo = 0.0
                    if h > 0.0:
                        s2 = s1 + rows[j, 4]
                        halo = h * _cut_gaussian(r2, s2, q * s1 / s2)
                        g += halo
                    if with_share:
                        out_halo[p] = int(SHARE_UNIT * halo / g + 0.5) if g > 0.0 else 0
                    out_index[p] = vox_index[j]
                    out_dose[p] = g * rows[j, 2]
                    if with_let:
                        out_let[p] = g * rows[j, 5]
                    if with_bio:
                        out_alpha[p] = g * rows[j, 6]
                        out_sqrt_beta[p] = g * rows[j, 7]
                    p += 1


def count_layers(
    spots: tuple, voxels: tuple, cells: tuple, rays: tuple, model: tuple, average: tuple,
    n_sigma: float, n_threads: int,
) -> np.ndarray:  # fmt: skip
    """Number of stored voxels of each spot (the criteria of ``count_entries``), layer by
    layer on ``n_threads`` threads (each strip of cells or spots computed alone: the result
    does not depend on the threads)."""
    cell_start, cell_origin, cell_mm, n_cells = cells
    order, start, ray_k, ray_f, bounds, stamp = _prepare(
        spots[2], voxels[1], voxels[2], voxels[5], cell_start, rays, model[0].size, n_cells
    )
    air = np.empty(voxels[1].size)  # σ_air² of the layer; NaN: the voxel's span misses the table
    counts = np.zeros(spots[0].size, dtype=np.int64)
    layer_data = (bounds, air, ray_k, ray_f)
    nsig2 = float(n_sigma) ** 2
    with strips(n_threads) as run:
        for e in range(model[0].size):
            layer = order[start[e] : start[e + 1]]
            if layer.size == 0:
                continue
            marked = _layer_cells(
                layer, spots[0], spots[1], spots[3], cell_origin, cell_mm, n_cells, bounds, stamp, e
            )
            run(_air_strip, marked, e, air, cell_start, voxels, model, average)
            run(_count_strip, layer, counts, spots, voxels, cells, rays, layer_data, nsig2)
    return counts


def fill_layers(
    indptr: np.ndarray, spots: tuple, voxels: tuple, cells: tuple, rays: tuple, model: tuple,
    average: tuple, n_sigma: float, with_let: bool, with_bio: bool, out_index: np.ndarray,
    out_dose: np.ndarray, out_let: np.ndarray | None, out_alpha: np.ndarray | None,
    out_sqrt_beta: np.ndarray | None, out_halo: np.ndarray | None, n_threads: int,
    cross: np.ndarray | None = None,
) -> None:  # fmt: skip
    """Row indices and values of every spot's column from ``indptr[s]`` on: the entries
    of ``fill_entries``, bit for bit, with the depth part computed once per layer, on
    ``n_threads`` threads as :func:`count_layers`. ``out_halo`` (uint16, or None or empty
    for none): each entry's halo share, the halo's part of its lateral profile in units
    of 1/``SHARE_UNIT`` (:class:`ionbeam.planning.halo.DiscShares`). ``cross``: the range
    mixing's cross table (:class:`._beam_setup.BeamSetup`; None: no mixing)."""
    cell_start, cell_origin, cell_mm, n_cells = cells
    order, start, ray_k, ray_f, bounds, stamp = _prepare(
        spots[2], voxels[1], voxels[2], voxels[5], cell_start, rays, model[0].size, n_cells
    )
    rows = np.zeros((voxels[1].size, ROW))
    if cross is None:
        cross = np.empty((0, CROSS_COLUMNS))
    layer_data = (bounds, rows, ray_k, ray_f)
    empty = np.empty(0, dtype=out_dose.dtype)  # an output not asked for (None) is not written
    outs = (
        out_index,
        out_dose,
        empty if out_let is None else out_let,
        empty if out_alpha is None else out_alpha,
        empty if out_sqrt_beta is None else out_sqrt_beta,
        np.empty(0, dtype=np.uint16) if out_halo is None else out_halo,
    )
    with_flags = (bool(with_let), bool(with_bio))
    flags = (float(n_sigma), bool(with_let), bool(with_bio), outs[5].size > 0)
    with strips(n_threads) as run:
        for e in range(model[0].size):
            layer = order[start[e] : start[e + 1]]
            if layer.size == 0:
                continue
            marked = _layer_cells(
                layer, spots[0], spots[1], spots[3], cell_origin, cell_mm, n_cells, bounds, stamp, e
            )
            run(_rows_strip, marked, e, rows, cell_start, voxels, model, average, with_flags,
                cross)  # fmt: skip
            run(_fill_strip, layer, indptr, spots, voxels, cells, rays, layer_data, flags, outs)
