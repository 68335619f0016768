"""From a plan file and command-line options to what the planning recipe takes.

Command-line options override the plan file; what neither gives takes the
defaults of the phantom (target, beams) and of the particle (schedule, RBE
model). Objectives of the plan file replace the default objectives of the
structures they name (dose levels there are totals; the recipe works per
fraction).

Every setting is honoured or refused: the machine (``--machine``, ``[plan]
machine``) gives the beam directions it can deliver (a fixed-line machine such
as CNAO refuses other gantry angles), the energies and the range shifter; beam
angles must lie in [0, 360); the prescription must be a plausible clinical one
(:func:`check_prescription`); a constant RBE for ions is refused by the planner.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ionbeam.errors import ConfigError, GeometryError, StructureError, UnknownNameError

if TYPE_CHECKING:  # imported in the functions: `ionbeam --help` must not load pydicom
    from ionbeam.io.plan_file import PlanRequest

__all__ = [
    "PHANTOM_DEFAULTS",
    "PlanInputs",
    "check_phantom_memory",
    "check_prescription",
    "parse_beams",
    "plan_inputs",
    "plan_request",
]

#: Per phantom: target structure and default gantry angles (degrees) on a machine with a
#: gantry.
PHANTOM_DEFAULTS: dict[str, tuple[str, tuple[float, ...]]] = {
    "tg119": ("OuterTarget", (0.0, 120.0, 240.0)),
    "head": ("PTV", (90.0, 270.0)),
    "lung": ("PTV", (180.0, 270.0)),
    "water": ("Target", (0.0,)),
}
#: Default beams on a fixed-line machine (CNAO: vertical 0°, horizontal 90°/270°) where
#: the gantry angles above are not all available: (gantry, couch) pairs.
FIXED_LINE_DEFAULTS: dict[str, tuple[tuple[float, float], ...]] = {
    "tg119": ((0.0, 0.0), (90.0, 0.0), (270.0, 0.0)),
    "lung": ((270.0, 0.0), (0.0, 0.0)),
}
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
    """Everything ``plan_patient`` needs, plus where the patient came from."""

    patient: Any
    prescription: Any
    options: Any
    particle: str
    objectives: dict | None
    source_dicom: Path | None
    phantom: str | None
    calibration: Any = None
    machine: Any = None
    ct_series: str | None = None
    beam_model: Any = None  # a commissioning (None: the generic model)
    request: PlanRequest | None = None


def parse_beams(text: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Gantry (and couch) angles from ``"0,120,240"`` or ``"90:0,270:15"``."""
    gantry, couch = [], []
    try:
        for part in text.split(","):
            angles = [float(a) for a in part.split(":")]
            if len(angles) not in (1, 2):
                raise ValueError
            gantry.append(angles[0])
            couch.append(angles[1] if len(angles) == 2 else 0.0)
    except ValueError:
        gantry = []
    if not gantry or not all(math.isfinite(a) for a in (*gantry, *couch)):
        raise ConfigError(
            "--beams takes gantry angles in degrees separated by commas, each optionally "
            f"with a couch angle (e.g. 0,120,240 or 90:0,270:15); got {text!r}"
        )
    from ionbeam.io.plan_file import check_angle

    for angle in (*gantry, *couch):
        check_angle(angle, "--beams")
    return tuple(gantry), tuple(couch)


def plan_request(args: argparse.Namespace) -> PlanRequest:
    """The plan file of ``ionbeam plan`` with its command line applied (no patient read)."""
    from ionbeam.io.plan_file import PlanRequest, load_plan_file

    request = load_plan_file(args.plan_file) if args.plan_file else PlanRequest()
    return _with_command_line(request, args)


def plan_inputs(request: PlanRequest | argparse.Namespace) -> PlanInputs:
    """Resolve a plan request (or the command line of ``ionbeam plan``; see the module
    docstring): read the patient, check the prescription and the beams."""
    from ionbeam.machine import get_machine

    if isinstance(request, argparse.Namespace):
        request = plan_request(request)
    machine = get_machine(request.machine or "cnao")
    particle = _particle(request, machine)
    prescription_values = _prescription_values(request, particle)
    patient, phantom = _patient(request)
    target = _target(request, patient, phantom)
    from ionbeam.planning.plan import Prescription

    prescription = Prescription(target, *prescription_values)
    options = _options(request, phantom, machine)
    objectives = _objectives(request, patient, target, prescription)
    calibration = None
    if request.patient.calibration is not None:
        from ionbeam.patient import load_calibration

        calibration = load_calibration(request.patient.calibration)
    from ionbeam.cli._beam_model import load_beam_model

    beam_model = load_beam_model(request.beam_model, particle)
    return PlanInputs(
        patient,
        prescription,
        options,
        particle,
        objectives,
        request.patient.dicom,
        phantom,
        calibration,
        machine,
        request.patient.ct_series,
        beam_model,
        request,
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


def _with_command_line(request: PlanRequest, args: argparse.Namespace) -> PlanRequest:
    _check_flags(args)
    patient = request.patient
    if args.phantom is not None or args.dicom is not None:
        patient = replace(patient, phantom=args.phantom, dicom=args.dicom)
    patient = replace(
        patient,
        target=args.target or patient.target,
        spacing_mm=args.ct_spacing or patient.spacing_mm,
        calibration=args.calibration or patient.calibration,
        ct_series=args.ct_series or patient.ct_series,
    )
    changes: dict[str, Any] = {"patient": patient}
    for field, value in (
        ("particle", args.particle),
        ("machine", args.machine),
        ("technique", args.technique),
        ("rbe_model", args.rbe_model),
        ("spot_spacing_mm", args.spot_spacing),
        ("dose_grid_mm", args.grid),
        ("fine_sampling", args.fine_sampling),
        ("dose_engine", getattr(args, "dose_engine", None)),
        ("range_shifter_wet_mm", args.range_shifter_wet_mm),
        ("beam_model", getattr(args, "beam_model", None)),
        ("fractions", args.fractions),
        ("ripple_filter", _on_off(getattr(args, "ripple_filter", None))),
    ):
        if value is not None:
            changes[field] = value
    if args.total_dose_gy is not None:
        changes.update(total_dose_gy=args.total_dose_gy, dose_per_fraction_gy=None)
    if args.dose_per_fraction_gy is not None:
        changes.update(total_dose_gy=None, dose_per_fraction_gy=args.dose_per_fraction_gy)
    if args.beams is not None:
        from ionbeam.io.plan_file import BeamRequest

        gantry, couch = parse_beams(args.beams)
        changes["beams"] = tuple(BeamRequest(g, c) for g, c in zip(gantry, couch, strict=True))
    return replace(request, **changes)


def _on_off(value: str | None) -> bool | None:
    return None if value is None else value == "on"


def _check_flags(args: argparse.Namespace) -> None:
    """Bad numbers on the command line, named by their option."""
    if args.dose_gy is not None:
        raise ConfigError(
            "--dose-gy is ambiguous and no longer accepted: use --dose-per-fraction-gy (the "
            "dose of one fraction) or --total-dose-gy (over all fractions), in Gy(RBE)"
        )
    for flag, value in (
        ("--total-dose-gy", args.total_dose_gy),
        ("--dose-per-fraction-gy", args.dose_per_fraction_gy),
        ("--spot-spacing", args.spot_spacing),
        ("--grid", args.grid),
        ("--ct-spacing", args.ct_spacing),
    ):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{flag} must be a positive finite number; got {value}")
    if args.fractions is not None and args.fractions < 1:
        raise ConfigError(f"--fractions must be a positive integer; got {args.fractions}")
    if args.fine_sampling is not None and args.fine_sampling not in (0, *range(2, 10)):
        raise ConfigError(
            f"--fine-sampling must be 0 (off) or 2–9 sub-beams per side; got {args.fine_sampling}"
        )
    shifter = args.range_shifter_wet_mm
    if shifter is not None and not (math.isfinite(shifter) and shifter >= 0):
        raise ConfigError(f"--range-shifter-wet-mm must be ≥ 0 mm (0: none); got {shifter}")


def _patient(request: PlanRequest) -> tuple[Any, str | None]:
    from ionbeam.io.dicom import read_dicom_patient
    from ionbeam.patient.phantoms import make_phantom

    source = request.patient
    if source.phantom is None and source.dicom is None:
        raise ConfigError(
            "say which patient to plan: --phantom NAME (tg119, head, lung, water) or "
            "--dicom FOLDER (CT series + RTSTRUCT), or a [patient] section in the plan file"
        )
    if source.dicom is not None:
        if source.spacing_mm is not None:
            raise ConfigError("--ct-spacing applies to phantoms only, not to a DICOM patient")
        if not Path(source.dicom).is_dir():
            raise ConfigError(f"DICOM folder {source.dicom} does not exist")
        patient = read_dicom_patient(
            source.dicom, target_name=source.target, series_instance_uid=source.ct_series
        )
        return patient, None
    if source.ct_series is not None:
        raise ConfigError("--ct-series applies to a DICOM patient (--dicom) only")
    name = cast(str, source.phantom).strip().lower()  # not None: checked above
    if name not in PHANTOM_DEFAULTS:
        raise UnknownNameError("phantom", source.phantom, PHANTOM_DEFAULTS)
    params = {} if source.spacing_mm is None else {"spacing_mm": source.spacing_mm}
    check_phantom_memory(name, params, option="--ct-spacing")
    return make_phantom(name, **params), name


def check_phantom_memory(name: str, params: dict[str, Any], *, option: str) -> None:
    """Refuse a phantom whose voxels would not fit in the available memory (its extent
    read off a quick 20 mm build)."""
    from ionbeam._memory import PHANTOM_BYTES_PER_VOXEL, check_fits
    from ionbeam.patient.phantoms import make_phantom

    spacing = params.get("spacing_mm")
    if spacing is None or not (math.isfinite(spacing) and spacing > 0):
        return  # the phantom's default, or refused by the phantom itself
    low, high = make_phantom(name, spacing_mm=20.0).grid.extent_mm
    voxels = math.prod(float(h - lo) / float(spacing) for lo, h in zip(low, high, strict=True))
    check_fits(
        voxels * PHANTOM_BYTES_PER_VOXEL,
        what=f"the {name} phantom with {float(spacing):g} mm voxels ({voxels:,.0f} voxels)",
        hint=f"use larger voxels ({option})",
    )


def _particle(request: PlanRequest, machine: Any) -> str:
    from ionbeam.physics.particles import get_particle

    if request.particle is None:
        raise ConfigError("say which particle: --particle proton|carbon (or in [plan])")
    name = get_particle(request.particle).name
    machine.energy_library(name)  # a particle the machine does not deliver → UnknownNameError
    return name


def _target(request: PlanRequest, patient: Any, phantom: str | None) -> str:
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


def _prescription_values(request: PlanRequest, particle: str) -> tuple[float, int]:
    """(total dose Gy(RBE), fractions), checked; warnings are printed on stderr."""
    import sys

    default_dose, default_fractions = _SCHEDULES.get(particle, _ION_SCHEDULE)
    fractions = request.fractions or default_fractions
    if request.total_dose_gy is not None:
        total = request.total_dose_gy
    else:
        per_fraction = request.dose_per_fraction_gy
        total = (default_dose if per_fraction is None else per_fraction) * fractions
    for warning in check_prescription(total, fractions):
        print(f"ionbeam: warning: {warning}", file=sys.stderr)
    return total, fractions


def _beams(request: PlanRequest, phantom: str | None, machine: Any) -> list[Any]:
    """The requested beams, or the phantom's defaults (those the machine can give), with
    the range shifter of the command line (``--range-shifter-wet-mm``) if given."""
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


def _options(request: PlanRequest, phantom: str | None, machine: Any) -> Any:
    from ionbeam.planning.geometry import BeamGeometry
    from ionbeam.planning.planner import PlanningOptions

    beams = _beams(request, phantom, machine)
    gantry = tuple(
        b.gantry_deg if b.line is None else BeamGeometry.fixed_line(b.line).gantry_deg
        for b in beams
    )
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
                  "dose_engine", "ripple_filter"):  # fmt: skip
        if getattr(request, field) is not None:
            values[field] = getattr(request, field)
    if request.target_tissue:
        values["target_tissue"] = request.target_tissue
    if request.normal_tissue:
        values["normal_tissue"] = request.normal_tissue
    if request.structure_tissues:
        values["structure_tissues"] = dict(request.structure_tissues)
    return PlanningOptions(**values)


def _objectives(request: PlanRequest, patient: Any, target: str, prescription: Any) -> dict | None:
    """Default objectives, with those of the plan file replacing the defaults of the
    structures they name (levels converted from totals to per fraction)."""
    if not request.objectives:
        return None
    from ionbeam.planning.optimize.templates import default_objectives

    objectives: dict[str, list] = {
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


def _objective(item: Any, fractions: int, target: str) -> Any:
    from ionbeam.planning.optimize.registry import OBJECTIVES

    volume = None if item.volume_percent is None else item.volume_percent / 100.0
    return OBJECTIVES[item.type].make(
        item.total_dose_gy / fractions,
        volume_fraction=volume,
        weight=item.weight,
        on_target=item.structure == target,
    )
