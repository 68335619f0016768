"""Clinical goals of ``ionbeam plan``, ``ionbeam dose`` and ``ionbeam demo``.

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

The goals are recorded in the plan's settings (``plan.json``), so that
``ionbeam dose`` checks a recomputed dose against the same goals. Doses are totals
over all fractions. Under ``--strict`` a failed limit or hot spot exits with
:data:`GOALS_FAILED_STATUS`.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, Any

__all__ = [
    "GOALS_FAILED_STATUS",
    "exit_status",
    "goal_report",
    "plan_goals",
    "print_goals",
    "with_recorded_goals",
]

if TYPE_CHECKING:
    from rich.console import JustifyMethod

#: Exit status of a command run with ``--strict`` whose plan fails a clinical goal
#: (1: no sub-command; 2: bad input).
GOALS_FAILED_STATUS = 3


def plan_goals(result: Any, request: Any = None) -> Any:
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
    changes = {
        "hot_spot_percent": request.hot_spot_percent,
        "hot_spot_volume_cm3": request.hot_spot_volume_cm3,
    }
    return dataclasses.replace(goals, **{k: v for k, v in changes.items() if v is not None})


def with_recorded_goals(result: Any, goals: Any) -> Any:
    """The result with ``goals`` recorded in its plan's settings."""
    settings = {**dict(result.plan.settings), "goals": goals.to_dict()}
    plan = dataclasses.replace(result.plan, settings=settings)
    return dataclasses.replace(result, plan=plan)


def goal_report(result: Any, goals: Any) -> Any:
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


def print_goals(report: Any, *, title: str = "clinical goals") -> None:
    """The goals as a table, the hot-spot line and a verdict on standard output."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    unit = report.dose_unit
    table = Table(title=f"{title} · {report.target} · {report.prescription_gy:g} {unit}")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("goal", "left"),
        ("achieved", "right"),
        ("status", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for r in report.results:
        goal = r.goal
        if r.achieved is None:
            achieved = "no such structure"
        else:
            achieved = f"{r.achieved:.4g} {goal.unit}"
            if r.achieved_gy is not None and goal.unit == "%":
                achieved += f" ({r.achieved_gy:.4g} {unit})"
        status = "met" if r.met else "NOT MET"
        if goal.severity == "objective":
            status += " (objective)"
        label = f"{goal.structure} {goal.text}".replace("Gy", unit)
        table.add_row(escape(label), escape(achieved), status if r.met else f"[bold red]{status}")
    console = Console()
    console.print(table)
    hot = report.hot_spot
    console.print(escape(hot.text), style=None if hot.acceptable else "bold red")
    if report.passed:
        console.print("clinical goals: all limits met")
    else:
        console.print(f"[bold red]clinical goals: {len(report.failures)} NOT MET")


def exit_status(reports: Any, *, strict: bool) -> int:
    """0, or :data:`GOALS_FAILED_STATUS` under ``strict`` when a report fails; a failed
    report is always named on standard error (also with ``--json``)."""
    failed = [r for r in reports if not r.passed]
    for report in failed:
        print(
            f"ionbeam: warning: {len(report.failures)} clinical goal(s) not met for "
            f"{report.target}: " + "; ".join(report.failures),
            file=sys.stderr,
        )
    return GOALS_FAILED_STATUS if (failed and strict) else 0


def _defaults(result: Any, target: str) -> Any:
    from ionbeam.evaluation import default_goals
    from ionbeam.planning.optimize.templates import SERIAL_MAX_FRACTION, is_serial_organ

    limits = {
        name: (100.0 * SERIAL_MAX_FRACTION, "%")
        for name in result.masks
        if name != target and is_serial_organ(name)
    }
    return default_goals(target, organ_limits=limits)


def _objective_goals(request: Any, prescription_gy: float) -> list[Any]:
    """Goals from the plan file's objectives (their dose levels are totals, Gy); a
    ``max_dvh`` of d Gy to v % becomes V(100 d / prescription) ≤ v %."""
    from ionbeam.evaluation import Goal

    goals = []
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
