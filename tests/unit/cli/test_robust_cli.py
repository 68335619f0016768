"""``ionbeam plan --robust`` and ``ionbeam robust``: robust settings honoured, the
robustness written to metrics.json and recomputed identically, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


def _viewer_curves(report: Path) -> list[dict]:
    """The DVH curves embedded in a report's interactive viewer."""
    text = report.read_text(encoding="utf-8")
    start = text.index('id="ionbeam-viewer-data">') + len('id="ionbeam-viewer-data">')
    data = json.loads(text[start : text.index("</script>", start)].replace("<\\/", "</"))
    return data["plans"][0]["dvh"]["curves"]


def test_robust_plan_report_draws_scenario_bands(robust_plan: Path) -> None:
    """``plan --robust`` passes its scenario doses to report.html: every structure's DVH
    carries a band that encloses the nominal curve, and the target's band has width
    (the scenarios differ)."""
    curves = _viewer_curves(robust_plan / "report.html")
    assert curves and all("band" in c for c in curves)
    for curve in curves:
        low, high = (np.asarray(b) for b in curve["band"])
        nominal = np.asarray(curve["volume_percent"])
        assert np.all(low <= nominal + 1e-9) and np.all(nominal <= high + 1e-9)
    target = next(c for c in curves if c["name"] == "Target")
    assert np.max(np.subtract(*target["band"][::-1])) > 1.0


@pytest.fixture(scope="module")
def nominal_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nominal") / "water"
    args = ["plan", "--phantom", "water", "--particle", "proton", "--beams", "90"]
    assert main([*args, "--out", str(out), "--no-dicom", "--no-grid-check", *QUICK]) == 0
    return out


def test_dose_robust_writes_bands_and_the_same_robustness(
    nominal_plan: Path, tmp_path: Path, capsys
) -> None:
    """``ionbeam dose PLAN --robust --out DIR`` gives the numbers of ``ionbeam robust``
    (same scenarios, same worst case), adds them to metrics.json, writes robustness.html
    and draws the bands in report.html, which stays within 10 % of the size of the report
    without them (bands are stored, not the 9 scenario doses)."""
    plain, robust = tmp_path / "plain", tmp_path / "robust"
    assert main(["dose", str(nominal_plan), "--out", str(plain), "--no-dicom"]) == 0
    base = ["dose", str(nominal_plan), "--robust", "--workers", "0", "--setup-error", "2"]
    assert main([*base, "--out", str(robust), "--no-dicom"]) == 0
    assert "robustness over 9 scenarios" in capsys.readouterr().out
    assert main(["robust", str(nominal_plan), "--workers", "0", "--setup-error", "2",
                 "--out", str(tmp_path / "rob"), "--no-report", "--json"]) == 0  # fmt: skip
    alone = json.loads(capsys.readouterr().out)
    section = json.loads((robust / "metrics.json").read_text())["robustness"]
    assert section["settings"]["setup_error_mm"] == 2.0
    assert section["structures"]["Target"]["worst"] == alone["structures"]["Target"]["worst"]
    assert (robust / "robustness.html").exists()
    assert all("band" not in c for c in _viewer_curves(plain / "report.html"))
    assert all("band" in c for c in _viewer_curves(robust / "report.html"))
    size, plain_size = ((f / "report.html").stat().st_size for f in (robust, plain))
    assert size < 1.1 * plain_size


def test_dose_scenario_options_need_robust(nominal_plan: Path, tmp_path: Path, capsys) -> None:
    """Scenario and cluster options of ``dose`` without --robust would be ignored: refused
    in one line, nothing written."""
    out = tmp_path / "x"
    assert main(["dose", str(nominal_plan), "--setup-error", "2", "--out", str(out)]) == 2
    assert "--robust" in capsys.readouterr().err
    assert main(["dose", str(nominal_plan), "--workers", "2"]) == 2
    assert "--robust" in capsys.readouterr().err
    assert main(["dose", str(nominal_plan), "--rbe-error", "10"]) == 2
    assert "--robust" in capsys.readouterr().err
    assert main(["dose", str(nominal_plan), "--robust", "--rbe-error", "60"]) == 2
    assert "--rbe-error" in capsys.readouterr().err
    assert not out.exists()
    request = plan_request_from_dict({"robust": {"rbe_error_percent": 10}})
    assert request.robust["rbe_error"] == pytest.approx(0.1)
