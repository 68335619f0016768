"""The voxel grid every volume (CT, dose, mask) lives on.

Volumes are numpy arrays indexed ``[x, y, z]`` in the DICOM patient
coordinate system (LPS: x to the patient's left, y posterior, z superior).
``origin_mm`` is the centre of voxel ``[0, 0, 0]``; voxel ``[i, j, k]`` has
its centre at ``origin_mm + (i, j, k) * spacing_mm``. Only axis-aligned grids
are supported (DICOM import resamples or refuses oblique series).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ionbeam.errors import GridMismatchError

__all__ = ["Grid"]


@dataclass(frozen=True)
class Grid:
    """An axis-aligned voxel grid: ``shape`` (nx, ny, nz), ``spacing_mm`` and
    ``origin_mm`` (centre of voxel [0, 0, 0]), all in patient LPS coordinates."""

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        shape = tuple(int(n) for n in self.shape)
        spacing = tuple(float(s) for s in self.spacing_mm)
        origin = tuple(float(o) for o in self.origin_mm)
        if len(shape) != 3 or len(spacing) != 3 or len(origin) != 3:
            raise GridMismatchError(
                "a Grid needs three values each for shape, spacing_mm and origin_mm; "
                f"got shape={self.shape}, spacing_mm={self.spacing_mm}, origin_mm={self.origin_mm}"
            )
        if min(shape) < 1:
            raise GridMismatchError(f"grid shape must be positive in every axis; got {shape}")
        if not all(np.isfinite(spacing)) or min(spacing) <= 0:
            raise GridMismatchError(f"grid spacing must be positive and finite; got {spacing} mm")
        if not all(np.isfinite(origin)):
            raise GridMismatchError(f"grid origin must be finite; got {origin} mm")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "spacing_mm", spacing)
        object.__setattr__(self, "origin_mm", origin)

    @property
    def size(self) -> int:
        """Number of voxels."""
        nx, ny, nz = self.shape
        return nx * ny * nz

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel, mm³."""
        dx, dy, dz = self.spacing_mm
        return dx * dy * dz

    @property
    def extent_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners of the grid's bounding box (voxel edges), mm."""
        origin = np.asarray(self.origin_mm)
        half = 0.5 * np.asarray(self.spacing_mm)
        last = origin + (np.asarray(self.shape) - 1) * np.asarray(self.spacing_mm)
        return origin - half, last + half

    def axes_mm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Voxel-centre coordinates along x, y and z, mm."""
        return tuple(  # type: ignore[return-value]
            o + s * np.arange(n)
            for o, s, n in zip(self.origin_mm, self.spacing_mm, self.shape, strict=True)
        )

    def index_to_world(self, index: np.ndarray) -> np.ndarray:
        """Patient coordinates (mm) of (possibly fractional) voxel indices [..., 3]."""
        return np.asarray(self.origin_mm) + np.asarray(index, dtype=float) * np.asarray(
            self.spacing_mm
        )

    def world_to_index(self, point_mm: np.ndarray) -> np.ndarray:
        """Fractional voxel indices [..., 3] of patient coordinates (mm)."""
        return (np.asarray(point_mm, dtype=float) - np.asarray(self.origin_mm)) / np.asarray(
            self.spacing_mm
        )

    def contains(self, point_mm: np.ndarray) -> np.ndarray:
        """Whether each point [..., 3] (mm) lies inside the grid's bounding box."""
        lo, hi = self.extent_mm
        p = np.asarray(point_mm, dtype=float)
        return np.all((p >= lo) & (p <= hi), axis=-1)

    def voxel_centres_mm(self) -> np.ndarray:
        """Centres of all voxels as an array [nx, ny, nz, 3], mm (memory: 24 B/voxel)."""
        x, y, z = self.axes_mm()
        return np.stack(np.meshgrid(x, y, z, indexing="ij"), axis=-1)

    def check_volume(self, volume: np.ndarray, name: str = "volume") -> None:
        """Raise ``GridMismatchError`` unless ``volume`` has this grid's shape."""
        if tuple(np.shape(volume)) != self.shape:
            raise GridMismatchError(
                f"{name} has shape {tuple(np.shape(volume))} but the grid is {self.shape}; "
                "resample it onto the grid first"
            )
