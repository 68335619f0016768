"""From a plan request (a TOML plan file, or one built in Python) to what the planning
recipe takes (:class:`PlanInputs`).

What the request does not say takes the defaults of the phantom (target, beams) and of
the particle (schedule, RBE model). Objectives of the request replace the default
objectives of the structures they name (their dose levels are totals; the recipe works
per fraction).

Every setting is honoured or refused: the machine gives the beam directions it can
deliver (a fixed-line machine such as CNAO refuses other gantry angles), the energies
and the range shifter; beam angles must lie in [0, 360); the prescription must be a
plausible clinical one (:func:`check_prescription`); a constant RBE for ions is refused
by the planner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ionbeam.errors import ConfigError, GeometryError, StructureError
from ionbeam.workflow.beam_models import load_beam_model
from ionbeam.workflow.patients import FIXED_LINE_DEFAULTS, PHANTOM_DEFAULTS, resolve_patient

if TYPE_CHECKING:
    from ionbeam.io.plan_file import BeamRequest, ObjectiveRequest, PlanRequest
    from ionbeam.machine import Machine
    from ionbeam.machine.commissioning import Commissioning
    from ionbeam.patient import HUCalibration, Patient
    from ionbeam.planning.optimize.objective import Objective
    from ionbeam.planning.plan import Prescription
    from ionbeam.planning.planner import PlanningOptions

__all__ = [
    "MAX_DOSE_PER_FRACTION_GY",
    "MAX_FRACTIONS",
    "MAX_TOTAL_DOSE_GY",
    "PlanInputs",
    "check_prescription",
    "plan_from_file",
    "resolve_inputs",
]

#: Prescriptions refused outright: above any clinical schedule (the largest single
#: fractions in use are carbon-ion lung radiosurgery, 46-50 Gy(RBE) in one fraction, NIRS;
#: the highest totals about 80-90 Gy(RBE); the most fractions about 70, twice daily).
MAX_DOSE_PER_FRACTION_GY = 50.0
MAX_TOTAL_DOSE_GY = 150.0
MAX_FRACTIONS = 100
#: Prescriptions that plan but are warned about (hypofractionation, high totals).
WARN_DOSE_PER_FRACTION_GY = 20.0
WARN_TOTAL_DOSE_GY = 90.0
WARN_FRACTIONS = 45
#: Default (dose per fraction in Gy(RBE), fractions) per particle: conventional protons;
#: CNAO's carbon-ion chordoma schedule (70.4 Gy(RBE) in 16) for ions.
_SCHEDULES = {"proton": (2.0, 30)}
_ION_SCHEDULE = (4.4, 16)
_DEFAULT_BEAMS = (0.0,)


@dataclass(frozen=True, eq=False)
class PlanInputs:
    """Everything the planning recipe needs, plus where the patient came from.

    ``prescription``: target, total dose (Gy(RBE)) and fractions; ``objectives``: per
    structure, dose levels per fraction (None: the defaults); ``machine``: the machine
    object the plan is made, exported and delivered on (its name is what ``plan.json``
    records); ``beam_model``: a commissioning (None: the generic model); ``phantom``: the
    built-in phantom's name (None for ``source_dicom``); ``warnings``: one line each
    about an unusual but accepted prescription.
    """

    patient: Patient
    prescription: Prescription
    options: PlanningOptions
    particle: str
    objectives: Mapping[str, tuple[Objective, ...]] | None
    source_dicom: Path | None
    phantom: str | None
    calibration: HUCalibration | None = None
    machine: Machine | None = None
    ct_series: str | None = None
    beam_model: Commissioning | None = None
    request: PlanRequest | None = None
    warnings: tuple[str, ...] = ()


def plan_from_file(path: str | Path) -> PlanRequest:
    """The :class:`~ionbeam.io.plan_file.PlanRequest` of a TOML plan file (unknown keys
    and bad values refused with :class:`ConfigError`); nothing is read but the file."""
    from ionbeam.io.plan_file import load_plan_file

    return load_plan_file(path)


def resolve_inputs(
    request: PlanRequest | str | Path, *, machine: Machine | None = None
) -> PlanInputs:
    """Resolve a plan request (or a plan file's path; see the module docstring): read the
    patient, check the prescription and the beams. ``machine``: a machine object to plan
    on (default: the request's ``machine`` by name, else ``cnao``); it travels with the
    inputs as it is."""
    from ionbeam.machine import get_machine
    from ionbeam.planning.plan import Prescription

    if isinstance(request, (str, Path)):
        request = plan_from_file(request)
    if machine is None:
        machine = get_machine(request.machine or "cnao")
    elif request.machine is not None and get_machine(request.machine).name != machine.name:
        raise ConfigError(
            f"the plan request names machine {request.machine!r}, but a machine named "
            f"{machine.name!r} was given; leave the request's machine out or pass that machine"
        )
    particle = _particle(request, machine)
    total_gy, fractions, warnings = _prescription_values(request, particle)
    source = request.patient
    patient, phantom = resolve_patient(
        phantom=source.phantom if source.dicom is None else None,
        dicom=source.dicom,
        target=source.target,
        spacing_mm=source.spacing_mm,
        ct_series=source.ct_series,
    )
    target = _target(request, patient, phantom)
    prescription = Prescription(target, total_gy, fractions)
    options = _options(request, phantom, machine)
    objectives = _objectives(request, patient, target, prescription)
    calibration = None
    if source.calibration is not None:
        from ionbeam.patient import load_calibration

        calibration = load_calibration(source.calibration)
    return PlanInputs(
        patient,
        prescription,
        options,
        particle,
        objectives,
        source.dicom,
        phantom,
        calibration,
        machine,
        source.ct_series,
        load_beam_model(request.beam_model, particle),
        request,
        tuple(warnings),
    )


def check_prescription(total_dose_gy: float, fractions: int) -> list[str]:
    """Refuse an implausible prescription (:class:`ConfigError`); return warnings (one
    line each) for an unusual but possible one. Doses in Gy(RBE)."""
    per_fraction = total_dose_gy / fractions
    hint = (
        "--total-dose-gy is the total over all fractions, --dose-per-fraction-gy the dose "
        "of one fraction"
    )
    if per_fraction > MAX_DOSE_PER_FRACTION_GY:
        raise ConfigError(
            f"the prescription gives {per_fraction:g} Gy(RBE) per fraction ({total_dose_gy:g} "
            f"in {fractions}), more than any clinical schedule (≤ {MAX_DOSE_PER_FRACTION_GY:g}); "
            f"check it: {hint}"
        )
    if total_dose_gy > MAX_TOTAL_DOSE_GY:
        raise ConfigError(
            f"the prescription totals {total_dose_gy:g} Gy(RBE), more than any clinical "
            f"schedule (≤ {MAX_TOTAL_DOSE_GY:g}); check it: {hint}"
        )
    if fractions > MAX_FRACTIONS:
        raise ConfigError(
            f"{fractions} fractions is more than any clinical schedule (≤ {MAX_FRACTIONS}); "
            "check --fractions"
        )
    warnings = []
    if per_fraction > WARN_DOSE_PER_FRACTION_GY:
        warnings.append(f"{per_fraction:g} Gy(RBE) per fraction is a radiosurgical dose; "
                        "check the prescription")  # fmt: skip
    if total_dose_gy > WARN_TOTAL_DOSE_GY:
        warnings.append(f"a total of {total_dose_gy:g} Gy(RBE) is above usual schedules; "
                        "check the prescription")  # fmt: skip
    if fractions > WARN_FRACTIONS:
        warnings.append(f"{fractions} fractions is above usual schedules; check --fractions")
    return warnings


def _particle(request: PlanRequest, machine: Machine) -> str:
    from ionbeam.physics.particles import get_particle

    if request.particle is None:
        raise ConfigError("say which particle: --particle proton|carbon (or in [plan])")
    name = get_particle(request.particle).name
    machine.energy_library(name)  # a particle the machine does not deliver → UnknownNameError
    return name


def _target(request: PlanRequest, patient: Patient, phantom: str | None) -> str:
    import numpy as np

    name = request.patient.target
    if name is None:
        name = PHANTOM_DEFAULTS[phantom][0] if phantom else patient.target_name
    if name is None:
        raise ConfigError(
            f"say which structure is the target (--target NAME); the patient has: "
            f"{', '.join(patient.structures)}"
        )
    target = patient.structures[name]  # unknown → UnknownNameError listing the names
    if target.is_empty:
        raise StructureError(f"the target {name!r} is empty; check its contours")
    if not np.any(target.mask & (patient.ct.spr() > 0.05)):
        raise GeometryError(
            f"the target {name!r} lies outside the patient (in air); check the structure set"
        )
    return target.name


def _prescription_values(request: PlanRequest, particle: str) -> tuple[float, int, list[str]]:
    """(total dose Gy(RBE), fractions, warnings), checked."""
    default_dose, default_fractions = _SCHEDULES.get(particle, _ION_SCHEDULE)
    fractions = request.fractions or default_fractions
    if request.total_dose_gy is not None:
        total = request.total_dose_gy
    else:
        per_fraction = request.dose_per_fraction_gy
        total = (default_dose if per_fraction is None else per_fraction) * fractions
    return total, fractions, check_prescription(total, fractions)


def _beams(request: PlanRequest, phantom: str | None, machine: Machine) -> list[BeamRequest]:
    """The requested beams, or the phantom's defaults (those the machine can give), with
    the request's range shifter (``range_shifter_wet_mm``) if given."""
    from ionbeam.io.plan_file import BeamRequest

    if request.beams:
        beams = list(request.beams)
    elif machine.fixed_lines is not None and phantom in FIXED_LINE_DEFAULTS:
        beams = [BeamRequest(g, c) for g, c in FIXED_LINE_DEFAULTS[phantom]]
    else:
        beams = [BeamRequest(g) for g in (PHANTOM_DEFAULTS[phantom][1] if phantom
                                          else _DEFAULT_BEAMS)]  # fmt: skip
    if request.range_shifter_wet_mm is None:
        return beams
    return [replace(b, range_shifter_wet_mm=request.range_shifter_wet_mm) for b in beams]


def _options(request: PlanRequest, phantom: str | None, machine: Machine) -> PlanningOptions:
    from ionbeam.planning.planner import PlanningOptions

    beams = _beams(request, phantom, machine)
    gantry = tuple(_gantry_deg(b) for b in beams)
    for k, (beam, angle) in enumerate(zip(beams, gantry, strict=True)):
        machine.check_beam_direction(angle, beam=beam.name or f"beam {k + 1}")
    names = [b.name for b in beams]
    given = [n for n in names if n]
    if len(set(given)) < len(given):
        raise ConfigError(f"beam names must differ; got {given}")
    values: dict[str, Any] = {
        "gantry_deg": gantry,
        "couch_deg": tuple(b.couch_deg for b in beams),
        "beam_names": tuple(names) if any(names) else None,
        "range_shifter_wet_mm": tuple(b.range_shifter_wet_mm for b in beams),
    }
    for field in ("technique", "rbe_model", "spot_spacing_mm", "dose_grid_mm", "fine_sampling",
                  "dose_engine", "ripple_filter", "oar_supersampling_mm"):  # fmt: skip
        if getattr(request, field) is not None:
            values[field] = getattr(request, field)
    if request.target_tissue:
        values["target_tissue"] = request.target_tissue
    if request.normal_tissue:
        values["normal_tissue"] = request.normal_tissue
    if request.structure_tissues:
        values["structure_tissues"] = dict(request.structure_tissues)
    return PlanningOptions(**values)


def _gantry_deg(beam: BeamRequest) -> float:
    """A beam's gantry angle: its fixed line's, else its own (the plan file gives one)."""
    from ionbeam.planning.geometry import BeamGeometry

    if beam.line is not None:
        return BeamGeometry.fixed_line(cast(Any, beam.line)).gantry_deg
    return float(cast(float, beam.gantry_deg))


def _objectives(
    request: PlanRequest, patient: Patient, target: str, prescription: Prescription
) -> dict[str, tuple[Objective, ...]] | None:
    """Default objectives, with those of the request replacing the defaults of the
    structures they name (levels converted from totals to per fraction)."""
    if not request.objectives:
        return None
    from ionbeam.planning.optimize.templates import default_objectives

    objectives: dict[str, list[Any]] = {
        name: list(objs)
        for name, objs in default_objectives(
            list(patient.structures), target, prescription.dose_per_fraction_gy
        ).items()
    }
    named = {o.structure for o in request.objectives}
    for name in named:
        patient.structures[name]  # unknown → UnknownNameError listing the names
        objectives[name] = []
    for item in request.objectives:
        objectives[item.structure].append(_objective(item, prescription.fractions, target))
    return {name: tuple(objs) for name, objs in objectives.items() if objs}


def _objective(item: ObjectiveRequest, fractions: int, target: str) -> Objective:
    from ionbeam.planning.optimize.registry import OBJECTIVES

    volume = None if item.volume_percent is None else item.volume_percent / 100.0
    return OBJECTIVES[item.type].make(
        item.total_dose_gy / fractions,
        volume_fraction=volume,
        weight=item.weight,
        on_target=item.structure == target,
    )
