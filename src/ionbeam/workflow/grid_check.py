"""The grid check: an optimized plan recomputed on a finer grid.

The plan's spot weights are recomputed on a dose grid of 3/4 of the planning
spacing (1.5 mm for the default 2 mm), in the target and in every structure that
does not hold the whole target (the organs at risk; a ``Body`` would only cost
time), and the target's D95 and every structure's maximum are compared with the
planned ones (:func:`ionbeam.evaluation.grid_check.compare_grids`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ionbeam.evaluation.grid_check import GridCheck
    from ionbeam.machine import Machine
    from ionbeam.patient import HUCalibration, Patient
    from ionbeam.planning.planner import PlanningResult

__all__ = ["FINE_GRID_FRACTION", "run_grid_check"]

#: The check's grid spacing as a fraction of the planning grid's.
FINE_GRID_FRACTION = 0.75


def run_grid_check(
    patient: Patient,
    result: PlanningResult,
    *,
    calibration: HUCalibration | None = None,
    machine: Machine | None = None,
) -> GridCheck:
    """The :class:`~ionbeam.evaluation.grid_check.GridCheck` of a planning result
    (``machine``: the one it was planned with, e.g. a commissioned beam model's;
    default: the plan's machine by name)."""
    from ionbeam.evaluation import dose_metrics
    from ionbeam.evaluation.grid_check import compare_grids
    from ionbeam.machine import get_machine
    from ionbeam.patient.structures import StructureSet
    from ionbeam.planning.planner import dose_of_plan, planning_options_from_settings

    plan = result.plan
    target = plan.prescription.target
    options = planning_options_from_settings(plan.settings)
    planned_mm = float(options.dose_grid_mm)
    fine_mm = FINE_GRID_FRACTION * planned_mm
    names = _checked_structures(patient, target, options.structure_tissues)
    subset = dataclasses.replace(
        patient, structures=StructureSet(patient.structures[n] for n in names)
    )
    fine = dose_of_plan(
        subset,
        plan,
        options=dataclasses.replace(options, dose_grid_mm=fine_mm),
        machine=get_machine(plan.machine) if machine is None else machine,
        calibration=calibration,
    )
    prescription = plan.prescription

    def metrics(run: Any) -> Any:
        weights = run.structure_weights
        return dose_metrics(
            run.evaluated_dose_gy * prescription.fractions,
            run.grid,
            {n: weights[n] for n in names},
            prescription_gy=prescription.total_dose_gy,
            targets=(target,),
        )

    return compare_grids(
        metrics(result), metrics(fine), target=target, planned_mm=planned_mm, fine_mm=fine_mm
    )


def _checked_structures(patient: Patient, target: str, assigned: Collection[str]) -> list[str]:
    """The target, the structures with assigned tissues and every structure that does
    not hold the whole target."""
    inside = patient.structures[target].mask
    return [
        s.name
        for s in patient.structures.values()
        if s.name == target or s.name in assigned or bool((inside & ~s.mask).any())
    ]
