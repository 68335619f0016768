"""Clinical goals of ``ionbeam plan`` and ``ionbeam dose``: never silent, ``--strict``.

The bad plan is the issue's failure mode at small scale: too few energies (every
8th proton energy on a 4 mm water phantom) leave the target under-covered and hot,
which the old ``ionbeam plan`` reported with exit status 0 and no word of warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ionbeam.cli._goals import GOALS_FAILED_STATUS
from ionbeam.cli.main import main

QUICK = ["--ct-spacing", "4", "--grid", "4", "--spot-spacing", "5", "--no-dicom", "--no-report"]
WATER = ["--phantom", "water", "--particle", "proton", "--beams", "90", *QUICK]


@pytest.fixture(scope="module")
def bad_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("goals") / "bad"
    status = main(["plan", *WATER, "--energy-stride", "8", "--strict", "--out", str(out)])
    return out, status


def test_strict_fails_a_bad_plan_and_writes_why(bad_plan: tuple[Path, int]) -> None:
    """--strict: exit 3; the plan folder is still written, metrics.json says which goals
    failed; the goals are recorded in plan.json for ``ionbeam dose``."""
    out, status = bad_plan
    assert status == GOALS_FAILED_STATUS
    goals = json.loads((out / "metrics.json").read_text())["goals"]
    assert goals["passed"] is False and goals["target"] == "Target"
    failed = {g["metric"] for g in goals["goals"] if not g["met"]}
    assert {"D95", "D98", "V95"} <= failed
    d95 = next(g for g in goals["goals"] if g["metric"] == "D95")
    assert d95["achieved"] < 95.0 and d95["at_least"] == 95.0
    assert goals["failures"] and goals["dose_unit"] == "Gy(RBE)"
    assert set(goals["hot_spot"]) >= {"volume_cm3", "max_gy", "location_mm", "acceptable"}
    plan = json.loads((out / "plan.json").read_text())
    assert plan["settings"]["goals"]["target"] == "Target"


def test_recompute_checks_the_same_goals(
    bad_plan: tuple[Path, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """``ionbeam dose``: the failed goals are printed and warned about (exit 0), and
    with --strict the recomputed plan fails too."""
    out, _ = bad_plan
    capsys.readouterr()
    assert main(["dose", str(out)]) == 0
    captured = capsys.readouterr()
    assert "NOT MET" in captured.out and "hot spot outside the target" in captured.out
    assert "clinical goal(s) not met for Target" in captured.err
    assert "dose influence done" in captured.err  # one line per stage
    assert main(["dose", str(out), "--strict", "--json"]) == GOALS_FAILED_STATUS
    printed = json.loads(capsys.readouterr().out)
    assert printed["goals"]["passed"] is False


def test_good_plan_passes_and_plan_file_goals_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every 2nd energy covers the target: the defaults pass under --strict. A plan
    file's failing *objective* is reported but does not fail --strict; a failing
    *limit* does (exit 3), with a max_dose objective turned into a D0.03cc limit."""
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(
        "[[goals]]\n"
        'structure = "Body"\nmetric = "mean"\nat_most = 0.1\nunit = "Gy"\n'
        'severity = "objective"\n'
        "[hot_spot]\nthreshold_percent = 110.0\n"
    )
    args = ["plan", str(plan_file), *WATER, "--energy-stride", "2", "--dose-per-fraction-gy", "2"]
    assert main([*args, "--fractions", "30", "--strict", "--out", str(tmp_path / "a")]) == 0
    captured = capsys.readouterr()
    assert "NOT MET (objective)" in captured.out and "all limits met" in captured.out
    assert "not met" not in captured.err
    goals = json.loads((tmp_path / "a" / "metrics.json").read_text())["goals"]
    assert goals["passed"] is True and goals["hot_spot"]["threshold_percent"] == 110.0
    body = next(g for g in goals["goals"] if g["structure"] == "Body")
    assert body["met"] is False and body["severity"] == "objective"

    plan_file.write_text(
        '[[objectives]]\nstructure = "Body"\ntype = "max_dose"\ntotal_dose_gy = 1.0\nweight = 1.0\n'
    )
    status = main([*args, "--fractions", "30", "--strict", "--out", str(tmp_path / "b")])
    assert status == GOALS_FAILED_STATUS
    assert "Body D0.03cc ≤ 1 Gy(RBE)" in capsys.readouterr().err
