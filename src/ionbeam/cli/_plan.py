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
The clinical goals (:mod:`ionbeam.cli._goals`) are printed and written to
``metrics.json`` and the report; ``--strict`` exits with status 3 when one fails.
An output folder that is, contains or lies inside an input is refused before
any work (see :func:`ionbeam._atomic.check_output_folder`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ionbeam.cli._beam_model import add_beam_model_argument
from ionbeam.cli._plan_inputs import PHANTOM_DEFAULTS, parse_beams
from ionbeam.cli._shared_options import add_patient_arguments, add_strict_argument, check_out

__all__ = [
    "PHANTOM_DEFAULTS",
    "add_patient_arguments",
    "add_prescription_arguments",
    "check_out",
    "parse_beams",
    "register",
    "run",
]


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
    parser.add_argument("--machine", help="cnao (fixed lines, default) or pimms (gantry)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--beams", metavar="G[:C],...", help="gantry[:couch] angles in [0, 360), degrees"
    )
    add_prescription_arguments(parser)
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
        "--fine-sampling",
        type=int,
        metavar="N",
        help="split each spot into N x N sub-beams (2-9; 0: off, the default)",
    )
    parser.add_argument(
        "--dose-engine",
        metavar="NAME",
        help="pencil_beam, or fine_sampling (3 x 3 sub-beams unless --fine-sampling says); "
        "default: from --fine-sampling",
    )
    parser.add_argument(
        "--range-shifter-wet-mm",
        type=float,
        metavar="MM",
        help="range shifter of every beam, mm WET (0: none; default: the machine's, "
        "inserted where the target is shallower than the lowest energy reaches)",
    )
    parser.add_argument(
        "--ripple-filter",
        choices=("on", "off"),
        help="use the beam line's ripple filter (default: on for carbon, off for protons)",
    )
    parser.add_argument(
        "--energy-stride",
        type=int,
        default=1,
        metavar="N",
        help="use every N-th energy of the machine (quick plans)",
    )
    add_beam_model_argument(parser)
    _add_robust_arguments(parser)
    parser.add_argument("--no-dicom", action="store_true", help="do not write DICOM files")
    parser.add_argument("--no-report", action="store_true", help="do not write report.html")
    parser.add_argument(
        "--no-grid-check",
        action="store_true",
        help="skip recomputing the plan on a finer grid (faster)",
    )
    parser.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_strict_argument(parser)
    parser.set_defaults(handler=run)


def add_prescription_arguments(parser: argparse.ArgumentParser) -> None:
    """``--total-dose-gy`` / ``--dose-per-fraction-gy`` (the old ``--dose-gy`` is refused)."""
    dose = parser.add_mutually_exclusive_group()
    dose.add_argument(
        "--total-dose-gy", type=float, metavar="GY", help="prescribed total dose, Gy(RBE)"
    )
    dose.add_argument(
        "--dose-per-fraction-gy", type=float, metavar="GY", help="dose per fraction, Gy(RBE)"
    )
    dose.add_argument("--dose-gy", type=float, help=argparse.SUPPRESS)  # refused: ambiguous


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam plan``."""
    import dataclasses

    from ionbeam._atomic import atomic_directory
    from ionbeam._progress import stage_printer
    from ionbeam.cli._beam_model import machine_for_plan
    from ionbeam.cli._goals import exit_status, goal_report, plan_goals, with_recorded_goals
    from ionbeam.cli._plan_inputs import plan_inputs, plan_request
    from ionbeam.cli._plan_output import write_plan_folder
    from ionbeam.planning.planner import plan_patient

    request = plan_request(args)
    source = request.patient
    check_out(args.out, args.force, inputs=(args.plan_file, source.dicom, source.calibration))
    inputs = plan_inputs(request)
    options = inputs.options
    if args.energy_stride != 1:
        options = dataclasses.replace(options, energy_stride=args.energy_stride)
    stage = stage_printer(f"{inputs.particle}: ")
    robust = _robust(args, inputs.request)
    machine = machine_for_plan(inputs.beam_model, inputs.machine)
    result = plan_patient(
        inputs.patient,
        inputs.prescription,
        particle=inputs.particle,
        objectives=inputs.objectives,
        options=options,
        machine=machine,
        calibration=inputs.calibration,
        on_stage=stage,
        robust=robust,
    )
    result = _with_patient_settings(result, inputs, args)
    goals = plan_goals(result, inputs.request)
    result = with_recorded_goals(result, goals)
    report = goal_report(result, goals)
    check = None
    if not args.no_grid_check:
        from ionbeam.cli._grid_check import run_grid_check

        check = run_grid_check(
            inputs.patient,
            result,
            calibration=inputs.calibration,
            machine=machine,
        )
    scenario_doses: list = []
    if robust is not None:
        robustness, scenario_doses = _robustness(inputs, result, robust, options, args)
        stage("robustness evaluated in the scenarios")
    with atomic_directory(args.out, overwrite=args.force) as folder:
        document = write_plan_folder(
            folder,
            patient=inputs.patient,
            result=result,
            source_dicom=inputs.source_dicom,
            dicom=not args.no_dicom,
            report=not args.no_report,
            goals=report,
            extra=None if check is None else {"grid_check": check.to_dict()},
            scenario_doses_gy=scenario_doses,
        )
        if robust is not None:
            _write_robustness(folder, inputs, result, robust, robustness, args)
    stage(f"files written to {args.out}")
    print_summary(
        document,
        result,
        title=f"{inputs.patient.name} · {inputs.particle}",
        out=args.out,
        as_json=args.json,
        goals=report,
    )
    if robust is not None and not args.json:
        print("\n".join(robustness.lines()))
    if check is not None and not args.json:
        from ionbeam.cli._grid_check import format_grid_check

        unit = "Gy" if result.rbe_dose_gy is None else "Gy(RBE)"
        print("\n".join(format_grid_check(check, unit)))
    return exit_status([report], strict=args.strict)


def _add_robust_arguments(parser: argparse.ArgumentParser) -> None:
    """``--robust MODE`` and the scenario options (:mod:`ionbeam.cli._robust`)."""
    from ionbeam.cli._robust import add_scenario_arguments

    parser.add_argument(
        "--robust",
        choices=("minimax", "voxelwise", "stochastic"),
        help="optimize over range/set-up error scenarios: composite worst case, voxel-wise "
        "worst case or expected value (plan file: [robust])",
    )
    add_scenario_arguments(parser)


def _robust(args: argparse.Namespace, request: Any) -> Any:
    """The robust options of the plan file's [robust] and the command line (None: nominal)."""
    from ionbeam.cli._robust import robust_options
    from ionbeam.errors import ConfigError

    recorded = None if request is None else request.robust
    scenario_flags = (args.scenarios, args.range_error, args.setup_error, args.rbe_error)
    if args.robust is None and recorded is None:
        if any(v is not None for v in scenario_flags):
            raise ConfigError(
                "--scenarios, --range-error, --setup-error and --rbe-error need --robust MODE"
            )
        return None
    return robust_options(args, mode=args.robust or "minimax", recorded=_mode(recorded, args))


def _mode(recorded: Any, args: argparse.Namespace) -> Any:
    """The plan file's robust settings with --robust's mode winning."""
    if recorded is None or args.robust is None:
        return recorded
    return {**recorded, "mode": args.robust}


def _robustness(
    inputs: Any, result: Any, robust: Any, options: Any, args: argparse.Namespace
) -> tuple[Any, list]:
    """The plan's robust evaluation in its scenarios (here, serially) and, for the
    report's DVH bands, the scenario doses (none without a report)."""
    from ionbeam.cli._beam_model import machine_for_plan
    from ionbeam.cli._robust import evaluate_scenarios, scenario_total_doses

    doses = scenario_total_doses(
        inputs.patient,
        result.plan,
        robust,
        options=options,
        machine=machine_for_plan(inputs.beam_model),
        calibration=inputs.calibration,
    )
    kept = [] if args.no_report else list(doses)
    evaluation = evaluate_scenarios(
        kept if kept else doses, inputs.patient, result.plan, robust, options=options
    )
    return evaluation, kept


def _write_robustness(
    folder: Path,
    inputs: Any,
    result: Any,
    robust: Any,
    evaluation: Any,
    args: argparse.Namespace,
) -> None:
    """Add the robust evaluation to the plan folder (metrics.json, robustness.html)."""
    from ionbeam.cli._robust import write_robustness

    unit = "Gy" if result.rbe_dose_gy is None else "Gy(RBE)"
    title = f"{inputs.patient.name} · {inputs.particle} · robustness"
    write_robustness(folder, evaluation, robust, title=title, unit=unit,
                     report=not args.no_report)  # fmt: skip


def print_summary(
    document: dict[str, Any],
    result: Any,
    *,
    title: str,
    out: Path,
    as_json: bool,
    goals: Any = None,
) -> None:
    """Print the metrics as a table (or JSON), the clinical goals and where the files are."""
    from ionbeam.cli._goals import print_goals
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
    if goals is not None:
        print_goals(goals)
    report = out / "report.html"
    if report.exists():
        print(f"report: {report}")


def _with_patient_settings(result: Any, inputs: Any, args: argparse.Namespace) -> Any:
    """Record in the plan where its patient comes from (so ``ionbeam dose`` finds it)."""
    import dataclasses

    from ionbeam.cli._beam_model import with_beam_model_record
    from ionbeam.patient.phantoms import phantom_parameters

    settings = with_beam_model_record(result.plan.settings, inputs.beam_model)
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
        if inputs.ct_series is not None:
            settings["dicom"]["ct_series"] = inputs.ct_series
    if inputs.calibration is not None:
        settings["hu_calibration_file"] = str(Path(inputs.calibration.source).resolve())
    plan = dataclasses.replace(result.plan, settings=settings)
    return dataclasses.replace(result, plan=plan)
