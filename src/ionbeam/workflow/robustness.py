"""Evaluate a plan in range and set-up error scenarios (worst cases, DVH bands)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ionbeam.evaluation.robust import RobustEvaluation
    from ionbeam.planning.robust import RobustOptions
    from ionbeam.workflow.result import PlanOutcome

__all__ = ["evaluate_robustness"]


def evaluate_robustness(
    outcome: PlanOutcome,
    robust: RobustOptions | None = None,
    *,
    client: Any = None,
) -> RobustEvaluation:
    """The :class:`~ionbeam.evaluation.robust.RobustEvaluation` of the outcome's total
    dose in the scenarios of ``robust`` (default: the standard 9, ±3.5 % range and 3 mm
    set-up; see ``docs/robust.md``), on its machine, calibration and dose grid;
    ``client``: a ``distributed.Client`` to run the scenarios on (None: serially here)."""
    from ionbeam.evaluation.robust import robust_evaluation
    from ionbeam.planning.dose_grid import make_dose_grid, masks_on_grid
    from ionbeam.planning.robust import RobustOptions
    from ionbeam.planning.robust.cluster import scenario_doses

    robust = RobustOptions() if robust is None else robust
    scenarios = robust.scenarios().scenarios
    patient, plan = outcome.patient, outcome.plan
    grid = make_dose_grid(patient.grid, outcome.options.dose_grid_mm)
    masks = masks_on_grid(list(patient.structures.values()), grid)
    prescription = plan.prescription
    doses = scenario_doses(
        patient,
        plan,
        scenarios,
        options=outcome.options,
        machine=outcome.machine,
        calibration=outcome.calibration,
        client=client,
    )
    return robust_evaluation(
        (d * prescription.fractions for d in doses),
        grid,
        masks,
        labels=[s.label for s in scenarios],
        targets=(prescription.target,),
        prescription_gy=prescription.total_dose_gy,
    )
