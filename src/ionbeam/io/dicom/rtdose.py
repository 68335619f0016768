"""RT Dose: dose and LET_d volumes to and from DICOM RT Dose files (PS3.3 A.18).

Writing stores the volume as one multi-frame image, one frame per axial
slice of the :class:`~ionbeam.patient.Grid` (the [x, y, z] array is
transposed to DICOM's [frame, row, column] here and nowhere else), with
relative ``GridFrameOffsetVector`` (first offset 0) and unsigned 32-bit
pixels. ``DoseGridScaling`` is the largest value divided by 2³² − 1, so a
value read back differs from the one written by at most half a step: about
1.2e-10 of the maximum.

Quantities:

- ``PHYSICAL``: absorbed dose, Gy (``DoseType`` PHYSICAL, ``DoseUnits`` GY);
- ``EFFECTIVE``: RBE-weighted dose, Gy(RBE) (``DoseType`` EFFECTIVE, the
  standard's term for dose corrected for biological effect; units GY);
- LET_d is not written as an RT Dose: every system lists an RT Dose as a dose
  of the plan, whatever its units say. ionbeam writes it as a MetaImage
  (:mod:`ionbeam.io.metaimage`). The reader still recognises the LET RT Doses
  of older versions (``DoseUnits`` RELATIVE, ``DoseComment``
  :data:`LET_COMMENT`) and returns them with ``dose_type`` LET.

``DoseSummationType`` PLAN is the dose of the whole plan (all fractions),
FRACTION of one fraction and BEAM of one beam (all fractions); each RT Dose
references its RT Ion Plan (and, for BEAM, the beam).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag
from pydicom.valuerep import format_number_as_ds

from ionbeam.errors import ConfigError, DicomError, UnknownNameError
from ionbeam.io.dicom._common import (
    StudyInfo,
    add_equipment,
    add_frame_of_reference,
    add_general_series,
    add_general_study,
    add_patient,
    check_referenced,
    new_dataset,
    set_content_uid,
)
from ionbeam.io.dicom._files import read_dataset
from ionbeam.io.dicom._uids import RT_DOSE_STORAGE, RT_ION_PLAN_STORAGE, make_uid
from ionbeam.io.dicom.ct import _axial_orientation
from ionbeam.patient.grid import Grid

__all__ = [
    "DOSE_TYPES",
    "LET_COMMENT",
    "SUMMATION_TYPES",
    "RTDose",
    "read_rt_dose",
    "rt_dose_dataset",
]

#: Dose types ionbeam writes: absorbed dose (Gy) and RBE-weighted dose (Gy(RBE)).
DOSE_TYPES = ("PHYSICAL", "EFFECTIVE")
#: Dose summation types ionbeam writes.
SUMMATION_TYPES = ("PLAN", "FRACTION", "BEAM")
#: ``DoseComment`` that marks an RT Dose holding LET_d in keV/µm.
LET_COMMENT = "LETd (dose-averaged LET) in keV/um"
_LET = "LET"
_MAX_STORED = 2**32 - 1
_SPACING_TOLERANCE_MM = 0.01


@dataclass(frozen=True, eq=False)
class RTDose:
    """A volume read from an RT Dose file.

    ``values`` [x, y, z] on ``grid``: Gy (PHYSICAL), Gy(RBE) (EFFECTIVE), keV/µm
    (LET) or relative; ``dose_type``: PHYSICAL, EFFECTIVE, ERROR or LET;
    ``units``: GY, RELATIVE or KEV/UM; ``summation_type``: the DICOM Dose
    Summation Type; ``referenced_plan_uid``: the SOP instance UID of the plan it
    belongs to (None when not given); ``description``: the series description.
    """

    values: np.ndarray
    grid: Grid
    dose_type: str
    units: str
    summation_type: str
    referenced_plan_uid: str | None
    description: str


def rt_dose_dataset(
    dose_gy: np.ndarray,
    grid: Grid,
    *,
    study: StudyInfo,
    rt_plan: Dataset,
    dose_type: str = "PHYSICAL",
    summation_type: str = "PLAN",
    beam_name: str | None = None,
    series_number: int = 4,
    description: str = "",
) -> FileDataset:
    """An RT Dose dataset of ``dose_gy`` [x, y, z] (Gy, or Gy(RBE) for ``EFFECTIVE``)
    on ``grid``, referencing the RT Ion Plan dataset ``rt_plan``.

    ``dose_type``: PHYSICAL or EFFECTIVE; ``summation_type``: PLAN, FRACTION or
    BEAM (then ``beam_name`` names the beam of ``rt_plan``).
    """
    kind = str(dose_type).upper()
    if kind not in DOSE_TYPES:
        raise UnknownNameError("dose type", dose_type, DOSE_TYPES)
    default = f"ionbeam {'RBE-weighted dose Gy(RBE)' if kind == 'EFFECTIVE' else 'dose Gy'}"
    return _rt_dose(dose_gy, grid, kind, study=study, rt_plan=rt_plan,
                    summation_type=summation_type, beam_name=beam_name,
                    series_number=series_number, description=description or default)  # fmt: skip


def _rt_dose(
    values: np.ndarray,
    grid: Grid,
    kind: str,
    *,
    study: StudyInfo,
    rt_plan: Dataset,
    summation_type: str,
    beam_name: str | None,
    series_number: int,
    description: str,
) -> FileDataset:
    volume = _checked_volume(values, grid, kind)
    summation = str(summation_type).upper()
    if summation not in SUMMATION_TYPES:
        raise UnknownNameError("dose summation type", summation_type, SUMMATION_TYPES)
    referenced_plan = _referenced_plan(rt_plan, study, summation, beam_name)
    scaling = _grid_scaling(float(volume.max()))
    stored = np.rint(volume / float(scaling)).clip(0, _MAX_STORED).astype("<u4")
    frames = np.ascontiguousarray(stored.transpose(2, 1, 0))  # [z, y, x] = [frame, row, column]
    series_uid = make_uid(study.study_instance_uid, "rtdose-series", kind, summation, beam_name,
                          rt_plan.SOPInstanceUID)  # fmt: skip
    ds = new_dataset(RT_DOSE_STORAGE, make_uid(series_uid, "instance"))
    add_patient(ds, study)
    add_general_study(ds, study)
    add_general_series(ds, modality="RTDOSE", series_instance_uid=series_uid,
                       series_number=series_number, description=description)  # fmt: skip
    ds.OperatorsName = ""
    add_frame_of_reference(ds, study)
    add_equipment(ds)
    ds.InstanceNumber = 1
    ds.ContentDate = study.study_date
    ds.ContentTime = study.study_time
    _add_image(ds, grid, frames)
    ds.DoseUnits = "GY"
    ds.DoseType = kind
    ds.DoseSummationType = summation
    ds.ReferencedRTPlanSequence = DicomSequence([referenced_plan])
    ds.GridFrameOffsetVector = [_ds(k * grid.spacing_mm[2]) for k in range(grid.shape[2])]
    ds.DoseGridScaling = scaling
    ds.TissueHeterogeneityCorrection = "IMAGE"
    return set_content_uid(ds)


def _checked_volume(values: np.ndarray, grid: Grid, kind: str) -> np.ndarray:
    volume = np.asarray(values, dtype=float)
    grid.check_volume(volume, "dose")
    unit = "Gy"
    if not np.all(np.isfinite(volume)):
        raise DicomError(f"the {kind} volume holds NaN or infinity; recompute it before export")
    if volume.size and volume.min() < 0:
        raise DicomError(
            f"the {kind} volume must be ≥ 0 {unit}; its minimum is {volume.min():g} {unit} "
            "(RT Dose stores unsigned values)"
        )
    return volume


def _grid_scaling(maximum: float) -> str:
    """``DoseGridScaling`` that maps ``maximum`` to just below 2³² − 1."""
    if maximum <= 0:
        return "1"
    # The factor keeps the rounded decimal string from pushing the maximum past 2³² − 1.
    return _ds(maximum / _MAX_STORED * (1 + 1e-9))


def _ds(value: float) -> str:
    return format_number_as_ds(float(value))


def _referenced_plan(
    rt_plan: Dataset, study: StudyInfo, summation: str, beam_name: str | None
) -> Dataset:
    """The Referenced RT Plan item: the plan, and for BEAM doses the beam."""
    check_referenced(
        rt_plan, "RTPLAN", study, what="the plan",
        wrong_modality="rt_plan must be the RT Ion Plan dataset the dose belongs to",
        advice="export the dose with the study of the plan",
    )  # fmt: skip
    item = Dataset()
    item.ReferencedSOPClassUID = str(getattr(rt_plan, "SOPClassUID", RT_ION_PLAN_STORAGE))
    item.ReferencedSOPInstanceUID = rt_plan.SOPInstanceUID
    if (summation == "BEAM") != (beam_name is not None):
        raise ConfigError(
            f"beam_name goes with summation_type BEAM (the dose of one beam) and only with it; "
            f"got summation_type {summation} and beam_name {beam_name!r}"
        )
    if summation == "PLAN":
        return item
    group = Dataset()
    group.ReferencedFractionGroupNumber = 1
    if summation == "BEAM":
        beams = {
            str(b.BeamName): int(b.BeamNumber) for b in getattr(rt_plan, "IonBeamSequence", [])
        }
        if beam_name not in beams:
            raise UnknownNameError("beam", beam_name, beams)
        beam = Dataset()
        beam.ReferencedBeamNumber = beams[beam_name]
        group.ReferencedBeamSequence = DicomSequence([beam])
    item.ReferencedFractionGroupSequence = DicomSequence([group])
    return item


def _add_image(ds: Dataset, grid: Grid, frames: np.ndarray) -> None:
    """Image Plane, Image Pixel and Multi-frame modules."""
    (dx, dy, dz) = grid.spacing_mm
    ds.ImagePositionPatient = [_ds(v) for v in grid.origin_mm]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [_ds(dy), _ds(dx)]
    ds.SliceThickness = _ds(dz)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = frames.shape[0]
    ds.FrameIncrementPointer = Tag("GridFrameOffsetVector")
    ds.Rows, ds.Columns = frames.shape[1], frames.shape[2]
    ds.BitsAllocated = 32
    ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.PixelData = frames.tobytes()


def read_rt_dose(path: str | Path) -> RTDose:
    """Read the RT Dose file ``path`` into an [x, y, z] volume on its grid."""
    path = Path(path)
    ds = read_dataset(path)
    if getattr(ds, "Modality", None) != "RTDOSE":
        raise DicomError(f"{path} is not an RT Dose (Modality {ds.get('Modality')!r})")
    missing = [k for k in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
                           "Rows", "Columns", "PixelData") if k not in ds]  # fmt: skip
    if missing:
        raise DicomError(f"{path}: RT Dose lacks {', '.join(missing)}; it holds no dose grid")
    flip_x, flip_y = _axial_orientation([ds])
    pixels = _pixels(ds, path)
    scaling = _scaling(ds, path)
    z_mm = _frame_z(ds, pixels.shape[0], path)
    order = np.argsort(z_mm)
    volume = (pixels[order].astype(np.float64) * scaling).transpose(2, 1, 0)
    volume = volume[:: -1 if flip_x else 1, :: -1 if flip_y else 1, :]
    grid = _grid(ds, z_mm[order], flip_x, flip_y, path)
    comment = str(ds.get("DoseComment", ""))
    units = str(ds.get("DoseUnits", "")).upper()
    is_let = units == "RELATIVE" and comment.startswith("LET")
    plans = list(getattr(ds, "ReferencedRTPlanSequence", []))
    return RTDose(
        values=np.ascontiguousarray(volume),
        grid=grid,
        dose_type=_LET if is_let else str(ds.get("DoseType", "")).upper(),
        units="KEV/UM" if is_let else units,
        summation_type=str(ds.get("DoseSummationType", "")).upper(),
        referenced_plan_uid=str(plans[0].ReferencedSOPInstanceUID) if plans else None,
        description=str(ds.get("SeriesDescription", "")),
    )


def _pixels(ds: Dataset, path: Path) -> np.ndarray:
    """Stored values as [frame, row, column]."""
    try:
        pixels = ds.pixel_array
    except (AttributeError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise DicomError(
            f"{path}: cannot decode the dose pixel data ({exc}); a compressed transfer syntax "
            "may need a pydicom pixel-data plugin, or the file is damaged"
        ) from None
    return pixels.reshape(-1, int(ds.Rows), int(ds.Columns))


def _scaling(ds: Dataset, path: Path) -> float:
    try:
        scaling = float(ds.DoseGridScaling)
    except (AttributeError, TypeError, ValueError):
        raise DicomError(
            f"{path}: RT Dose lacks a numeric DoseGridScaling; its pixel values cannot be "
            "turned into dose"
        ) from None
    if not (np.isfinite(scaling) and scaling > 0):
        raise DicomError(f"{path}: DoseGridScaling must be a positive number; got {scaling}")
    return scaling


def _frame_z(ds: Dataset, n_frames: int, path: Path) -> np.ndarray:
    """z (mm) of each frame: ``GridFrameOffsetVector`` relative (first 0) or absolute."""
    z0 = float(ds.ImagePositionPatient[2])
    if n_frames == 1 and "GridFrameOffsetVector" not in ds:
        return np.array([z0])
    offsets = np.atleast_1d(np.asarray(ds.get("GridFrameOffsetVector", []), dtype=float))
    if offsets.size != n_frames or not np.all(np.isfinite(offsets)):
        raise DicomError(
            f"{path}: GridFrameOffsetVector has {offsets.size} finite values for {n_frames} "
            "frames; the dose grid cannot be placed"
        )
    return z0 + offsets - offsets[0]


def _grid(ds: Dataset, z_mm: np.ndarray, flip_x: bool, flip_y: bool, path: Path) -> Grid:
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    nx, ny = int(ds.Columns), int(ds.Rows)
    x0, y0, _ = (float(v) for v in ds.ImagePositionPatient)
    if z_mm.size > 1:
        gaps = np.diff(z_mm)
        dz = float(gaps.mean())
        if np.any(gaps <= 0) or np.abs(gaps - dz).max() > _SPACING_TOLERANCE_MM:
            raise DicomError(
                f"{path}: the dose frames are not uniformly spaced (gaps "
                f"{np.unique(np.round(gaps, 3))[:6]} mm); ionbeam needs a regular dose grid"
            )
    else:
        dz = float(ds.get("SliceThickness", 0) or 0)
        if dz <= 0:
            raise DicomError(f"{path}: a single-frame dose needs a positive SliceThickness")
    origin = (
        x0 - (nx - 1) * column_spacing if flip_x else x0,
        y0 - (ny - 1) * row_spacing if flip_y else y0,
        float(z_mm[0]),
    )
    return Grid((nx, ny, z_mm.size), (column_spacing, row_spacing, dz), origin)
