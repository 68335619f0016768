"""Evaluate a plan in range, set-up (and RBE) error scenarios: worst cases, DVH bands,
the scenario doses the report draws as bands, and the files that record it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from ionbeam.evaluation.robust import RobustEvaluation
    from ionbeam.machine import Machine
    from ionbeam.patient import HUCalibration, Patient
    from ionbeam.planning.plan import Plan
    from ionbeam.planning.planner import PlanningOptions
    from ionbeam.planning.robust import RobustOptions
    from ionbeam.workflow.result import PlanOutcome

__all__ = [
    "evaluate_robustness",
    "evaluate_scenario_doses",
    "robustness_with_doses",
    "scenario_total_doses",
    "write_robustness",
]


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
    evaluation, _ = robustness_with_doses(outcome, robust, client=client, keep_doses=False)
    return evaluation


def robustness_with_doses(
    outcome: PlanOutcome,
    robust: RobustOptions | None = None,
    *,
    client: Any = None,
    keep_doses: bool = True,
) -> tuple[RobustEvaluation, tuple[np.ndarray, ...]]:
    """:func:`evaluate_robustness` and, with ``keep_doses``, the total dose of every
    scenario (nominal first; Gy or Gy(RBE)), which :func:`write_plan_folder` draws as DVH
    bands in the report (without ``keep_doses`` the doses are evaluated one at a time
    and none is kept: an empty tuple)."""
    from ionbeam.planning.robust import RobustOptions

    robust = RobustOptions() if robust is None else robust
    doses: Iterable[np.ndarray] = scenario_total_doses(
        outcome.patient,
        outcome.plan,
        robust,
        options=outcome.options,
        machine=outcome.machine,
        calibration=outcome.calibration,
        client=client,
    )
    kept = tuple(doses) if keep_doses else ()
    evaluation = evaluate_scenario_doses(
        kept if keep_doses else doses,
        outcome.patient,
        outcome.plan,
        robust,
        options=outcome.options,
    )
    return evaluation, kept


def scenario_total_doses(
    patient: Patient,
    plan: Plan,
    robust: RobustOptions,
    *,
    options: PlanningOptions,
    machine: Machine,
    calibration: HUCalibration | None = None,
    client: Any = None,
) -> Iterator[np.ndarray]:
    """``plan``'s evaluated dose over all fractions (Gy or Gy(RBE)) in each of
    ``robust``'s scenarios, the nominal first, one at a time; ``client``: a
    ``distributed.Client`` to run them on (None: serially here)."""
    from ionbeam.planning.robust.cluster import scenario_doses

    doses = scenario_doses(
        patient,
        plan,
        robust.scenarios().scenarios,
        options=options,
        machine=machine,
        calibration=calibration,
        client=client,
    )
    fractions = plan.prescription.fractions
    return (d * fractions for d in doses)


def evaluate_scenario_doses(
    doses: Iterable[np.ndarray],
    patient: Patient,
    plan: Plan,
    robust: RobustOptions,
    *,
    options: PlanningOptions,
) -> RobustEvaluation:
    """The :class:`~ionbeam.evaluation.robust.RobustEvaluation` of the total scenario
    ``doses`` (in the order of ``robust``'s scenarios) on the plan's dose grid."""
    from ionbeam.evaluation.robust import robust_evaluation
    from ionbeam.planning.dose_grid import make_dose_grid, masks_on_grid

    grid = make_dose_grid(patient.grid, options.dose_grid_mm)
    masks = masks_on_grid(list(patient.structures.values()), grid)
    prescription = plan.prescription
    return robust_evaluation(
        doses,
        grid,
        masks,
        labels=[s.label for s in robust.scenarios().scenarios],
        targets=(prescription.target,),
        prescription_gy=prescription.total_dose_gy,
    )


def write_robustness(
    folder: str | Path,
    evaluation: RobustEvaluation,
    robust: RobustOptions,
    *,
    title: str,
    unit: str,
    report: bool = True,
) -> None:
    """Add ``robustness`` (settings and evaluation) to ``folder/metrics.json`` (when there
    is one, else write ``robustness.json``) and, with ``report``, write
    ``robustness.html``; each file atomically. ``unit``: ``Gy`` or ``Gy(RBE)``."""
    from ionbeam._atomic import write_text_atomically
    from ionbeam.workflow.outputs import to_jsonable

    folder = Path(folder)
    section = {"settings": robust.to_dict(), **evaluation.to_dict()}
    metrics = folder / "metrics.json"
    if metrics.exists():
        document = json.loads(metrics.read_text(encoding="utf-8"))
        document["robustness"] = section
        name = metrics
    else:
        document, name = section, folder / "robustness.json"
    write_text_atomically(name, json.dumps(to_jsonable(document), indent=2, allow_nan=False))
    if report:
        from ionbeam.report.robust_report import write_robust_report

        write_robust_report(folder / "robustness.html", evaluation, title=title, unit=unit)
