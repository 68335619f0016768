"""Numba kernel of the dose-influence product M·w on the full dose grid.

``scipy.sparse`` multiplies a float32 matrix by a float64 vector by first upcasting
the matrix values to float64: a transient copy of 8 bytes per stored entry, as large
as the matrix itself, at every final dose, LET or α/β volume. This kernel reads the
float32 values where they are and sums in float64, column by column in a fixed order
(so the result does not depend on the thread count). :func:`csc_times_chunked` splits
the columns into a fixed number of chunks, each summed in its own array on its own
thread, then adds the chunks row by row in their order: the grouping of the sums is
fixed by the chunk count (which callers fix by the matrix's shape), never by the
threads.
"""

from __future__ import annotations

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam.planning._strips import strip_kernel, strips

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = ["csc_times", "csc_times_chunked"]


@numba.njit(cache=True)
def csc_times(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, w: np.ndarray, n_rows: int
) -> np.ndarray:
    """y = M w for M in compressed columns (``indptr``, ``indices``, ``values``)."""
    out = np.zeros(n_rows, dtype=np.float64)
    for j in range(indptr.size - 1):
        wj = w[j]
        if wj == 0.0:
            continue
        for p in range(indptr[j], indptr[j + 1]):
            out[indices[p]] += values[p] * wj
    return out


def csc_times_chunked(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    w: np.ndarray,
    n_rows: int,
    bounds: np.ndarray,
) -> np.ndarray:
    """y = M w as :func:`csc_times`, its columns in chunks ``bounds[c]`` …
    ``bounds[c + 1]`` − 1 (c = 0 … ``bounds.size`` − 2), each summed apart (in column
    order) and the chunks added in order for each row: the same numbers whatever the
    number of threads (strips of chunks, then of row blocks, on threads)."""
    n_chunks = bounds.size - 1
    partial = np.zeros((n_chunks, n_rows), dtype=np.float64)
    total = np.zeros(n_rows, dtype=np.float64)
    with strips(min(numba.get_num_threads(), max(n_chunks, 1))) as run:
        run(_chunks_strip, indptr, indices, values, w, bounds, partial)
        run(_rows_strip, partial, total)
    return total


@strip_kernel
def _chunks_strip(strip, n_strips, indptr, indices, values, w, bounds, partial):
    """Chunks ``strip, strip + n_strips, …`` of :func:`csc_times_chunked`, each into its
    row of ``partial``."""
    for c in range(strip, bounds.size - 1, n_strips):
        out = partial[c]
        for j in range(bounds[c], bounds[c + 1]):
            wj = w[j]
            if wj == 0.0:
                continue
            for p in range(indptr[j], indptr[j + 1]):
                out[indices[p]] += values[p] * wj


@strip_kernel
def _rows_strip(strip, n_strips, partial, total):
    """Row blocks ``strip, strip + n_strips, …``: each row's chunks added in order."""
    n_chunks, n_rows = partial.shape
    block = 1 << 14
    for b in range(strip, (n_rows + block - 1) // block, n_strips):
        for i in range(b * block, min(n_rows, (b + 1) * block)):
            acc = 0.0
            for c in range(n_chunks):
                acc += partial[c, i]
            total[i] = acc
