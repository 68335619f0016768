"""``ionbeam plan``: plan a patient and write the plan, its doses, DICOM and a report.

A thin shell around :func:`ionbeam.planning.planner.plan_patient`: the patient
is a built-in phantom or a DICOM folder (CT + RTSTRUCT), the options come from
an optional TOML plan file (see :mod:`ionbeam.io.plan_file`) and the command
line (which wins). Unless ``--no-grid-check``, the optimized plan is recomputed
on a grid of 3/4 of the spacing and its target D95 and maximum doses compared
with the planned ones (:mod:`ionbeam.cli._grid_check`: ``grid_check`` in
``metrics.json``, a line on the terminal, a warning when one does not hold).
The output folder holds ``plan.json``, ``metrics.json``,
``report.html`` and ``dicom/`` (CT and RTSTRUCT for phantoms, RT Ion Plan, RT
Doses: physical, RBE-weighted, LET_d); it is written atomically (a temporary
folder moved into place when complete). Doses are totals over all fractions.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ionbeam.cli._plan_inputs import PHANTOM_DEFAULTS, parse_beams

__all__ = ["PHANTOM_DEFAULTS", "add_patient_arguments", "parse_beams", "register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``plan`` sub-command."""
    parser = subparsers.add_parser(
        "plan",
        help="plan a phantom or a DICOM patient → plan.json, metrics.json, DICOM, report.html",
        description="Place spots, compute the dose influence, optimize the (RBE-weighted) dose "
        "and write plan.json, metrics.json, DICOM (RT Ion Plan, RT Dose) and report.html. "
        "Options on the command line override those of PLAN_FILE.",
    )
    parser.add_argument(
        "plan_file", nargs="?", type=Path, metavar="PLAN_FILE", help="optional TOML plan file"
    )
    add_patient_arguments(parser)
    parser.add_argument("--particle", help="proton or carbon (helium, oxygen)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--beams", metavar="G[:C],...", help="gantry[:couch] angles, degrees")
    parser.add_argument("--dose-gy", type=float, help="dose per fraction, Gy(RBE)")
    parser.add_argument("--fractions", type=int, help="number of fractions")
    parser.add_argument(
        "--technique",
        choices=("impt", "sfud"),
        help="all fields together (impt, default) or each alone (sfud)",
    )
    parser.add_argument("--rbe-model", help="none, constant (protons), mcnamara2015, mkm (ions)")
    parser.add_argument("--spot-spacing", type=float, metavar="MM", help="spot spacing, mm")
    parser.add_argument("--grid", type=float, metavar="MM", help="dose grid spacing, mm (2)")
    parser.add_argument(
        "--energy-stride",
        type=int,
        default=1,
        metavar="N",
        help="use every N-th energy of the machine (quick plans)",
    )
    parser.add_argument("--no-dicom", action="store_true", help="do not write DICOM files")
    parser.add_argument("--no-report", action="store_true", help="do not write report.html")
    parser.add_argument(
        "--no-grid-check",
        action="store_true",
        help="skip recomputing the plan on a finer grid (faster)",
    )
    parser.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.set_defaults(handler=run)


def add_patient_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that say which patient (shared with ``ionbeam dose``)."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--phantom", help="built-in phantom: " + ", ".join(PHANTOM_DEFAULTS))
    which.add_argument("--dicom", type=Path, metavar="DIR", help="folder with a CT and RTSTRUCT")
    parser.add_argument("--target", help="target structure (default: the phantom's / the PTV)")
    parser.add_argument("--ct-spacing", type=float, metavar="MM", help="phantom voxel size, mm")
    parser.add_argument(
        "--calibration", type=Path, metavar="FILE", help="HU → SPR table (two columns HU, SPR)"
    )


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam plan``."""
    import dataclasses

    from ionbeam._atomic import atomic_directory
    from ionbeam.cli._plan_inputs import plan_inputs
    from ionbeam.cli._plan_output import write_plan_folder
    from ionbeam.planning.planner import plan_patient

    inputs = plan_inputs(args)
    check_out(args.out, args.force)
    options = inputs.options
    if args.energy_stride != 1:
        options = dataclasses.replace(options, energy_stride=args.energy_stride)
    result = plan_patient(
        inputs.patient,
        inputs.prescription,
        particle=inputs.particle,
        objectives=inputs.objectives,
        options=options,
        calibration=inputs.calibration,
    )
    result = _with_patient_settings(result, inputs, args)
    check = None
    if not args.no_grid_check:
        from ionbeam.cli._grid_check import run_grid_check

        check = run_grid_check(inputs.patient, result, calibration=inputs.calibration)
    with atomic_directory(args.out, overwrite=args.force) as folder:
        document = write_plan_folder(
            folder,
            patient=inputs.patient,
            result=result,
            source_dicom=inputs.source_dicom,
            dicom=not args.no_dicom,
            report=not args.no_report,
            extra=None if check is None else {"grid_check": check.to_dict()},
        )
    print_summary(
        document,
        result,
        title=f"{inputs.patient.name} · {inputs.particle}",
        out=args.out,
        as_json=args.json,
    )
    if check is not None and not args.json:
        from ionbeam.cli._grid_check import format_grid_check

        unit = "Gy" if result.rbe_dose_gy is None else "Gy(RBE)"
        print("\n".join(format_grid_check(check, unit)))
    return 0


def print_summary(
    document: dict[str, Any], result: Any, *, title: str, out: Path, as_json: bool
) -> None:
    """Print the metrics as a table (or JSON) and where the files are."""
    from ionbeam.cli._output import print_json, print_table

    if as_json:
        print_json(document)
        return
    prescription = result.plan.prescription
    unit = "Gy" if result.rbe_dose_gy is None else "Gy(RBE)"
    rows = [
        (name, m["d95_gy"], m["d5_gy"], m["mean_gy"], m["max_gy"])
        for name, m in document["structures"].items()
    ]
    print_table(
        f"{title} · {prescription.total_dose_gy:g} {unit} in {prescription.fractions} → {out}",
        ("structure", f"D95 {unit}", f"D5 {unit}", f"mean {unit}", f"max {unit}"),
        rows,
    )
    report = out / "report.html"
    if report.exists():
        print(f"report: {report}")


def check_out(out: Path, force: bool) -> None:
    """Refuse a non-empty output folder before the work, not after."""
    from ionbeam.errors import ConfigError

    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not force)):
        raise ConfigError(
            f"output folder {out} exists and is not empty; choose a new folder or pass --force"
        )


def _with_patient_settings(result: Any, inputs: Any, args: argparse.Namespace) -> Any:
    """Record in the plan where its patient comes from (so ``ionbeam dose`` finds it)."""
    import dataclasses

    from ionbeam.patient.phantoms import phantom_parameters

    settings = dict(result.plan.settings)
    if inputs.phantom is not None:
        settings["phantom"] = {
            "name": inputs.phantom,
            "parameters": {
                **phantom_parameters(inputs.phantom),
                **dict(inputs.patient.metadata.get("parameters", {})),
            },
        }
    else:
        settings["dicom"] = {"folder": str(Path(inputs.source_dicom).resolve())}
    if inputs.calibration is not None:
        settings["hu_calibration_file"] = str(Path(inputs.calibration.source).resolve())
    plan = dataclasses.replace(result.plan, settings=settings)
    return dataclasses.replace(result, plan=plan)
