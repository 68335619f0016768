"""Numba kernels of the optimizer's sparse products (pure functions on arrays).

A compressed matrix is (``indptr``, ``indices``, values): here the compressed
rows (one per voxel) of the optimizer's only copy of the matrix. :func:`rows_dot`
computes D·w in parallel over the rows without write conflicts; Dᵀ·g is
:func:`active_rows_scatter`, which walks the rows where g ≠ 0 (most voxels of an
objective like "no more than X Gy in the body" have a zero gradient at any time)
and scatters into per-chunk accumulators (a fixed number of chunks, summed in a
fixed order, so the result does not depend on thread timing). One layout serves
both products, so the matrix is held once (float32 values and uint16 or int32
spot indices: 6 to 8 bytes per entry). Values are float32 (the dose engine's
precision); sums are accumulated in float64. The ``pair`` variants read the shared
index array once for two value arrays with the same sparsity (α·D and √β·D).
:func:`count_kept_rows` and :func:`fill_kept_rows` build the rows straight from the
dose engine's compressed columns, with no per-entry temporary.

Written here rather than taken from scipy because ``scipy.sparse`` upcasts a
float32 matrix to float64 (a full copy) at every product with a float64
vector and runs on one thread; see ``bench/_tg119_optimize.py`` for timings.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam.planning._strips import strips

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = [
    "active_rows_scatter",
    "count_kept_rows",
    "fill_kept_rows",
    "fused_rows",
    "rows_abs_sums",
    "rows_dot",
    "rows_dot_pair",
    "rows_dot_pair_subset",
    "rows_dot_subset",
    "rows_squared_sums",
    "rows_weighted_squared_sums",
]

#: Entry positions run as unsigned integers in the per-iteration products: numba checks
#: every signed index for a negative (wraparound) value, which cost 28 % of D·w and 18 %
#: of Dᵀ·g (in cache, one thread: 0.75 → 0.54 and 1.2 → 0.98 ns per entry; the same sums
#: in the same order, so the same numbers; ``bench/optimizer_bandwidth.py``).
_ONE = np.uint64(1)


@numba.njit(cache=True, parallel=True)
def rows_dot(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """y[i] = Σ_p values[p] x[indices[p]] over the entries p of compressed row i."""
    n = indptr.size - 1
    out = np.empty(n, dtype=np.float64)
    for i in numba.prange(n):
        acc = 0.0
        p, stop = np.uint64(indptr[i]), np.uint64(indptr[i + 1])
        while p < stop:  # unsigned: no negative-index wraparound per access (-28 %)
            acc += values[p] * x[indices[p]]
            p += _ONE
        out[i] = acc
    return out


@numba.njit(cache=True, parallel=True)
def rows_dot_pair(
    indptr: np.ndarray, indices: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(A x, B x) for two value arrays ``a``, ``b`` sharing one sparsity pattern."""
    n = indptr.size - 1
    out_a = np.empty(n, dtype=np.float64)
    out_b = np.empty(n, dtype=np.float64)
    for i in numba.prange(n):
        acc_a = 0.0
        acc_b = 0.0
        p, stop = np.uint64(indptr[i]), np.uint64(indptr[i + 1])
        while p < stop:
            xi = x[indices[p]]
            acc_a += a[p] * xi
            acc_b += b[p] * xi
            p += _ONE
        out_a[i] = acc_a
        out_b[i] = acc_b
    return out_a, out_b


@numba.njit(cache=True, parallel=True)
def active_rows_scatter(
    indptr: np.ndarray,
    indices: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    rows: np.ndarray,
    ga: np.ndarray,
    gb: np.ndarray,
    with_b: bool,
    n_minor: int,
    n_chunks: int,
) -> np.ndarray:
    """Σ over compressed ``rows`` r of (a·ga[r] + b·gb[r]) scattered to the minor indices:
    Aᵀga + Bᵀgb from a CSR copy, visiting only ``rows`` (without ``with_b``: Aᵀga, and
    ``b``, ``gb`` are not read)."""
    partial = np.zeros((n_chunks, n_minor), dtype=np.float64)
    chunk = (rows.size + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        acc = np.zeros(n_minor, dtype=np.float64)  # thread-local: no false sharing
        for t in range(c * chunk, min((c + 1) * chunk, rows.size)):
            r = rows[t]
            wa = ga[r]
            p, stop = np.uint64(indptr[r]), np.uint64(indptr[r + 1])
            if with_b:
                wb = gb[r]
                while p < stop:
                    acc[indices[p]] += a[p] * wa + b[p] * wb
                    p += _ONE
            else:
                while p < stop:  # unsigned, as in rows_dot (-18 %)
                    acc[indices[p]] += a[p] * wa
                    p += _ONE
        partial[c, :] = acc
    out = np.zeros(n_minor, dtype=np.float64)
    for c in range(n_chunks):
        out += partial[c]
    return out


@numba.njit(cache=True)
def count_kept_rows(
    indptr: np.ndarray, indices: np.ndarray, columns: np.ndarray, row_map: np.ndarray
) -> np.ndarray:
    """The indptr of the rows ``row_map[i] >= 0`` of the compressed ``columns`` (CSC)."""
    n_rows = int(row_map.max()) + 1
    counts = np.zeros(n_rows + 1, dtype=np.int64)
    for j in range(columns.size):
        c = columns[j]
        for p in range(indptr[c], indptr[c + 1]):
            r = row_map[indices[p]]
            if r >= 0:
                counts[r + 1] += 1
    return np.cumsum(counts)


@numba.njit(cache=True)
def fill_kept_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    columns: np.ndarray,
    row_map: np.ndarray,
    row_indptr: np.ndarray,
    out_indices: np.ndarray,
    out_values: np.ndarray,
    with_indices: bool,
) -> None:
    """Fill the compressed rows (``row_indptr`` from :func:`count_kept_rows`) with the
    entries of ``columns`` (numbered 0… in the given order, ascending within each row):
    ``out_values`` (float32) always, ``out_indices`` when ``with_indices``."""
    cursor = row_indptr[:-1].copy()
    for j in range(columns.size):
        c = columns[j]
        for p in range(indptr[c], indptr[c + 1]):
            r = row_map[indices[p]]
            if r >= 0:
                q = cursor[r]
                if with_indices:
                    out_indices[q] = j
                out_values[q] = data[p]
                cursor[r] = q + 1


@numba.njit(cache=True)
def rows_squared_sums(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, rows: np.ndarray, n_minor: int
) -> np.ndarray:
    """Σ over compressed ``rows`` r of values² per minor index (in a fixed order)."""
    out = np.zeros(n_minor, dtype=np.float64)
    for t in range(rows.size):
        r = rows[t]
        for p in range(indptr[r], indptr[r + 1]):
            v = np.float64(values[p])
            out[indices[p]] += v * v
    return out


@numba.njit(cache=True)
def rows_weighted_squared_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    row_weights: np.ndarray,
    n_minor: int,
) -> np.ndarray:
    """Σ over the compressed rows r with ``row_weights[r]`` ≠ 0 of row_weights[r]·values²
    per minor index (in a fixed order)."""
    out = np.zeros(n_minor, dtype=np.float64)
    for r in range(indptr.size - 1):
        c = row_weights[r]
        if c == 0.0:
            continue
        for p in range(indptr[r], indptr[r + 1]):
            v = np.float64(values[p])
            out[indices[p]] += c * v * v
    return out


@numba.njit(cache=True, parallel=True)
def rows_dot_subset(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, x: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """y[t] = Σ_p values[p] x[indices[p]] over the entries p of compressed row ``rows[t]``
    (each row summed in the same order as :func:`rows_dot`: the same numbers)."""
    out = np.empty(rows.size, dtype=np.float64)
    for t in numba.prange(rows.size):
        r = rows[t]
        acc = 0.0
        p, stop = np.uint64(indptr[r]), np.uint64(indptr[r + 1])
        while p < stop:
            acc += values[p] * x[indices[p]]
            p += _ONE
        out[t] = acc
    return out


@numba.njit(cache=True, parallel=True)
def rows_abs_sums(indptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Σ_p |values[p]| over the entries p of each compressed row (the rows' ℓ1 norms)."""
    n = indptr.size - 1
    out = np.empty(n, dtype=np.float64)
    for i in numba.prange(n):
        acc = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            acc += abs(np.float64(values[p]))
        out[i] = acc
    return out


@numba.njit(cache=True, parallel=True)
def rows_dot_pair_subset(
    indptr: np.ndarray,
    indices: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    x: np.ndarray,
    rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(A x, B x) on the compressed rows ``rows`` only, each row summed as in
    :func:`rows_dot_pair` (the same numbers)."""
    out_a = np.empty(rows.size, dtype=np.float64)
    out_b = np.empty(rows.size, dtype=np.float64)
    for t in numba.prange(rows.size):
        r = rows[t]
        acc_a = 0.0
        acc_b = 0.0
        p, stop = np.uint64(indptr[r]), np.uint64(indptr[r + 1])
        while p < stop:
            xi = x[indices[p]]
            acc_a += a[p] * xi
            acc_b += b[p] * xi
            p += _ONE
        out_a[t] = acc_a
        out_b[t] = acc_b
    return out_a, out_b


#: Term kinds of :func:`fused_rows` (h = q − level per voxel and term): h, min(h, 0),
#: max(h, 0) — squared deviation, squared underdose, squared overdose.
DEVIATION, UNDERDOSE, OVERDOSE = 0, 1, 2
#: Quantity kinds of :func:`fused_rows`: q = factor·(A w + offset); the effect
#: E = max(a + b², 0) of a = A w + offset_a and b = B w + offset_b; D_RBE of that effect.
LINEAR, EFFECT, RBE_DOSE = 0, 1, 2


#: Options of :func:`_fused_strip`: :func:`ionbeam.planning._strips.strip_kernel`'s, and
#: floating-point reassociation and contraction (not "no NaN" or "no inf"), which lets the
#: row sums run on several vector lanes instead of one add chain: D·w 0.63 → 0.42 ns per
#: entry in cache (``bench/optimizer_bandwidth.py``). The sums then depend on the vector
#: width the machine compiles for, never on the thread count.
_FUSED_OPTIONS: dict[str, Any] = {
    "cache": True, "nogil": True, "error_model": "numpy", "_nrt": False,
    "fastmath": {"reassoc", "contract"},
}  # fmt: skip


@numba.njit(**_FUSED_OPTIONS)
def _fused_strip(strip, n_strips, matrix, x, rows, chunk_rows, quantity, terms, out, keep):
    """Chunks ``strip, strip + n_strips, …`` of :func:`fused_rows`: per row in a chunk its
    products, its quantity, its terms' value and ∂F/∂q, and (∂F/∂q ≠ 0) its entries
    scattered into the chunk's own spot accumulator while they are still in cache."""
    indptr, indices, a, b, with_b = matrix
    kind, factor, off_a, off_b, alpha_x, alpha_x2, four_beta_x = quantity
    term_indptr, term_kind, term_level, term_coef = terms
    out_a, out_b, partial, values = out
    n_spots = np.uint64(x.size)
    one = np.uint64(1)
    for c in range(strip, chunk_rows.size - 1, n_strips):
        base = np.uint64(c) * n_spots
        j = np.uint64(0)
        while j < n_spots:
            partial[base + j] = 0.0
            j += one
        total = 0.0
        for t in range(chunk_rows[c], chunk_rows[c + 1]):
            r = rows[t]
            start, stop = np.uint64(indptr[r]), np.uint64(indptr[r + 1])
            acc_a = 0.0
            acc_b = 0.0
            p = start
            if with_b:
                while p < stop:
                    xi = x[indices[p]]
                    acc_a += a[p] * xi
                    acc_b += b[p] * xi
                    p += one
            else:
                while p < stop:  # unsigned, as in rows_dot
                    acc_a += a[p] * x[indices[p]]
                    p += one
            qa = acc_a + off_a[r]
            qb = acc_b + off_b[r]
            if keep:
                out_a[r] = qa
                out_b[r] = qb
            slope = 1.0
            if kind == LINEAR:
                q = qa if factor == 1.0 else factor * qa
            else:
                q = max(qa + qb * qb, 0.0)
                if kind == RBE_DOSE:
                    root = np.sqrt(alpha_x2[r] + four_beta_x[r] * q)
                    q = 2.0 * q / (root + alpha_x[r])
                    slope = 1.0 / root
            dq = 0.0
            for k in range(term_indptr[r], term_indptr[r + 1]):
                h = q - term_level[k]
                kind_k = term_kind[k]
                if (kind_k == UNDERDOSE and h > 0.0) or (kind_k == OVERDOSE and h < 0.0):
                    h = 0.0
                total += term_coef[k] * h * h
                dq += term_coef[k] * h
            if dq == 0.0:
                continue
            dq = 2.0 * dq
            p = start
            if kind == LINEAR:
                ga = dq if factor == 1.0 else factor * dq
                while p < stop:
                    partial[base + np.uint64(indices[p])] += a[p] * ga
                    p += one
            else:
                ga = dq * slope
                gb = 2.0 * qb * ga
                while p < stop:
                    partial[base + np.uint64(indices[p])] += a[p] * ga + b[p] * gb
                    p += one
        values[c] = total


def fused_rows(
    matrix: tuple, x: np.ndarray, rows: np.ndarray, chunk_rows: np.ndarray, quantity: tuple,
    terms: tuple, n_voxels: int, n_threads: int, keep: bool = True,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One pass over the compressed ``rows`` for an objective that is a sum over voxels of
    a function of each voxel's quantity: (F, ∂F/∂w, A·w + offset, B·w + offset).

    ``matrix``: (indptr, indices, A values, B values, with_b); ``rows``: the kept rows
    read, ascending, dealt to chunks by ``chunk_rows`` (chunk c: ``rows[chunk_rows[c]:
    chunk_rows[c + 1]]``); ``quantity``: (kind, factor, offset_a, offset_b, α_x, α_x²,
    4β_x: per kept row); ``terms``: (pointer per kept row, kind, level, coefficient per
    row-term: F = Σ coefficient·h², h as in ``DEVIATION`` …). Each chunk sums into its
    own accumulator, summed in chunk order at the end: the numbers depend on the chunks,
    never on ``n_threads``. With ``keep``, the products are written at the rows read
    (zero elsewhere); without, they are not kept (empty arrays)."""
    n_chunks = chunk_rows.size - 1
    n_out = n_voxels if keep else 0
    out = (
        np.zeros(n_out),
        np.zeros(n_out),
        np.empty(n_chunks * x.size),
        np.zeros(n_chunks),
    )
    with strips(min(max(int(n_threads), 1), n_chunks)) as run:
        run(_fused_strip, matrix, x, rows, chunk_rows, quantity, terms, out, bool(keep))
    partial = out[2].reshape(n_chunks, x.size)
    gradient = np.zeros(x.size)
    value = 0.0
    for c in range(n_chunks):  # in chunk order
        gradient += partial[c]
        value += float(out[3][c])
    return value, gradient, out[0], out[1]
