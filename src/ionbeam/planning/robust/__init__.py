"""Robust planning: error scenarios and the dose of a plan in each of them.

:mod:`.scenarios` (range and set-up errors, the standard sets of 9 and 21),
:mod:`.scenario_dose` (a scenario's plan and calibration, its dose through the
engine's front doors). Robust objectives are in
:mod:`ionbeam.planning.optimize.robust_problem`; robust evaluation (DVH bands,
worst-case metrics) in :mod:`ionbeam.evaluation.robust`.
"""

from ionbeam.planning.robust.options import RobustOptions
from ionbeam.planning.robust.scenario_dose import (
    scenario_calibration,
    scenario_dose,
    scenario_plan,
)
from ionbeam.planning.robust.scenarios import (
    DEFAULT_RANGE_ERROR,
    DEFAULT_SETUP_ERROR_MM,
    SCENARIO_SETS,
    Scenario,
    ScenarioSet,
    sampled_scenarios,
    scenario_set,
)

__all__ = [
    "DEFAULT_RANGE_ERROR",
    "DEFAULT_SETUP_ERROR_MM",
    "SCENARIO_SETS",
    "RobustOptions",
    "Scenario",
    "ScenarioSet",
    "sampled_scenarios",
    "scenario_calibration",
    "scenario_dose",
    "scenario_plan",
    "scenario_set",
]
