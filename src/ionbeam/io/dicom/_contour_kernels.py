"""Numba kernel: filling closed planar polygons on a pixel grid by the even–odd rule."""

from __future__ import annotations

import math

import numba
import numpy as np

from ionbeam._kernel_cache import refresh_kernel_cache

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = ["fill_even_odd"]


@numba.njit(cache=True)
def fill_even_odd(
    xs: np.ndarray, ys: np.ndarray, starts: np.ndarray, nx: int, ny: int
) -> np.ndarray:
    """Pixels [nx, ny] whose centres (i, j) lie inside the polygons by the even–odd rule.

    ``xs``, ``ys``: vertices of all polygons concatenated, in pixel-index units
    (pixel (i, j) has its centre at (i, j)); polygon p is vertices
    ``starts[p]:starts[p + 1]``, implicitly closed. Overlapping polygons
    cancel, so a hole is simply a second polygon inside the first, and
    several islands on one slice are several polygons. A scan line through
    row j crosses an edge when j lies in [min(y0, y1), max(y0, y1)) (shared
    vertices are counted once); every pixel right of a crossing flips.
    """
    flips = np.zeros((nx + 1, ny), dtype=np.uint8)
    for p in range(starts.size - 1):
        first, stop = starts[p], starts[p + 1]
        for e in range(first, stop):
            following = e + 1 if e + 1 < stop else first
            x0, y0, x1, y1 = xs[e], ys[e], xs[following], ys[following]
            if y0 == y1:
                continue
            low, high = min(y0, y1), max(y0, y1)
            j_first = max(math.ceil(low), 0)
            j_last = min(math.ceil(high) - 1, ny - 1)
            for j in range(j_first, j_last + 1):
                x_cross = x0 + (j - y0) * (x1 - x0) / (y1 - y0)
                i = max(math.floor(x_cross) + 1, 0)
                if i < nx:
                    flips[i, j] ^= 1
    mask = np.zeros((nx, ny), dtype=np.bool_)
    for j in range(ny):
        parity = 0
        for i in range(nx):
            parity ^= flips[i, j]
            mask[i, j] = parity == 1
    return mask
