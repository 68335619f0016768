"""The CT and RT Structure Set files of a patient ionbeam made, encoded once
(:attr:`PatientDatasets.files`) and written into each plan folder: the same bytes as
writing each dataset on its own, and contour coordinates that strict DICOM reading
accepts and that give back the structures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom import config

from ionbeam.io.dicom._files import write_dataset
from ionbeam.io.dicom.patient_io import patient_datasets, read_dicom_patient, write_patient_files
from ionbeam.patient.phantoms import make_phantom


def test_encoded_files_are_the_datasets_written_one_by_one(tmp_path: Path) -> None:
    """Each file's bytes are what :func:`write_dataset` writes for its dataset; a second
    folder gets the same bytes; the folder reads back as the patient."""
    patient = make_phantom("head", spacing_mm=6.0)
    datasets = patient_datasets(patient)
    names = [name for name, _ in datasets.files]
    assert names[-1] == "RS.dcm" and len(names) == len(datasets.ct_slices) + 1
    every = [*datasets.ct_slices, datasets.structure_set]
    for (name, data), dataset in zip(datasets.files, every, strict=True):
        write_dataset(dataset, tmp_path / "one.dcm")
        assert (tmp_path / "one.dcm").read_bytes() == data, name
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_patient_files(tmp_path / folder, patient, datasets=datasets)
    for name, data in datasets.files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes() == data
    read = read_dicom_patient(tmp_path / "a")
    for name, structure in patient.structures.items():
        assert np.array_equal(read.structures[name].mask, structure.mask), name


def test_contour_data_are_valid_decimal_strings(tmp_path: Path) -> None:
    """ContourData, stored as the strings ionbeam formats (three decimals), passes
    pydicom's strict reading (each value a valid DS of at most 16 characters) and
    holds the coordinates of the outlines, on the CT's slice planes."""
    patient = make_phantom("head", spacing_mm=6.0)
    rs = dict(patient_datasets(patient).files)["RS.dcm"]
    (tmp_path / "RS.dcm").write_bytes(rs)
    with config.strict_reading():
        dataset = pydicom.dcmread(tmp_path / "RS.dcm")
        contours = [c for roi in dataset.ROIContourSequence for c in roi.ContourSequence]
        values = [np.asarray(c.ContourData, dtype=float).reshape(-1, 3) for c in contours]
    z_planes = patient.grid.axes_mm()[2]
    low, high = patient.grid.extent_mm
    for points, contour in zip(values, contours, strict=True):
        assert len(points) == contour.NumberOfContourPoints >= 3
        assert np.min(np.abs(z_planes - points[0, 2])) < 1e-3 and np.ptp(points[:, 2]) == 0
        assert np.all(points[:, :2] >= low[:2] - 6.0) and np.all(points[:, :2] <= high[:2] + 6.0)
    raw = dataset.ROIContourSequence[0].ContourSequence[0]["ContourData"].value
    assert all(len(str(v)) <= 16 and f"{float(v):.3f}" == str(v) for v in raw)
