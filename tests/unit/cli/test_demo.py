"""``ionbeam demo``: both plans, DICOM, the comparison report, atomic replacement."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from ionbeam.cli._demo import DEMO_SUPERSAMPLING_MM
from ionbeam.cli.main import main
from ionbeam.io.plan_json import read_plan_json


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The quick demo's folder and what it printed (standard output, standard error)."""
    out = tmp_path_factory.mktemp("demo") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main(["demo", "--quick", "--out", str(out)]) == 0
    return out, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def demo(demo_run: tuple[Path, str, str]) -> Path:
    return demo_run[0]


@pytest.mark.slow  # the whole quick demo (two plans); .ci/run also runs the demo
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
        # optimized with sub-voxels near the PTV, a ring, the chordoma at alpha/beta 2 Gy
        planning = plan.settings["planning"]
        assert planning["oar_supersampling_mm"] == DEMO_SUPERSAMPLING_MM
        assert planning["target_tissue"] == "late_normal"
        assert "Ring_PTV" in plan.settings["objectives"]


@pytest.mark.slow  # the whole quick demo (two plans); .ci/run also runs the demo
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


@pytest.mark.slow  # the whole quick demo (two plans); .ci/run also runs the demo
def test_goals_and_hot_spots_are_said_for_both_plans(demo_run: tuple[Path, str, str]) -> None:
    """Each plan's clinical goals are on the terminal (with the hot spot outside the
    target, acceptable or not), in summary.json and metrics.json, and in its report
    and the comparison; the warnings of a report list a failed goal."""
    out, stdout, stderr = demo_run
    assert stdout.count("hot spot outside the target") == 2
    assert "protons: clinical goals" in stdout and "carbon: clinical goals" in stdout
    summary = json.loads((out / "summary.json").read_text())
    for label in ("protons", "carbon"):
        goals = summary["plans"][label]["goals"]
        metrics = json.loads((out / label / "metrics.json").read_text())
        assert metrics["goals"] == goals
        hot = goals["hot_spot"]
        assert hot["threshold_percent"] == 107.0 and hot["volume_cm3"] >= 0.0
        report = (out / label / "report.html").read_text()
        assert "Clinical goals" in report and "hot spot outside the target" in report
        assert "Dose through the hottest point" in report
        for failure in goals["failures"]:
            assert "No warnings." not in report and failure.split(":")[0] in report
    # one line per stage on standard error, not minutes of silence
    for stage in ("protons: dose influence done", "carbon: optimization done",
                  "comparison report written"):  # fmt: skip
        assert stage in stderr


def test_demo_plans_record_their_phantom() -> None:
    """A demo plan says which patient it was made on (the head phantom at its voxel size),
    so that ``ionbeam dose PLAN_DIR`` recomputes it without --phantom (issue 11's grid check
    of the demo was refused before: "the plan does not say which patient it was made on")."""
    import dataclasses

    from ionbeam.cli._demo import _with_phantom_record
    from ionbeam.patient.phantoms import make_phantom

    @dataclasses.dataclass(frozen=True)
    class _Plan:
        settings: dict

    @dataclasses.dataclass(frozen=True)
    class _Result:
        plan: _Plan

    patient = make_phantom("head", spacing_mm=3.0)
    recorded = _with_phantom_record(_Result(_Plan({"x": 1})), patient).plan.settings
    assert recorded["x"] == 1
    assert recorded["phantom"]["name"] == "head"
    assert recorded["phantom"]["parameters"]["spacing_mm"] == 3.0


def test_the_demo_ring_surrounds_the_ptv() -> None:
    """The demo's ring: the tissue within 15 mm of the PTV, inside the body, none of the
    PTV; it gets the ring's hot-spot objective (the prescription as a maximum)."""
    from ionbeam.cli._demo import DEMO_RING_MM, _with_ring
    from ionbeam.patient.phantoms import make_phantom
    from ionbeam.planning.optimize.templates import RING_MAX_FRACTION, default_objectives

    patient = _with_ring(make_phantom("head", spacing_mm=3.0))
    s = patient.structures
    ring, ptv = s["Ring_PTV"].mask, s["PTV"].mask
    assert not (ring & ptv).any() and not (ring & ~s["Body"].mask).any()
    assert (ring | ptv).sum() == (s["PTV"].expand(DEMO_RING_MM).mask & s["Body"].mask).sum()
    objective = default_objectives(list(s), "PTV", 4.4)["Ring_PTV"][0]
    assert objective.max_dose_gy == RING_MAX_FRACTION * 4.4
