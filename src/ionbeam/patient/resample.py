"""Resampling a volume from one axis-aligned grid onto another.

Both grids are axis-aligned in the same patient (LPS) coordinates, so
interpolation is separable: the volume is interpolated along x, then y, then
z, each a 1-D gather-and-blend. That needs memory for one intermediate
volume only, where ``scipy.ndimage.map_coordinates`` would need three full
coordinate arrays of the target grid (24 B per voxel).

Points of the target grid inside the source grid's bounding box (voxel
edges) but beyond the outermost voxel centres take the value of the edge
voxel; points outside the bounding box get ``fill_value``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.patient.grid import Grid

__all__ = ["resample"]

_METHODS = ("linear", "nearest")


def resample(
    volume: np.ndarray,
    grid: Grid,
    target_grid: Grid,
    *,
    method: Literal["linear", "nearest"] = "linear",
    fill_value: float | bool = 0.0,
) -> np.ndarray:
    """``volume`` (on ``grid``) resampled onto ``target_grid``.

    ``method="linear"`` is trilinear (for CT, SPR and dose); ``"nearest"`` is
    nearest-neighbour (for masks and labels; the dtype is kept). Target points
    outside ``grid``'s bounding box get ``fill_value`` (e.g. -1000 for HU,
    0 for dose, False for masks).
    """
    if method not in _METHODS:
        raise ConfigError(f"resampling method must be one of {', '.join(_METHODS)}; got {method!r}")
    grid.check_volume(volume)
    volume = np.asarray(volume)
    if grid == target_grid:
        return volume.copy()
    out_dtype = volume.dtype if method == "nearest" else np.result_type(volume.dtype, np.float32)
    result = volume
    inside_axes = []
    for axis in range(3):
        frac, inside = _axis_positions(grid, target_grid, axis)
        inside_axes.append(inside)
        if method == "nearest":
            result = np.take(result, np.rint(frac).astype(np.intp), axis=axis)
        else:
            result = _linear_along_axis(result.astype(out_dtype, copy=False), frac, axis)
    outside = ~(
        inside_axes[0][:, None, None]
        & inside_axes[1][None, :, None]
        & inside_axes[2][None, None, :]
    )
    result = np.array(result, dtype=out_dtype, copy=True)
    if np.any(outside):
        result[outside] = fill_value
    return result


def _axis_positions(grid: Grid, target: Grid, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional source indices (clamped) of the target voxel centres along one
    axis, and whether each lies inside the source's bounding box."""
    coords = target.axes_mm()[axis]
    frac = (coords - grid.origin_mm[axis]) / grid.spacing_mm[axis]
    n = grid.shape[axis]
    tolerance = 1e-9 * max(1.0, n)
    inside = (frac >= -0.5 - tolerance) & (frac <= n - 0.5 + tolerance)
    return np.clip(frac, 0.0, n - 1.0), inside


def _linear_along_axis(volume: np.ndarray, frac: np.ndarray, axis: int) -> np.ndarray:
    lower = np.floor(frac).astype(np.intp)
    upper = np.minimum(lower + 1, volume.shape[axis] - 1)
    weight_shape = [1, 1, 1]
    weight_shape[axis] = frac.size
    weight = (frac - lower).astype(volume.dtype).reshape(weight_shape)
    low_values = np.take(volume, lower, axis=axis)
    high_values = np.take(volume, upper, axis=axis)
    return low_values + weight * (high_values - low_values)
