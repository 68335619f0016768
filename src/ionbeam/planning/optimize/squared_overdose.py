"""Squared overdose above a maximum: mean over the voxels of max(q − d, 0)²."""

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

__all__ = ["SquaredOverdose"]


@dataclass(frozen=True)
class SquaredOverdose:
    """(1/N) Σ max(q − ``max_dose_gy``, 0)²: no voxel should exceed ``max_dose_gy``
    (matRad's ``SquaredOverdosing``; with a large weight, a maximum-dose constraint)."""

    max_dose_gy: float
    weight: float = 1.0
    LEVELS = ("max_dose_gy",)

    def __post_init__(self) -> None:
        level = check_level("SquaredOverdose", "max_dose_gy", self.max_dose_gy)
        object.__setattr__(self, "max_dose_gy", level)
        object.__setattr__(self, "weight", check_weight("SquaredOverdose", self.weight))

    def value(self, q: np.ndarray, weights: np.ndarray | None = None) -> float:
        """Mean squared excess (Gy²)."""
        excess = np.maximum(q - self.max_dose_gy, 0.0)
        return voxel_mean(excess * excess, weights)

    def gradient(self, q: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """2 max(q − d, 0) / N."""
        return 2.0 * voxel_shares(q.size, weights) * np.maximum(q - self.max_dose_gy, 0.0)

    def value_and_gradient(
        self, q: np.ndarray, weights: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """:meth:`value` and :meth:`gradient` from one excess (the same numbers)."""
        excess = np.maximum(q - self.max_dose_gy, 0.0)
        return voxel_mean(excess * excess, weights), 2.0 * voxel_shares(q.size, weights) * excess

    def with_levels(self, convert: Callable[[float], float]) -> SquaredOverdose:
        """A copy with ``max_dose_gy`` converted."""
        return convert_levels(self, self.LEVELS, convert)
