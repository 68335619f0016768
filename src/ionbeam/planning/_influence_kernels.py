"""Numba kernel of the dose-influence product M·w on the full dose grid.

``scipy.sparse`` multiplies a float32 matrix by a float64 vector by first upcasting
the matrix values to float64: a transient copy of 8 bytes per stored entry, as large
as the matrix itself, at every final dose, LET or α/β volume. This kernel reads the
float32 values where they are and sums in float64, column by column in a fixed order
(so the result does not depend on the thread count).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["csc_times"]


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
