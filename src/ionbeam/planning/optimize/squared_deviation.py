"""Squared deviation from a prescribed dose: mean over the voxels of (q − d)²."""

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

__all__ = ["SquaredDeviation"]


@dataclass(frozen=True)
class SquaredDeviation:
    """(1/N) Σ (q − ``dose_gy``)²: the target should receive exactly ``dose_gy``
    (matRad's ``SquaredDeviation``)."""

    dose_gy: float
    weight: float = 1.0
    LEVELS = ("dose_gy",)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "dose_gy", check_level("SquaredDeviation", "dose_gy", self.dose_gy)
        )
        object.__setattr__(self, "weight", check_weight("SquaredDeviation", self.weight))

    @property
    def lower_level_gy(self) -> float:
        """The dose this objective asks the structure to reach."""
        return self.dose_gy

    def value(self, q: np.ndarray, weights: np.ndarray | None = None) -> float:
        """Mean squared deviation (Gy²)."""
        return voxel_mean((q - self.dose_gy) ** 2, weights)

    def gradient(self, q: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """2 (q − d) / N."""
        return 2.0 * voxel_shares(q.size, weights) * (q - self.dose_gy)

    def value_and_gradient(
        self, q: np.ndarray, weights: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """:meth:`value` and :meth:`gradient` from one deviation (the same numbers)."""
        deviation = q - self.dose_gy
        return voxel_mean(deviation**2, weights), 2.0 * voxel_shares(q.size, weights) * deviation

    def with_levels(self, convert: Callable[[float], float]) -> SquaredDeviation:
        """A copy with ``dose_gy`` converted."""
        return convert_levels(self, self.LEVELS, convert)
