"""The three display planes (axial, coronal, sagittal) through a point of the CT.

Volumes are ``[x, y, z]`` in DICOM LPS (x to the patient's left, y posterior,
z superior). Each plane is drawn in the radiological convention: axial and
coronal views show the patient's right on the image's left; the axial view
has anterior at the top, coronal and sagittal views superior at the top, and
the sagittal view anterior on the left. A plane is sampled on the CT's own
voxels (every n-th one when the CT is large), and other volumes (dose, LET)
are interpolated onto those same points with :func:`ionbeam.patient.resample`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np

from ionbeam.errors import GeometryError
from ionbeam.patient import Grid, resample

__all__ = ["PLANE_VIEWS", "PlaneSample", "PlaneView", "ct_plane", "plane_samples", "volume_plane"]


@dataclass(frozen=True)
class PlaneView:
    """How one plane is drawn: the axis normal to it, the patient axes along the
    image's horizontal and vertical, whether the vertical axis points down, and
    the orientation letters at the image's left, right, top and bottom."""

    name: str
    normal_axis: int
    horizontal_axis: int
    vertical_axis: int
    vertical_downwards: bool
    letters: tuple[str, str, str, str]


#: Axial (z fixed), coronal (y fixed) and sagittal (x fixed), radiological convention.
PLANE_VIEWS: tuple[PlaneView, ...] = (
    PlaneView("axial", 2, 0, 1, True, ("R", "L", "A", "P")),
    PlaneView("coronal", 1, 0, 2, False, ("R", "L", "S", "I")),
    PlaneView("sagittal", 0, 1, 2, False, ("A", "P", "S", "I")),
)
_AXIS_NAMES = "xyz"


@dataclass(frozen=True, eq=False)
class PlaneSample:
    """One plane of the CT: its ``view``, the CT voxel ``index`` along the normal
    axis and its ``position_mm``, the in-plane ``strides`` (every n-th voxel), and
    the 3-D ``grid`` (one voxel thick) of the sampled points."""

    view: PlaneView
    index: int
    position_mm: float
    strides: tuple[int, int]
    grid: Grid

    @property
    def horizontal_mm(self) -> np.ndarray:
        """Coordinates along the image's horizontal axis, mm."""
        return self.grid.axes_mm()[self.view.horizontal_axis]

    @property
    def vertical_mm(self) -> np.ndarray:
        """Coordinates along the image's vertical axis, mm."""
        return self.grid.axes_mm()[self.view.vertical_axis]

    @property
    def extent_mm(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) voxel edges for ``imshow(origin="lower")``, mm."""
        h, v = self.horizontal_mm, self.vertical_mm
        dh = self.grid.spacing_mm[self.view.horizontal_axis] / 2
        dv = self.grid.spacing_mm[self.view.vertical_axis] / 2
        return (float(h[0] - dh), float(h[-1] + dh), float(v[0] - dv), float(v[-1] + dv))

    @property
    def title(self) -> str:
        """E.g. ``"axial z = 12.5 mm"``."""
        return f"{self.view.name} {_AXIS_NAMES[self.view.normal_axis]} = {self.position_mm:.1f} mm"


def plane_samples(ct_grid: Grid, point_mm: np.ndarray, *, max_pixels: int) -> list[PlaneSample]:
    """The axial, coronal and sagittal planes of ``ct_grid`` through ``point_mm``
    (the nearest CT voxel), each sampled at most ``max_pixels`` points per axis."""
    point = np.asarray(point_mm, dtype=float)
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise GeometryError(f"the slice point must be (x, y, z) in mm; got {point_mm!r}")
    if not bool(ct_grid.contains(point)):
        low, high = ct_grid.extent_mm
        raise GeometryError(
            f"the slice point {point.round(1).tolist()} mm lies outside the CT "
            f"({low.round(1).tolist()} to {high.round(1).tolist()} mm); choose a point inside it"
        )
    index = np.clip(
        np.rint(ct_grid.world_to_index(point)).astype(int), 0, np.asarray(ct_grid.shape) - 1
    )
    return [
        _sample(ct_grid, view, int(index[view.normal_axis]), max_pixels) for view in PLANE_VIEWS
    ]


def _sample(ct_grid: Grid, view: PlaneView, index: int, max_pixels: int) -> PlaneSample:
    shape = list(ct_grid.shape)
    spacing = list(ct_grid.spacing_mm)
    origin = list(ct_grid.origin_mm)
    strides = []
    for axis in (view.horizontal_axis, view.vertical_axis):
        stride = max(1, math.ceil(shape[axis] / max_pixels))
        strides.append(stride)
        shape[axis] = len(range(0, shape[axis], stride))
        spacing[axis] *= stride
    normal = view.normal_axis
    position = origin[normal] + index * spacing[normal]
    shape[normal] = 1
    origin[normal] = position
    grid = Grid(
        cast("tuple[int, int, int]", tuple(shape)),
        cast("tuple[float, float, float]", tuple(spacing)),
        cast("tuple[float, float, float]", tuple(origin)),
    )
    return PlaneSample(view, index, float(position), (strides[0], strides[1]), grid)


def ct_plane(volume: np.ndarray, sample: PlaneSample) -> np.ndarray:
    """The plane of a CT-grid volume (HU, mask) as a 2-D array [horizontal, vertical]."""
    plane = np.take(np.asarray(volume), sample.index, axis=sample.view.normal_axis)
    sh, sv = sample.strides
    return plane[::sh, ::sv]


def volume_plane(
    volume: np.ndarray, grid: Grid, sample: PlaneSample, *, fill_value: float = 0.0
) -> np.ndarray:
    """``volume`` (on ``grid``) interpolated linearly onto the plane's points, as a
    2-D float array [horizontal, vertical]; points outside ``grid`` get ``fill_value``."""
    on_plane = resample(volume, grid, sample.grid, method="linear", fill_value=fill_value)
    return np.take(on_plane, 0, axis=sample.view.normal_axis)
