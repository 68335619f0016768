"""``ionbeam plan``: output files, metrics against the plan, one-line errors, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ionbeam.cli.main import main
from ionbeam.io.plan_json import read_plan_json

QUICK = ["--ct-spacing", "4", "--grid", "4", "--energy-stride", "2", "--spot-spacing", "5"]


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan") / "water"
    status = main(
        [
            "plan",
            "--phantom",
            "water",
            "--particle",
            "proton",
            "--beams",
            "90",
            "--dose-per-fraction-gy",
            "2",
            "--fractions",
            "30",
            "--out",
            str(out),
            *QUICK,
        ]
    )
    assert status == 0
    return out


def test_writes_plan_and_metrics(planned: Path) -> None:
    """metrics.json gives total doses (30 × 2 Gy(RBE)) and covers the target; plan.json
    is a readable plan with the settings of the run."""
    metrics = json.loads((planned / "metrics.json").read_text())
    assert metrics["prescription_gy"] == 60.0 and metrics["fractions"] == 30
    assert metrics["dose"] == "rbe_weighted" and metrics["rbe_model"] == "constant"
    target = metrics["structures"]["Target"]
    assert {"d95_gy", "d5_gy", "mean_gy", "max_gy"} <= set(target)
    assert 0.95 * 60.0 <= target["d95_gy"] <= target["mean_gy"] <= target["d5_gy"] <= 1.05 * 60
    assert metrics["structures"]["Body"]["mean_gy"] < 0.2 * 60.0
    plan = read_plan_json(planned)
    assert plan.prescription.total_dose_gy == 60.0 and plan.prescription.fractions == 30
    assert [b.geometry.gantry_deg for b in plan.beams] == [90.0]
    assert plan.settings["phantom"]["name"] == "water"
    assert plan.settings["phantom"]["parameters"]["spacing_mm"] == 4.0
    assert plan.settings["planning"]["dose_grid_mm"] == 4.0
    assert np.all(plan.weights >= 0) and plan.weights.sum() > 0
    assert not list(planned.parent.glob(".water*"))  # no temporary folder left


def test_grid_check_is_in_the_metrics(planned: Path) -> None:
    """metrics.json holds the grid check: the plan (optimized on 4 mm) recomputed on
    3 mm, the target's D95 and every maximum but the Body's (it holds the target), each
    flagged by whether its difference is within its tolerance."""
    check = json.loads((planned / "metrics.json").read_text())["grid_check"]
    assert check["planned_grid_mm"] == 4.0 and check["fine_grid_mm"] == 3.0
    items = {(i["structure"], i["metric"]): i for i in check["items"]}
    assert set(items) == {("Target", "d95_gy"), ("Target", "max_gy")}
    metrics = json.loads((planned / "metrics.json").read_text())["structures"]
    assert items[("Target", "d95_gy")]["planned_gy"] == metrics["Target"]["d95_gy"]
    for item in items.values():
        assert item["passed"] == (abs(item["difference_percent"]) <= item["tolerance_percent"])
    assert check["passed"] == all(i["passed"] for i in items.values())


def test_a_plan_on_the_default_grid_holds_on_a_finer_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DESIGN.md: a plan's metrics hold on a finer grid. A water-phantom proton plan on
    the default 2 mm grid (CT 2 mm), recomputed on 1.5 mm by the grid check: target D95
    within 2 % and maximum within 3 %, and the terminal says so without a warning."""
    out = tmp_path / "fine"
    args = ["plan", "--phantom", "water", "--particle", "proton", "--beams", "90",
            "--ct-spacing", "2", "--energy-stride", "2", "--spot-spacing", "5",
            "--no-dicom", "--no-report", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    check = json.loads((out / "metrics.json").read_text())["grid_check"]
    assert check["planned_grid_mm"] == 2.0 and check["fine_grid_mm"] == 1.5
    items = {(i["structure"], i["metric"]): i for i in check["items"]}
    assert abs(items[("Target", "d95_gy")]["difference_percent"]) <= 2.0
    assert abs(items[("Target", "max_gy")]["difference_percent"]) <= 3.0
    assert check["passed"]
    assert "grid check: the plan recomputed on a 1.5 mm grid" in printed
    assert "warning" not in printed


def test_json_output_and_force(planned: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second run into the same folder is refused without --force, replaces it with."""
    args = [
        "plan",
        "--phantom",
        "water",
        "--particle",
        "proton",
        "--beams",
        "90",
        "--out",
        str(planned),
        *QUICK,
    ]
    assert main(args) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*args, "--force", "--json", "--rbe-model", "none"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dose"] == "physical"
    assert json.loads((planned / "metrics.json").read_text())["rbe_model"] == "none"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--phantom", "pelvis", "--particle", "proton"], "unknown phantom 'pelvis'"),
        (["--phantom", "water", "--particle", "neutron"], "unknown particle 'neutron'"),
        (["--phantom", "water", "--particle", "proton", "--dose-gy", "0"], "--dose-gy"),
        (["--phantom", "water", "--particle", "proton", "--dose-gy", "nan"], "--dose-gy"),
        (["--phantom", "water", "--particle", "proton", "--beams", "0,x"], "--beams"),
        (["--phantom", "water", "--particle", "proton", "--fractions", "0"], "fractions"),
        (["--phantom", "water", "--particle", "proton", "--rbe-model", "mkm"], "RBE model"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "out"
    assert main(["plan", *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ionbeam: error:") and err.count("\n") == 1 and message in err
    assert not out.exists()
