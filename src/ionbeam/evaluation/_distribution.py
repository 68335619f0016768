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

import dataclasses
import hashlib
from collections import OrderedDict
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
        return _SORTED.distribution(d, float(np.sum(weights)))

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


def _sorted_distribution(d: np.ndarray, total_weight: float) -> DoseDistribution:
    """The distribution of the counted voxels' doses ``d`` (flat)."""
    order = np.argsort(-d, kind="stable")
    n = d.size
    return DoseDistribution(
        dose_desc_gy=d[order],
        cumulative_fraction=np.arange(1, n + 1, dtype=np.float64) / n,
        total_weight=total_weight,
        mean_gy=float(d.mean()),
        min_gy=float(d.min()),
        max_gy=float(d.max()),
    )


class _SortedDoses:
    """The last sorted distributions, keyed by the exact bytes of the counted doses.

    A plan's report, goals, metrics and comparison ask for the same structure's
    distribution of the same dose dozens of times (~60 sorts in ``ionbeam demo``); the
    sort, O(n log n), is the cost, and the key — a BLAKE2 digest of the counted voxels'
    dose values, their dtype and number, read in O(n) — names exactly the input the
    sort would see, so an entry is the distribution that sorting would give, bit for
    bit, whatever array or mask it came from (a dose changed in place has another
    key). Entries are shared, immutable (read-only arrays), and the least recently used
    go once they hold more than ``max_bytes``.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str, int], DoseDistribution] = OrderedDict()
        self._bytes = 0

    def distribution(self, d: np.ndarray, total_weight: float) -> DoseDistribution:
        if d.size < _SMALLEST_CACHED:  # sorting is cheaper than the bookkeeping
            return _sorted_distribution(d, total_weight)
        digest = hashlib.blake2b(np.ascontiguousarray(d).data, digest_size=20)
        key = (digest.hexdigest(), d.dtype.str, d.size)
        found = self._entries.get(key)
        if found is None:
            found = _sorted_distribution(d, total_weight)
            found.dose_desc_gy.flags.writeable = False
            found.cumulative_fraction.flags.writeable = False
            self._entries[key] = found
            self._bytes += found.dose_desc_gy.nbytes + found.cumulative_fraction.nbytes
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                _, old = self._entries.popitem(last=False)
                self._bytes -= old.dose_desc_gy.nbytes + old.cumulative_fraction.nbytes
        else:
            self._entries.move_to_end(key)
        if found.total_weight != total_weight:  # the same voxels of another occupancy
            found = dataclasses.replace(found, total_weight=total_weight)
        return found


#: Structures of fewer counted voxels are sorted every time.
_SMALLEST_CACHED = 4096
#: The sorted distributions of this process (at most ~128 MB of them).
_SORTED = _SortedDoses(max_bytes=128 * 2**20)


def counted_voxels(weights: np.ndarray) -> np.ndarray:
    """Which voxels (flat boolean) belong to a structure of occupancy ``weights``:
    those at least half inside, or every voxel touched when none is."""
    w = np.asarray(weights).reshape(-1)
    counted = w >= HALF_INSIDE
    if not counted.any():
        counted = w > 0
    return counted
