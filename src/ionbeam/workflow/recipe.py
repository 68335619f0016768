"""The planning recipe of the workflow: plan inputs → an optimized plan with its doses,
the record of where its patient and beam model came from, its clinical goals and
(optionally) the check of its metrics on a finer grid."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ionbeam.errors import ConfigError
from ionbeam.workflow.beam_models import machine_for_plan, with_beam_model_record
from ionbeam.workflow.goals import plan_goals, with_recorded_goals
from ionbeam.workflow.requests import PlanInputs, resolve_inputs

if TYPE_CHECKING:
    from ionbeam.io.plan_file import PlanRequest
    from ionbeam.machine import Machine
    from ionbeam.patient import HUCalibration, Patient
    from ionbeam.planning.planner import PlanningResult
    from ionbeam.planning.robust import RobustOptions
    from ionbeam.workflow.result import PlanOutcome

__all__ = ["make_plan", "robust_options_of", "with_patient_record"]


def make_plan(
    inputs: PlanInputs | PlanRequest | str | Path,
    *,
    machine: Machine | None = None,
    energy_stride: int | None = None,
    robust: RobustOptions | None = None,
    grid_check: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> PlanOutcome:
    """Plan a patient: place spots, compute the dose influence, optimize the
    (RBE-weighted) dose, record the patient, beam model and clinical goals in the plan's
    settings and, with ``grid_check``, recompute the plan on a grid of 3/4 the spacing.

    ``inputs``: resolved :class:`PlanInputs`, a
    :class:`~ionbeam.io.plan_file.PlanRequest` or a TOML plan file's path (prescription
    warnings are then issued as :class:`UserWarning`); ``machine``: the machine object
    to plan on, which the result carries to export and delivery (default: the inputs'
    machine, else the request's by name); ``energy_stride``: use every N-th energy of the
    machine (quick plans); ``robust``: optimize over error scenarios; ``on_stage``: called
    with one line of text as each stage ends.
    """
    from ionbeam.planning.planner import plan_patient
    from ionbeam.workflow.grid_check import run_grid_check
    from ionbeam.workflow.result import PlanOutcome

    if not isinstance(inputs, PlanInputs):
        inputs = resolve_inputs(inputs, machine=machine)
        for text in inputs.warnings:
            warnings.warn(text, UserWarning, stacklevel=2)
    elif machine is not None and machine is not inputs.machine:
        raise ConfigError(
            "the plan inputs were resolved for another machine; pass the machine to "
            "resolve_inputs(request, machine=...) (its beams and energies are checked there)"
        )
    if robust is None:
        robust = robust_options_of(inputs.request)
    options = inputs.options
    if energy_stride is not None:
        options = dataclasses.replace(options, energy_stride=energy_stride)
    planned_on = machine_for_plan(inputs.beam_model, inputs.machine or "cnao")
    result = plan_patient(
        inputs.patient,
        inputs.prescription,
        particle=inputs.particle,
        objectives=inputs.objectives,
        options=options,
        machine=planned_on,
        calibration=inputs.calibration,
        on_stage=on_stage,
        robust=robust,
    )
    result = _with_records(result, inputs)
    goals = plan_goals(result, inputs.request)
    result = with_recorded_goals(result, goals)
    check = None
    if grid_check:
        check = run_grid_check(
            inputs.patient, result, calibration=inputs.calibration, machine=planned_on
        )
    return PlanOutcome(
        planning=result,
        patient=inputs.patient,
        machine=planned_on,
        goals=goals,
        options=options,
        calibration=inputs.calibration,
        beam_model=inputs.beam_model,
        source_dicom=inputs.source_dicom,
        grid_check=check,
    )


def robust_options_of(request: PlanRequest | None) -> RobustOptions | None:
    """The :class:`~ionbeam.planning.robust.RobustOptions` of a request's ``[robust]``
    section (None: the request has none, the plan is nominal)."""
    if request is None or request.robust is None:
        return None
    from ionbeam.planning.robust import RobustOptions

    return RobustOptions(**dict(request.robust))


def with_patient_record(
    result: PlanningResult,
    patient: Patient,
    *,
    phantom: str | None = None,
    source_dicom: str | Path | None = None,
    ct_series: str | None = None,
    calibration: HUCalibration | None = None,
) -> PlanningResult:
    """Record in the plan's settings where its patient comes from (the built-in
    ``phantom`` with its parameters, else the ``source_dicom`` folder and CT series) and
    the HU calibration file, so that a recomputation finds them."""
    from ionbeam.patient.phantoms import phantom_parameters

    settings = dict(result.plan.settings)
    if phantom is not None:
        settings["phantom"] = {
            "name": phantom,
            "parameters": {
                **phantom_parameters(phantom),
                **dict(patient.metadata.get("parameters", {})),
            },
        }
    elif source_dicom is not None:
        settings["dicom"] = {"folder": str(Path(source_dicom).resolve())}
        if ct_series is not None:
            settings["dicom"]["ct_series"] = ct_series
    if calibration is not None:
        settings["hu_calibration_file"] = str(Path(calibration.source).resolve())
    plan = dataclasses.replace(result.plan, settings=settings)
    return dataclasses.replace(result, plan=plan)


def _with_records(result: PlanningResult, inputs: PlanInputs) -> PlanningResult:
    """The beam model and the patient recorded in the plan's settings."""
    settings = with_beam_model_record(result.plan.settings, inputs.beam_model)
    result = dataclasses.replace(result, plan=dataclasses.replace(result.plan, settings=settings))
    return with_patient_record(
        result,
        inputs.patient,
        phantom=inputs.phantom,
        source_dicom=inputs.source_dicom,
        ct_series=inputs.ct_series,
        calibration=inputs.calibration,
    )
