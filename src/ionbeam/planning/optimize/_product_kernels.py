"""Numba kernels of the optimizer's sparse products (pure functions on arrays).

A compressed matrix is (``indptr``, ``indices``, values): compressed rows of a
CSR matrix, or compressed columns of a CSC one, which are the rows of its
transpose. So one kernel, :func:`rows_dot`, computes both D·w (on the CSR
copy) and Dᵀ·g (on the CSC copy), each in parallel over its compressed rows
without write conflicts. Values are float32 (the dose engine's precision);
sums are accumulated in float64. The ``pair`` variants read the shared index
array once for two value arrays with the same sparsity (α·D and √β·D).

Most voxels of an objective like "no more than X Gy in the body" have a zero
gradient at any time, so Dᵀ·g often needs only a few rows:
:func:`active_rows_scatter` walks the compressed rows of those voxels only and
scatters into per-chunk accumulators (a fixed number of chunks, summed in a
fixed order, so the result does not depend on thread timing).

Written here rather than taken from scipy because ``scipy.sparse`` upcasts a
float32 matrix to float64 (a full copy) at every product with a float64
vector and runs on one thread; see ``bench/_tg119_optimize.py`` for timings.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "active_rows_scatter",
    "gather",
    "restrict_rows",
    "rows_dot",
    "rows_dot_pair",
    "rows_dot_sum",
    "transpose_pattern",
]


@numba.njit(cache=True, parallel=True)
def rows_dot(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """y[i] = Σ_p values[p] x[indices[p]] over the entries p of compressed row i."""
    n = indptr.size - 1
    out = np.empty(n, dtype=np.float64)
    for i in numba.prange(n):
        acc = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            acc += values[p] * x[indices[p]]
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
        for p in range(indptr[i], indptr[i + 1]):
            xi = x[indices[p]]
            acc_a += a[p] * xi
            acc_b += b[p] * xi
        out_a[i] = acc_a
        out_b[i] = acc_b
    return out_a, out_b


@numba.njit(cache=True, parallel=True)
def rows_dot_sum(
    indptr: np.ndarray,
    indices: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    xa: np.ndarray,
    xb: np.ndarray,
) -> np.ndarray:
    """A xa + B xb for two value arrays sharing one sparsity pattern."""
    n = indptr.size - 1
    out = np.empty(n, dtype=np.float64)
    for i in numba.prange(n):
        acc = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            k = indices[p]
            acc += a[p] * xa[k] + b[p] * xb[k]
        out[i] = acc
    return out


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
        acc = partial[c]
        for t in range(c * chunk, min((c + 1) * chunk, rows.size)):
            r = rows[t]
            wa = ga[r]
            wb = gb[r] if with_b else 0.0
            for p in range(indptr[r], indptr[r + 1]):
                if with_b:
                    acc[indices[p]] += a[p] * wa + b[p] * wb
                else:
                    acc[indices[p]] += a[p] * wa
    out = np.zeros(n_minor, dtype=np.float64)
    for c in range(n_chunks):
        out += partial[c]
    return out


@numba.njit(cache=True, parallel=True)
def restrict_rows(
    indptr: np.ndarray, indices: np.ndarray, row_map: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep only the entries whose (minor) index has ``row_map[index] >= 0``, renumbered
    to ``row_map[index]``: (new indptr, new indices, source position of each kept entry)."""
    n = indptr.size - 1
    counts = np.zeros(n + 1, dtype=np.int64)
    for i in numba.prange(n):
        c = 0
        for p in range(indptr[i], indptr[i + 1]):
            if row_map[indices[p]] >= 0:
                c += 1
        counts[i + 1] = c
    new_indptr = np.cumsum(counts)
    nnz = new_indptr[-1]
    new_indices = np.empty(nnz, dtype=np.int32)
    source = np.empty(nnz, dtype=np.int64)
    for i in numba.prange(n):
        q = new_indptr[i]
        for p in range(indptr[i], indptr[i + 1]):
            r = row_map[indices[p]]
            if r >= 0:
                new_indices[q] = r
                source[q] = p
                q += 1
    return new_indptr, new_indices, source


@numba.njit(cache=True, parallel=True)
def gather(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index] as float32, in parallel."""
    out = np.empty(index.size, dtype=np.float32)
    for p in numba.prange(index.size):
        out[p] = values[index[p]]
    return out


@numba.njit(cache=True)
def transpose_pattern(
    indptr: np.ndarray, indices: np.ndarray, n_minor: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The transposed pattern (CSC ↔ CSR) by a counting sort: (indptr, indices, source
    position of each entry), minor indices ascending within each new compressed row."""
    n = indptr.size - 1
    counts = np.zeros(n_minor + 1, dtype=np.int64)
    for p in range(indices.size):
        counts[indices[p] + 1] += 1
    t_indptr = np.cumsum(counts)
    cursor = t_indptr[:-1].copy()
    t_indices = np.empty(indices.size, dtype=np.int32)
    source = np.empty(indices.size, dtype=np.int64)
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            r = indices[p]
            q = cursor[r]
            t_indices[q] = i
            source[q] = p
            cursor[r] = q + 1
    return t_indptr, t_indices, source
