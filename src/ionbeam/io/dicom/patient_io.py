"""A whole patient (CT series + RT Structure Set) to and from a DICOM folder."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydicom.dataset import Dataset

from ionbeam.errors import ConfigError, DicomError, IonbeamError
from ionbeam.io.dicom._common import StudyInfo
from ionbeam.io.dicom._files import atomic_directory, encode_dataset, read_headers
from ionbeam.io.dicom.ct import ct_datasets, series_from_headers
from ionbeam.io.dicom.rtstruct import read_rtstruct, rtstruct_dataset
from ionbeam.patient.patient import Patient
from ionbeam.patient.structures import StructureSet

__all__ = [
    "PatientDatasets",
    "patient_datasets",
    "read_dicom_patient",
    "registered_structure_sets",
    "roi_types",
    "write_dicom_patient",
    "write_patient_files",
]


def write_dicom_patient(
    patient: Patient,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    study: StudyInfo | None = None,
) -> Path:
    """Write ``patient`` as a CT series (``CT_0001.dcm``, …) and an RT Structure Set
    (``RS.dcm``) into ``out_dir``, atomically (nothing is left behind on failure).

    Without ``study``, UIDs are derived from the patient's name and metadata, so
    exporting the same patient twice gives the same UIDs.
    """
    out = Path(out_dir)
    with atomic_directory(out, overwrite=overwrite) as folder:
        write_patient_files(folder, patient, study=study)
    return out


@dataclass(frozen=True, eq=False)
class PatientDatasets:
    """The DICOM datasets of a patient ionbeam made (CT slices in ascending z and the
    RT Structure Set) with their ``study``, built once by :func:`patient_datasets` and
    written into as many folders as need them (e.g. each plan folder of a demo)."""

    patient: Patient
    study: StudyInfo
    ct_slices: tuple[Dataset, ...]
    structure_set: Dataset

    @cached_property
    def files(self) -> tuple[tuple[str, bytes], ...]:
        """(file name, bytes) of each CT slice (``CT_0001.dcm``, …) and of ``RS.dcm``,
        encoded on first use and then written as they are into every folder (the
        datasets must not be changed after that)."""
        names = [f"CT_{k:04d}.dcm" for k in range(1, len(self.ct_slices) + 1)]
        datasets = [*self.ct_slices, self.structure_set]
        return tuple(zip([*names, "RS.dcm"], map(encode_dataset, datasets), strict=True))


def patient_datasets(patient: Patient, *, study: StudyInfo | None = None) -> PatientDatasets:
    """The CT series and RT Structure Set of ``patient`` as datasets (nothing written).

    Without ``study``, UIDs are derived from the patient's name and metadata, so the
    same patient always gets the same UIDs."""
    study = study or StudyInfo.new(
        patient.name, seed=repr(sorted(patient.metadata.items())), study_description="ionbeam"
    )
    datasets, series = ct_datasets(patient.ct, study)
    structure_set = rtstruct_dataset(patient.structures, series, roi_types=roi_types(patient))
    return PatientDatasets(patient, study, tuple(datasets), structure_set)


def write_patient_files(
    folder: Path,
    patient: Patient,
    *,
    study: StudyInfo | None = None,
    datasets: PatientDatasets | None = None,
) -> tuple[StudyInfo, Dataset]:
    """Write the CT series and ``RS.dcm`` of ``patient`` into the existing ``folder``
    (not atomic: use inside :func:`atomic_directory`); returns the study and the
    RT Structure Set dataset, which an RT Ion Plan refers to. ``datasets``: those of
    :func:`patient_datasets` for this patient, built before (then ``study`` is theirs)."""
    if datasets is None:
        datasets = patient_datasets(patient, study=study)
    elif datasets.patient is not patient or (study is not None and study != datasets.study):
        raise ConfigError(
            "the patient datasets were built for another patient or study; build them with "
            "patient_datasets(patient) of this patient, or leave them out"
        )
    for name, data in datasets.files:
        (folder / name).write_bytes(data)
    return datasets.study, datasets.structure_set


def roi_types(patient: Patient) -> dict[str, str]:
    """RT ROI Interpreted Type of each structure, from its name (and the target)."""
    types = {}
    for name in patient.structures:
        upper = name.upper()
        if upper in ("BODY", "EXTERNAL", "SKIN"):
            types[name] = "EXTERNAL"
        elif upper.startswith(("GTV", "CTV")):
            types[name] = upper[:3]
        elif name == patient.target_name or upper.startswith("PTV"):
            types[name] = "PTV"
        else:
            types[name] = "ORGAN"
    return types


def read_dicom_patient(
    folder: str | Path, *, target_name: str | None = None, series_instance_uid: str | None = None
) -> Patient:
    """Read the CT series and its RT Structure Set(s) (same frame of reference) in
    ``folder``. The target is ``target_name``, or else the only ROI of type PTV.

    A folder without an RT Structure Set, or whose structure sets all belong to
    another frame of reference, is refused saying so; files that are not DICOM
    are skipped with a warning.
    """
    folder = Path(folder)
    headers = read_headers(folder)
    series = series_from_headers(headers, folder, series_instance_uid=series_instance_uid)
    structures: list = []
    types: dict[str, str] = {}
    for header in registered_structure_sets(headers, series.frame_of_reference_uid, folder):
        read = read_rtstruct(Path(header.filename), series)
        structures.extend(s for s in read.structures.values())
        types.update(read.roi_types)
    if target_name is None:
        ptvs = [n for n, t in types.items() if t == "PTV"]
        target_name = ptvs[0] if len(ptvs) == 1 else None
    try:
        structure_set = StructureSet(structures)
    except IonbeamError as exc:  # duplicate names across several structure sets
        raise DicomError(f"{folder}: cannot combine the structure sets ({exc})") from None
    return Patient(
        name=series.study.patient_name or folder.name,
        ct=series.ct,
        structures=structure_set,
        target_name=target_name,
        metadata={
            "patient_id": series.study.patient_id,
            "study_instance_uid": series.study.study_instance_uid,
            "series_instance_uid": series.series_instance_uid,
            "frame_of_reference_uid": series.frame_of_reference_uid,
        },
    )


def registered_structure_sets(
    headers: list[Dataset], frame_of_reference_uid: str, folder: object
) -> list[Dataset]:
    """The RTSTRUCT headers registered to ``frame_of_reference_uid`` (or naming no frame);
    refuses a folder with none, saying whether there is none at all or only others'."""
    found = [h for h in headers if getattr(h, "Modality", None) == "RTSTRUCT"]
    if not found:
        raise DicomError(
            f"{folder}: no RT Structure Set (RTSTRUCT) found beside the CT; ionbeam needs the "
            "structures (target, organs): add the RTSTRUCT file to the folder"
        )
    registered: list[Dataset] = []
    foreign: list[Dataset] = []
    for header in found:
        frames = {
            str(getattr(f, "FrameOfReferenceUID", ""))
            for f in getattr(header, "ReferencedFrameOfReferenceSequence", [])
        }
        (foreign if frames and frame_of_reference_uid not in frames else registered).append(header)
    if not registered:
        header = foreign[0]
        frame = header.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID
        raise DicomError(
            f"{folder}: the RT Structure Set {Path(header.filename).name} refers to another "
            f"frame of reference ({frame}) than the CT ({frame_of_reference_uid}); it belongs "
            "to another scan: add the structure set of this CT"
        )
    return registered
