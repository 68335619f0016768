"""Solid shapes as boolean masks on a grid (voxel centre inside ⇔ voxel in the shape).

Masks are built by broadcasting the three coordinate axes, so no coordinate
array of the full grid is ever made.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.patient.grid import Grid

__all__ = [
    "box",
    "centred_grid",
    "coordinates",
    "ellipsoid",
    "elliptic_cylinder_z",
    "oriented_box",
]

# A point or extent in mm: a sequence of floats or a numpy array.
Vector: TypeAlias = Sequence[float] | np.ndarray


def centred_grid(size_mm: Vector, spacing_mm: float) -> Grid:
    """A grid covering at least ``size_mm`` (x, y, z), centred on the origin."""
    spacing = float(spacing_mm)
    if not math.isfinite(spacing) or spacing <= 0:
        raise ConfigError(f"phantom spacing_mm must be a positive number; got {spacing_mm!r}")
    shape = tuple(max(1, math.ceil(float(s) / spacing - 1e-9)) for s in size_mm)
    origin = tuple(-(n - 1) * spacing / 2 for n in shape)
    return Grid(shape, (spacing,) * 3, origin)  # type: ignore[arg-type]


def coordinates(grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxel-centre coordinates shaped for broadcasting: [nx,1,1], [1,ny,1], [1,1,nz]."""
    x, y, z = grid.axes_mm()
    return x[:, None, None], y[None, :, None], z[None, None, :]


def box(grid: Grid, low_mm: Vector, high_mm: Vector) -> np.ndarray:
    """Axis-aligned box low ≤ r ≤ high."""
    x, y, z = coordinates(grid)
    return (
        (x >= low_mm[0]) & (x <= high_mm[0])
        & (y >= low_mm[1]) & (y <= high_mm[1])
        & (z >= low_mm[2]) & (z <= high_mm[2])
    )  # fmt: skip


def ellipsoid(grid: Grid, centre_mm: Vector, semi_axes_mm: Vector) -> np.ndarray:
    """Axis-aligned ellipsoid."""
    x, y, z = coordinates(grid)
    (cx, cy, cz), (ax, ay, az) = centre_mm, semi_axes_mm
    return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 + ((z - cz) / az) ** 2 <= 1.0


def elliptic_cylinder_z(
    grid: Grid,
    centre_xy_mm: Vector,
    semi_axes_xy_mm: Vector,
    z_range_mm: Vector,
) -> np.ndarray:
    """Elliptic cylinder along z (the patient's long axis)."""
    x, y, z = coordinates(grid)
    (cx, cy), (ax, ay) = centre_xy_mm, semi_axes_xy_mm
    inside_xy = ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 <= 1.0
    return inside_xy & (z >= z_range_mm[0]) & (z <= z_range_mm[1])


def oriented_box(
    grid: Grid,
    centre_mm: Vector,
    axes: Sequence[Vector],
    half_sizes_mm: Vector,
) -> np.ndarray:
    """Box with orthonormal edge directions ``axes`` (three vectors) and half sizes."""
    x, y, z = coordinates(grid)
    d = (x - centre_mm[0], y - centre_mm[1], z - centre_mm[2])
    inside = np.ones(grid.shape, dtype=bool)
    for axis, half in zip(axes, half_sizes_mm, strict=True):
        u = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
        inside &= np.abs(u[0] * d[0] + u[1] * d[1] + u[2] * d[2]) <= half
    return inside
