"""Dose–volume histograms and the exact dose–volume metrics D_V and V_d.

Conventions (the same everywhere in ionbeam):

* **Cumulative DVH** ``V(d)``: the fraction of the structure's volume receiving
  *at least* ``d`` (so ``V(0) = 1`` for non-negative doses).
* **D_V** (``d_at_volume``; D95, D98, D50, D2, …): the highest dose that at
  least the fraction ``V`` of the volume receives, i.e. ``max{d : V(d) ≥ V}``.
  It is computed from the voxels, not from binned histograms, and is one
  voxel's dose (nearest rank, no interpolation), so "95 % of the target
  receives at least D95" holds exactly. ``D_0`` is the maximum, ``D_1`` the
  minimum. For a structure of n equal voxels this is the dose of the
  ``ceil(V·n)``-th hottest voxel, as in matRad's quality indicators.
* **V_d** (``v_at_dose``): ``V(d)`` above, evaluated exactly.
* A structure given as partial-volume weights (its occupancy, 0–1 per voxel)
  counts the voxels at least half inside it, each whole (every voxel it touches
  when none is): the voxels an external DVH tool counts from the contour, so
  that ionbeam's D95 is the one a physicist recomputes from the RT Dose and
  RTSTRUCT (:mod:`ionbeam.evaluation._distribution`). ``volume_cm3`` stays the
  sum of the occupancy, the contour's own volume.

Doses may be physical (Gy) or RBE-weighted (Gy(RBE)); the functions do not
care, and the ``_gy`` names stand for either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ionbeam.errors import ConfigError, OutOfRangeError
from ionbeam.evaluation._distribution import DoseDistribution
from ionbeam.evaluation._inputs import as_dose, as_structure_weights, named_structures
from ionbeam.patient import Grid

__all__ = [
    "DoseVolumeHistogram",
    "d_at_volume",
    "dose_volume_histogram",
    "dose_volume_histograms",
    "max_dose",
    "mean_dose",
    "min_dose",
    "v_at_dose",
]

_DEFAULT_BINS = 1000
_MAX_BINS = 1_000_000


@dataclass(frozen=True, eq=False)
class DoseVolumeHistogram:
    """Cumulative and differential DVH of one structure.

    ``cumulative_volume_fraction[i]`` is the fraction of the volume receiving at
    least ``dose_edges_gy[i]`` (exact at each edge, no binning error);
    ``differential_volume_fraction[i]`` is the fraction with a dose in
    ``[dose_edges_gy[i], dose_edges_gy[i + 1])``. ``volume_cm3`` is the
    structure's volume.
    """

    name: str
    dose_edges_gy: np.ndarray
    cumulative_volume_fraction: np.ndarray
    differential_volume_fraction: np.ndarray
    volume_cm3: float

    @property
    def dose_centres_gy(self) -> np.ndarray:
        """Centres of the dose bins, Gy."""
        return 0.5 * (self.dose_edges_gy[:-1] + self.dose_edges_gy[1:])

    @property
    def bin_width_gy(self) -> float:
        """Width of the dose bins, Gy."""
        return float(self.dose_edges_gy[1] - self.dose_edges_gy[0])

    @property
    def cumulative_volume_cm3(self) -> np.ndarray:
        """Volume receiving at least each edge dose, cm³."""
        return self.cumulative_volume_fraction * self.volume_cm3

    @property
    def differential_per_gy(self) -> np.ndarray:
        """Differential DVH as volume fraction per Gy (a density that integrates to 1)."""
        return self.differential_volume_fraction / self.bin_width_gy

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain values (lists and floats)."""
        return {
            "name": self.name,
            "volume_cm3": self.volume_cm3,
            "dose_edges_gy": self.dose_edges_gy.tolist(),
            "cumulative_volume_fraction": self.cumulative_volume_fraction.tolist(),
        }


def dose_volume_histogram(
    dose_gy: np.ndarray,
    grid: Grid,
    mask: Any,
    *,
    name: str | None = None,
    bin_width_gy: float | None = None,
    max_dose_gy: float | None = None,
) -> DoseVolumeHistogram:
    """The DVH of one structure.

    ``mask`` is a boolean array, partial-volume weights in [0, 1], or an object
    with ``.mask`` (and ``.name``) on ``grid``. Bins start at 0 Gy and reach
    ``max_dose_gy`` (default: the structure's maximum dose) in steps of
    ``bin_width_gy`` (default: 1/1000 of that maximum).
    """
    dose = as_dose(dose_gy, grid)
    label = name if name is not None else str(getattr(mask, "name", "structure"))
    weights = as_structure_weights(mask, dose.shape, name=label, grid=grid)
    dist = DoseDistribution.from_arrays(dose, weights)
    top = dist.highest_gy if max_dose_gy is None else max_dose_gy
    edges = _dose_edges(top, bin_width_gy)
    return _histogram(label, dist, edges, grid)


def dose_volume_histograms(
    dose_gy: np.ndarray,
    grid: Grid,
    structures: Any,
    *,
    bin_width_gy: float | None = None,
    max_dose_gy: float | None = None,
) -> tuple[DoseVolumeHistogram, ...]:
    """DVHs of several structures on common dose bins (for plotting together).

    ``structures`` is a mapping name → mask or an iterable of objects with
    ``.name`` and ``.mask``. The default top of the bins is the highest dose
    in any of the structures.
    """
    dose = as_dose(dose_gy, grid)
    dists = [
        (
            name,
            DoseDistribution.from_arrays(
                dose, as_structure_weights(m, dose.shape, name=name, grid=grid)
            ),
        )
        for name, m in named_structures(structures)
    ]
    top = max(d.highest_gy for _, d in dists) if max_dose_gy is None else max_dose_gy
    edges = _dose_edges(top, bin_width_gy)
    return tuple(_histogram(name, dist, edges, grid) for name, dist in dists)


def d_at_volume(dose_gy: np.ndarray, mask: Any, volume_fraction: float) -> float:
    """D_V: the highest dose received by at least ``volume_fraction`` (0–1) of the
    structure (D95 → 0.95). Exact, from the voxels; see the module docstring."""
    fraction = _check_fraction(volume_fraction)
    return float(_distribution(dose_gy, mask).dose_at_volume(fraction))


def v_at_dose(dose_gy: np.ndarray, mask: Any, dose_threshold_gy: float) -> float:
    """V_d: the fraction (0–1) of the structure receiving at least ``dose_threshold_gy``."""
    if not math.isfinite(dose_threshold_gy):
        raise OutOfRangeError("dose threshold", dose_threshold_gy, -math.inf, math.inf, "Gy")
    return float(_distribution(dose_gy, mask).volume_at_dose(dose_threshold_gy))


def mean_dose(dose_gy: np.ndarray, mask: Any) -> float:
    """Mean dose of the structure's voxels (those at least half inside), Gy."""
    return _distribution(dose_gy, mask).mean_gy


def min_dose(dose_gy: np.ndarray, mask: Any) -> float:
    """Lowest dose of any voxel in the structure, Gy."""
    return _distribution(dose_gy, mask).min_gy


def max_dose(dose_gy: np.ndarray, mask: Any) -> float:
    """Highest dose of any voxel in the structure, Gy."""
    return _distribution(dose_gy, mask).max_gy


def _distribution(dose_gy: np.ndarray, mask: Any) -> DoseDistribution:
    dose = as_dose(dose_gy)
    name = str(getattr(mask, "name", "structure"))
    return DoseDistribution.from_arrays(dose, as_structure_weights(mask, dose.shape, name=name))


def _check_fraction(volume_fraction: float) -> float:
    fraction = float(volume_fraction)
    if not 0.0 <= fraction <= 1.0:
        raise OutOfRangeError("volume fraction (D95 → 0.95)", volume_fraction, 0.0, 1.0)
    return fraction


def _dose_edges(top_gy: float, bin_width_gy: float | None) -> np.ndarray:
    """Bin edges from 0 to at least ``top_gy``."""
    if not math.isfinite(top_gy) or top_gy < 0:
        raise ConfigError(f"DVH maximum dose must be a finite dose ≥ 0 Gy; got {top_gy}")
    top = top_gy if top_gy > 0 else 1.0  # an all-zero dose still gets a usable axis
    if bin_width_gy is None:
        return np.linspace(0.0, top, _DEFAULT_BINS + 1)
    if not math.isfinite(bin_width_gy) or bin_width_gy <= 0:
        raise ConfigError(f"DVH bin width must be > 0 Gy; got {bin_width_gy}")
    n_bins = max(1, math.ceil(top / bin_width_gy - 1e-9))
    if n_bins > _MAX_BINS:
        raise ConfigError(
            f"DVH would need {n_bins} bins of {bin_width_gy:g} Gy up to {top:g} Gy; "
            f"use a bin width of at least {top / _MAX_BINS:.3g} Gy"
        )
    return np.arange(n_bins + 1) * float(bin_width_gy)


def _histogram(
    name: str, dist: DoseDistribution, edges: np.ndarray, grid: Grid
) -> DoseVolumeHistogram:
    cumulative = dist.volume_at_dose(edges)
    differential = cumulative[:-1] - cumulative[1:]
    for array in (edges, cumulative, differential):
        array.flags.writeable = False
    return DoseVolumeHistogram(
        name=name,
        dose_edges_gy=edges,
        cumulative_volume_fraction=cumulative,
        differential_volume_fraction=differential,
        volume_cm3=dist.total_weight * grid.voxel_volume_mm3 / 1000.0,
    )
