"""The command line of ``ionbeam plan`` applied to its plan file, resolved by the library.

Command-line options override the plan file (:func:`plan_request`); the library's
:func:`ionbeam.workflow.resolve_inputs` then reads the patient and checks every setting
(see :mod:`ionbeam.workflow.requests`). Here: the options' own syntax (``--beams``),
the refusal of bad numbers by their option, and the prescription warnings on stderr.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ionbeam.errors import ConfigError
from ionbeam.workflow.patients import PHANTOM_DEFAULTS, check_phantom_memory
from ionbeam.workflow.requests import PlanInputs, check_prescription

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
    """Resolve a plan request (or the command line of ``ionbeam plan``) with
    :func:`ionbeam.workflow.resolve_inputs`; its prescription warnings go to stderr."""
    from ionbeam.workflow.requests import resolve_inputs

    if isinstance(request, argparse.Namespace):
        request = plan_request(request)
    inputs = resolve_inputs(request)
    for warning in inputs.warnings:
        print(f"ionbeam: warning: {warning}", file=sys.stderr)
    return inputs


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
