"""The report's clinical goals: a table of goals met or not, the hot spot outside the
target, the organs' near-maximum doses, and the warnings they raise.

The goals come from :func:`ionbeam.evaluation.evaluate_goals` (``PlanResult.goals``);
a plan without them shows a line saying so, never an empty table that reads as
"all well".
"""

from __future__ import annotations

from collections.abc import Sequence

from ionbeam.evaluation import GoalReport
from ionbeam.report._html import element, escape, table
from ionbeam.report._sections import format_number
from ionbeam.report.results import PlanResult

__all__ = ["goal_warnings", "goals_section_content"]


def goal_warnings(result: PlanResult) -> list[str]:
    """One line per failed limit and for an unacceptable hot spot outside the target."""
    if result.goals is None:
        return []
    return [f"{result.label}: {line}" for line in result.goals.failures]


def goals_section_content(results: Sequence[PlanResult]) -> str:
    """Goal tables (one per plan), hot-spot lines and organ near-maximum doses."""
    parts = []
    several = len(results) > 1
    for result in results:
        heading = element("h3", escape(f"Plan {result.label}")) if several else ""
        if result.goals is None:
            parts.append(heading + element("p", escape("Clinical goals were not evaluated.")))
            continue
        parts.append(
            heading
            + _goal_table(result, result.goals)
            + _hot_spot_line(result.goals)
            + _organ_table(result, result.goals)
        )
    return "".join(parts)


def _goal_table(result: PlanResult, report: GoalReport) -> str:
    unit = result.dose_unit
    rows = []
    for r in report.results:
        goal = r.goal
        achieved = "structure not found" if r.achieved is None else (
            f"{format_number(r.achieved, 1)} {goal.unit}"
            + (f" ({format_number(r.achieved_gy, 2)} {unit})"
               if r.achieved_gy is not None and goal.unit == "%" else "")
        )  # fmt: skip
        status = "met" if r.met else ("NOT MET" if goal.severity == "limit" else "not met")
        rows.append([goal.structure, goal.text.replace("Gy", unit), goal.severity, achieved,
                     status])  # fmt: skip
    verdict = "all limits met" if report.passed else f"{len(report.failures)} NOT MET"
    caption = (
        f"Clinical goals ({verdict}); % of the prescription {report.prescription_gy:g} {unit} "
        "for doses, of the structure's volume for V; D0.03cc: dose to the hottest 0.03 cm³ "
        "(the reported maximum); objectives are reported but do not fail the plan."
    )
    columns = ("structure", "goal", "kind", "achieved", "status")
    return table(columns, rows, numeric=[False, False, False, True, False], caption=caption)


def _hot_spot_line(report: GoalReport) -> str:
    hot = report.hot_spot
    return element("p", escape(hot.text), class_="ok" if hot.acceptable else "warnings")


def _organ_table(result: PlanResult, report: GoalReport) -> str:
    unit = result.dose_unit
    rows = [
        [o.name, *(format_number(v, 2) for v in (o.d0_03cc_gy, o.d1cc_gy, o.d2cc_gy, o.mean_gy))]
        for o in report.organs
    ]
    if not rows:
        return ""
    columns = ("structure", f"D0.03cc ({unit})", f"D1cc ({unit})", f"D2cc ({unit})",
               f"mean ({unit})")  # fmt: skip
    caption = (
        "Near-maximum doses of the structures outside the target (D_v cc: dose to the "
        "hottest v cm³; for a structure smaller than v cm³, its minimum)."
    )
    return table(columns, rows, numeric=[False, True, True, True, True], caption=caption)
