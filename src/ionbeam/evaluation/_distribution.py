"""The dose distribution inside one structure, sorted once, queried many times.

The cumulative dose–volume relation of a structure is computed *exactly* from
its voxels (no histogram binning): each voxel contributes its partial-volume
weight at its dose. All D_x / V_x metrics of the package come from here.

With partial-volume weights, the maximum is the highest dose that at least half
a voxel's worth of the structure receives (the minimum: the lowest that half a
voxel's worth does not exceed), points of the DVH like any D_x, and those of
the hottest and coldest voxel for a boolean mask: a sliver of a voxel mostly
outside carries the dose next to the structure, not in it, and would make the
maximum of an organ beside the target the target's dose on any grid fine
enough to cut through the organ's edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DoseDistribution"]

# Relative slack when comparing cumulative volume fractions, so that a fraction
# of exactly k/n is not missed by floating-point rounding of the cumulative sum.
_FRACTION_SLACK = 1e-12
# Volume (in voxels) that the maximum and minimum of a partial-volume structure stand for.
_HALF_VOXEL = 0.5


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
        desc = d[order]
        half = min(_HALF_VOXEL, total) * (1.0 - _FRACTION_SLACK)
        top = int(np.searchsorted(cumulative, half, side="left"))
        from_bottom = total - np.concatenate(([0.0], cumulative[:-1]))  # weight at or below
        bottom = int(np.flatnonzero(from_bottom >= half)[-1])
        return cls(
            dose_desc_gy=desc,
            cumulative_fraction=cumulative / total,
            total_weight=total,
            mean_gy=float(np.dot(w, d) / total),
            min_gy=float(desc[bottom]),
            max_gy=float(desc[min(top, desc.size - 1)]),
        )

    @property
    def highest_gy(self) -> float:
        """Highest dose of any voxel with a weight (the top of a DVH's dose axis)."""
        return float(self.dose_desc_gy[0])

    def dose_at_volume(self, volume_fraction: np.ndarray) -> np.ndarray:
        """D_V: the highest dose that at least ``volume_fraction`` of the volume receives.

        The answer is one voxel's dose (nearest rank, no interpolation), so the
        statement "a fraction V receives at least D_V" holds exactly.
        """
        v = np.asarray(volume_fraction, dtype=np.float64)
        k = np.searchsorted(self.cumulative_fraction, v * (1.0 - _FRACTION_SLACK), side="left")
        return self.dose_desc_gy[np.minimum(k, self.dose_desc_gy.size - 1)]

    def volume_at_dose(self, dose_gy: np.ndarray) -> np.ndarray:
        """V_d: the fraction of the volume receiving at least ``dose_gy``."""
        d = np.asarray(dose_gy, dtype=np.float64)
        count = np.searchsorted(-self.dose_desc_gy, -d, side="right")
        padded = np.concatenate(([0.0], self.cumulative_fraction))
        return padded[count]
