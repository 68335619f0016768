"""Recompute the dose of a saved plan: a plan folder (or its ``plan.json``) written by
:func:`write_outputs` or ``ionbeam plan``, or a DICOM RT Ion Plan from any planning
system (with ``dicom`` for the CT and RTSTRUCT it was made on).

A plan folder's patient (phantom or DICOM folder), dose grid, RBE model, tissues and
beam-model file come from its settings; :class:`RecomputeOptions` overrides them. A
clinical RT Ion Plan whose spot weights are in MU needs ``particles_per_mu``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ionbeam.errors import ConfigError
from ionbeam.workflow.beam_models import (
    load_beam_model,
    machine_for_plan,
    recorded_beam_model,
    with_beam_model_record,
)
from ionbeam.workflow.patients import check_phantom_memory

if TYPE_CHECKING:
    import numpy as np

    from ionbeam.machine import Machine
    from ionbeam.machine.commissioning import Commissioning
    from ionbeam.patient import HUCalibration, Patient
    from ionbeam.planning.plan import Plan
    from ionbeam.planning.planner import PlanningOptions
    from ionbeam.workflow.result import PlanOutcome

__all__ = [
    "RecomputeInputs",
    "RecomputeOptions",
    "recompute_beam_model",
    "recompute_dose",
    "recompute_inputs",
]


@dataclass(frozen=True)
class RecomputeOptions:
    """How to recompute a saved plan (None: what the plan records, else the default).

    ``dicom`` / ``phantom`` (with ``ct_spacing_mm``): the patient; ``ct_series``: the CT
    series (SeriesInstanceUID) of a folder with several; ``target``: the target structure;
    ``calibration``: an HU → SPR table file; ``machine``: a Machine object (used as it is)
    or a registered name (default: the plan's; ``cnao`` for an RT Ion Plan);
    ``rbe_model``; ``particles_per_mu``: for an RT Ion Plan in MU, a number or a file of
    two columns (energy MeV/u, particles per MU); ``dose_grid_mm``: the dose grid
    spacing; ``beam_model``: a commissioned beam-model file (default: the plan's).
    """

    dicom: Path | None = None
    phantom: str | None = None
    ct_spacing_mm: float | None = None
    ct_series: str | None = None
    target: str | None = None
    calibration: Path | None = None
    machine: Machine | str | None = None
    rbe_model: str | None = None
    particles_per_mu: str | float | None = None
    dose_grid_mm: float | None = None
    beam_model: Path | None = None


@dataclass(frozen=True, eq=False)
class RecomputeInputs:
    """A saved plan ready to recompute: the plan (machine and RBE model applied), its
    patient, planning options, the DICOM folder it came from and the HU calibration."""

    plan: Plan
    patient: Patient
    options: PlanningOptions
    source_dicom: Path | None
    calibration: HUCalibration | None


def recompute_inputs(path: str | Path, options: RecomputeOptions | None = None) -> RecomputeInputs:
    """Read the plan at ``path`` (plan folder, ``plan.json`` or RP.dcm) and its patient."""
    from ionbeam.patient import load_calibration
    from ionbeam.planning.planner import PlanningOptions, planning_options_from_settings

    settings = RecomputeOptions() if options is None else options
    path = Path(path)
    if path.is_file() and path.suffix.lower() != ".json":
        plan = _rt_ion_plan(path, settings)
        planning = PlanningOptions()
    else:
        from ionbeam.io.plan_json import read_plan_json

        plan = _saved_plan_with_options(read_plan_json(path), settings)
        planning = planning_options_from_settings(plan.settings)
    if settings.dose_grid_mm is not None:
        planning = dataclasses.replace(planning, dose_grid_mm=settings.dose_grid_mm)
    calibration_file = settings.calibration or plan.settings.get("hu_calibration_file")
    calibration = None if calibration_file is None else load_calibration(calibration_file)
    patient, source = _patient(settings, plan)
    if settings.target is not None:
        prescription = dataclasses.replace(plan.prescription, target=settings.target)
        plan = dataclasses.replace(plan, prescription=prescription)
    return RecomputeInputs(plan, patient, planning, source, calibration)


def recompute_beam_model(
    plan: Plan, beam_model: str | Path | None = None
) -> tuple[Plan, Commissioning | None]:
    """The plan (its record updated) and the commissioning to recompute with:
    ``beam_model``, else the plan's recorded file (checked unchanged), else None (the
    generic model)."""
    if beam_model is not None:
        commissioning = load_beam_model(beam_model, plan.particle)
    else:
        commissioning = recorded_beam_model(plan.settings, plan.particle)
    settings = with_beam_model_record(plan.settings, commissioning)
    return dataclasses.replace(plan, settings=settings), commissioning


def recompute_dose(
    plan: str | Path | RecomputeInputs,
    *,
    options: RecomputeOptions | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> PlanOutcome:
    """Recompute the doses of the saved plan at ``plan`` (or of the plan
    :func:`recompute_inputs` read) with its spot weights as they are (see the module
    docstring); ``on_stage`` gets one line per stage. The result's goals are those the
    plan records (else the defaults)."""
    from ionbeam.planning.planner import dose_of_plan
    from ionbeam.workflow.goals import plan_goals
    from ionbeam.workflow.result import PlanOutcome

    settings = RecomputeOptions() if options is None else options
    inputs = plan if isinstance(plan, RecomputeInputs) else recompute_inputs(plan, settings)
    saved, commissioning = recompute_beam_model(inputs.plan, settings.beam_model)
    base = (
        settings.machine
        if settings.machine is not None and not isinstance(settings.machine, str)
        else saved.machine
    )
    machine = machine_for_plan(commissioning, base)
    result = dose_of_plan(
        inputs.patient,
        saved,
        options=inputs.options,
        machine=machine,
        calibration=inputs.calibration,
        on_stage=on_stage,
    )
    return PlanOutcome(
        planning=result,
        patient=inputs.patient,
        machine=machine,
        goals=plan_goals(result),
        options=inputs.options,
        calibration=inputs.calibration,
        beam_model=commissioning,
        source_dicom=inputs.source_dicom,
    )


def _saved_plan_with_options(plan: Plan, settings: RecomputeOptions) -> Plan:
    """A plan folder's plan with the machine and RBE model of ``settings`` applied."""
    from ionbeam.machine import get_machine
    from ionbeam.planning.planner import resolve_rbe_model

    if settings.particles_per_mu is not None:
        raise ConfigError(
            "--particles-per-mu applies to a DICOM RT Ion Plan in MU; a plan folder's "
            "weights are particles already"
        )
    if settings.machine is not None:
        machine = settings.machine
        name = get_machine(machine).name if isinstance(machine, str) else machine.name
        plan = dataclasses.replace(plan, machine=name)
    if settings.rbe_model is not None:
        rbe_model = resolve_rbe_model(plan.particle, settings.rbe_model)
        plan = dataclasses.replace(plan, rbe_model=rbe_model)
    return plan


def _rt_ion_plan(path: Path, settings: RecomputeOptions) -> Plan:
    from ionbeam.io.dicom import read_rt_ion_plan
    from ionbeam.planning.planner import resolve_rbe_model

    per_mu = _particles_per_mu(settings.particles_per_mu)
    plan = read_rt_ion_plan(path, particles_per_mu=per_mu)
    machine = settings.machine or "cnao"
    name = machine if isinstance(machine, str) else machine.name
    rbe_model = resolve_rbe_model(plan.particle, settings.rbe_model)
    return dataclasses.replace(plan, machine=name, rbe_model=rbe_model)


def _particles_per_mu(value: str | float | None) -> Callable[[Any], np.ndarray] | None:
    """``particles_per_mu``: a positive number, or a two-column file (MeV/u, particles
    per MU) interpolated linearly in energy (constant beyond its ends)."""
    import numpy as np

    if value is None:
        return None
    text = str(value)
    try:
        number: float | None = float(text)
    except ValueError:
        number = None
    if number is not None:
        if not (math.isfinite(number) and number > 0):
            raise ConfigError(f"--particles-per-mu must be a positive number; got {text}")
        constant = number
        return lambda energy: np.full(np.shape(energy), constant)
    try:
        table = np.loadtxt(text, ndmin=2, delimiter=None, comments="#")
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"--particles-per-mu {text}: not a number and not a readable two-column file "
            f"(energy MeV/u, particles per MU): {exc}"
        ) from None
    wrong = ConfigError(
        f"--particles-per-mu {text} must have two columns (energy MeV/u increasing, "
        "particles per MU > 0)"
    )
    if table.shape[1] != 2:
        raise wrong
    energy, per_mu = table[:, 0], table[:, 1]
    if not (np.all(np.diff(energy) > 0) and np.all(per_mu > 0)):
        raise wrong
    return lambda e: np.interp(np.asarray(e, dtype=float), energy, per_mu)


def _patient(settings: RecomputeOptions, plan: Plan) -> tuple[Patient, Path | None]:
    from ionbeam.io.dicom import read_dicom_patient
    from ionbeam.patient.phantoms import make_phantom

    recorded = plan.settings
    if settings.dicom is not None or (settings.phantom is None and "dicom" in recorded):
        folder = Path(settings.dicom or recorded["dicom"]["folder"])
        if settings.ct_spacing_mm is not None:
            raise ConfigError("--ct-spacing applies to phantoms only, not to a DICOM patient")
        if not folder.is_dir():
            raise ConfigError(f"DICOM folder {folder} does not exist; pass --dicom FOLDER")
        series = settings.ct_series or recorded.get("dicom", {}).get("ct_series")
        patient = read_dicom_patient(
            folder, target_name=settings.target, series_instance_uid=series
        )
        return patient, folder
    if settings.ct_series is not None:
        raise ConfigError("--ct-series applies to a DICOM patient (--dicom) only")
    if settings.phantom is not None:
        params = {} if settings.ct_spacing_mm is None else {"spacing_mm": settings.ct_spacing_mm}
        check_phantom_memory(settings.phantom, params, option="--ct-spacing")
        return make_phantom(settings.phantom, **params), None
    if "phantom" in recorded:
        phantom = recorded["phantom"]
        return make_phantom(phantom["name"], **dict(phantom.get("parameters", {}))), None
    raise ConfigError(
        "the plan does not say which patient it was made on; pass --dicom FOLDER "
        "(CT + RTSTRUCT) or --phantom NAME"
    )
