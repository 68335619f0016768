"""Maximum dose–volume objective: at most a volume fraction above a dose."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ionbeam.planning.optimize._dvh_common import hottest, hottest_volume
from ionbeam.planning.optimize.objective import (
    check_fraction,
    check_level,
    check_weight,
    convert_levels,
    voxel_mean,
    voxel_shares,
)

__all__ = ["MaxDVH"]


@dataclass(frozen=True)
class MaxDVH:
    """At most ``max_volume_fraction`` of the structure above ``dose_gy``.

    Of the k = ⌊V N⌋ hottest voxels, which may stay above d, none is pushed; the
    others above d are, with (1/N) Σ (q − d)² (matRad's ``MaxDVH``: only the voxels
    that must come down to meet the constraint). Piecewise quadratic; the gradient
    holds the set of pushed voxels fixed, which is exact wherever no two voxels
    swap ranks across the k-th place.
    """

    dose_gy: float
    max_volume_fraction: float
    weight: float = 1.0
    LEVELS = ("dose_gy",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dose_gy", check_level("MaxDVH", "dose_gy", self.dose_gy))
        fraction = check_fraction("MaxDVH", "max_volume_fraction", self.max_volume_fraction)
        object.__setattr__(self, "max_volume_fraction", fraction)
        object.__setattr__(self, "weight", check_weight("MaxDVH", self.weight))

    def _deviation(self, q: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        if weights is None:
            allowed = hottest(q, math.floor(self.max_volume_fraction * q.size + 1e-9))
        else:
            volume = self.max_volume_fraction * float(np.sum(weights))
            allowed = hottest_volume(q, weights, volume, at_least=False)
        active = (q > self.dose_gy) & ~allowed
        return np.where(active, q - self.dose_gy, 0.0)

    def value(self, q: np.ndarray, weights: np.ndarray | None = None) -> float:
        """Mean squared excess of the voxels that break the constraint (Gy²)."""
        deviation = self._deviation(q, weights)
        return voxel_mean(deviation * deviation, weights)

    def gradient(self, q: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """2 (q − d) / N on those voxels, 0 elsewhere."""
        return 2.0 * voxel_shares(q.size, weights) * self._deviation(q, weights)

    def with_levels(self, convert: Callable[[float], float]) -> MaxDVH:
        """A copy with ``dose_gy`` converted."""
        return convert_levels(self, self.LEVELS, convert)
