"""The dose of a plan in one error scenario, through the engine's front doors.

A scenario changes two inputs of :func:`~ionbeam.planning.dose_engine.calc_dose_influence`
and nothing else:

* range error r: the HU → SPR calibration's SPR values times (1 + r), so every WEPL
  scales by (1 + r) (:func:`scenario_calibration`);
* set-up shift s (the patient moved by s in the room): the beams' isocentre, fixed in
  the room, lands at ``isocenter − s`` in patient coordinates (:func:`scenario_plan`);
  structures stay on the patient, so every scenario has the same dose-grid voxels and
  the same matrix rows.

The beam model is shared by all scenarios (built once by the caller); the ray tracing
is redone per scenario (the WEPL lattice changes with both errors). The functions are
plain functions of plain, picklable inputs, so that they run the same serially or as
tasks on a Dask cluster (:mod:`.cluster`).
"""

from __future__ import annotations

import numpy as np

from ionbeam.machine import Machine
from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.patient import Patient
from ionbeam.planning.plan import Plan
from ionbeam.planning.planner import PlanningOptions, dose_of_plan, resolve_rbe_model
from ionbeam.planning.robust.rbe_error import check_rbe_errors
from ionbeam.planning.robust.scenario_inputs import scenario_calibration, scenario_plan
from ionbeam.planning.robust.scenarios import Scenario

__all__ = ["scenario_calibration", "scenario_dose", "scenario_plan"]


def scenario_dose(
    patient: Patient,
    plan: Plan,
    scenario: Scenario,
    *,
    options: PlanningOptions | None = None,
    machine: Machine | None = None,
    calibration: HUCalibration | None = None,
) -> np.ndarray:
    """The evaluated dose per fraction (RBE-weighted with the plan's RBE model, else
    physical; Gy or Gy(RBE)) of ``plan``'s weights in ``scenario``, on the dose grid of
    ``options`` [x, y, z]. The matrix is dropped on return: one scenario at a time. An
    RBE error scales the dose of the scenario's geometry (constant RBE only,
    :mod:`.rbe_error`)."""
    check_rbe_errors([scenario], resolve_rbe_model(plan.particle, plan.rbe_model))
    geometry = scenario.geometry
    result = dose_of_plan(
        patient,
        scenario_plan(plan, geometry),
        options=options,
        machine=machine,
        calibration=scenario_calibration(calibration, geometry),
    )
    dose = np.asarray(result.evaluated_dose_gy, dtype=np.float64)
    return dose * (1.0 + scenario.rbe_error) if scenario.rbe_error else dose
