"""The dose distribution inside one structure, sorted once, queried many times.

One definition of "the dose in a structure" for every D_x / V_x / mean / min /
max of the package (``metrics.json``, the clinical goals, DVHs, the report, the
robust evaluation, the grid check):

* the structure's voxels on the dose grid are those **at least half inside** it
  (occupancy ≥ 0.5; every voxel it touches when none is, so that a structure
  smaller than half a voxel does not vanish), the voxels of
  :func:`ionbeam.planning.dose_grid.masks_from_occupancy`;
* each of them counts with its whole volume and its dose (the voxel's value);
* D_V is the nearest-rank dose of those voxels (no interpolation, no binning).

This is what external DVH tools do with a plan's RT Dose and RTSTRUCT: a dose
voxel belongs to a structure when its centre lies inside the contour
(dicompyler-core, plastimatch), and each counts whole. Weighting voxels by their
fractional occupancy instead is *not* equivalent: a voxel a third inside the
target at its edge carries the mean dose of the whole voxel, two thirds of it
in the fall-off outside, so the partial voxels pull D98 down by the fall-off
(8 points of the prescription for the demo's PTV on a 1.5 mm grid), and a
goal and ``metrics.json`` computed the two ways disagreed (issue 11).

The structure's volume (``total_weight``, in voxels) stays the sum of its
occupancy: the contour's own volume, independent of the grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DoseDistribution", "counted_voxels"]

#: Occupancy from which a voxel belongs to a structure (at least half inside).
HALF_INSIDE = 0.5

# Relative slack when comparing cumulative volume fractions, so that a fraction
# of exactly k/n is not missed by floating-point rounding of the cumulative sum.
_FRACTION_SLACK = 1e-12


@dataclass(frozen=True, eq=False)
class DoseDistribution:
    """Doses of the voxels of a structure, sorted from highest to lowest, with the
    cumulative volume fraction reached after each voxel; ``total_weight``: the
    structure's volume in voxels (the sum of its occupancy)."""

    dose_desc_gy: np.ndarray
    cumulative_fraction: np.ndarray
    total_weight: float
    mean_gy: float
    min_gy: float
    max_gy: float

    @classmethod
    def from_arrays(cls, dose: np.ndarray, weights: np.ndarray) -> DoseDistribution:
        """From flat dose values and per-voxel occupancy (0–1, not all zero): the
        voxels of :func:`counted_voxels`, each whole (module docstring)."""
        counted = counted_voxels(weights)
        d = dose.reshape(-1)[counted]
        order = np.argsort(-d, kind="stable")
        n = d.size
        return cls(
            dose_desc_gy=d[order],
            cumulative_fraction=np.arange(1, n + 1, dtype=np.float64) / n,
            total_weight=float(np.sum(weights)),
            mean_gy=float(d.mean()),
            min_gy=float(d.min()),
            max_gy=float(d.max()),
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


def counted_voxels(weights: np.ndarray) -> np.ndarray:
    """Which voxels (flat boolean) belong to a structure of occupancy ``weights``:
    those at least half inside, or every voxel touched when none is."""
    w = np.asarray(weights).reshape(-1)
    counted = w >= HALF_INSIDE
    if not counted.any():
        counted = w > 0
    return counted
