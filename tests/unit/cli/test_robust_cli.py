"""``ionbeam plan --robust`` and ``ionbeam robust``: robust settings honoured, the
robustness written to metrics.json and recomputed identically, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ionbeam.cli.main import main
from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.io.plan_file import plan_request_from_dict
from ionbeam.io.plan_json import read_plan_json

QUICK = ["--ct-spacing", "4", "--grid", "4", "--energy-stride", "2", "--spot-spacing", "5"]


@pytest.fixture(scope="module")
def robust_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("robust") / "water"
    args = ["plan", "--phantom", "water", "--particle", "proton", "--beams", "90"]
    args += ["--robust", "stochastic", "--range-error", "3", "--setup-error", "2"]
    status = main([*args, "--out", str(out), "--no-dicom", *QUICK])
    assert status == 0
    return out


def test_plan_records_and_evaluates_its_robust_settings(robust_plan: Path) -> None:
    """The plan's settings and metrics.json say how it was made robust (stochastic, 3 %,
    2 mm, 9 scenarios), the worst case is the extreme of the scenario values and the
    robustness page is written."""
    plan = read_plan_json(robust_plan / "plan.json")
    settings = plan.settings["robust"]
    assert settings["mode"] == "stochastic"
    assert settings["range_error"] == pytest.approx(0.03)
    assert settings["setup_error_mm"] == 2.0
    assert settings["scenarios"][1] == "X+2mm" and settings["scenarios"][7] == "R+3%"
    metrics = json.loads((robust_plan / "metrics.json").read_text())
    section = metrics["robustness"]
    target = section["structures"]["Target"]
    assert len(section["scenarios"]) == 9
    assert target["worst"]["d95_gy"] == min(target["scenarios"]["d95_gy"])
    assert target["scenarios"]["d95_gy"][0] == pytest.approx(
        metrics["structures"]["Target"]["d95_gy"]
    )
    assert (robust_plan / "robustness.html").read_text().count("<figure") == 1


def test_robust_command_recomputes_the_same_numbers(robust_plan: Path, tmp_path, capsys) -> None:
    """``ionbeam robust PLAN_DIR --workers 0 --out DIR`` takes the plan's recorded
    scenarios and gives exactly the numbers ``plan`` wrote; the plan folder is untouched."""
    before = (robust_plan / "metrics.json").read_text()
    out = tmp_path / "rob"
    assert main(["robust", str(robust_plan), "--workers", "0", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(before)["robustness"]
    assert printed["structures"]["Target"]["worst"] == written["structures"]["Target"]["worst"]
    assert json.loads((out / "robustness.json").read_text())["settings"]["mode"] == "stochastic"
    assert (robust_plan / "metrics.json").read_text() == before


def test_robust_errors_are_one_line(tmp_path, capsys) -> None:
    """Scenario options without --robust, a bad worker count and unknown [robust] keys
    are refused."""
    base = ["plan", "--phantom", "water", "--particle", "proton", "--out", str(tmp_path / "x")]
    assert main([*base, "--range-error", "3"]) == 2
    assert "need --robust" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["robust", str(tmp_path), "--workers", "-1"]) == 2
    assert "--workers" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown key"):
        plan_request_from_dict({"robust": {"mode": "minimax", "range": 3}})
    request = plan_request_from_dict(
        {"robust": {"mode": "vwwc", "scenarios": 21, "range_error_percent": 2.5,
                    "structures": {"Body": "nominal"}}}
    )  # fmt: skip
    assert request.robust["scenario_set"] == "21" and request.robust["range_error"] == 0.025
    from ionbeam.planning.robust import RobustOptions

    options = RobustOptions(**request.robust)
    assert options.mode == "voxelwise" and len(options.scenarios()) == 21
    with pytest.raises(UnknownNameError):
        RobustOptions(**{**request.robust, "mode": "best"})
