"""The hottest voxels of a structure, shared by the two dose–volume objectives."""

from __future__ import annotations

import numpy as np

__all__ = ["hottest", "hottest_volume"]


def hottest(q: np.ndarray, count: int) -> np.ndarray:
    """Boolean mask of the ``count`` highest values of ``q`` (ties broken by position),
    in O(N)."""
    mask = np.zeros(q.size, dtype=bool)
    count = min(max(int(count), 0), q.size)
    if count:
        mask[np.argpartition(-q, count - 1, kind="introselect")[:count]] = True
    return mask


def hottest_volume(
    q: np.ndarray, weights: np.ndarray, volume: float, *, at_least: bool
) -> np.ndarray:
    """Boolean mask of the hottest voxels whose weights add up to ``volume``: the fewest
    that reach it (``at_least``) or the most that stay within it (ties by position)."""
    order = np.argsort(-q, kind="stable")
    cumulative = np.cumsum(weights[order])
    slack = 1e-9 * max(float(cumulative[-1]), 1e-300) if cumulative.size else 0.0
    if at_least:
        count = int(np.searchsorted(cumulative, volume - slack, side="left")) + 1
    else:
        count = int(np.searchsorted(cumulative, volume + slack, side="right"))
    mask = np.zeros(q.size, dtype=bool)
    mask[order[: min(max(count, 0), q.size)]] = True
    return mask
