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
:data:`GOALS_FAILED_STATUS`. Choosing and checking the goals is the library's
(:mod:`ionbeam.workflow.goals`); here they are printed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ionbeam.workflow.goals import goal_report, plan_goals, with_recorded_goals

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
