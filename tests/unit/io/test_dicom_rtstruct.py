"""RT Structure Sets: contours → masks (holes, islands, planes between slices), FoR matching."""

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from ionbeam.errors import DicomError
from ionbeam.io.dicom import ct_datasets, read_rtstruct, rtstruct_dataset
from ionbeam.io.dicom._files import write_dataset
from ionbeam.patient import CT, Grid, Structure, StructureSet


def _ct() -> CT:
    grid = Grid((20, 20, 10), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))  # slices at z = 0, 2, …, 18
    return CT(np.zeros(grid.shape), grid)


def _contour(points_xy: list, z: float, kind: str = "CLOSED_PLANAR") -> Dataset:
    contour = Dataset()
    contour.ContourGeometricType = kind
    contour.NumberOfContourPoints = len(points_xy)
    contour.ContourData = [v for x, y in points_xy for v in (x, y, z)]
    return contour


def _square(x0: float, y0: float, x1: float, y1: float) -> list:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _write(tmp_path: Path, contours: list[Dataset], *, frame_uid: str | None = None):
    ct = _ct()
    from ionbeam.io.dicom import StudyInfo

    _, series = ct_datasets(ct, StudyInfo.new("p", seed=1))
    placeholder = StructureSet([Structure("ROI", np.ones(ct.grid.shape, bool), ct.grid)])
    ds = rtstruct_dataset(placeholder, series)
    ds.ROIContourSequence[0].ContourSequence = Sequence(contours)
    if frame_uid is not None:
        ds.StructureSetROISequence[0].ReferencedFrameOfReferenceUID = frame_uid
    path = tmp_path / "RS.dcm"
    write_dataset(ds, path)
    return path, series


def test_hole_and_two_islands_on_one_slice(tmp_path: Path) -> None:
    contours = [
        _contour(_square(1.5, 1.5, 10.5, 10.5), 4.0),  # outer: voxels 2..10
        _contour(_square(4.5, 4.5, 7.5, 7.5)[::-1], 4.0),  # hole: voxels 5..7 (either winding)
        _contour(_square(13.5, 13.5, 16.5, 16.5), 4.0),  # island: voxels 14..16
    ]
    path, series = _write(tmp_path, contours)
    mask = read_rtstruct(path, series).structures["ROI"].mask
    expected = np.zeros((20, 20), bool)
    expected[2:11, 2:11] = True
    expected[5:8, 5:8] = False
    expected[14:17, 14:17] = True
    np.testing.assert_array_equal(mask[:, :, 2], expected)
    assert mask.sum() == expected.sum()  # only the slice at z = 4


def test_contours_between_and_on_every_other_slice(tmp_path: Path) -> None:
    # Contour planes every 4 mm at z = 5, 9, 13 (between the 2 mm CT slices): every CT
    # slice within half the contour spacing of a plane gets that plane's shape.
    contours = [_contour(_square(2.5, 2.5, 6.5, 6.5), z) for z in (5.0, 9.0, 13.0)]
    path, series = _write(tmp_path, contours)
    mask = read_rtstruct(path, series).structures["ROI"].mask
    filled = np.flatnonzero(mask.any(axis=(0, 1)))
    np.testing.assert_array_equal(series.ct.grid.axes_mm()[2][filled], [4, 6, 8, 10, 12, 14])
    assert np.all(mask[3:7, 3:7, filled]) and mask[:, :, filled].sum() == 16 * filled.size


def test_point_contours_are_ignored_and_oblique_ones_refused(tmp_path: Path) -> None:
    path, series = _write(tmp_path, [_contour([(5.0, 5.0)], 4.0, "POINT")])
    assert read_rtstruct(path, series).structures["ROI"].is_empty
    tilted = _contour(_square(2, 2, 6, 6), 4.0)
    tilted.ContourData[2] = 5.0
    path, series = _write(tmp_path, [tilted])
    with pytest.raises(DicomError, match="axial"):
        read_rtstruct(path, series)


def test_other_frame_of_reference_refused(tmp_path: Path) -> None:
    path, series = _write(tmp_path, [_contour(_square(2, 2, 6, 6), 4.0)], frame_uid="1.2.3")
    with pytest.raises(DicomError, match="frame of reference"):
        read_rtstruct(path, series)


def test_not_an_rtstruct(tmp_path: Path) -> None:
    from ionbeam.io.dicom import StudyInfo

    datasets, series = ct_datasets(_ct(), StudyInfo.new("p", seed=1))
    write_dataset(datasets[0], tmp_path / "ct.dcm")
    with pytest.raises(DicomError, match="not an RT Structure Set"):
        read_rtstruct(tmp_path / "ct.dcm", series)


def test_malformed_contour_data_refused(tmp_path: Path) -> None:
    broken = _contour(_square(2, 2, 6, 6), 4.0)
    broken.ContourData = [*broken.ContourData, 1.0]  # 13 numbers: not x, y, z triplets
    path, series = _write(tmp_path, [broken])
    with pytest.raises(DicomError, match="malformed"):
        read_rtstruct(path, series)
