"""Phantoms to DICOM and back: same HU (to rounding), masks with Dice ≥ 0.98, valid IODs."""

from pathlib import Path

import numpy as np
import pydicom
import pytest

from ionbeam.cli.main import main
from ionbeam.io import read_dicom_patient, write_dicom_patient
from ionbeam.patient.phantoms import make_phantom


@pytest.mark.parametrize(
    ("name", "spacing"), [("water", 5.0), ("tg119", 2.5), ("head", 3.0), ("lung", 4.0)]
)
def test_round_trip(tmp_path: Path, name: str, spacing: float) -> None:
    patient = make_phantom(name, spacing_mm=spacing)
    out = write_dicom_patient(patient, tmp_path / name)
    back = read_dicom_patient(out)
    assert back.grid == patient.grid
    np.testing.assert_array_equal(back.ct.hu, np.rint(patient.ct.hu))
    assert back.target_name == patient.target_name
    assert list(back.structures) == list(patient.structures)
    for structure_name, structure in patient.structures.items():
        assert structure.dice(back.structures[structure_name]) >= 0.98, structure_name


def test_uids_are_consistent_and_reproducible(tmp_path: Path) -> None:
    patient = make_phantom("water", spacing_mm=10.0)
    first = write_dicom_patient(patient, tmp_path / "a")
    second = write_dicom_patient(patient, tmp_path / "b")
    rs = pydicom.dcmread(first / "RS.dcm")
    ct = pydicom.dcmread(first / "CT_0001.dcm")
    assert rs.StudyInstanceUID == ct.StudyInstanceUID
    assert rs.FrameOfReferenceUID == ct.FrameOfReferenceUID
    frame = rs.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == ct.FrameOfReferenceUID
    referenced = frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == ct.SeriesInstanceUID
    slice_uids = {pydicom.dcmread(p).SOPInstanceUID for p in first.glob("CT_*.dcm")}
    assert {i.ReferencedSOPInstanceUID for i in referenced.ContourImageSequence} == slice_uids
    assert pydicom.dcmread(second / "RS.dcm").SOPInstanceUID == rs.SOPInstanceUID


def test_written_files_pass_dciodvfy(tmp_path: Path, dciodvfy_errors) -> None:
    out = write_dicom_patient(make_phantom("tg119", spacing_mm=10.0), tmp_path / "tg119")
    for path in (out / "CT_0001.dcm", out / "RS.dcm"):
        assert dciodvfy_errors(path) == [], path.name


def test_phantom_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "water"
    assert main(["phantom", "water", "--out", str(out), "--spacing", "10", "--json"]) == 0
    assert '"target": "Target"' in capsys.readouterr().out
    assert read_dicom_patient(out).grid.spacing_mm == (10.0, 10.0, 10.0)
    assert main(["phantom", "water", "--out", str(out)]) == 2  # not empty
    assert "not empty" in capsys.readouterr().err
    assert main(["phantom", "water", "--out", str(out), "--spacing", "20", "--force"]) == 0
    assert read_dicom_patient(out).grid.spacing_mm == (20.0, 20.0, 20.0)
    assert main(["phantom", "kidney", "--out", str(tmp_path / "k")]) == 2
    assert not (tmp_path / "k").exists()
