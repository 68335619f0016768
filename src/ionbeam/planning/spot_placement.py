"""Spot placement: the energy layers and spots that cover a target from one beam.

Lateral positions lie on a square grid in the beam's-eye-view plane through
the isocentre (spacing ``spot_spacing_mm``, one node on the isocentre). A
node gets spots when a voxel of the target projects into its cell (the
projection follows the divergence of the scanning magnets). For each such
node, the energies are those of the machine's library whose Bragg peak in
water lies between the smallest and largest WEPL of the target voxels in the
cell (widened by ``layer_margin_mm``), so that every layer's peak falls in the
target along that pencil. This is matRad's ``generateStf`` rule, with the
WEPL range taken over the whole cell rather than one central ray, which
covers the target's lateral edges more reliably.

Spots come back in delivery order: layers from the highest energy to the
lowest, and in each layer a serpentine (boustrophedon) raster along x, row by
row in y, which is how synchrotron facilities scan a layer.
"""

from __future__ import annotations

import math

import numpy as np

from ionbeam.errors import ConfigError, MachineLimitError, StructureError
from ionbeam.patient.grid import Grid
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import SpotMap
from ionbeam.planning.raytrace import wepl_at_points

__all__ = ["place_spots", "required_range_shifter_mm", "serpentine_order"]


def place_spots(
    spr: np.ndarray,
    grid: Grid,
    target_mask: np.ndarray,
    geometry: BeamGeometry,
    *,
    energies_mev_u: np.ndarray,
    peak_depths_mm: np.ndarray,
    spot_spacing_mm: float,
    range_shifter_wet_mm: float = 0.0,
    layer_margin_mm: float = 0.0,
    wepl_mm: np.ndarray | None = None,
    range_margin_fraction: float = 0.0,
) -> SpotMap:
    """Spots covering ``target_mask`` (on ``grid``) from the beam ``geometry``.

    ``energies_mev_u`` and ``peak_depths_mm`` describe the machine's energy
    library (Bragg-peak depth in water of each energy). ``range_shifter_wet_mm``
    is added to every WEPL. ``wepl_mm`` may pass a WEPL map of this beam on
    ``grid`` computed beforehand. ``range_margin_fraction`` f widens each cell's WEPL
    window to [(1 − f) w_min, (1 + f) w_max] (robust planning: layers for a relative
    range error f). Weights of the returned spots are zero.
    """
    if not (math.isfinite(range_margin_fraction) and 0.0 <= range_margin_fraction < 0.5):
        raise ConfigError(
            f"range_margin_fraction must be within [0, 0.5); got {range_margin_fraction}"
        )
    if not math.isfinite(spot_spacing_mm) or spot_spacing_mm <= 0:
        raise ConfigError(f"spot spacing must be a positive number of mm; got {spot_spacing_mm}")
    mask = np.asarray(target_mask, dtype=bool)
    grid.check_volume(mask, "target mask")
    if not mask.any():
        raise StructureError("the target is empty: no voxel to place spots on")
    energies, peaks = _library(energies_mev_u, peak_depths_mm)
    points = grid.index_to_world(np.argwhere(mask))
    if wepl_mm is None:
        wepl = wepl_at_points(spr, grid, geometry, points).astype(float)
    else:
        wepl = np.asarray(wepl_mm)[mask].astype(float)
    wepl = wepl + range_shifter_wet_mm
    uv = geometry.project_to_isoplane(points)
    cell = np.rint(uv / spot_spacing_mm).astype(np.int64)
    _check_depths(wepl, peaks, range_shifter_wet_mm)
    keys, inverse = np.unique(cell, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    w_min = np.full(keys.shape[0], np.inf)
    w_max = np.full(keys.shape[0], -np.inf)
    np.minimum.at(w_min, inverse, wepl)
    np.maximum.at(w_max, inverse, wepl)
    f = float(range_margin_fraction)
    lo = np.searchsorted(peaks, (1.0 - f) * w_min - layer_margin_mm, side="left")
    hi = np.searchsorted(peaks, (1.0 + f) * w_max + layer_margin_mm, side="right")
    # A cell thinner than the layer spacing still gets the energy nearest to its middle.
    empty = hi <= lo
    nearest = np.clip(np.searchsorted(peaks, 0.5 * (w_min + w_max)), 0, peaks.size - 1)
    lo = np.where(empty, nearest, lo)
    hi = np.where(empty, nearest + 1, hi)
    counts = hi - lo
    node = np.repeat(np.arange(keys.shape[0]), counts)
    energy_index = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    x = keys[node, 0] * spot_spacing_mm
    y = keys[node, 1] * spot_spacing_mm
    e = energies[energy_index]
    order = serpentine_order(e, x, y)
    return SpotMap(e[order], x[order], y[order], np.zeros(order.size))


def serpentine_order(energy_mev_u: np.ndarray, x_mm: np.ndarray, y_mm: np.ndarray) -> np.ndarray:
    """Index order: layers by decreasing energy; in each, rows of increasing y,
    scanned along x in alternating directions."""
    energy = np.asarray(energy_mev_u, dtype=float)
    x = np.asarray(x_mm, dtype=float)
    y = np.asarray(y_mm, dtype=float)
    layer = np.unique(-energy, return_inverse=True)[1].reshape(-1)
    row = np.unique(np.round(y, 6), return_inverse=True)[1].reshape(-1)
    direction = np.where(row % 2 == 0, 1.0, -1.0)
    return np.lexsort((direction * x, row, layer))


def required_range_shifter_mm(min_target_wepl_mm: float, shallowest_peak_mm: float) -> float:
    """Water-equivalent thickness (mm) a range shifter needs so that the shallowest
    target point is reached by the lowest energy: 0 when none is needed."""
    return max(0.0, float(shallowest_peak_mm) - float(min_target_wepl_mm))


def _library(energies_mev_u: np.ndarray, peak_depths_mm: np.ndarray) -> tuple[np.ndarray, ...]:
    energies = np.asarray(energies_mev_u, dtype=float).reshape(-1)
    peaks = np.asarray(peak_depths_mm, dtype=float).reshape(-1)
    if energies.size == 0 or energies.shape != peaks.shape:
        raise ConfigError(
            "the energy library needs one Bragg-peak depth per energy; "
            f"got {energies.size} energies and {peaks.size} depths"
        )
    order = np.argsort(peaks)
    if np.any(np.diff(energies[order]) <= 0):
        raise ConfigError("Bragg-peak depths must increase with energy in the energy library")
    return energies[order], peaks[order]


def _check_depths(wepl: np.ndarray, peaks: np.ndarray, range_shifter_wet_mm: float) -> None:
    step = float(np.max(np.diff(peaks))) if peaks.size > 1 else 1.0
    deepest, shallowest = float(wepl.max()), float(wepl.min())
    if deepest > peaks[-1] + step:
        raise MachineLimitError(
            "target water-equivalent depth",
            round(deepest, 1),
            float(peaks[0]),
            float(peaks[-1]),
            "mm",
            hint="the machine's Bragg-peak depths; choose another beam angle",
        )
    if shallowest < peaks[0] - step:
        need = required_range_shifter_mm(shallowest, peaks[0]) + range_shifter_wet_mm
        raise MachineLimitError(
            "target water-equivalent depth",
            round(shallowest, 1),
            float(peaks[0]),
            float(peaks[-1]),
            "mm",
            hint=f"use a range shifter of at least {need:.0f} mm WET "
            "(--range-shifter-wet-mm, or range_shifter_wet_mm of the beam)",
        )
