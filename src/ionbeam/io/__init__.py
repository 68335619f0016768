"""Input and output: DICOM (CT, RTSTRUCT; RT Ion Plan and RT Dose to follow), plan files."""

from ionbeam.io.dicom import read_dicom_patient, write_dicom_patient

__all__ = ["read_dicom_patient", "write_dicom_patient"]
