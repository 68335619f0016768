"""CT image series: read a folder into a :class:`~ionbeam.patient.CT`, write one out.

Reading sorts the slices by their position along the slice normal (never by
file name or instance number), applies each slice's rescale slope and
intercept, and checks that the series is one series of axial slices with
the same geometry, uniformly spaced, with no missing or duplicated slice.
Axial slices whose rows or columns run along -x or -y (e.g. feet-first or
prone scans) are flipped into the [x, y, z] order of ionbeam; oblique or
non-axial series are refused. CT numbers below -1024 HU (padding outside
the reconstruction circle) are set to -1024 HU.

Every header value is checked where it is read and a refusal names the file:
a rescale slope that is not positive, a rescale that differs between slices,
NaN pixels, and a series with more than 1 % of its CT numbers outside
-1100…+4000 HU (:data:`PLAUSIBLE_HU`; each slice's padding value not
counted), which no patient has and which a wrong rescale produces.

Writing stores HU as signed 16-bit integers (rescale slope 1, intercept 0),
so a read-back CT equals the original rounded to whole HU.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from ionbeam.errors import DicomError
from ionbeam.io.dicom._common import (
    StudyInfo,
    add_equipment,
    add_frame_of_reference,
    add_general_series,
    add_general_study,
    add_patient,
    new_dataset,
    set_content_uid,
)
from ionbeam.io.dicom._files import read_dataset, read_headers
from ionbeam.io.dicom._limits import MAX_LENGTH, clip_text, text_too_long
from ionbeam.io.dicom._uids import CT_IMAGE_STORAGE, make_uid
from ionbeam.patient.ct import CT
from ionbeam.patient.grid import Grid

__all__ = ["CTSeries", "ct_datasets", "read_ct_series"]

#: Lowest CT number kept on reading; lower values are padding.
PADDING_HU = -1024.0
#: Tolerances: direction cosines, and positions/spacings (mm).
_COSINE_TOLERANCE = 1e-4
_POSITION_TOLERANCE_MM = 0.01
#: Largest plausible coordinate of an image position (10 m), mm.
_MAX_POSITION_MM = 1.0e4
#: CT numbers a patient can have (HU): air to dense bone and contrast; metal goes beyond.
PLAUSIBLE_HU = (-1100.0, 4000.0)
#: Largest fraction of voxels allowed outside :data:`PLAUSIBLE_HU` (metal implants stay below).
IMPLAUSIBLE_FRACTION = 0.01


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
    """Read the CT series in ``folder`` (other modalities there are ignored; files
    that are not DICOM are skipped with a warning).

    A folder with several CT series needs ``series_instance_uid``. Every header
    value is checked where it is read, and the CT numbers are checked for
    plausibility (see :func:`_check_plausible`); each refusal names the file.
    """
    return series_from_headers(
        read_headers(Path(folder)), folder, series_instance_uid=series_instance_uid
    )


def series_from_headers(
    headers: list[Dataset], folder: object, *, series_instance_uid: str | None = None
) -> CTSeries:
    """:func:`read_ct_series` on the headers of the files of ``folder``, already read."""
    headers = [ds for ds in headers if getattr(ds, "Modality", None) == "CT"]
    if not headers:
        raise DicomError(f"no CT images in {folder}; give the folder of a CT series")
    headers = _one_series(headers, series_instance_uid, folder)
    slices = sorted((_slice(ds) for ds in headers), key=lambda s: s.position_mm[2])
    flip_x, flip_y = _orientation_flips(np.array([s.cosines for s in slices]))
    z = np.array([s.position_mm[2] for s in slices])
    dz = _uniform_spacing(z)
    _check_same_geometry(slices)
    _check_same_rescale(slices)
    grid = _grid(slices[0], len(slices), dz, flip_x, flip_y)
    hu = np.empty(grid.shape, dtype=np.float32)
    for k, piece in enumerate(slices):
        image = (_pixels(piece) * piece.slope + piece.intercept).T  # [column, row] = [x, y]
        hu[:, :, k] = image[:: -1 if flip_x else 1, :: -1 if flip_y else 1]
    _check_plausible(hu, slices, folder)
    study = _study(_header(slices[0], headers))
    return CTSeries(
        ct=CT(np.maximum(hu, PADDING_HU), grid),
        study=study,
        series_instance_uid=str(headers[0].SeriesInstanceUID),
        sop_instance_uids=tuple(s.sop_instance_uid for s in slices),
        slice_z_mm=tuple(float(v) for v in z),
    )


@dataclass(frozen=True)
class _Slice:
    """What ionbeam needs from the header of one CT image, checked."""

    path: Path
    sop_instance_uid: str
    position_mm: tuple[float, float, float]
    cosines: tuple[float, ...]
    pixel_spacing_mm: tuple[float, float]  # (row spacing, column spacing)
    rows: int
    columns: int
    slope: float
    intercept: float
    padding_value: float | None  # PixelPaddingValue (stored value), if given


def _slice(ds: Dataset) -> _Slice:
    path = Path(ds.filename)
    _require(ds, ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
                  "Rows", "Columns", "SOPInstanceUID", "FrameOfReferenceUID",
                  "SeriesInstanceUID", "StudyInstanceUID"))  # fmt: skip
    try:
        piece = _Slice(
            path=path,
            sop_instance_uid=str(ds.SOPInstanceUID),
            position_mm=cast("tuple[float, float, float]", _floats(ds.ImagePositionPatient, 3)),
            cosines=_floats(ds.ImageOrientationPatient, 6),
            pixel_spacing_mm=cast("tuple[float, float]", _floats(ds.PixelSpacing, 2)),
            rows=int(ds.Rows),
            columns=int(ds.Columns),
            slope=_optional_float(ds, "RescaleSlope", 1.0),
            intercept=_optional_float(ds, "RescaleIntercept", 0.0),
            padding_value=_padding_value(ds),
        )
    except (TypeError, ValueError, IndexError, AttributeError) as exc:
        raise DicomError(
            f"{path}: malformed CT image header ({type(exc).__name__}: {exc}); replace the file"
        ) from None
    numbers = (*piece.position_mm, *piece.cosines, *piece.pixel_spacing_mm, piece.intercept)
    if not all(np.isfinite(numbers)) or min(piece.pixel_spacing_mm) <= 0:
        raise DicomError(
            f"{path}: ImagePositionPatient, ImageOrientationPatient, PixelSpacing or "
            "RescaleIntercept holds NaN, infinity or a spacing ≤ 0; replace the file"
        )
    if max(abs(v) for v in piece.position_mm) > _MAX_POSITION_MM:
        raise DicomError(
            f"{path}: ImagePositionPatient {list(piece.position_mm)} mm is not in a scanner; "
            "replace the file"
        )
    if piece.rows < 1 or piece.columns < 1:
        raise DicomError(f"{path}: the image has {piece.rows} rows and {piece.columns} columns")
    if not (np.isfinite(piece.slope) and piece.slope > 0):
        raise DicomError(
            f"{path}: RescaleSlope must be a positive number; got {piece.slope} (the slice "
            "cannot be turned into HU)"
        )
    return piece


def _padding_value(ds: Dataset) -> float | None:
    value = ds.get("PixelPaddingValue", None)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None  # only used to recognise padding; a malformed one is ignored


def _optional_float(ds: Dataset, keyword: str, default: float) -> float:
    value: Any = ds.get(keyword, None)
    return default if value is None or value == "" else float(value)


def _floats(value: Any, count: int) -> tuple[float, ...]:
    values = tuple(float(v) for v in (value if isinstance(value, (list, tuple, MultiValue))
                                      else [value]))  # fmt: skip
    if len(values) != count:
        raise ValueError(f"{count} numbers expected, got {len(values)}")
    return values


def _header(first: _Slice, headers: list[Dataset]) -> Dataset:
    return next(ds for ds in headers if Path(ds.filename) == first.path)


def _study(first: Dataset) -> StudyInfo:
    """The study identity of the series, refusing names too long for their VR."""
    patient_name = str(getattr(first, "PatientName", "")).rstrip("^")
    patient_id = str(getattr(first, "PatientID", ""))
    identity = (("PatientName", patient_name, "PN"), ("PatientID", patient_id, "LO"))
    for keyword, value, vr in identity:
        length = text_too_long(value, vr)
        if length is not None:
            raise DicomError(
                f"{first.filename}: {keyword} has {length} characters, more than DICOM allows "
                f"for {vr} ({MAX_LENGTH[vr]}); correct the CT header"
            )
    return StudyInfo(
        patient_name=patient_name,
        patient_id=patient_id,
        study_instance_uid=str(first.StudyInstanceUID),
        frame_of_reference_uid=str(first.FrameOfReferenceUID),
        study_date=str(getattr(first, "StudyDate", ""))[:8],
        study_time=str(getattr(first, "StudyTime", ""))[:14],
        study_id=clip_text(str(getattr(first, "StudyID", "")), "SH"),
        study_description=clip_text(str(getattr(first, "StudyDescription", "")), "LO"),
    )


def _pixels(piece: _Slice) -> np.ndarray:
    path = piece.path
    try:
        pixels = read_dataset(path).pixel_array.astype(np.float32)
    except (AttributeError, ValueError, RuntimeError, NotImplementedError, TypeError) as exc:
        raise DicomError(
            f"{path}: cannot decode the pixel data ({exc}); a compressed transfer syntax may "
            "need a pydicom pixel-data plugin (e.g. pylibjpeg), or the file is damaged"
        ) from None
    if pixels.shape != (piece.rows, piece.columns):
        raise DicomError(
            f"{path}: the pixel data is {pixels.shape}, not Rows × Columns "
            f"({piece.rows}, {piece.columns}); one image per file is expected"
        )
    if not np.all(np.isfinite(pixels)):
        raise DicomError(f"{path}: the pixel data holds NaN or infinity; replace the file")
    return pixels


def _require(ds: Dataset, keywords: Sequence[str]) -> None:
    missing = [k for k in keywords if k not in ds or ds[k].value in (None, "", b"")]
    if missing:
        raise DicomError(f"{ds.filename}: CT image lacks {', '.join(missing)}; it cannot be placed")


def _one_series(datasets: list[Dataset], wanted: str | None, folder: object) -> list[Dataset]:
    series = Counter(str(getattr(d, "SeriesInstanceUID", "")) for d in datasets)
    if wanted is not None:
        if wanted not in series:
            raise DicomError(f"no CT series {wanted} in {folder}; found: {', '.join(series)}")
        return [d for d in datasets if str(getattr(d, "SeriesInstanceUID", "")) == wanted]
    if len(series) > 1:
        listing = ", ".join(f"{uid or '(none)'} ({n} slices)" for uid, n in series.items())
        raise DicomError(
            f"{folder} mixes {len(series)} CT series: {listing}; choose one with --ct-series "
            "UID (in Python series_instance_uid) or put each series in its own folder"
        )
    frames = {str(getattr(d, "FrameOfReferenceUID", "")) for d in datasets}
    if len(frames) > 1:
        raise DicomError(
            f"the CT images in {folder} name {len(frames)} frames of reference; one series "
            "has one frame of reference: remove the images of another scan"
        )
    return datasets


def _axial_orientation(datasets: list[Dataset]) -> tuple[bool, bool]:
    """(flip x, flip y) of axial images; other orientations are refused."""
    try:
        cosines = np.array([_floats(d.ImageOrientationPatient, 6) for d in datasets])
    except (TypeError, ValueError, AttributeError):
        raise DicomError(
            "ImageOrientationPatient must hold six numbers; the file is malformed"
        ) from None
    return _orientation_flips(cosines)


def _orientation_flips(cosines: np.ndarray) -> tuple[bool, bool]:
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


def _grid(first: _Slice, n_slices: int, dz: float, flip_x: bool, flip_y: bool) -> Grid:
    row_spacing, column_spacing = first.pixel_spacing_mm
    nx, ny = first.columns, first.rows
    x0, y0, z0 = first.position_mm
    origin_x = x0 - (nx - 1) * column_spacing if flip_x else x0
    origin_y = y0 - (ny - 1) * row_spacing if flip_y else y0
    return Grid((nx, ny, n_slices), (column_spacing, row_spacing, dz), (origin_x, origin_y, z0))


def _check_same_geometry(slices: list[_Slice]) -> None:
    first = slices[0]
    reference = (first.rows, first.columns, *first.pixel_spacing_mm)
    x0, y0, _ = first.position_mm
    for piece in slices[1:]:
        shape = (piece.rows, piece.columns, *piece.pixel_spacing_mm)
        x, y, _ = piece.position_mm
        if not np.allclose(shape, reference, atol=1e-6) or max(abs(x - x0), abs(y - y0)) > (
            _POSITION_TOLERANCE_MM
        ):
            raise DicomError(
                f"{piece.path}: slice size, pixel spacing or in-plane position differs from "
                "the rest of the series; not one volume"
            )


def _check_same_rescale(slices: list[_Slice]) -> None:
    """One rescale (slope, intercept) for the whole series: a slice that differs from
    the others is almost always a damaged header."""
    counts = Counter((s.slope, s.intercept) for s in slices)
    if len(counts) == 1:
        return
    usual = counts.most_common(1)[0][0]
    odd = next(s for s in slices if (s.slope, s.intercept) != usual)
    raise DicomError(
        f"{odd.path}: RescaleSlope/RescaleIntercept {odd.slope:g}/{odd.intercept:g} differ from "
        f"the {usual[0]:g}/{usual[1]:g} of the other slices; correct or remove that slice"
    )


def _check_plausible(hu: np.ndarray, slices: list[_Slice], folder: object) -> None:
    """Refuse CT numbers that no patient has: more than :data:`IMPLAUSIBLE_FRACTION` of
    the voxels above :data:`PLAUSIBLE_HU` [1] or below [0] (padding outside the
    reconstruction circle is not counted: each slice's lowest value, and its
    PixelPaddingValue where given)."""
    low, high = PLAUSIBLE_HU
    padding = hu == hu.min(axis=(0, 1), keepdims=True)
    for k, piece in enumerate(slices):
        if piece.padding_value is not None:
            padding[:, :, k] |= hu[:, :, k] == piece.padding_value * piece.slope + piece.intercept
    outside = (hu > high) | ((hu < low) & ~padding)
    fraction = float(outside.mean())
    if fraction <= IMPLAUSIBLE_FRACTION:
        return
    worst = slices[int(outside.sum(axis=(0, 1)).argmax())].path
    raise DicomError(
        f"{folder}: {100 * fraction:.3g} % of the CT numbers lie outside {low:g}…{high:+g} HU "
        f"(range {hu.min():.6g}…{hu.max():.6g} HU; e.g. {worst}); check RescaleSlope and "
        "RescaleIntercept of the series"
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
    datasets: list[Dataset] = []
    for k, z in enumerate(z_positions):
        ds = new_dataset(CT_IMAGE_STORAGE, make_uid(series_uid, "slice", k))
        add_patient(ds, study)
        add_general_study(ds, study)
        add_general_series(ds, modality="CT", series_instance_uid=series_uid,
                           series_number=series_number, description="ionbeam CT")  # fmt: skip
        ds.Laterality = ""
        ds.PatientPosition = patient_position
        add_frame_of_reference(ds, study)
        add_equipment(ds)
        _add_image(ds, hu[:, :, k], k, (x0, y0, float(z)), (dx, dy, dz), study)
        datasets.append(set_content_uid(ds))
    series = CTSeries(
        ct=CT(hu.astype(np.float32), grid),
        study=study,
        series_instance_uid=series_uid,
        sop_instance_uids=tuple(str(ds.SOPInstanceUID) for ds in datasets),
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
