"""The hottest voxels of a structure, shared by the two dose–volume objectives."""

from __future__ import annotations

import numpy as np

__all__ = ["hottest"]


def hottest(q: np.ndarray, count: int) -> np.ndarray:
    """Boolean mask of the ``count`` highest values of ``q`` (ties broken by position),
    in O(N)."""
    mask = np.zeros(q.size, dtype=bool)
    count = min(max(int(count), 0), q.size)
    if count:
        mask[np.argpartition(-q, count - 1, kind="introselect")[:count]] = True
    return mask
