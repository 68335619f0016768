"""The display planes: which voxels, which orientation, interpolation onto them."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import GeometryError
from ionbeam.patient import Grid
from ionbeam.report._planes import PLANE_VIEWS, ct_plane, plane_samples, volume_plane

GRID = Grid((10, 12, 14), (2.0, 3.0, 4.0), (-9.0, -16.5, 100.0))


def test_views_follow_the_radiological_convention() -> None:
    axial, coronal, sagittal = PLANE_VIEWS
    # Axial: x (to the patient's left) to the right, so R on the left; anterior (−y) on top.
    assert (axial.normal_axis, axial.horizontal_axis, axial.vertical_axis) == (2, 0, 1)
    assert axial.vertical_downwards and axial.letters == ("R", "L", "A", "P")
    assert (coronal.normal_axis, coronal.letters) == (1, ("R", "L", "S", "I"))
    assert (sagittal.normal_axis, sagittal.horizontal_axis) == (0, 1)
    assert sagittal.letters == ("A", "P", "S", "I") and not sagittal.vertical_downwards


def test_planes_go_through_the_nearest_voxel() -> None:
    point = np.array([-9.0 + 2.0 * 3 + 0.4, -16.5 + 3.0 * 7 - 1.0, 100.0 + 4.0 * 5 + 1.9])
    axial, coronal, sagittal = plane_samples(GRID, point, max_pixels=100)
    assert (axial.index, coronal.index, sagittal.index) == (5, 7, 3)
    assert axial.position_mm == pytest.approx(120.0)
    assert axial.title == "axial z = 120.0 mm"
    assert axial.grid.shape == (10, 12, 1)
    assert sagittal.extent_mm == pytest.approx((-18.0, 18.0, 98.0, 154.0))


def test_ct_plane_takes_the_slice_and_the_stride() -> None:
    volume = np.arange(GRID.size).reshape(GRID.shape)
    axial, coronal, _ = plane_samples(GRID, np.array([0.0, 0.0, 110.0]), max_pixels=5)
    assert axial.strides == (2, 3)
    np.testing.assert_array_equal(ct_plane(volume, axial), volume[::2, ::3, axial.index])
    np.testing.assert_allclose(axial.horizontal_mm, GRID.axes_mm()[0][::2])
    np.testing.assert_array_equal(ct_plane(volume, coronal), volume[::2, coronal.index, ::3])


def test_volume_plane_interpolates_a_linear_field_exactly() -> None:
    coarse = Grid((6, 7, 8), (5.0, 5.0, 6.0), (-12.0, -17.0, 98.0))
    centres = coarse.voxel_centres_mm()
    field = 2.0 * centres[..., 0] - centres[..., 1] + 0.5 * centres[..., 2]
    axial = plane_samples(GRID, np.array([0.0, 0.0, 112.0]), max_pixels=100)[0]
    plane = volume_plane(field, coarse, axial)
    h, v = np.meshgrid(axial.horizontal_mm, axial.vertical_mm, indexing="ij")
    expected = 2.0 * h - v + 0.5 * axial.position_mm
    inside = (h >= coarse.origin_mm[0]) & (h <= -12.0 + 25.0) & (v >= -17.0) & (v <= 13.0)
    np.testing.assert_allclose(plane[inside], expected[inside], rtol=1e-5, atol=1e-4)


def test_point_outside_the_ct_is_refused() -> None:
    with pytest.raises(GeometryError, match="outside the CT"):
        plane_samples(GRID, np.array([0.0, 0.0, 0.0]), max_pixels=100)
