"""``metrics.json`` of a plan states one D98 / D95 / D2 per structure: its ``structures``
and its clinical ``goals`` give the same number (issue 11). The plan's dose grid (5 mm)
is not its CT's (6 mm), so the structures' occupancy of the dose grid has partial
voxels; before issue 11 the metrics weighted them by occupancy and the goals counted
the voxels at least half inside, and the two disagreed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ionbeam
from ionbeam.io.plan_file import BeamRequest, PatientRequest, PlanRequest

_KEYS = {"D98": "d98_gy", "D95": "d95_gy", "D2": "d2_gy"}


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> dict:
    request = PlanRequest(
        patient=PatientRequest(phantom="water", spacing_mm=6.0),
        total_dose_gy=24.0,
        fractions=12,
        particle="proton",
        dose_grid_mm=5.0,
        spot_spacing_mm=8.0,
        beams=(BeamRequest(90.0),),
    )
    outcome = ionbeam.make_plan(request, energy_stride=3)
    weights = outcome.planning.structure_weights[outcome.planning.plan.prescription.target]
    assert np.any((weights > 0) & (weights < 0.5))  # partial voxels the old metrics weighed
    folder = tmp_path_factory.mktemp("agree") / "plan"
    ionbeam.write_outputs(outcome, folder, dicom=False, report=False)
    return json.loads((Path(folder) / "metrics.json").read_text())


def test_goals_and_structures_of_metrics_json_agree(metrics: dict) -> None:
    target = metrics["target"]
    compared = 0
    for goal in metrics["goals"]["goals"]:
        key = _KEYS.get(goal["metric"])
        if goal["structure"] == target and key is not None:
            assert goal["achieved_gy"] == metrics["structures"][target][key]
            compared += 1
    assert compared == 3
    organs = metrics["goals"]["organs"]
    assert organs
    for name, doses in organs.items():
        assert doses["mean_gy"] == metrics["structures"][name]["mean_gy"]
