"""DICOM import and export: CT series and RT Structure Sets (RT Ion Plan and RT Dose follow).

Shared parts for every DICOM object: :class:`StudyInfo` (patient, study and
frame-of-reference identity), :func:`make_uid`, the module writers in
``_common`` and atomic folder writing in ``_files``.
"""

from ionbeam.io.dicom._common import StudyInfo
from ionbeam.io.dicom._uids import make_uid
from ionbeam.io.dicom.ct import CTSeries, ct_datasets, read_ct_series
from ionbeam.io.dicom.patient_io import read_dicom_patient, write_dicom_patient
from ionbeam.io.dicom.rtstruct import RTStructureSet, read_rtstruct, rtstruct_dataset

__all__ = [
    "CTSeries",
    "RTStructureSet",
    "StudyInfo",
    "ct_datasets",
    "make_uid",
    "read_ct_series",
    "read_dicom_patient",
    "read_rtstruct",
    "rtstruct_dataset",
    "write_dicom_patient",
]
