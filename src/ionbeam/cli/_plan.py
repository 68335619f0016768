"""``ionbeam plan``: plan a built-in phantom and write ``plan.json`` and ``metrics.json``.

A thin shell around :func:`ionbeam.planning.planner.plan_patient`: it builds the
phantom, picks the defaults of that phantom (target, beams), plans, evaluates the
dose with :func:`ionbeam.evaluation.dose_metrics` and writes the output folder
atomically (a temporary folder beside it, moved into place when complete).
Doses in ``metrics.json`` and the table are totals over all fractions
(fractions × the dose per fraction), RBE-weighted where an RBE model applies.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["PHANTOM_DEFAULTS", "register", "run"]

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


def register(subparsers: Any) -> None:
    """Add the ``plan`` sub-command."""
    parser = subparsers.add_parser(
        "plan",
        help="plan a built-in phantom (spots, dose, RBE optimization) → plan.json, metrics.json",
        description="Place spots, compute the dose influence, optimize the (RBE-weighted) dose "
        "of a built-in phantom and write plan.json and metrics.json.",
    )
    parser.add_argument("--phantom", required=True, help="tg119, head, lung or water")
    parser.add_argument("--particle", required=True, help="proton or carbon (helium, oxygen)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--beams", metavar="G,G,...", help="gantry angles, degrees")
    parser.add_argument("--dose-gy", type=float, help="dose per fraction, Gy(RBE)")
    parser.add_argument("--fractions", type=int, help="number of fractions")
    parser.add_argument(
        "--technique",
        choices=("impt", "sfud"),
        default="impt",
        help="all fields together (impt) or each alone (sfud)",
    )
    parser.add_argument("--rbe-model", help="none, constant (protons), mcnamara2015, mkm (ions)")
    parser.add_argument("--spot-spacing", type=float, metavar="MM", help="spot spacing, mm")
    parser.add_argument(
        "--grid", type=float, default=3.0, metavar="MM", help="dose grid spacing, mm (default 3)"
    )
    parser.add_argument("--ct-spacing", type=float, metavar="MM", help="phantom voxel size, mm")
    parser.add_argument(
        "--energy-stride",
        type=int,
        default=1,
        metavar="N",
        help="use every N-th energy of the machine (quick plans)",
    )
    parser.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.set_defaults(handler=run)


def parse_beams(text: str) -> tuple[float, ...]:
    """Gantry angles from ``"0,120,240"``; ``ConfigError`` for anything else."""
    from ionbeam.errors import ConfigError

    try:
        angles = tuple(float(part) for part in text.split(","))
    except ValueError:
        angles = ()
    if not angles or not all(math.isfinite(a) for a in angles):
        raise ConfigError(
            f"--beams takes gantry angles in degrees separated by commas (e.g. 0,120,240); "
            f"got {text!r}"
        )
    return angles


def _inputs(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    """The phantom, prescription, planning options and particle of the command line."""
    from ionbeam.errors import ConfigError, UnknownNameError
    from ionbeam.patient.phantoms import make_phantom
    from ionbeam.physics.particles import get_particle
    from ionbeam.planning.plan import Prescription
    from ionbeam.planning.planner import PlanningOptions

    name = str(args.phantom).strip().lower()
    if name not in PHANTOM_DEFAULTS:
        raise UnknownNameError("phantom", args.phantom, PHANTOM_DEFAULTS)
    particle = get_particle(args.particle).name
    target, default_beams = PHANTOM_DEFAULTS[name]
    beams = default_beams if args.beams is None else parse_beams(args.beams)
    dose, fractions = _SCHEDULES.get(particle, _ION_SCHEDULE)
    dose = dose if args.dose_gy is None else args.dose_gy
    fractions = fractions if args.fractions is None else args.fractions
    if not (math.isfinite(dose) and dose > 0):
        raise ConfigError(f"--dose-gy must be a positive number of Gy(RBE); got {dose}")
    if fractions < 1:
        raise ConfigError(f"--fractions must be a positive integer; got {fractions}")
    params = {} if args.ct_spacing is None else {"spacing_mm": args.ct_spacing}
    patient = make_phantom(name, **params)
    prescription = Prescription(target, dose * fractions, fractions)
    options = PlanningOptions(
        gantry_deg=beams,
        technique=args.technique,
        rbe_model=args.rbe_model,
        spot_spacing_mm=args.spot_spacing,
        dose_grid_mm=args.grid,
        energy_stride=args.energy_stride,
    )
    return patient, prescription, options, particle


def metrics_document(result: Any) -> dict[str, Any]:
    """``metrics.json``: totals over all fractions, per structure."""
    from ionbeam.evaluation import dose_metrics

    prescription = result.plan.prescription
    fractions = prescription.fractions
    metrics = dose_metrics(
        result.evaluated_dose_gy * fractions,
        result.grid,
        dict(result.masks),
        prescription_gy=prescription.total_dose_gy,
        targets=(prescription.target,),
    )
    document = metrics.to_dict()
    document.update(
        {
            "target": prescription.target,
            "fractions": fractions,
            "dose_per_fraction_gy": prescription.dose_per_fraction_gy,
            "dose": "physical" if result.rbe_dose_gy is None else "rbe_weighted",
            "rbe_model": result.plan.rbe_model,
            "particle": result.plan.particle,
            "spots": result.plan.n_spots,
            "optimization": [
                {
                    "iterations": r.nit,
                    "evaluations": r.n_evaluations,
                    "objective": r.fun,
                    "time_s": r.time_s,
                    "success": r.success,
                    "message": r.message,
                }
                for r in result.optimization
            ],
            "timings_s": dict(result.timings_s),
        }
    )
    return document


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam plan``."""
    # numba's OpenMP threads spin between the optimizer's short parallel products; on a
    # machine shared with other work that made the optimization 3× slower than waiting
    # passively (measured in bench/_tg119_optimize.py). Read when numba first runs in
    # parallel, i.e. later in this process; a user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    from ionbeam.cli._output import print_json, print_table, to_jsonable
    from ionbeam.io.dicom._files import atomic_directory
    from ionbeam.io.plan_json import write_plan_json
    from ionbeam.patient.phantoms import phantom_parameters
    from ionbeam.planning.planner import plan_patient

    patient, prescription, options, particle = _inputs(args)
    _check_out(args.out, args.force)
    result = plan_patient(patient, prescription, particle=particle, options=options)
    settings = dict(result.plan.settings)
    settings["phantom"] = {
        "name": patient.metadata.get("phantom", args.phantom),
        "parameters": {
            **phantom_parameters(args.phantom),
            **dict(patient.metadata.get("parameters", {})),
        },
    }
    plan = _with_settings(result.plan, settings)
    document = metrics_document(result)
    with atomic_directory(args.out, overwrite=args.force) as folder:
        write_plan_json(plan, folder / "plan.json")
        text = json.dumps(to_jsonable(document), indent=2, allow_nan=False)
        (folder / "metrics.json").write_text(text, encoding="utf-8")
    if args.json:
        print_json(document)
        return 0
    unit = "Gy" if result.rbe_dose_gy is None else "Gy(RBE)"
    rows = [
        (name, m["d95_gy"], m["d5_gy"], m["mean_gy"], m["max_gy"])
        for name, m in document["structures"].items()
    ]
    print_table(
        f"{args.phantom} · {particle} · {prescription.total_dose_gy:g} {unit} in "
        f"{prescription.fractions} → {args.out}",
        ("structure", f"D95 {unit}", f"D5 {unit}", f"mean {unit}", f"max {unit}"),
        rows,
    )
    return 0


def _check_out(out: Path, force: bool) -> None:
    """Refuse a non-empty output folder before hours of work, not after."""
    from ionbeam.errors import ConfigError

    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not force)):
        raise ConfigError(
            f"output folder {out} exists and is not empty; choose a new folder or pass --force"
        )


def _with_settings(plan: Any, settings: dict[str, Any]) -> Any:
    import dataclasses

    return dataclasses.replace(plan, settings=settings)
