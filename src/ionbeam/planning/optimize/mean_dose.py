"""Mean dose above a level: max(mean(q) − d, 0)²."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ionbeam.planning.optimize.objective import (
    check_level,
    check_weight,
    convert_levels,
    voxel_mean,
    voxel_shares,
)

__all__ = ["MeanDose"]


@dataclass(frozen=True)
class MeanDose:
    """max(mean(q) − ``max_mean_gy``, 0)²: the structure's mean dose should stay below
    ``max_mean_gy`` (default 0: as low as possible; matRad's quadratic ``MeanDose``)."""

    max_mean_gy: float = 0.0
    weight: float = 1.0
    LEVELS = ("max_mean_gy",)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "max_mean_gy", check_level("MeanDose", "max_mean_gy", self.max_mean_gy)
        )
        object.__setattr__(self, "weight", check_weight("MeanDose", self.weight))

    def value(self, q: np.ndarray, weights: np.ndarray | None = None) -> float:
        """Squared excess of the mean (Gy²)."""
        excess = max(voxel_mean(q, weights) - self.max_mean_gy, 0.0)
        return excess * excess

    def gradient(self, q: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """2 max(mean − d, 0) / N in every voxel."""
        excess = max(voxel_mean(q, weights) - self.max_mean_gy, 0.0)
        return np.broadcast_to(2.0 * excess * voxel_shares(q.size, weights), q.shape).copy()

    def with_levels(self, convert: Callable[[float], float]) -> MeanDose:
        """A copy with ``max_mean_gy`` converted."""
        return convert_levels(self, self.LEVELS, convert)
