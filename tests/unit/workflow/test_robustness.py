"""The front door's robust evaluation (:mod:`ionbeam.workflow.robustness`) without the
CLI: scenario doses kept for the report's DVH bands, the same evaluation as
``evaluate_robustness``, and the files ``write_plan_folder`` / ``write_robustness``
make of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ionbeam
from ionbeam.io.plan_file import BeamRequest, PatientRequest, PlanRequest
from ionbeam.planning.robust import RobustOptions
from ionbeam.workflow import (
    evaluate_robustness,
    robustness_with_doses,
    write_plan_folder,
    write_robustness,
)

ROBUST = RobustOptions(setup_error_mm=3.0, range_error=0.035)


@pytest.fixture(scope="module")
def outcome() -> ionbeam.PlanOutcome:
    """A coarse 12-fraction proton plan of the water phantom, one lateral beam."""
    request = PlanRequest(
        patient=PatientRequest(phantom="water", spacing_mm=6.0),
        total_dose_gy=24.0,
        fractions=12,
        particle="proton",
        dose_grid_mm=6.0,
        spot_spacing_mm=8.0,
        beams=(BeamRequest(90.0),),
    )
    return ionbeam.make_plan(request, energy_stride=3, grid_check=False)


@pytest.fixture(scope="module")
def kept(outcome: ionbeam.PlanOutcome) -> tuple:
    return robustness_with_doses(outcome, ROBUST)


def test_scenario_doses_are_kept_nominal_first(outcome: ionbeam.PlanOutcome, kept: tuple) -> None:
    """One total dose per scenario (9), the first the plan's own total dose (the nominal
    scenario recomputes the same spots on the same machine: equal to 1e-9 Gy). The beam
    runs along x through homogeneous water, so a 3 mm shift along x leaves each voxel's
    depth as it was (< 0.5 Gy(RBE) change of 24), while lateral (y, z) shifts and ±3.5 %
    range errors move the field edge or the distal fall-off by > 1 Gy(RBE) somewhere;
    without ``keep_doses`` none is kept and the evaluation is the same."""
    evaluation, doses = kept
    labels = [s.label for s in ROBUST.scenarios().scenarios]
    assert len(doses) == len(labels) == 9
    np.testing.assert_allclose(doses[0], outcome.dose_total_gy, atol=1e-9)
    change = {label: np.abs(d - doses[0]).max() for label, d in zip(labels, doses, strict=True)}
    assert change["X+3mm"] < 0.5 and change["X-3mm"] < 0.5
    moved = ("Y+3mm", "Y-3mm", "Z+3mm", "Z-3mm", "R+3.5%", "R-3.5%")
    assert all(change[label] > 1.0 for label in moved)
    streamed, none = robustness_with_doses(outcome, ROBUST, keep_doses=False)
    assert none == ()
    assert streamed.to_dict() == evaluation.to_dict()
    assert evaluate_robustness(outcome, ROBUST).to_dict() == evaluation.to_dict()


def _viewer_curves(report: Path) -> list[dict]:
    text = report.read_text(encoding="utf-8")
    start = text.index('id="ionbeam-viewer-data">') + len('id="ionbeam-viewer-data">')
    data = json.loads(text[start : text.index("</script>", start)].replace("<\\/", "</"))
    return data["plans"][0]["dvh"]["curves"]


def test_plan_folder_draws_bands_and_records_robustness(
    outcome: ionbeam.PlanOutcome, kept: tuple, tmp_path: Path
) -> None:
    """``write_plan_folder(scenario_doses_gy=...)`` draws each structure's DVH band around
    its nominal curve (the target's band wider than 1 % volume somewhere);
    ``write_robustness`` adds the settings and the same worst case to metrics.json and
    writes robustness.html."""
    evaluation, doses = kept
    write_plan_folder(tmp_path, outcome, dicom=False, scenario_doses_gy=doses)
    curves = _viewer_curves(tmp_path / "report.html")
    assert curves and all("band" in c for c in curves)
    for curve in curves:
        low, high = (np.asarray(b) for b in curve["band"])
        nominal = np.asarray(curve["volume_percent"])
        assert np.all(low <= nominal + 1e-9) and np.all(nominal <= high + 1e-9)
    target = next(c for c in curves if c["name"] == "Target")
    assert np.max(np.subtract(*target["band"][::-1])) > 1.0
    write_robustness(tmp_path, evaluation, ROBUST, title="water", unit=outcome.dose_unit)
    section = json.loads((tmp_path / "metrics.json").read_text())["robustness"]
    assert section["settings"]["setup_error_mm"] == 3.0
    worst = evaluation.to_dict()["structures"]["Target"]["worst"]["d95_gy"]
    assert section["structures"]["Target"]["worst"]["d95_gy"] == pytest.approx(worst)
    assert (tmp_path / "robustness.html").exists()
