"""Evaluate a plan: dose metrics per structure and the clinical goals, on the total dose
(fractions × the dose per fraction; RBE-weighted where an RBE model applies)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from ionbeam.evaluation import DoseMetrics, GoalReport
    from ionbeam.report import PlanResult
    from ionbeam.workflow.result import PlanOutcome

__all__ = ["Evaluation", "evaluate", "metrics_document", "report_view"]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """``metrics``: per structure D98/D95/D50/D5/D2, mean, max, V95/V100/V107… of the
    total dose (Gy or Gy(RBE)); ``goals``: the clinical goals, each met or not."""

    metrics: DoseMetrics
    goals: GoalReport

    @property
    def passed(self) -> bool:
        """Whether every clinical limit (and the hot spot) is met."""
        return bool(self.goals.passed)


def evaluate(outcome: PlanOutcome) -> Evaluation:
    """The metrics and the clinical goals (``outcome.goals``) of the total dose."""
    from ionbeam.evaluation import dose_metrics
    from ionbeam.workflow.goals import goal_report

    result = outcome.planning
    prescription = result.plan.prescription
    metrics = dose_metrics(
        outcome.dose_total_gy,
        result.grid,
        dict(result.structure_weights),
        prescription_gy=prescription.total_dose_gy,
        targets=(prescription.target,),
    )
    return Evaluation(metrics, goal_report(result, outcome.goals))


def metrics_document(outcome: PlanOutcome, evaluation: Evaluation | None = None) -> dict[str, Any]:
    """``metrics.json``: per-structure metrics of the total dose, the clinical goals
    (``goals``), the grid check where it ran (``grid_check``) and how the plan was made."""
    evaluation = evaluate(outcome) if evaluation is None else evaluation
    result = outcome.planning
    prescription = result.plan.prescription
    document: dict[str, Any] = evaluation.metrics.to_dict()
    document.update(
        {
            "target": prescription.target,
            "fractions": prescription.fractions,
            "dose_per_fraction_gy": prescription.dose_per_fraction_gy,
            "dose": "physical" if result.rbe_dose_gy is None else "rbe_weighted",
            "rbe_model": result.plan.rbe_model,
            "particle": result.plan.particle,
            "spots": result.plan.n_spots,
            "optimization": [
                {
                    "iterations": r.nit,
                    "evaluations": r.n_evaluations,
                    "objective": r.fun,
                    "time_s": r.time_s,
                    "success": r.success,
                    "message": r.message,
                }
                for r in result.optimization
            ],
            "timings_s": dict(result.timings_s),
            "goals": evaluation.goals.to_dict(),
        }
    )
    if outcome.grid_check is not None:
        document["grid_check"] = outcome.grid_check.to_dict()
    return document


def report_view(
    outcome: PlanOutcome,
    evaluation: Evaluation | None = None,
    *,
    label: str | None = None,
    scenario_doses_gy: Sequence[np.ndarray] = (),
) -> PlanResult:
    """The report's view of a plan (:class:`ionbeam.report.PlanResult`: total doses, its
    metrics and goals); the viewer also gets the physical dose beside an RBE-weighted one,
    with several beams each beam's physical dose, and the total doses of error scenarios
    (``scenario_doses_gy``, drawn as DVH bands)."""
    from ionbeam.report import PlanResult

    evaluation = evaluate(outcome) if evaluation is None else evaluation
    result = outcome.planning
    beams = result.plan.beams
    beam_doses = (
        {beam.name: outcome.beam_dose_total_gy(k) for k, beam in enumerate(beams)}
        if len(beams) > 1
        else {}
    )
    return PlanResult(
        label=label or result.plan.particle,
        plan=result.plan,
        dose_gy=outcome.dose_total_gy,
        dose_grid=result.grid,
        metrics=evaluation.metrics,
        dose_kind="physical" if result.rbe_dose_gy is None else "rbe",
        let_d_kev_um=result.let_d_kev_um,
        warnings=tuple(
            f"optimization stopped without converging: {r.message}"
            for r in result.optimization
            if not r.success
        ),
        goals=evaluation.goals,
        physical_dose_gy=None if result.rbe_dose_gy is None else outcome.physical_dose_total_gy,
        beam_doses_gy=beam_doses,
        scenario_doses_gy=tuple(scenario_doses_gy),
    )
