"""DICOM import and export: CT series, RT Structure Sets, RT Ion Plans and RT Doses.

Shared parts for every DICOM object: :class:`StudyInfo` (patient, study and
frame-of-reference identity), :func:`make_uid`, the module writers in
``_common`` and atomic folder writing in ``_files``.
"""

from ionbeam.io.dicom._common import StudyInfo
from ionbeam.io.dicom._files import DicomWarning, write_dicom_file
from ionbeam.io.dicom._uids import make_uid
from ionbeam.io.dicom.ct import CTSeries, ct_datasets, read_ct_series
from ionbeam.io.dicom.patient_io import read_dicom_patient, write_dicom_patient
from ionbeam.io.dicom.rt_ion_plan import rt_ion_plan_dataset
from ionbeam.io.dicom.rt_ion_plan_reader import read_rt_ion_plan
from ionbeam.io.dicom.rtdose import RTDose, read_rt_dose, rt_dose_dataset
from ionbeam.io.dicom.rtstruct import RTStructureSet, read_rtstruct, rtstruct_dataset

__all__ = [
    "CTSeries",
    "DicomWarning",
    "RTDose",
    "RTStructureSet",
    "StudyInfo",
    "ct_datasets",
    "make_uid",
    "read_ct_series",
    "read_dicom_patient",
    "read_rt_dose",
    "read_rt_ion_plan",
    "read_rtstruct",
    "rt_dose_dataset",
    "rt_ion_plan_dataset",
    "rtstruct_dataset",
    "write_dicom_file",
    "write_dicom_patient",
]
