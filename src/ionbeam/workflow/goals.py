"""The clinical goals of a plan and their check on its total dose.

Which goals a plan gets (:func:`plan_goals`):

1. the defaults of :func:`ionbeam.evaluation.default_goals` (target D98 ≥ 90 %,
   D95 ≥ 95 %, V95 ≥ 95 %, D2 ≤ 107 %; outside the target at most 0.03 cm³ above
   107 %), with, for every serial organ at risk (brainstem, spinal cord, optic
   pathway), the optimizer's own maximum-dose constraint as a limit:
   D0.03cc ≤ ``SERIAL_MAX_FRACTION`` (90 %) of the prescription;
2. the plan file's ``max_dose`` objectives as limits (D0.03cc ≤ dose), its
   ``mean_dose`` and ``max_dvh`` objectives as objectives (reported, never fatal);
3. the plan file's ``[[goals]]`` and ``[hot_spot]``, which replace the above for
   the same structure and metric.

The goals are recorded in the plan's settings (``plan.json``), so that a recomputed
dose is checked against the same goals. Doses are totals over all fractions.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ionbeam.evaluation import Goal, GoalReport, GoalSet
    from ionbeam.io.plan_file import PlanRequest
    from ionbeam.planning.planner import PlanningResult

__all__ = ["goal_report", "plan_goals", "with_recorded_goals"]


def plan_goals(result: PlanningResult, request: PlanRequest | None = None) -> GoalSet:
    """The :class:`~ionbeam.evaluation.GoalSet` of a planning result (module docstring);
    without a plan-file ``request``, the goals recorded in the plan, if any."""
    from ionbeam.evaluation import GoalSet

    target = result.plan.prescription.target
    recorded = result.plan.settings.get("goals")
    if request is None and recorded and recorded.get("target") == target:
        return GoalSet.from_dict(recorded)
    goals = _defaults(result, target)
    if request is None:
        return goals
    goals = goals.with_goals(_objective_goals(request, result.plan.prescription.total_dose_gy))
    goals = goals.with_goals(request.goals)
    changes: dict[str, Any] = {
        "hot_spot_percent": request.hot_spot_percent,
        "hot_spot_volume_cm3": request.hot_spot_volume_cm3,
    }
    return dataclasses.replace(goals, **{k: v for k, v in changes.items() if v is not None})


def with_recorded_goals(result: PlanningResult, goals: GoalSet) -> PlanningResult:
    """The planning result with ``goals`` recorded in its plan's settings."""
    settings = {**dict(result.plan.settings), "goals": goals.to_dict()}
    plan = dataclasses.replace(result.plan, settings=settings)
    return dataclasses.replace(result, plan=plan)


def goal_report(result: PlanningResult, goals: GoalSet) -> GoalReport:
    """:func:`~ionbeam.evaluation.evaluate_goals` of the result's total (RBE-weighted
    where it applies) dose."""
    from ionbeam.evaluation import evaluate_goals

    prescription = result.plan.prescription
    return evaluate_goals(
        result.evaluated_dose_gy * prescription.fractions,
        result.grid,
        dict(result.masks),
        goals,
        prescription_gy=prescription.total_dose_gy,
        dose_unit="Gy" if result.rbe_dose_gy is None else "Gy(RBE)",
    )


def _defaults(result: PlanningResult, target: str) -> GoalSet:
    from ionbeam.evaluation import default_goals
    from ionbeam.planning.optimize.templates import SERIAL_MAX_FRACTION, is_serial_organ

    limits = {
        name: (100.0 * SERIAL_MAX_FRACTION, "%")
        for name in result.masks
        if name != target and is_serial_organ(name)
    }
    return default_goals(target, organ_limits=limits)


def _objective_goals(request: PlanRequest, prescription_gy: float) -> list[Goal]:
    """Goals from the plan file's objectives (their dose levels are totals, Gy); a
    ``max_dvh`` of d Gy to v % becomes V(100 d / prescription) ≤ v %."""
    from ionbeam.evaluation import Goal

    goals: list[Any] = []
    for item in request.objectives:
        if item.type == "max_dose":
            goals.append(Goal(item.structure, "D0.03cc", "at_most", item.total_dose_gy, "Gy"))
        elif item.type == "mean_dose":
            goals.append(
                Goal(item.structure, "mean", "at_most", item.total_dose_gy, "Gy", "objective")
            )
        elif item.type == "max_dvh" and item.volume_percent is not None:
            level = f"V{100.0 * item.total_dose_gy / prescription_gy:.4g}"
            goals.append(
                Goal(item.structure, level, "at_most", item.volume_percent, "%", "objective")
            )
    return goals
