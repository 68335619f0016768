"""The dose distribution inside one structure, sorted once, queried many times.

The cumulative dose–volume relation of a structure is computed *exactly* from
its voxels (no histogram binning): each voxel contributes its partial-volume
weight at its dose. All D_x / V_x metrics of the package come from here.

With partial-volume weights, the minimum and maximum are those of the voxels at
least half inside the structure (of all its voxels when none is): a voxel
mostly outside carries the dose next to the structure, not in it, and would
make the maximum of an organ beside the target the target's dose on any grid
fine enough to cut through the organ's edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DoseDistribution"]

# Relative slack when comparing cumulative volume fractions, so that a fraction
# of exactly k/n is not missed by floating-point rounding of the cumulative sum.
_FRACTION_SLACK = 1e-12


@dataclass(frozen=True, eq=False)
class DoseDistribution:
    """Doses of the voxels inside a structure, sorted from highest to lowest, with
    the cumulative volume fraction reached after each voxel."""

    dose_desc_gy: np.ndarray
    cumulative_fraction: np.ndarray
    total_weight: float
    mean_gy: float
    min_gy: float
    max_gy: float

    @classmethod
    def from_arrays(cls, dose: np.ndarray, weights: np.ndarray) -> DoseDistribution:
        """From flat dose values and per-voxel volume weights (0–1, not all zero)."""
        inside = weights > 0
        d = dose.reshape(-1)[inside]
        w = weights[inside]
        order = np.argsort(-d, kind="stable")
        cumulative = np.cumsum(w[order])
        total = float(cumulative[-1])
        core = d[w >= 0.5] if np.any(w >= 0.5) else d
        return cls(
            dose_desc_gy=d[order],
            cumulative_fraction=cumulative / total,
            total_weight=total,
            mean_gy=float(np.dot(w, d) / total),
            min_gy=float(core.min()),
            max_gy=float(core.max()),
        )

    @property
    def highest_gy(self) -> float:
        """Highest dose of any voxel with a weight (the top of a DVH's dose axis)."""
        return float(self.dose_desc_gy[0])

    def dose_at_volume(self, volume_fraction: float | np.ndarray) -> np.ndarray:
        """D_V: the highest dose that at least ``volume_fraction`` of the volume receives.

        The answer is one voxel's dose (nearest rank, no interpolation), so the
        statement "a fraction V receives at least D_V" holds exactly.
        """
        v = np.asarray(volume_fraction, dtype=np.float64)
        k = np.searchsorted(self.cumulative_fraction, v * (1.0 - _FRACTION_SLACK), side="left")
        return self.dose_desc_gy[np.minimum(k, self.dose_desc_gy.size - 1)]

    def volume_at_dose(self, dose_gy: float | np.ndarray) -> np.ndarray:
        """V_d: the fraction of the volume receiving at least ``dose_gy``."""
        d = np.asarray(dose_gy, dtype=np.float64)
        count = np.searchsorted(-self.dose_desc_gy, -d, side="right")
        padded = np.concatenate(([0.0], self.cumulative_fraction))
        return padded[count]
