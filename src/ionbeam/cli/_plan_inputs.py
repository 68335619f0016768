"""From a plan file and command-line options to what the planning recipe takes.

Command-line options override the plan file; what neither gives takes the
defaults of the phantom (target, beams) and of the particle (schedule, RBE
model). Objectives of the plan file replace the default objectives of the
structures they name (dose levels there are totals; the recipe works per
fraction).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ionbeam.errors import ConfigError, GeometryError, StructureError, UnknownNameError
from ionbeam.io.plan_file import PlanRequest, load_plan_file

__all__ = ["PHANTOM_DEFAULTS", "PlanInputs", "parse_beams", "plan_inputs"]

#: Per phantom: target structure and default gantry angles (degrees).
PHANTOM_DEFAULTS: dict[str, tuple[str, tuple[float, ...]]] = {
    "tg119": ("OuterTarget", (0.0, 120.0, 240.0)),
    "head": ("PTV", (90.0, 270.0)),
    "lung": ("PTV", (180.0, 270.0)),
    "water": ("Target", (0.0,)),
}
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
    return tuple(gantry), tuple(couch)


def plan_inputs(args: argparse.Namespace) -> PlanInputs:
    """Resolve the plan file and command line of ``ionbeam plan`` (see module docstring)."""
    request = load_plan_file(args.plan_file) if args.plan_file else PlanRequest()
    request = _with_command_line(request, args)
    patient, phantom = _patient(request)
    particle = _particle(request)
    target = _target(request, patient, phantom)
    prescription = _prescription(request, target, particle)
    options = _options(request, phantom)
    objectives = _objectives(request, patient, target, prescription)
    calibration = None
    if request.patient.calibration is not None:
        from ionbeam.patient import load_calibration

        calibration = load_calibration(request.patient.calibration)
    return PlanInputs(
        patient,
        prescription,
        options,
        particle,
        objectives,
        request.patient.dicom,
        phantom,
        calibration,
    )


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
    )
    changes: dict[str, Any] = {"patient": patient}
    for field, value in (
        ("particle", args.particle),
        ("technique", args.technique),
        ("rbe_model", args.rbe_model),
        ("spot_spacing_mm", args.spot_spacing),
        ("dose_grid_mm", args.grid),
        ("dose_per_fraction_gy", args.dose_gy),
        ("fractions", args.fractions),
        ("ripple_filter", _on_off(getattr(args, "ripple_filter", None))),
    ):
        if value is not None:
            changes[field] = value
    if args.dose_gy is not None:
        changes["total_dose_gy"] = None
    if args.beams is not None:
        from ionbeam.io.plan_file import BeamRequest

        gantry, couch = parse_beams(args.beams)
        changes["beams"] = tuple(BeamRequest(g, c) for g, c in zip(gantry, couch, strict=True))
    return replace(request, **changes)


def _on_off(value: str | None) -> bool | None:
    return None if value is None else value == "on"


def _check_flags(args: argparse.Namespace) -> None:
    """Bad numbers on the command line, named by their option."""
    for flag, value in (
        ("--dose-gy", args.dose_gy),
        ("--spot-spacing", args.spot_spacing),
        ("--grid", args.grid),
        ("--ct-spacing", args.ct_spacing),
    ):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{flag} must be a positive finite number; got {value}")
    if args.fractions is not None and args.fractions < 1:
        raise ConfigError(f"--fractions must be a positive integer; got {args.fractions}")


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
        return read_dicom_patient(source.dicom, target_name=source.target), None
    name = source.phantom.strip().lower()
    if name not in PHANTOM_DEFAULTS:
        raise UnknownNameError("phantom", source.phantom, PHANTOM_DEFAULTS)
    params = {} if source.spacing_mm is None else {"spacing_mm": source.spacing_mm}
    return make_phantom(name, **params), name


def _particle(request: PlanRequest) -> str:
    from ionbeam.physics.particles import get_particle

    if request.particle is None:
        raise ConfigError("say which particle: --particle proton|carbon (or in [plan])")
    return get_particle(request.particle).name


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


def _prescription(request: PlanRequest, target: str, particle: str) -> Any:
    from ionbeam.planning.plan import Prescription

    default_dose, default_fractions = _SCHEDULES.get(particle, _ION_SCHEDULE)
    fractions = request.fractions or default_fractions
    if request.total_dose_gy is not None:
        total = request.total_dose_gy
    else:
        per_fraction = request.dose_per_fraction_gy
        total = (default_dose if per_fraction is None else per_fraction) * fractions
    return Prescription(target, total, fractions)


def _options(request: PlanRequest, phantom: str | None) -> Any:
    from ionbeam.planning.geometry import BeamGeometry
    from ionbeam.planning.planner import PlanningOptions

    if request.beams:
        if any(b.range_shifter_wet_mm for b in request.beams):
            raise ConfigError(
                "range shifters are chosen by the planner; remove "
                "range_shifter_wet_mm from the beams"
            )
        gantry = tuple(
            b.gantry_deg if b.line is None else BeamGeometry.fixed_line(b.line).gantry_deg
            for b in request.beams
        )
        couch = tuple(b.couch_deg for b in request.beams)
    else:
        gantry = PHANTOM_DEFAULTS[phantom][1] if phantom else _DEFAULT_BEAMS
        couch = None
    values: dict[str, Any] = {"gantry_deg": gantry, "couch_deg": couch}
    for field in ("technique", "rbe_model", "spot_spacing_mm", "dose_grid_mm", "ripple_filter"):
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
    from ionbeam.planning.optimize import (
        MaxDVH,
        MeanDose,
        MinDVH,
        SquaredDeviation,
        SquaredOverdose,
        SquaredUnderdose,
    )

    level = item.dose_gy / fractions
    volume = None if item.volume_percent is None else item.volume_percent / 100.0
    kind = item.type
    default_weight = 1000.0 if item.structure == target else 300.0
    if kind == "max_dose":
        default_weight = 3000.0
    weight = item.weight if item.weight is not None else default_weight
    if kind == "squared_deviation":
        return SquaredDeviation(level, weight=weight)
    if kind in ("max_dose", "squared_overdose"):
        return SquaredOverdose(level, weight=weight)
    if kind in ("min_dose", "squared_underdose"):
        return SquaredUnderdose(level, weight=weight)
    if kind == "mean_dose":
        return MeanDose(level, weight=weight)
    if kind == "min_dvh":
        return MinDVH(level, volume, weight=weight)
    return MaxDVH(level, volume, weight=weight)
