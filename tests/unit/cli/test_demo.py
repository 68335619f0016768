"""``ionbeam demo``: both plans, DICOM, the comparison report, atomic replacement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ionbeam.cli.main import main
from ionbeam.io.plan_json import read_plan_json


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "run"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    return out


def test_both_plans_cover_the_chordoma(demo: Path) -> None:
    """Protons (RBE 1.1) and carbon (mMKM, with the ripple filter), both for 70.4 Gy(RBE)
    in 16: the GTV's RBE-weighted D95 within 5 % of the prescription and the brainstem
    below it."""
    summary = json.loads((demo / "summary.json").read_text())
    assert summary["ionbeam"] == "demo"
    for label, particle, model in (("protons", "proton", "constant"), ("carbon", "carbon", "mkm")):
        metrics = json.loads((demo / label / "metrics.json").read_text())
        assert metrics["particle"] == particle and metrics["rbe_model"] == model
        assert metrics["dose"] == "rbe_weighted" and metrics["prescription_gy"] == 70.4
        gtv = metrics["structures"]["GTV"]
        assert gtv["d95_gy"] >= 0.95 * 70.4 and gtv["max_gy"] <= 1.07 * 70.4
        assert metrics["structures"]["Brainstem"]["max_gy"] < 70.4
        plan = read_plan_json(demo / label)
        assert plan.particle == particle and plan.n_spots == metrics["spots"]
        # CNAO's carbon beams use the 3 mm ripple filter, its proton beams none
        assert all(beam.ripple_filter == (particle == "carbon") for beam in plan.beams)


def test_files_of_each_plan_and_the_comparison(demo: Path) -> None:
    for label in ("protons", "carbon"):
        files = {p.name for p in (demo / label / "dicom").iterdir()}
        assert {"RP.dcm", "RS.dcm", "RD_physical.dcm", "RD_rbe_weighted.dcm"} <= files
        assert any(name.startswith("CT_") for name in files)
        assert (demo / label / "report.html").stat().st_size > 10_000
    html = (demo / "comparison.html").read_text()
    assert "protons" in html and "carbon" in html and "Brainstem" in html


def test_refuses_a_folder_that_is_not_a_demo(tmp_path: Path, capsys) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "does not hold a previous ionbeam demo" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"
