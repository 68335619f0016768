"""Inputs of a dose recomputation (``ionbeam dose`` and ``ionbeam robust``): the plan
(a plan folder's, with ``--machine``/``--rbe-model`` applied, or a DICOM RT Ion Plan with
``--particles-per-mu``), its patient, planning options, HU calibration and beam model.

Apart from the sub-command modules so that they share it without importing each other.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

__all__ = ["recompute_beam_model", "recompute_inputs"]


def recompute_inputs(args: argparse.Namespace) -> tuple[Any, Any, Any, Path | None, Any]:
    """(plan, patient, planning options, DICOM source folder, HU calibration)."""
    from ionbeam.patient import load_calibration
    from ionbeam.planning.planner import PlanningOptions, planning_options_from_settings

    path = Path(args.plan)
    if path.is_file() and path.suffix.lower() != ".json":
        plan = _rt_ion_plan(path, args)
        options = PlanningOptions()
    else:
        from ionbeam.io.plan_json import read_plan_json

        plan = saved_plan_with_options(read_plan_json(path), args)
        options = planning_options_from_settings(plan.settings)
    if args.grid is not None:
        options = dataclasses.replace(options, dose_grid_mm=args.grid)
    calibration_file = args.calibration or plan.settings.get("hu_calibration_file")
    calibration = None if calibration_file is None else load_calibration(calibration_file)
    patient, source = _patient(args, plan)
    if args.target is not None:
        prescription = dataclasses.replace(plan.prescription, target=args.target)
        plan = dataclasses.replace(plan, prescription=prescription)
    return plan, patient, options, source, calibration


def recompute_beam_model(args: argparse.Namespace, plan: Any) -> tuple[Any, Any]:
    """The plan (its record updated) and the commissioning to recompute with: --beam-model,
    else the plan's recorded file (checked unchanged), else None (the generic model)."""
    from ionbeam.cli._beam_model import (
        load_beam_model,
        recorded_beam_model,
        with_beam_model_record,
    )

    if args.beam_model is not None:
        beam_model = load_beam_model(args.beam_model, plan.particle)
    else:
        beam_model = recorded_beam_model(plan.settings, plan.particle)
    settings = with_beam_model_record(plan.settings, beam_model)
    return dataclasses.replace(plan, settings=settings), beam_model


def saved_plan_with_options(plan: Any, args: argparse.Namespace) -> Any:
    """A plan folder's plan with --machine and --rbe-model applied."""
    from ionbeam.errors import ConfigError
    from ionbeam.machine import get_machine
    from ionbeam.planning.planner import resolve_rbe_model

    if args.particles_per_mu is not None:
        raise ConfigError(
            "--particles-per-mu applies to a DICOM RT Ion Plan in MU; a plan folder's "
            "weights are particles already"
        )
    if args.machine is not None:
        plan = dataclasses.replace(plan, machine=get_machine(args.machine).name)
    if args.rbe_model is not None:
        plan = dataclasses.replace(plan, rbe_model=resolve_rbe_model(plan.particle, args.rbe_model))
    return plan


def _rt_ion_plan(path: Path, args: argparse.Namespace) -> Any:
    from ionbeam.io.dicom import read_rt_ion_plan
    from ionbeam.planning.planner import resolve_rbe_model

    plan = read_rt_ion_plan(path, particles_per_mu=_particles_per_mu(args.particles_per_mu))
    machine = args.machine or "cnao"
    rbe_model = resolve_rbe_model(plan.particle, args.rbe_model)
    return dataclasses.replace(plan, machine=machine, rbe_model=rbe_model)


def _particles_per_mu(text: str | None) -> Any:
    """``--particles-per-mu``: a positive number, or a two-column file (MeV/u, particles
    per MU) interpolated linearly in energy (constant beyond its ends)."""
    import math

    import numpy as np

    from ionbeam.errors import ConfigError

    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is not None:
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"--particles-per-mu must be a positive number; got {text}")
        return lambda energy: np.full(np.shape(energy), value)
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


def _patient(args: argparse.Namespace, plan: Any) -> tuple[Any, Path | None]:
    from ionbeam.errors import ConfigError
    from ionbeam.io.dicom import read_dicom_patient
    from ionbeam.patient.phantoms import make_phantom

    settings = plan.settings
    if args.dicom is not None or (args.phantom is None and "dicom" in settings):
        folder = Path(args.dicom or settings["dicom"]["folder"])
        if args.ct_spacing is not None:
            raise ConfigError("--ct-spacing applies to phantoms only, not to a DICOM patient")
        if not folder.is_dir():
            raise ConfigError(f"DICOM folder {folder} does not exist; pass --dicom FOLDER")
        series = args.ct_series or settings.get("dicom", {}).get("ct_series")
        patient = read_dicom_patient(folder, target_name=args.target, series_instance_uid=series)
        return patient, folder
    if args.ct_series is not None:
        raise ConfigError("--ct-series applies to a DICOM patient (--dicom) only")
    if args.phantom is not None:
        from ionbeam.cli._plan_inputs import check_phantom_memory

        params = {} if args.ct_spacing is None else {"spacing_mm": args.ct_spacing}
        check_phantom_memory(args.phantom, params, option="--ct-spacing")
        return make_phantom(args.phantom, **params), None
    if "phantom" in settings:
        recorded = settings["phantom"]
        return make_phantom(recorded["name"], **dict(recorded.get("parameters", {}))), None
    raise ConfigError(
        "the plan does not say which patient it was made on; pass --dicom FOLDER "
        "(CT + RTSTRUCT) or --phantom NAME"
    )
