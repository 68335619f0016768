"""Numba kernels for scan paths: move times, path cost, nearest neighbour, 2-opt.

The metric is the scanning magnets' move time: both magnets move at once,
so a move of (dx, dy) takes max(|dx|/vx, |dy|/vy) plus the settling time
when the spot moves at all. It is symmetric, so a reversed segment of an
open path costs the same; 2-opt (Croes, Oper. Res. 6 (1958) 791) with
candidate lists is written here because no maintained library does 2-opt
on open paths with a custom metric at this speed (10⁴–10⁵ spots).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ionbeam._kernel_cache import refresh_kernel_cache

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = ["move_times", "nearest_neighbour", "path_cost", "two_opt"]


@njit(cache=True, inline="always")
def _move(xa: float, ya: float, xb: float, yb: float, vx: float, vy: float, settle: float) -> float:
    t = max(abs(xb - xa) / vx, abs(yb - ya) / vy)
    return t + settle if t > 0.0 else 0.0


@njit(cache=True)
def move_times(
    x: np.ndarray, y: np.ndarray, order: np.ndarray, vx: float, vy: float, settle: float
) -> np.ndarray:
    """Move time into each position of ``order`` from the previous one (0 for the first)."""
    n = order.size
    out = np.zeros(n)
    for k in range(1, n):
        a, b = order[k - 1], order[k]
        out[k] = _move(x[a], y[a], x[b], y[b], vx, vy, settle)
    return out


@njit(cache=True)
def path_cost(
    x: np.ndarray, y: np.ndarray, order: np.ndarray, vx: float, vy: float, settle: float
) -> float:
    """Total move time of the open path ``order``."""
    return move_times(x, y, order, vx, vy, settle).sum()


@njit(cache=True)
def nearest_neighbour(
    x: np.ndarray, y: np.ndarray, start: int, vx: float, vy: float, settle: float
) -> np.ndarray:
    """Greedy path from ``start``: always move to the nearest unvisited spot (O(n²))."""
    n = x.size
    visited = np.zeros(n, dtype=np.bool_)
    order = np.empty(n, dtype=np.int64)
    current = start
    for k in range(n):
        order[k] = current
        visited[current] = True
        best, best_t = -1, np.inf
        for j in range(n):
            if not visited[j]:
                t = _move(x[current], y[current], x[j], y[j], vx, vy, settle)
                if t < best_t:
                    best, best_t = j, t
        current = best
    return order


@njit(cache=True)
def _reverse(order: np.ndarray, position: np.ndarray, i: int, j: int) -> None:
    while i < j:
        a, b = order[i], order[j]
        order[i], order[j] = b, a
        position[b], position[a] = i, j
        i += 1
        j -= 1


@njit(cache=True)
def _edge(x, y, order, i, j, vx, vy, settle) -> float:
    """Move time between positions i and j of ``order``; 0 when either is off the path."""
    n = order.size
    if i < 0 or j < 0 or i >= n or j >= n:
        return 0.0
    a, b = order[i], order[j]
    return _move(x[a], y[a], x[b], y[b], vx, vy, settle)


@njit(cache=True)
def two_opt(
    x: np.ndarray,
    y: np.ndarray,
    initial: np.ndarray,
    candidates: np.ndarray,
    vx: float,
    vy: float,
    settle: float,
    max_passes: int,
) -> np.ndarray:
    """Improve the open path ``initial`` by 2-opt moves limited to ``candidates``
    (row i: spots near spot i); returns a new order, never longer."""
    order = initial.copy()
    n = order.size
    position = np.empty(n, dtype=np.int64)
    for k in range(n):
        position[order[k]] = k
    eps = 1e-12
    for _ in range(max_passes):
        improved = False
        for i in range(n):
            a = order[i]
            for c in candidates[a]:
                if c < 0:
                    continue
                j = position[c]
                if j > i + 1:  # edges (i, i+1), (j, j+1) → (i, j), (i+1, j+1)
                    old = _edge(x, y, order, i, i + 1, vx, vy, settle) + _edge(
                        x, y, order, j, j + 1, vx, vy, settle
                    )
                    new = _edge(x, y, order, i, j, vx, vy, settle) + _edge(
                        x, y, order, i + 1, j + 1, vx, vy, settle
                    )
                    if new < old - eps:
                        _reverse(order, position, i + 1, j)
                        improved = True
                        a = order[i]
                elif j < i - 1:  # edges (j-1, j), (i-1, i) → (j-1, i-1), (j, i)
                    old = _edge(x, y, order, j - 1, j, vx, vy, settle) + _edge(
                        x, y, order, i - 1, i, vx, vy, settle
                    )
                    new = _edge(x, y, order, j - 1, i - 1, vx, vy, settle) + _edge(
                        x, y, order, j, i, vx, vy, settle
                    )
                    if new < old - eps:
                        _reverse(order, position, j, i - 1)
                        improved = True
                        a = order[i]
        if not improved:
            break
    return order
