"""Minimum dose–volume objective: at least a volume fraction at or above a dose."""

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

__all__ = ["MinDVH"]


@dataclass(frozen=True)
class MinDVH:
    """At least ``min_volume_fraction`` of the structure at or above ``dose_gy``.

    The m = ⌈V N⌉ hottest voxels must reach d: those of them below d are pushed up
    with (1/N) Σ (q − d)² (matRad's ``MinDVH``); colder voxels may stay cold.
    Piecewise quadratic; the gradient holds the set of pushed voxels fixed, which is
    exact wherever no two voxels swap ranks across the m-th place.
    """

    dose_gy: float
    min_volume_fraction: float
    weight: float = 1.0
    LEVELS = ("dose_gy",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dose_gy", check_level("MinDVH", "dose_gy", self.dose_gy))
        fraction = check_fraction("MinDVH", "min_volume_fraction", self.min_volume_fraction)
        object.__setattr__(self, "min_volume_fraction", fraction)
        object.__setattr__(self, "weight", check_weight("MinDVH", self.weight))

    @property
    def lower_level_gy(self) -> float:
        """The dose this objective asks the structure to reach."""
        return self.dose_gy

    def _deviation(self, q: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        if weights is None:
            needed = hottest(q, math.ceil(self.min_volume_fraction * q.size - 1e-9))
        else:
            volume = self.min_volume_fraction * float(np.sum(weights))
            needed = hottest_volume(q, weights, volume, at_least=True)
        active = (q < self.dose_gy) & needed
        return np.where(active, q - self.dose_gy, 0.0)

    def value(self, q: np.ndarray, weights: np.ndarray | None = None) -> float:
        """Mean squared shortfall of the voxels that break the constraint (Gy²)."""
        deviation = self._deviation(q, weights)
        return voxel_mean(deviation * deviation, weights)

    def gradient(self, q: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """2 (q − d) / N on those voxels, 0 elsewhere."""
        return 2.0 * voxel_shares(q.size, weights) * self._deviation(q, weights)

    def with_levels(self, convert: Callable[[float], float]) -> MinDVH:
        """A copy with ``dose_gy`` converted."""
        return convert_levels(self, self.LEVELS, convert)
