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
