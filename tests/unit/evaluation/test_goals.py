"""Clinical goals: coverage, hot spots outside the target (volume, maximum, location),
organ near-maximum doses; a failed limit or hot spot is never silent."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.evaluation import Goal, GoalSet, default_goals, evaluate_goals
from ionbeam.evaluation.goals import parse_metric
from ionbeam.patient import Grid

# 2 mm voxels: 0.008 cm³ each.
GRID = Grid((20, 20, 20), (2.0, 2.0, 2.0), (-19.0, -19.0, -19.0))
VOXEL_CM3 = 0.008


def _structures() -> dict[str, np.ndarray]:
    ptv = np.zeros(GRID.shape, dtype=bool)
    ptv[6:14, 6:14, 6:14] = True
    gtv = np.zeros(GRID.shape, dtype=bool)
    gtv[8:12, 8:12, 8:12] = True
    brain = np.ones(GRID.shape, dtype=bool) & ~ptv
    stem = np.zeros(GRID.shape, dtype=bool)
    stem[15:18, 8:12, 8:12] = True
    return {"PTV": ptv, "GTV": gtv, "Brain": brain, "Brainstem": stem}


def _uniform_plan() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    structures = _structures()
    dose = np.where(structures["PTV"], 70.0, 10.0)
    return dose, structures


def test_a_good_plan_meets_every_default_goal() -> None:
    """Uniform 100 % in the PTV and 14 % outside: coverage met, no hot spot, the
    hottest point is in the PTV and every organ's D0.03cc is its 10 Gy."""
    dose, structures = _uniform_plan()
    goals = default_goals("PTV", organ_limits={"Brainstem": (54.0, "Gy")})
    report = evaluate_goals(dose, GRID, structures, goals, prescription_gy=70.0)
    assert report.passed and report.failures == ()
    assert [r.goal.metric for r in report.results] == ["D98", "D95", "V95", "D2", "D0.03cc"]
    assert all(r.met for r in report.results)
    assert report.results[0].achieved == pytest.approx(100.0)
    assert report.results[-1].achieved == pytest.approx(10.0)  # Gy
    assert report.hot_spot.volume_cm3 == 0.0 and report.hot_spot.acceptable
    assert report.hot_spot.max_gy == pytest.approx(10.0)
    assert {o.name for o in report.organs} == {"Brain", "Brainstem"}  # GTV lies in the PTV
    ptv_points = np.argwhere(structures["PTV"])
    assert np.allclose(report.hottest_mm, GRID.origin_mm + ptv_points[0] * 2.0)


def test_a_hot_spot_outside_the_target_is_reported_with_volume_and_location() -> None:
    """Five brain voxels at 125 % and one at 110 % (the demo's failure mode): volume
    6 × 0.008 cm³ above 107 %, maximum 125 % at the hottest voxel's centre, in Brain."""
    dose, structures = _uniform_plan()
    dose[2, 3, 4:9] = 1.25 * 70.0
    dose[2, 3, 6] = 1.26 * 70.0
    dose[17, 17, 17] = 1.10 * 70.0
    report = evaluate_goals(dose, GRID, structures, default_goals("PTV"), prescription_gy=70.0)
    hot = report.hot_spot
    assert hot.volume_cm3 == pytest.approx(6 * VOXEL_CM3)
    assert hot.by_structure == (("Brain", pytest.approx(6 * VOXEL_CM3)),)
    assert hot.max_percent == pytest.approx(126.0)
    assert hot.location_mm == (-15.0, -13.0, -7.0)
    assert hot.location_structures == ("Brain",)
    assert not hot.acceptable and not report.passed
    assert report.focus_mm == hot.location_mm
    assert any("hot spot" in line and "NOT ACCEPTABLE" in line for line in report.failures)
    # The coverage goals still hold: only the hot spot fails.
    assert all(r.met for r in report.results)


def test_one_hot_voxel_is_below_the_tolerance_and_the_threshold_is_configurable() -> None:
    """One 0.008 cm³ voxel at 110 % is under the 0.03 cm³ tolerance; at a 112 %
    threshold it does not count at all; at a 0.005 cm³ tolerance it fails."""
    dose, structures = _uniform_plan()
    dose[0, 0, 0] = 77.0
    base = evaluate_goals(dose, GRID, structures, default_goals("PTV"), prescription_gy=70.0)
    assert base.hot_spot.volume_cm3 == pytest.approx(VOXEL_CM3) and base.passed
    higher = default_goals("PTV", hot_spot_percent=112.0)
    assert (
        evaluate_goals(dose, GRID, structures, higher, prescription_gy=70.0).hot_spot.volume_cm3
        == 0
    )
    tight = default_goals("PTV", hot_spot_volume_cm3=0.005)
    assert not evaluate_goals(dose, GRID, structures, tight, prescription_gy=70.0).passed


def test_under_coverage_fails_d95_d98_and_v95() -> None:
    """10 % of the PTV at 80 %: D95 = D98 = 80 %, V95 = 90 %, all three fail; D2 holds."""
    dose, structures = _uniform_plan()
    ptv = np.argwhere(structures["PTV"])
    cold = ptv[: ptv.shape[0] // 10]
    dose[tuple(cold.T)] = 56.0
    report = evaluate_goals(dose, GRID, structures, default_goals("PTV"), prescription_gy=70.0)
    by_metric = {r.goal.metric: r for r in report.results}
    assert by_metric["D95"].achieved == pytest.approx(80.0) and not by_metric["D95"].met
    assert by_metric["D98"].achieved_gy == pytest.approx(56.0) and not by_metric["D98"].met
    assert by_metric["V95"].achieved == pytest.approx(100.0 * (1 - cold.shape[0] / ptv.shape[0]))
    assert not by_metric["V95"].met and by_metric["D2"].met
    assert len(report.failures) == 3 and "NOT MET" in report.failures[0]


def test_near_maximum_doses_by_absolute_volume() -> None:
    """A 1000-voxel structure of 1 mm voxels (0.001 cm³) with doses 1…1000 Gy:
    D0.03cc is the 30th hottest voxel (971 Gy), D1cc the whole structure (1 Gy),
    D2cc of a 1 cm³ structure is its minimum; mean 500.5 Gy."""
    grid = Grid((10, 10, 10), (1.0, 1.0, 1.0))
    dose = np.arange(1.0, 1001.0).reshape(grid.shape)
    organ = np.ones(grid.shape, dtype=bool)
    target = np.zeros(grid.shape, dtype=bool)
    target[0, 0, 0] = True
    organ[0, 0, 0] = False
    goals = GoalSet("T", (Goal("Cord", "d0.03CC", "at_most", 971.0, "Gy"),))
    report = evaluate_goals(dose, grid, {"T": target, "Cord": organ}, goals, prescription_gy=1.0)
    cord = report.organs[0]
    assert cord.d0_03cc_gy == 971.0 and cord.d1cc_gy == 2.0 and cord.d2cc_gy == 2.0
    assert cord.mean_gy == pytest.approx(np.arange(2.0, 1001.0).mean())
    assert report.results[0].met and report.results[0].goal.metric == "D0.03cc"


def test_partial_volume_target_counts_only_the_outside_share() -> None:
    """A voxel half in the target at 120 % counts for half its volume as a hot spot."""
    dose, structures = _uniform_plan()
    ptv = structures["PTV"].astype(float)
    ptv[5, 10, 10] = 0.5
    dose[5, 10, 10] = 84.0
    structures = {**structures, "PTV": ptv}
    report = evaluate_goals(dose, GRID, structures, default_goals("PTV"), prescription_gy=70.0)
    assert report.hot_spot.volume_cm3 == pytest.approx(0.5 * VOXEL_CM3)
    assert report.hot_spot.max_gy == 84.0


def test_a_goal_on_a_missing_structure_is_not_met_and_the_target_must_exist() -> None:
    dose, structures = _uniform_plan()
    goals = GoalSet("PTV", (Goal("OpticChiasm", "D0.03cc", "at_most", 54.0, "Gy"),))
    report = evaluate_goals(dose, GRID, structures, goals, prescription_gy=70.0)
    assert not report.passed and "structure not found" in report.failures[0]
    objective = GoalSet("PTV", (Goal("OpticChiasm", "mean", "at_most", 5, "Gy", "objective"),))
    assert evaluate_goals(dose, GRID, structures, objective, prescription_gy=70.0).passed
    with pytest.raises(UnknownNameError, match="CTV"):
        evaluate_goals(dose, GRID, structures, GoalSet("CTV"), prescription_gy=70.0)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("D95", ("D", 95.0)), ("d0.03cc", ("Dcc", 0.03)), ("V107", ("V", 107.0)),
     ("Mean", ("mean", None))],
)  # fmt: skip
def test_metric_names(text: str, parsed: tuple) -> None:
    assert parse_metric(text) == parsed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "D101"}, "0–100"),
        ({"metric": "Dmax"}, "unknown goal metric"),
        ({"metric": "V20cc"}, "unknown goal metric"),
        ({"bound": "below"}, "at_least"),
        ({"unit": "cGy"}, "unit"),
        ({"metric": "V95", "unit": "Gy"}, "% of the volume"),
        ({"severity": "hard"}, "severity"),
        ({"value": float("nan")}, "≥ 0"),
    ],
)
def test_bad_goals_are_refused(kwargs: dict, message: str) -> None:
    args = {"structure": "PTV", "metric": "D95", "bound": "at_least", "value": 95.0} | kwargs
    with pytest.raises(ConfigError, match=message):
        Goal(**args)
    with pytest.raises(ConfigError, match="hot_spot_percent"):
        GoalSet("PTV", hot_spot_percent=0.0)


def test_goal_set_round_trip_and_replacement() -> None:
    """A plan file's goal replaces the default of the same structure and metric; the
    JSON form reads back equal; the report's JSON is valid without NaN."""
    goals = default_goals("PTV").with_goals([Goal("PTV", "d95", "at_least", 98.0)])
    d95 = [g for g in goals.goals if g.metric == "D95"]
    assert len(d95) == 1 and d95[0].value == 98.0
    assert GoalSet.from_dict(json.loads(json.dumps(goals.to_dict()))) == goals
    dose, structures = _uniform_plan()
    report = evaluate_goals(dose, GRID, structures, goals, prescription_gy=70.0)
    document = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert document["passed"] is True and document["hot_spot"]["volume_cm3"] == 0.0
