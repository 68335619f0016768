"""Output folders never destroy inputs, the current folder, or leave temporaries behind
(issue 12, items 1 and the output-folder defects): refused on one line, before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ionbeam.cli.main import main
from ionbeam.io.plan_json import write_plan_json
from ionbeam.machine import cnao_machine
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap


@pytest.fixture(scope="module")
def ct_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A coarse water phantom exported as DICOM (CT + RTSTRUCT) inside a parent folder."""
    parent = tmp_path_factory.mktemp("patients")
    assert main(["phantom", "water", "--out", str(parent / "p"), "--spacing", "10"]) == 0
    (parent / "sibling.txt").write_text("another patient")
    return parent / "p"


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _one_line_error(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("ionbeam: error:") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("where", ["same", "parent", "inside"])
def test_plan_refuses_an_out_that_would_delete_the_patient(
    ct_folder: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """``--out`` equal to the DICOM folder, its parent (siblings would go too) or a folder
    inside it is refused even with --force; the CT, RTSTRUCT and siblings stay."""
    out = {"same": ct_folder, "parent": ct_folder.parent, "inside": ct_folder / "plan"}[where]
    before = _files(ct_folder.parent)
    argv = ["plan", "--dicom", str(ct_folder), "--target", "Target", "--particle", "proton",
            "--beams", "90", "--out", str(out), "--force"]  # fmt: skip
    assert main(argv) == 2
    _one_line_error(capsys, "input")
    assert _files(ct_folder.parent) == before


def _plan_folder(folder: Path) -> Path:
    energy = float(cnao_machine().energy_library("proton").energies_mev_u[60])
    spots = SpotMap([energy], [0.0], [0.0], [1.0e8])
    plan = Plan("proton", (Beam("B1", BeamGeometry(), spots),), Prescription("Target", 2.0))
    folder.mkdir(parents=True, exist_ok=True)
    write_plan_json(plan, folder / "plan.json")
    return folder


def test_dose_and_deliver_refuse_an_out_holding_their_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _plan_folder(tmp_path / "plan")
    for command in (["dose", str(folder), "--phantom", "water"], ["deliver", str(folder)]):
        assert main([*command, "--out", str(folder), "--force"]) == 2
        _one_line_error(capsys, "input")
        assert (folder / "plan.json").exists()


def test_deliver_out_follows_the_plan_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A non-empty record folder is refused without --force (nothing overwritten) and
    replaced as a whole with it; no temporary is left beside it."""
    folder = _plan_folder(tmp_path / "plan")
    out = tmp_path / "record"
    out.mkdir()
    (out / "summary.json").write_text("precious")
    argv = ["deliver", str(folder), "--out", str(out), "--no-figure", "--json"]
    assert main(argv) == 2
    _one_line_error(capsys, "not empty", "--force")
    assert (out / "summary.json").read_text() == "precious"
    assert main([*argv, "--force"]) == 0
    capsys.readouterr()
    assert json.loads((out / "summary.json").read_text())["summary"]["n_spots"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan", "record"]


@pytest.mark.parametrize("command", [["phantom", "water", "--spacing", "10"], ["demo"]])
def test_out_dot_is_refused_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, command: list[str]
) -> None:
    """``--out .`` (the current folder) with --force: one line, no temporary folders."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    extra = ["--force"] if command[0] != "demo" else []
    assert main([*command, "--out", ".", *extra]) == 2
    _one_line_error(capsys, "current folder")
    assert sorted(os.listdir(work)) == ["notes.txt"]
    assert sorted(os.listdir(tmp_path)) == ["work"]


def test_unwritable_parent_is_one_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A parent that cannot be written (simulated: root may write anywhere) is one line."""
    import ionbeam._atomic as atomic

    def denied(*args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", denied)
    assert main(["phantom", "water", "--spacing", "10", "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "permission denied")
    assert not (tmp_path / "o").exists()


def test_read_only_parent_is_refused_before_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ionbeam._atomic as atomic

    monkeypatch.setattr(atomic.os, "access", lambda *a, **k: False)
    assert main(["phantom", "water", "--spacing", "10", "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "writable")
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_killed_runs_are_removed(tmp_path: Path) -> None:
    """Temporaries named as ionbeam names them whose process is gone are removed; those of
    a live process and anything else are kept."""
    dead = _dead_pid()
    stale = tmp_path / f".o.ionbeam-tmp-{dead}-abc123"
    stale_old = tmp_path / f".o.ionbeam-old-{dead}-x_9"
    live = tmp_path / f".o.ionbeam-tmp-{os.getpid()}-abc123"
    other = tmp_path / ".o.something-else"
    for folder in (stale, stale_old, live, other):
        folder.mkdir()
        (folder / "CT_0001.dcm").write_text("x")
    assert main(["phantom", "water", "--spacing", "10", "--out", str(tmp_path / "o")]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["o", live.name, other.name])
