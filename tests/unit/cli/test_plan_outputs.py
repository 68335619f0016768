"""``ionbeam plan`` end to end (issue 6): plan files, DICOM patients, valid DICOM
output, and ``ionbeam dose`` recomputing a plan folder or an RT Ion Plan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from ionbeam.cli.main import main
from ionbeam.io.dicom import read_rt_dose, read_rt_ion_plan
from ionbeam.io.plan_json import read_plan_json

QUICK = ["--grid", "4", "--energy-stride", "2", "--spot-spacing", "6", "--no-report"]

PLAN_FILE = """
[patient]
phantom = "water"
spacing_mm = 4.0

[prescription]
total_dose_gy = 60.0
fractions = 30

[plan]
particle = "proton"

[[beams]]
line = "horizontal"
couch_deg = 0.0

[[objectives]]
structure = "Target"
type = "squared_deviation"
total_dose_gy = 60.0
weight = 1000.0

[[objectives]]
structure = "Body"
type = "max_dose"
total_dose_gy = 40.0
"""


@pytest.fixture(scope="module")
def from_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plan-file")
    (folder / "plan.toml").write_text(PLAN_FILE)
    out = folder / "out"
    assert main(["plan", str(folder / "plan.toml"), "--out", str(out), *QUICK]) == 0
    return out


def test_plan_file_is_followed(from_file: Path) -> None:
    """The fixed horizontal line is gantry 90°; the file's objectives replace the
    defaults of Target and Body (levels per fraction: 2 and 1.333 Gy(RBE))."""
    plan = read_plan_json(from_file)
    assert [b.geometry.gantry_deg for b in plan.beams] == [90.0]
    objectives = plan.settings["objectives"]
    assert objectives["Body"] == [
        {"type": "SquaredOverdose", "max_dose_gy": pytest.approx(40 / 30), "weight": 3000.0}
    ]
    assert objectives["Target"][0]["dose_gy"] == pytest.approx(2.0)
    metrics = json.loads((from_file / "metrics.json").read_text())
    assert metrics["structures"]["Target"]["d95_gy"] >= 0.95 * 60.0


def test_dicom_export_is_valid_and_consistent(from_file: Path, dciodvfy_errors) -> None:
    """CT, RTSTRUCT, RT Ion Plan and RT Doses pass dciodvfy with zero errors, share the
    study and frame of reference, and read back to the saved plan and doses."""
    folder = from_file / "dicom"
    files = [
        "CT_0001.dcm",
        "RS.dcm",
        "RP.dcm",
        "RD_physical.dcm",
        "RD_rbe_weighted.dcm",
    ]
    assert (folder / "LETd.mha").is_file()  # LET_d is not an RT Dose
    for name in files:
        assert dciodvfy_errors(folder / name) == [], name
    headers = [pydicom.dcmread(folder / n, stop_before_pixels=True) for n in files]
    assert len({h.StudyInstanceUID for h in headers}) == 1
    assert len({h.FrameOfReferenceUID for h in headers}) == 1
    plan = read_plan_json(from_file)
    back = read_rt_ion_plan(folder / "RP.dcm")
    delivered = plan.weights[plan.weights > 0]  # zero-weight spots are not exported
    np.testing.assert_allclose(back.weights, delivered, rtol=1e-6)
    dose = read_rt_dose(folder / "RD_rbe_weighted.dcm")
    metrics = json.loads((from_file / "metrics.json").read_text())
    assert dose.values.max() == pytest.approx(metrics["structures"]["Body"]["max_gy"], rel=1e-4)


def test_dose_recomputes_the_saved_plan(from_file: Path, capsys) -> None:
    assert main(["dose", str(from_file), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    differences = document["recomputed_vs_saved"]["Target"]
    assert max(abs(v) for v in differences.values()) < 1e-6


def test_plan_and_dose_of_a_dicom_patient(tmp_path: Path, capsys) -> None:
    """A phantom exported as DICOM is planned from its folder; the plan refers to the
    original study (no CT written again) and ``ionbeam dose`` recomputes its RT Ion Plan."""
    ct = tmp_path / "ct"
    assert main(["phantom", "water", "--out", str(ct), "--spacing", "4"]) == 0
    out = tmp_path / "plan"
    args = [
        "plan",
        "--dicom",
        str(ct),
        "--target",
        "Target",
        "--particle",
        "proton",
        "--beams",
        "0",
        "--out",
        str(out),
        *QUICK,
    ]
    assert main(args) == 0
    files = {p.name for p in (out / "dicom").iterdir()}
    assert "RP.dcm" in files and not any(n.startswith("CT_") for n in files)
    rp = pydicom.dcmread(out / "dicom" / "RP.dcm")
    rs = pydicom.dcmread(ct / "RS.dcm")
    assert rp.StudyInstanceUID == rs.StudyInstanceUID
    assert rp.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID == rs.SOPInstanceUID
    capsys.readouterr()
    assert (
        main(["dose", str(out / "dicom" / "RP.dcm"), "--dicom", str(ct), "--grid", "4", "--json"])
        == 0
    )
    recomputed = json.loads(capsys.readouterr().out)["structures"]["Target"]
    saved = json.loads((out / "metrics.json").read_text())["structures"]["Target"]
    assert recomputed["mean_gy"] == pytest.approx(saved["mean_gy"], rel=1e-3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--phantom", "head", "--target", "Tumour"], "unknown structure 'Tumour'"),
        (["--phantom", "water", "--target", "Nope", "--particle", "proton"], "Body, Target"),
        (["--phantom", "water", "--dose-gy", "nan"], "--dose-gy"),
        (["--dicom", "/nonexistent/folder"], "does not exist"),
        ([], "--phantom NAME"),
    ],
)
def test_bad_input_one_line(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    out = tmp_path / "out"
    full = ["plan", *args, "--out", str(out)]
    if "--particle" not in args:
        full += ["--particle", "proton"]
    assert main(full) == 2
    err = capsys.readouterr().err
    assert err.startswith("ionbeam: error:") and err.count("\n") == 1 and message in err
    assert not out.exists()


def test_plan_file_typo(tmp_path: Path, capsys) -> None:
    (tmp_path / "typo.toml").write_text('[patient]\nphantom = "water"\ntagret = "Target"\n')
    assert (
        main(
            [
                "plan",
                str(tmp_path / "typo.toml"),
                "--particle",
                "proton",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "unknown key(s) ['tagret']" in capsys.readouterr().err


def test_target_outside_the_patient(tmp_path: Path, capsys) -> None:
    """A target contoured in air (outside the body) is refused before any planning."""
    from ionbeam.io.dicom import write_dicom_patient
    from ionbeam.patient import CT, Patient
    from ionbeam.patient.phantoms import make_phantom

    water = make_phantom("water", spacing_mm=5.0)
    hu = np.where(water.structures["Target"].mask, -1000.0, water.ct.hu)
    patient = Patient("air-target", CT(hu, water.grid), water.structures, target_name="Target")
    folder = write_dicom_patient(patient, tmp_path / "ct")
    assert (
        main(["plan", "--dicom", str(folder), "--particle", "proton", "--out", str(tmp_path / "o")])
        == 2
    )
    assert "lies outside the patient" in capsys.readouterr().err
