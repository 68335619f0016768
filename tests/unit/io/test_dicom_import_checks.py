"""DICOM import refuses what no patient has, in one line naming the file, and warns
about what it drops: implausible CT numbers, inconsistent rescale, NaN pixels,
damaged or truncated structure sets, NaN contours, degenerate or misplaced
contours, folders without a structure set or with one of another CT."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from ionbeam.errors import DicomError
from ionbeam.io.dicom import read_ct_series, read_dicom_patient, write_dicom_patient
from ionbeam.patient.phantoms import make_phantom


def _one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


# --- CT numbers ------------------------------------------------------------------


def _set_slope(slope: float, slices: slice = slice(None)):
    def edit(datasets: list[Dataset]) -> list[Dataset]:
        for ds in datasets[slices]:
            ds.RescaleSlope = slope
        return datasets

    return edit


@pytest.mark.parametrize(
    ("edit", "message", "file"),
    [
        (_set_slope(0.0, slice(2, 3)), "RescaleSlope must be a positive number", "img002"),
        (_set_slope(-1.0, slice(0, 1)), "RescaleSlope must be a positive number", "img000"),
        (_set_slope(2.0, slice(1, 2)), "differ from the 1/0 of the other slices", "img001"),
    ],
)
def test_bad_rescale_is_refused_naming_the_file(write_series, edit, message, file) -> None:
    with pytest.raises(DicomError, match=message) as error:
        read_ct_series(write_series(None, edit))
    assert f"{file}.dcm" in _one_line(error)


def test_implausible_ct_numbers_are_refused(write_series) -> None:
    """RescaleSlope 1000 on every slice gives CT numbers up to ~1e6 HU: refused
    (plausible: -1100…+4000 HU for all but 1 % of the voxels)."""
    with pytest.raises(DicomError, match=r"outside -1100…\+4000 HU") as error:
        read_ct_series(write_series(None, _set_slope(1000.0)))
    assert "RescaleSlope" in _one_line(error)


def test_metal_and_padding_are_not_implausible(write_series) -> None:
    """A few metal voxels (10000 HU, under 1 %) and padding (-3024 HU outside the
    reconstruction circle, -2000 HU where PixelPaddingValue says so) are kept."""

    def metal_and_padding(datasets):
        for k, ds in enumerate(datasets):
            image = np.frombuffer(ds.PixelData, dtype="<i2").copy()
            image[:3] = -3024
            image[-20:] = -2000  # a quarter of each 9 × 9 slice
            ds.PixelPaddingValue = -2000
            if k == 0:
                image[10] = 10000
            ds.PixelData = image.tobytes()
        return datasets

    big = make_phantom("water", spacing_mm=20.0).ct  # 1 metal voxel in 9 × 9 × 9
    series = read_ct_series(write_series(big, metal_and_padding))
    assert series.ct.hu.max() == 10000.0
    assert series.ct.hu.min() == -1024.0

    def undeclared(datasets):
        for ds in metal_and_padding(datasets):
            del ds.PixelPaddingValue
        return datasets

    with pytest.raises(DicomError, match=r"24\.8 % of the CT numbers"):
        read_ct_series(write_series(big, undeclared, name="undeclared"))


def test_nan_pixels_are_refused_naming_the_file(write_series) -> None:
    def float_pixels(datasets):
        ds = datasets[1]
        image = np.frombuffer(ds.PixelData, dtype="<i2").astype("<f4")
        image[4] = np.nan
        del ds.PixelData
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
        ds.FloatPixelData = image.tobytes()
        return datasets

    with pytest.raises(DicomError, match="NaN") as error:
        read_ct_series(write_series(None, float_pixels))
    assert "img001.dcm" in _one_line(error)


def test_malformed_header_values_are_refused_naming_the_file(write_series) -> None:
    def text_position(datasets):
        datasets[2].ImagePositionPatient = ["1", "2"]
        return datasets

    with pytest.raises(DicomError, match="malformed CT image header") as error:
        read_ct_series(write_series(None, text_position))
    assert "img002.dcm" in _one_line(error)


def test_patient_name_too_long_for_dicom_is_refused(write_series) -> None:
    folder = write_series()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the length, and goes on
        for path in folder.iterdir():
            ds = pydicom.dcmread(path)
            ds.PatientName = "A" * 10_000
            ds.save_as(path)
        with pytest.raises(DicomError, match="PatientName has 10000 characters") as error:
            read_ct_series(folder)
    assert "(64)" in _one_line(error)


# --- structure sets and folders --------------------------------------------------


@pytest.fixture(scope="module")
def water_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The water phantom (Body, Target) at 20 mm as a CT series and RS.dcm."""
    out = tmp_path_factory.mktemp("water") / "patient"
    write_dicom_patient(make_phantom("water", spacing_mm=20.0), out)
    return out


def _copy(water_folder: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "patient"
    shutil.copytree(water_folder, folder)
    return folder


def _edit_rs(folder: Path, edit) -> None:
    ds = pydicom.dcmread(folder / "RS.dcm")
    edit(ds)
    ds.save_as(folder / "RS.dcm")


@pytest.mark.parametrize("fraction", [0.2, 0.45, 0.7, 0.95])
def test_truncated_structure_set_is_refused(water_folder, tmp_path, fraction) -> None:
    folder = _copy(water_folder, tmp_path)
    data = (folder / "RS.dcm").read_bytes()
    (folder / "RS.dcm").write_bytes(data[: int(fraction * len(data))])
    with pytest.raises(DicomError, match=r"RS\.dcm") as error:
        read_dicom_patient(folder)
    _one_line(error)


def test_nan_in_contour_data_is_refused(water_folder, tmp_path) -> None:
    folder = _copy(water_folder, tmp_path)
    data = (folder / "RS.dcm").read_bytes()
    ds = pydicom.dcmread(folder / "RS.dcm")
    first = ds.ROIContourSequence[1].ContourSequence[0].ContourData[0]
    text = f"{float(first):.3f}".encode()
    assert data.count(text) >= 1
    (folder / "RS.dcm").write_bytes(data.replace(text, b"NaN".ljust(len(text)), 1))
    with pytest.raises(DicomError, match="NaN or infinity") as error:
        read_dicom_patient(folder)
    assert "RS.dcm" in _one_line(error)


def test_degenerate_and_outside_contours_are_dropped_with_a_warning(water_folder, tmp_path) -> None:
    folder = _copy(water_folder, tmp_path)

    def add_bad_contours(ds: Dataset) -> None:
        contours = ds.ROIContourSequence[1].ContourSequence
        two_points = Dataset()
        two_points.ContourGeometricType = "CLOSED_PLANAR"
        two_points.NumberOfContourPoints = 2
        z = contours[0].ContourData[2]
        two_points.ContourData = [0, 0, z, 5, 5, z]
        outside = Dataset()
        outside.ContourGeometricType = "CLOSED_PLANAR"
        outside.NumberOfContourPoints = 3
        outside.ContourData = [0, 0, 900, 10, 0, 900, 0, 10, 900]
        contours.extend([two_points, outside])

    expected = read_dicom_patient(folder).structures["Target"].mask
    _edit_rs(folder, add_bad_contours)
    with pytest.warns(UserWarning) as record:
        patient = read_dicom_patient(folder)
    messages = " | ".join(str(w.message) for w in record)
    assert "'Target'" in messages
    assert "1 contour with fewer than 3 points" in messages
    assert "1 contour outside the CT" in messages
    np.testing.assert_array_equal(patient.structures["Target"].mask, expected)


def test_unnamed_roi_is_named_by_its_number(water_folder, tmp_path) -> None:
    folder = _copy(water_folder, tmp_path)

    def unname(ds: Dataset) -> None:
        ds.StructureSetROISequence[1].ROIName = ""

    _edit_rs(folder, unname)
    patient = read_dicom_patient(folder)
    assert list(patient.structures) == ["Body", "ROI 2"]


def test_folder_without_structure_set_says_so(water_folder, tmp_path) -> None:
    folder = _copy(water_folder, tmp_path)
    (folder / "RS.dcm").unlink()
    with pytest.raises(DicomError, match="no RT Structure Set") as error:
        read_dicom_patient(folder)
    assert str(folder) in _one_line(error)


def test_structure_set_of_another_ct_is_named(water_folder, tmp_path) -> None:
    folder = _copy(water_folder, tmp_path)

    def foreign(ds: Dataset) -> None:
        ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = "1.2.3.4.5"

    _edit_rs(folder, foreign)
    with pytest.raises(DicomError, match="another frame of reference") as error:
        read_dicom_patient(folder)
    assert "1.2.3.4.5" in _one_line(error)


def test_stray_files_in_the_folder_are_skipped_with_a_warning(water_folder, tmp_path) -> None:
    folder = _copy(water_folder, tmp_path)
    (folder / "README").write_text("exported by hand\n")
    (folder / "screenshot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.warns(UserWarning, match="is not a DICOM file; skipped") as record:
        patient = read_dicom_patient(folder)
    skipped = {Path(str(w.message).split(" is not")[0]).name for w in record}
    assert skipped == {"README", "screenshot.png"}
    assert list(patient.structures) == ["Body", "Target"]
