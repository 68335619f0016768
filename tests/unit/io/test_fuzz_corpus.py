"""The ``ionbeam`` command on every case of the fuzz corpus (``tests/data/fuzz``, made by
``make_fuzz_corpus.py`` there): corrupted DICOM folders (``plan --dicom``), corrupted
RT Ion Plans (``dose``) and bad plan files (``plan``). Each must end with exit status
2 and one line ``ionbeam: error: …`` on stderr, no traceback, and nothing written to
``--out``. The cases fail while reading their input, before any planning, so the
corpus runs in seconds."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from ionbeam.cli.main import main
from ionbeam.io.dicom import read_dicom_patient

FUZZ = Path(__file__).resolve().parents[2] / "data" / "fuzz"
DICOM_CASES = sorted(p.name for p in (FUZZ / "dicom").iterdir())
PLAN_CASES = sorted(p.name for p in (FUZZ / "rtplan").glob("*.dcm"))
PLAN_FILES = sorted(p.name for p in (FUZZ / "planfile").glob("*.toml"))


def _run(args: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command (warnings shown as the command shows them, not raised)."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        status = main([*args, "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2, err
    lines = [line for line in err.strip().splitlines() if not line.startswith("ionbeam: warning: ")]
    assert len(lines) == 1, err
    assert lines[0].startswith("ionbeam: error: "), err
    assert "Traceback" not in err
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
    return lines[0]


def test_the_corpus_is_there() -> None:
    assert len(DICOM_CASES) >= 30 and len(PLAN_CASES) >= 8 and len(PLAN_FILES) >= 15


def test_the_base_patient_reads() -> None:
    """Each case is the base folder with one corruption: the base itself is valid."""
    patient = read_dicom_patient(FUZZ / "valid")
    assert list(patient.structures) == ["Body", "Target"]
    assert patient.target_name == "Target"


@pytest.mark.parametrize("case", DICOM_CASES)
def test_corrupted_dicom_folder(case: str, tmp_path: Path, capsys) -> None:
    folder = FUZZ / "dicom" / case
    _run(["plan", "--dicom", str(folder), "--particle", "proton"], tmp_path / "out", capsys)


@pytest.mark.parametrize("case", PLAN_CASES)
def test_corrupted_rt_ion_plan(case: str, tmp_path: Path, capsys) -> None:
    plan = FUZZ / "rtplan" / case
    _run(["dose", str(plan), "--dicom", str(FUZZ / "valid")], tmp_path / "out", capsys)


@pytest.mark.parametrize("case", PLAN_FILES)
def test_bad_plan_file(case: str, tmp_path: Path, capsys) -> None:
    _run(["plan", str(FUZZ / "planfile" / case)], tmp_path / "out", capsys)
