"""DICOM modules shared by every object ionbeam writes (CT, RTSTRUCT, RT Ion Plan, RT Dose).

:class:`StudyInfo` holds what all files of one export share (patient, study,
frame of reference); the ``add_*`` functions fill the corresponding modules
of DICOM PS3.3 into a dataset: Patient (C.7.1.1), General Study (C.7.2.1),
General Series (C.7.3.1), Frame of Reference (C.7.4.1), General Equipment
(C.7.5.1) and SOP Common (C.12.1).

Every SOP Instance UID ionbeam writes is derived from a hash of the content
of its file (:func:`set_content_uid`): the same UID means the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass

from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from ionbeam import __version__
from ionbeam.errors import DicomError
from ionbeam.io.dicom._limits import MAX_LENGTH, check_value_lengths, clip_text, text_too_long
from ionbeam.io.dicom._uids import make_uid

__all__ = [
    "IMPLEMENTATION_CLASS_UID",
    "StudyInfo",
    "add_equipment",
    "add_frame_of_reference",
    "add_general_series",
    "add_general_study",
    "add_patient",
    "check_referenced",
    "new_dataset",
    "patient_name_value",
    "set_content_uid",
]

#: Identifies files written by ionbeam (deterministic, version-independent).
IMPLEMENTATION_CLASS_UID = make_uid("ionbeam", "implementation")
_PLACEHOLDER_UID = UID("2.25.0")


@dataclass(frozen=True)
class StudyInfo:
    """Patient, study and frame of reference shared by all files of one export.

    Dates are ``YYYYMMDD`` and times ``HHMMSS`` strings.
    """

    patient_name: str
    patient_id: str
    study_instance_uid: str
    frame_of_reference_uid: str
    study_date: str
    study_time: str
    study_id: str = "1"
    study_description: str = ""

    def __post_init__(self) -> None:
        for keyword, value, vr in (
            ("patient name", patient_name_value(self.patient_name), "PN"),
            ("patient ID", self.patient_id, "LO"),
            ("study ID", self.study_id, "SH"),
            ("study description", self.study_description, "LO"),
        ):
            length = text_too_long(value, vr)
            if length is not None:
                raise DicomError(
                    f"the {keyword} has {length} characters, more than DICOM allows for {vr} "
                    f"({MAX_LENGTH[vr]}); give a shorter one"
                )

    @classmethod
    def new(
        cls,
        patient_name: str,
        *,
        patient_id: str | None = None,
        seed: object = None,
        when: dt.datetime | None = None,
        study_description: str = "",
    ) -> StudyInfo:
        """New study UIDs: deterministic from ``seed`` when given, random otherwise.

        The study date and time are ``when``; without it, today's for a random
        study, and none (empty: DICOM type 2) for a seeded one, so that the same
        seed always gives the same files (no date is invented from the clock).
        """
        entropy = () if seed is None else ("study", patient_name, seed)
        for_entropy = () if seed is None else ("frame-of-reference", patient_name, seed)
        moment = when if when is not None or seed is not None else dt.datetime.now()
        return cls(
            patient_name=patient_name,
            patient_id=patient_id or patient_name,
            study_instance_uid=make_uid(*entropy),
            frame_of_reference_uid=make_uid(*for_entropy),
            study_date="" if moment is None else moment.strftime("%Y%m%d"),
            study_time="" if moment is None else moment.strftime("%H%M%S"),
            study_description=study_description,
        )


def check_referenced(
    dataset: Dataset,
    modality: str,
    study: StudyInfo,
    *,
    what: str,
    wrong_modality: str,
    advice: str,
) -> None:
    """Refuse a dataset referenced by a new object unless it has ``modality`` and (where
    it names them) the study's Study Instance and Frame of Reference UIDs. ``what``
    names it in messages ("the plan"), ``wrong_modality`` starts the modality error,
    ``advice`` ends the UID error."""
    found_modality = getattr(dataset, "Modality", None)
    if found_modality != modality:
        raise DicomError(f"{wrong_modality}; got Modality {found_modality!r}")
    for keyword, expected in (
        ("StudyInstanceUID", study.study_instance_uid),
        ("FrameOfReferenceUID", study.frame_of_reference_uid),
    ):
        found = str(getattr(dataset, keyword, ""))
        if found and found != expected:
            raise DicomError(
                f"{what}'s {keyword} {found} differs from the study's {expected}; {advice}"
            )


def new_dataset(sop_class_uid: UID, sop_instance_uid: UID) -> FileDataset:
    """An empty Part-10 dataset with file meta information and the SOP Common module."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = f"ionbeam {__version__}"[:16]
    # pydicom accepts None (a dataset made in memory, no source file); its hints do not say so
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)  # type: ignore[arg-type]
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    return ds


def patient_name_value(name: str) -> str:
    """The PN value of a patient name: family name first (``^`` added when absent)."""
    return name if "^" in name else f"{name}^"


def set_content_uid(ds: FileDataset) -> FileDataset:
    """Give ``ds`` the SOP Instance UID derived from a hash of everything it holds
    (written with a placeholder UID), so that the same UID always means the same
    bytes and different content always gets another UID. Call it last."""
    check_value_lengths(ds)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _PLACEHOLDER_UID
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    uid = make_uid("content", hashlib.sha256(buffer.getvalue()).hexdigest())
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    return ds


def add_patient(ds: Dataset, study: StudyInfo) -> None:
    """Patient module (C.7.1.1)."""
    ds.PatientName = patient_name_value(study.patient_name)
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"


def add_general_study(ds: Dataset, study: StudyInfo) -> None:
    """General Study module (C.7.2.1)."""
    ds.StudyInstanceUID = study.study_instance_uid
    ds.StudyDate = study.study_date
    ds.StudyTime = study.study_time
    ds.ReferringPhysicianName = ""
    ds.StudyID = study.study_id
    ds.AccessionNumber = ""
    if study.study_description:
        ds.StudyDescription = clip_text(study.study_description, "LO")


def add_general_series(
    ds: Dataset,
    *,
    modality: str,
    series_instance_uid: str,
    series_number: int,
    description: str = "",
) -> None:
    """General Series (C.7.3.1) or RT Series (C.8.8.1) module."""
    ds.Modality = modality
    ds.SeriesInstanceUID = series_instance_uid
    ds.SeriesNumber = series_number
    if description:
        ds.SeriesDescription = clip_text(description, "LO")


def add_frame_of_reference(ds: Dataset, study: StudyInfo) -> None:
    """Frame of Reference module (C.7.4.1)."""
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""


def add_equipment(ds: Dataset) -> None:
    """General Equipment module (C.7.5.1): ionbeam as the manufacturer."""
    ds.Manufacturer = "ionbeam"
    ds.ManufacturerModelName = "ionbeam"
    ds.SoftwareVersions = __version__
