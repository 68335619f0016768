"""Squared underdose below a minimum: mean over the voxels of min(q − d, 0)²."""

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

__all__ = ["SquaredUnderdose"]


@dataclass(frozen=True)
class SquaredUnderdose:
    """(1/N) Σ min(q − ``min_dose_gy``, 0)²: every voxel should receive at least
    ``min_dose_gy`` (matRad's ``SquaredUnderdosing``)."""

    min_dose_gy: float
    weight: float = 1.0
    LEVELS = ("min_dose_gy",)

    def __post_init__(self) -> None:
        level = check_level("SquaredUnderdose", "min_dose_gy", self.min_dose_gy)
        object.__setattr__(self, "min_dose_gy", level)
        object.__setattr__(self, "weight", check_weight("SquaredUnderdose", self.weight))

    @property
    def lower_level_gy(self) -> float:
        """The dose this objective asks the structure to reach."""
        return self.min_dose_gy

    def value(self, q: np.ndarray, weights: np.ndarray | None = None) -> float:
        """Mean squared shortfall (Gy²)."""
        shortfall = np.minimum(q - self.min_dose_gy, 0.0)
        return voxel_mean(shortfall * shortfall, weights)

    def gradient(self, q: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """2 min(q − d, 0) / N."""
        return 2.0 * voxel_shares(q.size, weights) * np.minimum(q - self.min_dose_gy, 0.0)

    def value_and_gradient(
        self, q: np.ndarray, weights: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """:meth:`value` and :meth:`gradient` from one shortfall (the same numbers)."""
        shortfall = np.minimum(q - self.min_dose_gy, 0.0)
        value = voxel_mean(shortfall * shortfall, weights)
        return value, 2.0 * voxel_shares(q.size, weights) * shortfall

    def with_levels(self, convert: Callable[[float], float]) -> SquaredUnderdose:
        """A copy with ``min_dose_gy`` converted."""
        return convert_levels(self, self.LEVELS, convert)
