"""CT image series: read a folder into a :class:`~ionbeam.patient.CT`, write one out.

Reading sorts the slices by their position along the slice normal (never by
file name or instance number), applies each slice's rescale slope and
intercept, and checks that the series is one series of axial slices with
the same geometry, uniformly spaced, with no missing or duplicated slice.
Axial slices whose rows or columns run along -x or -y (e.g. feet-first or
prone scans) are flipped into the [x, y, z] order of ionbeam; oblique or
non-axial series are refused. CT numbers below -1024 HU (padding outside
the reconstruction circle) are set to -1024 HU.

Writing stores HU as signed 16-bit integers (rescale slope 1, intercept 0),
so a read-back CT equals the original rounded to whole HU.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from ionbeam.errors import DicomError
from ionbeam.io.dicom._common import (
    StudyInfo,
    add_equipment,
    add_frame_of_reference,
    add_general_series,
    add_general_study,
    add_patient,
    new_dataset,
)
from ionbeam.io.dicom._files import dicom_files, read_dataset
from ionbeam.io.dicom._uids import CT_IMAGE_STORAGE, make_uid
from ionbeam.patient.ct import CT
from ionbeam.patient.grid import Grid

__all__ = ["CTSeries", "ct_datasets", "read_ct_series"]

#: Lowest CT number kept on reading; lower values are padding.
PADDING_HU = -1024.0
#: Tolerances: direction cosines, and positions/spacings (mm).
_COSINE_TOLERANCE = 1e-4
_POSITION_TOLERANCE_MM = 0.01


@dataclass(frozen=True, eq=False)
class CTSeries:
    """A CT with the DICOM identity an RTSTRUCT (or plan, or dose) must refer to:
    study, series and frame-of-reference UIDs, and the SOP instance UID and
    z position (mm) of each slice in ascending z."""

    ct: CT
    study: StudyInfo
    series_instance_uid: str
    sop_instance_uids: tuple[str, ...]
    slice_z_mm: tuple[float, ...]

    @property
    def frame_of_reference_uid(self) -> str:
        """The frame of reference shared by everything registered to this CT."""
        return self.study.frame_of_reference_uid


def read_ct_series(folder: str | Path, *, series_instance_uid: str | None = None) -> CTSeries:
    """Read the CT series in ``folder`` (other modalities there are ignored).

    A folder with several CT series needs ``series_instance_uid``.
    """
    datasets = [
        ds
        for ds in (read_dataset(p, stop_before_pixels=True) for p in dicom_files(Path(folder)))
        if getattr(ds, "Modality", None) == "CT"
    ]
    if not datasets:
        raise DicomError(f"no CT images in {folder}; give the folder of a CT series")
    datasets = _one_series(datasets, series_instance_uid, folder)
    for ds in datasets:
        _require(ds, ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
                      "Rows", "Columns", "SOPInstanceUID", "FrameOfReferenceUID"))  # fmt: skip
    flip_x, flip_y = _axial_orientation(datasets)
    datasets = sorted(datasets, key=lambda d: float(d.ImagePositionPatient[2]))
    z = np.array([float(d.ImagePositionPatient[2]) for d in datasets])
    dz = _uniform_spacing(z)
    grid = _grid(datasets[0], len(datasets), dz, flip_x, flip_y)
    _check_same_geometry(datasets)
    hu = np.empty(grid.shape, dtype=np.float32)
    for k, ds in enumerate(datasets):
        pixels = _pixels(Path(ds.filename))
        slope = float(getattr(ds, "RescaleSlope", 1.0))
        intercept = float(getattr(ds, "RescaleIntercept", 0.0))
        image = (pixels * slope + intercept).T  # [column, row] = [x, y]
        hu[:, :, k] = image[:: -1 if flip_x else 1, :: -1 if flip_y else 1]
    first = datasets[0]
    study = StudyInfo(
        patient_name=str(getattr(first, "PatientName", "")).rstrip("^"),
        patient_id=str(getattr(first, "PatientID", "")),
        study_instance_uid=str(first.StudyInstanceUID),
        frame_of_reference_uid=str(first.FrameOfReferenceUID),
        study_date=str(getattr(first, "StudyDate", "")),
        study_time=str(getattr(first, "StudyTime", "")),
        study_id=str(getattr(first, "StudyID", "")),
        study_description=str(getattr(first, "StudyDescription", "")),
    )
    return CTSeries(
        ct=CT(np.maximum(hu, PADDING_HU), grid),
        study=study,
        series_instance_uid=str(first.SeriesInstanceUID),
        sop_instance_uids=tuple(str(d.SOPInstanceUID) for d in datasets),
        slice_z_mm=tuple(float(v) for v in z),
    )


def _pixels(path: Path) -> np.ndarray:
    try:
        return read_dataset(path).pixel_array.astype(np.float32)
    except (AttributeError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise DicomError(
            f"{path}: cannot decode the pixel data ({exc}); a compressed transfer syntax may "
            "need a pydicom pixel-data plugin (e.g. pylibjpeg), or the file is damaged"
        ) from None


def _require(ds: Dataset, keywords: Sequence[str]) -> None:
    missing = [k for k in keywords if k not in ds]
    if missing:
        raise DicomError(f"{ds.filename}: CT image lacks {', '.join(missing)}; it cannot be placed")


def _one_series(datasets: list[Dataset], wanted: str | None, folder: object) -> list[Dataset]:
    series = Counter(str(getattr(d, "SeriesInstanceUID", "")) for d in datasets)
    if wanted is not None:
        if wanted not in series:
            raise DicomError(f"no CT series {wanted} in {folder}; found: {', '.join(series)}")
        return [d for d in datasets if str(d.SeriesInstanceUID) == wanted]
    if len(series) > 1:
        listing = ", ".join(f"{uid} ({n} slices)" for uid, n in series.items())
        raise DicomError(
            f"{folder} mixes {len(series)} CT series: {listing}; choose one with --ct-series "
            "UID (in Python series_instance_uid) or put each series in its own folder"
        )
    return datasets


def _axial_orientation(datasets: list[Dataset]) -> tuple[bool, bool]:
    cosines = np.array([[float(v) for v in d.ImageOrientationPatient] for d in datasets])
    if np.abs(cosines - cosines[0]).max() > _COSINE_TOLERANCE:
        raise DicomError("the slices of the series have different orientations; not one volume")
    row, column = cosines[0, :3], cosines[0, 3:]
    axial = np.allclose(np.abs(row), [1, 0, 0], atol=_COSINE_TOLERANCE) and np.allclose(
        np.abs(column), [0, 1, 0], atol=_COSINE_TOLERANCE
    )
    if not axial:
        raise DicomError(
            f"the series is oblique or not axial (ImageOrientationPatient {cosines[0].tolist()}); "
            "ionbeam needs axial slices: resample the series to an axial grid first"
        )
    return bool(row[0] < 0), bool(column[1] < 0)


def _uniform_spacing(z: np.ndarray) -> float:
    if z.size < 2:
        raise DicomError("the CT series has a single slice; a volume needs at least two")
    gaps = np.diff(z)
    duplicates = z[1:][gaps < _POSITION_TOLERANCE_MM]
    if duplicates.size:
        raise DicomError(
            f"the CT series has duplicated slices at z = {duplicates[:5].tolist()} mm; "
            "remove the duplicates"
        )
    spacing = float(np.min(gaps))
    tolerance = max(_POSITION_TOLERANCE_MM, 1e-3 * spacing)
    irregular = np.abs(gaps - spacing) > tolerance
    if np.any(irregular):
        multiples = gaps[irregular] / spacing
        if np.allclose(multiples, np.rint(multiples), atol=tolerance / spacing):
            where = z[:-1][irregular]
            raise DicomError(
                f"the CT series is missing slices after z = {where[:5].tolist()} mm "
                f"(slice spacing {spacing:g} mm); find the missing files"
            )
        raise DicomError(
            f"the CT slices are not uniformly spaced (gaps {np.unique(np.round(gaps, 3))[:6]} mm); "
            "resample the series to a uniform slice spacing first"
        )
    return float(np.mean(gaps))


def _grid(first: Dataset, n_slices: int, dz: float, flip_x: bool, flip_y: bool) -> Grid:
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    nx, ny = int(first.Columns), int(first.Rows)
    x0, y0, z0 = (float(v) for v in first.ImagePositionPatient)
    origin_x = x0 - (nx - 1) * column_spacing if flip_x else x0
    origin_y = y0 - (ny - 1) * row_spacing if flip_y else y0
    return Grid((nx, ny, n_slices), (column_spacing, row_spacing, dz), (origin_x, origin_y, z0))


def _check_same_geometry(datasets: list[Dataset]) -> None:
    first = datasets[0]
    reference = (int(first.Rows), int(first.Columns), *map(float, first.PixelSpacing))
    x0, y0 = (float(v) for v in first.ImagePositionPatient[:2])
    for ds in datasets[1:]:
        shape = (int(ds.Rows), int(ds.Columns), *map(float, ds.PixelSpacing))
        x, y = (float(v) for v in ds.ImagePositionPatient[:2])
        if not np.allclose(shape, reference, atol=1e-6) or max(abs(x - x0), abs(y - y0)) > (
            _POSITION_TOLERANCE_MM
        ):
            raise DicomError(
                f"{ds.filename}: slice size, pixel spacing or in-plane position differs from "
                "the rest of the series; not one volume"
            )


def ct_datasets(
    ct: CT,
    study: StudyInfo,
    *,
    series_instance_uid: str | None = None,
    series_number: int = 1,
    patient_position: str = "HFS",
) -> tuple[list[Dataset], CTSeries]:
    """The CT as DICOM CT Image datasets (one per axial slice, ascending z), and the
    matching :class:`CTSeries` (the CT with HU rounded to integers).
    ``patient_position`` is the DICOM Patient Position (HFS, HFP, FFS, FFP, …)."""
    hu = np.rint(ct.hu)
    if hu.min() < -32768 or hu.max() > 32767:
        raise DicomError("CT numbers outside the 16-bit range -32768–32767 HU cannot be written")
    series_uid = series_instance_uid or make_uid(study.study_instance_uid, "ct-series")
    grid = ct.grid
    (x0, y0, _), (dx, dy, dz) = grid.origin_mm, grid.spacing_mm
    z_positions = grid.axes_mm()[2]
    sop_uids = [make_uid(series_uid, "slice", k) for k in range(grid.shape[2])]
    datasets = []
    for k, z in enumerate(z_positions):
        ds = new_dataset(CT_IMAGE_STORAGE, sop_uids[k])
        add_patient(ds, study)
        add_general_study(ds, study)
        add_general_series(ds, modality="CT", series_instance_uid=series_uid,
                           series_number=series_number, description="ionbeam CT")  # fmt: skip
        ds.Laterality = ""
        ds.PatientPosition = patient_position
        add_frame_of_reference(ds, study)
        add_equipment(ds)
        _add_image(ds, hu[:, :, k], k, (x0, y0, float(z)), (dx, dy, dz), study)
        datasets.append(ds)
    series = CTSeries(
        ct=CT(hu.astype(np.float32), grid),
        study=study,
        series_instance_uid=series_uid,
        sop_instance_uids=tuple(sop_uids),
        slice_z_mm=tuple(float(z) for z in z_positions),
    )
    return datasets, series


def _add_image(
    ds: Dataset,
    hu_slice: np.ndarray,
    index: int,
    position: tuple[float, float, float],
    spacing: tuple[float, float, float],
    study: StudyInfo,
) -> None:
    """General Image, Image Plane, Image Pixel and CT Image modules of one slice."""
    ds.InstanceNumber = index + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ContentDate = study.study_date
    ds.ContentTime = study.study_time
    ds.PatientOrientation = ""
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.PixelSpacing = [_ds(spacing[1]), _ds(spacing[0])]
    ds.SliceThickness = _ds(spacing[2])
    ds.SliceLocation = _ds(position[2])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = hu_slice.shape[1], hu_slice.shape[0]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.KVP = ""
    ds.AcquisitionNumber = 1
    ds.PixelData = np.ascontiguousarray(hu_slice.T.astype("<i2")).tobytes()


def _ds(value: float) -> str:
    """A decimal string of at most 16 characters."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if len(text) <= 16 else f"{value:.10g}"
