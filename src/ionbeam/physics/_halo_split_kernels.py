"""Numba kernel of :mod:`._halo_split`: the boundary between the narrow and the wide halo
Gaussian, per depth bin, by least squares on the share of the energy within each radius."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ionbeam._kernel_cache import refresh_kernel_cache

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = ["best_split"]


@njit(cache=True)
def _within(energy: float, var_sum: float, r2: float) -> float:
    """Energy of a 2-D Gaussian (``energy``, variance ``var_sum`` / ``energy``) within the
    radius r (r² = ``r2``)."""
    if energy <= 0.0:
        return 0.0
    var = max(var_sum / energy, 1e-12)
    return -energy * math.expm1(-r2 / (2.0 * var))


@njit(cache=True)
def best_split(
    deposit: np.ndarray, variance: np.ndarray, radii2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per bin b of ``deposit``/``variance`` (n_bins, n_classes; the halo's classes in
    increasing σ, energy and summed variance): the energy and summed variance of the
    classes below the boundary whose two moment-matched Gaussians (below, above) give
    the energy within each radius (r² in ``radii2``) closest, in least squares, to the
    classes' own. Ties keep the lowest boundary (no narrow Gaussian at all first)."""
    n_bins, n_classes = deposit.shape
    n_r = radii2.size
    narrow = np.zeros(n_bins)
    narrow_var = np.zeros(n_bins)
    exact = np.zeros(n_r)
    for b in range(n_bins):
        total = 0.0
        total_var = 0.0
        for r in range(n_r):
            exact[r] = 0.0
        for k in range(n_classes):
            d = deposit[b, k]
            if d > 0.0:
                total += d
                total_var += variance[b, k]
                for r in range(n_r):
                    exact[r] += _within(d, variance[b, k], radii2[r])
        if total <= 0.0:
            continue
        best = math.inf
        below = 0.0
        below_var = 0.0
        for k in range(-1, n_classes):  # boundary after class k (-1: nothing below)
            if k >= 0:
                if deposit[b, k] <= 0.0:
                    continue  # the same split as the previous one
                below += deposit[b, k]
                below_var += variance[b, k]
            error = 0.0
            bound = best * (1.0 - 1e-12)
            for r in range(n_r):
                diff = (
                    _within(below, below_var, radii2[r])
                    + _within(total - below, total_var - below_var, radii2[r])
                    - exact[r]
                )
                error += diff * diff
                if not error < bound:  # a sum of squares only grows: this one cannot win
                    break
            if error < bound:
                best = error
                narrow[b] = below
                narrow_var[b] = below_var
    return narrow, narrow_var
