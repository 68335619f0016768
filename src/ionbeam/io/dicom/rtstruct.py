"""RT Structure Set: structures ↔ closed planar contours registered to a CT series.

Reading matches the structure set to the CT by Frame of Reference UID and
turns each ROI's CLOSED_PLANAR contours into a mask on the CT grid
(:mod:`ionbeam.io.dicom._contours`: even–odd filling, so holes and several
contours per slice are handled; contour planes between CT slices go to the
nearest slice). Other contour types (POINT, OPEN_PLANAR) are ignored, and so
are, with a warning, closed contours of fewer than 3 points or wholly outside
the CT.

Writing outlines each structure slice by slice and references every contour
to the CT slice it lies on.
"""

from __future__ import annotations

import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from ionbeam.errors import DicomError, IonbeamError
from ionbeam.io.dicom._common import (
    add_equipment,
    add_frame_of_reference,
    add_general_series,
    add_general_study,
    add_patient,
    new_dataset,
    set_content_uid,
)
from ionbeam.io.dicom._contours import mask_to_polygons, polygons_to_mask
from ionbeam.io.dicom._files import DicomWarning, read_dataset
from ionbeam.io.dicom._limits import clip_text
from ionbeam.io.dicom._uids import CT_IMAGE_STORAGE, RT_STRUCTURE_SET_STORAGE, make_uid
from ionbeam.io.dicom.ct import CTSeries
from ionbeam.patient.grid import Grid
from ionbeam.patient.structures import Structure, StructureSet

__all__ = ["ROI_TYPES", "RTStructureSet", "read_rtstruct", "roi_names", "rtstruct_dataset"]

#: RT ROI Interpreted Types ionbeam writes (DICOM C.8.8.8).
ROI_TYPES = ("EXTERNAL", "PTV", "CTV", "GTV", "ORGAN", "AVOIDANCE", "")
_COLOURS = (
    (255, 0, 0), (0, 160, 255), (0, 200, 0), (255, 160, 0), (200, 0, 200),
    (0, 200, 200), (255, 255, 0), (128, 64, 255), (255, 96, 160), (96, 160, 64),
)  # fmt: skip
_PLANE_TOLERANCE_MM = 0.01


class RTStructureSet:
    """Structures read from an RTSTRUCT, with each ROI's interpreted type."""

    def __init__(self, structures: StructureSet, roi_types: dict[str, str], label: str) -> None:
        self.structures = structures
        self.roi_types = dict(roi_types)
        self.label = label

    def names_of_type(self, roi_type: str) -> list[str]:
        """Names of the ROIs with interpreted type ``roi_type`` (e.g. ``PTV``)."""
        return [n for n, t in self.roi_types.items() if t == roi_type]


def read_rtstruct(path: str | Path, ct_series: CTSeries) -> RTStructureSet:
    """Read the RT Structure Set file ``path`` onto the grid of ``ct_series``.

    A damaged or truncated file, or contour data holding NaN, is refused naming
    the file; contours with fewer than 3 points or wholly outside the CT are
    dropped with a :class:`~ionbeam.io.dicom.DicomWarning` naming the ROI.
    """
    ds = read_dataset(Path(path))
    if getattr(ds, "Modality", None) != "RTSTRUCT":
        raise DicomError(f"{path} is not an RT Structure Set (Modality {ds.get('Modality')!r})")
    try:
        return _structure_set(ds, path, ct_series)
    except IonbeamError:
        raise
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise DicomError(
            f"{path}: damaged RT Structure Set ({type(exc).__name__}: {exc}); replace the file"
        ) from None


def _structure_set(ds: Dataset, path: object, ct_series: CTSeries) -> RTStructureSet:
    names, frames = _roi_names(ds)
    expected = ct_series.frame_of_reference_uid
    for number, frame in frames.items():
        if frame and frame != expected:
            raise DicomError(
                f"{path}: ROI {names[number]!r} is in frame of reference {frame}, but the CT is in "
                f"{expected}; the structure set belongs to another CT"
            )
    grid = ct_series.ct.grid
    structures = []
    for item in getattr(ds, "ROIContourSequence", []):
        number = int(item.ReferencedROINumber)
        if number not in names:
            raise DicomError(f"{path}: contours refer to ROI number {number}, which is not defined")
        planes = _planes(item, names[number], path, grid)
        structures.append(Structure(names[number], polygons_to_mask(planes, grid), grid))
    types = {
        names[int(o.ReferencedROINumber)]: str(getattr(o, "RTROIInterpretedType", ""))
        for o in getattr(ds, "RTROIObservationsSequence", [])
        if int(o.ReferencedROINumber) in names
    }
    return RTStructureSet(
        StructureSet(structures), types, str(getattr(ds, "StructureSetLabel", ""))
    )


def roi_names(ds: Dataset) -> dict[int, str]:
    """The name of each ROI by number, as ionbeam reads them: an ROI without a name is
    ``ROI <number>``, and repeated names get ``_2``, ``_3``, … (the RT Ion Plan writer
    uses the same names to find the target)."""
    return _roi_names(ds)[0]


def _roi_names(ds: Dataset) -> tuple[dict[int, str], dict[int, str]]:
    names: dict[int, str] = {}
    frames: dict[int, str] = {}
    used: set[str] = set()
    for roi in getattr(ds, "StructureSetROISequence", []):
        number = int(roi.ROINumber)
        name = str(getattr(roi, "ROIName", "") or "").strip() or f"ROI {number}"
        unique, copy = name, 2
        while unique in used:
            unique, copy = f"{name}_{copy}", copy + 1
        used.add(unique)
        names[number] = unique
        frames[number] = str(getattr(roi, "ReferencedFrameOfReferenceUID", "") or "")
    return names, frames


def _planes(item: Dataset, name: str, path: object, grid: Grid) -> dict[float, list[np.ndarray]]:
    planes: dict[float, list[np.ndarray]] = defaultdict(list)
    dropped = Counter[str]()
    for contour in getattr(item, "ContourSequence", []):
        if str(getattr(contour, "ContourGeometricType", "")) != "CLOSED_PLANAR":
            continue
        try:
            points = np.asarray([float(v) for v in contour.ContourData]).reshape(-1, 3)
        except (AttributeError, ValueError, TypeError):
            raise DicomError(
                f"{path}: a contour of {name!r} has malformed ContourData (need x, y, z triplets)"
            ) from None
        if not np.all(np.isfinite(points)):
            raise DicomError(
                f"{path}: a contour of {name!r} holds NaN or infinity in its ContourData; "
                "correct the structure set"
            )
        if points.shape[0] < 3:
            dropped["with fewer than 3 points"] += 1
            continue
        z = points[:, 2]
        if np.ptp(z) > _PLANE_TOLERANCE_MM:
            raise DicomError(
                f"{path}: a contour of {name!r} is not in an axial plane (z spans "
                f"{np.ptp(z):.3g} mm); ionbeam reads axial contours only"
            )
        if not _overlaps(points, grid):
            dropped["outside the CT"] += 1
            continue
        planes[round(float(z.mean()), 3)].append(points[:, :2])
    if dropped:
        listing = " and ".join(
            f"{n} contour{'s' if n > 1 else ''} {why}" for why, n in dropped.items()
        )
        warnings.warn(f"{path}: ROI {name!r}: dropped {listing}", DicomWarning, stacklevel=4)
    return dict(planes)


def _overlaps(points: np.ndarray, grid: Grid) -> bool:
    """Whether the box around a contour meets the CT volume (voxel edges, not centres)."""
    low = np.asarray(grid.origin_mm) - 0.5 * np.asarray(grid.spacing_mm)
    high = low + np.asarray(grid.shape) * np.asarray(grid.spacing_mm)
    return bool(np.all(points.max(axis=0) >= low) and np.all(points.min(axis=0) <= high))


def rtstruct_dataset(
    structures: StructureSet,
    ct_series: CTSeries,
    *,
    roi_types: dict[str, str] | None = None,
    label: str = "ionbeam",
    series_number: int = 2,
) -> Dataset:
    """An RT Structure Set dataset for ``structures`` (on the CT grid of ``ct_series``)."""
    study = ct_series.study
    grid = ct_series.ct.grid
    if structures.grid is not None and structures.grid != grid:
        raise DicomError("the structures are not on the CT grid; resample them first")
    series_uid = make_uid(ct_series.series_instance_uid, "rtstruct-series", label)
    ds = new_dataset(RT_STRUCTURE_SET_STORAGE, make_uid(series_uid, "instance"))
    ds.StructureSetLabel = clip_text(label, "SH")
    add_patient(ds, study)
    add_general_study(ds, study)
    add_general_series(ds, modality="RTSTRUCT", series_instance_uid=series_uid,
                       series_number=series_number, description="ionbeam structures")  # fmt: skip
    add_frame_of_reference(ds, study)
    add_equipment(ds)
    ds.OperatorsName = ""
    ds.StructureSetDate = study.study_date
    ds.StructureSetTime = study.study_time
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([_referenced_frame(ct_series)])
    types = roi_types or {}
    roi_items, contour_items, observation_items = [], [], []
    for number, (name, structure) in enumerate(structures.items(), start=1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = study.frame_of_reference_uid
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "AUTOMATIC"
        roi_items.append(roi)
        contour_items.append(_roi_contour(number, structure, ct_series))
        observation = Dataset()
        observation.ObservationNumber = number
        observation.ReferencedROINumber = number
        observation.RTROIInterpretedType = types.get(name, "ORGAN")
        observation.ROIInterpreter = ""
        observation_items.append(observation)
    ds.StructureSetROISequence = DicomSequence(roi_items)
    ds.ROIContourSequence = DicomSequence(contour_items)
    ds.RTROIObservationsSequence = DicomSequence(observation_items)
    ds.ApprovalStatus = "UNAPPROVED"
    return set_content_uid(ds)


def _contour_image(ct_series: CTSeries, k: int) -> Dataset:
    image = Dataset()
    image.ReferencedSOPClassUID = CT_IMAGE_STORAGE
    image.ReferencedSOPInstanceUID = ct_series.sop_instance_uids[k]
    return image


def _referenced_frame(ct_series: CTSeries) -> Dataset:
    series = Dataset()
    series.SeriesInstanceUID = ct_series.series_instance_uid
    series.ContourImageSequence = DicomSequence(
        [_contour_image(ct_series, k) for k in range(len(ct_series.sop_instance_uids))]
    )
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (retired)
    study.ReferencedSOPInstanceUID = ct_series.study.study_instance_uid
    study.RTReferencedSeriesSequence = DicomSequence([series])
    frame = Dataset()
    frame.FrameOfReferenceUID = ct_series.frame_of_reference_uid
    frame.RTReferencedStudySequence = DicomSequence([study])
    return frame


def _decimal_strings(keyword: str, values: np.ndarray) -> DataElement:
    """A DS element of ``values`` written with three decimals (µm). The strings are
    valid decimal strings by construction (at most 16 characters for any coordinate
    within ±10⁹ mm, as :func:`~ionbeam.io.dicom._limits.check_value_lengths` checks
    before writing), so they are stored as they are: pydicom's conversion of each one
    into a checked number (10⁵ of them for a head) cost a second and wrote the same
    bytes."""
    return DataElement(keyword, "DS", [f"{v:.3f}" for v in values], already_converted=True)


def _roi_contour(number: int, structure: Structure, ct_series: CTSeries) -> Dataset:
    grid = structure.grid
    (ox, oy, _), (dx, dy, _) = grid.origin_mm, grid.spacing_mm
    z_positions = grid.axes_mm()[2]
    contours = []
    for k in np.flatnonzero(structure.mask.any(axis=(0, 1))):
        for polygon in mask_to_polygons(structure.mask[:, :, k]):
            points = np.column_stack(
                [ox + polygon[:, 0] * dx, oy + polygon[:, 1] * dy,
                 np.full(len(polygon), z_positions[k])]
            )  # fmt: skip
            contour = Dataset()
            contour.ContourImageSequence = DicomSequence([_contour_image(ct_series, int(k))])
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            contour.add(_decimal_strings("ContourData", points.reshape(-1)))
            contours.append(contour)
    item = Dataset()
    item.ReferencedROINumber = number
    item.ROIDisplayColor = list(_COLOURS[(number - 1) % len(_COLOURS)])
    if contours:
        item.ContourSequence = DicomSequence(contours)
    return item
