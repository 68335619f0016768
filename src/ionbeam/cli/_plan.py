"""``ionbeam plan``: plan a patient and write the plan, its doses, DICOM and a report.

A thin shell around :func:`ionbeam.workflow.make_plan` and
:func:`ionbeam.workflow.write_plan_folder`: the patient
is a built-in phantom or a DICOM folder (CT + RTSTRUCT), the options come from
an optional TOML plan file (see :mod:`ionbeam.io.plan_file`) and the command
line (which wins). Unless ``--no-grid-check``, the optimized plan is recomputed
on a grid of 3/4 of the spacing and its target D95 and maximum doses compared
with the planned ones (:mod:`ionbeam.workflow.grid_check`: ``grid_check`` in
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
    """Handler of ``ionbeam plan``: the library's :func:`ionbeam.workflow.make_plan` and
    :func:`ionbeam.workflow.write_plan_folder`, with the terminal output."""
    from ionbeam._atomic import atomic_directory
    from ionbeam._progress import stage_printer
    from ionbeam.cli._goals import exit_status
    from ionbeam.cli._plan_inputs import plan_inputs, plan_request
    from ionbeam.workflow import (
        evaluate,
        make_plan,
        robustness_with_doses,
        write_plan_folder,
        write_robustness,
    )

    request = plan_request(args)
    source = request.patient
    check_out(args.out, args.force, inputs=(args.plan_file, source.dicom, source.calibration))
    inputs = plan_inputs(request)
    stage = stage_printer(f"{inputs.particle}: ")
    robust = _robust(args, inputs.request)
    outcome = make_plan(
        inputs,
        energy_stride=None if args.energy_stride == 1 else args.energy_stride,
        robust=robust,
        grid_check=not args.no_grid_check,
        on_stage=stage,
    )
    evaluation = evaluate(outcome)
    robustness = None
    scenario_doses: tuple[Any, ...] = ()
    if robust is not None:
        # here, serially, on the machine it was planned on; the scenario doses are kept
        # for the report's DVH bands only
        robustness, scenario_doses = robustness_with_doses(
            outcome, robust, keep_doses=not args.no_report
        )
        stage("robustness evaluated in the scenarios")
    with atomic_directory(args.out, overwrite=args.force) as folder:
        document = write_plan_folder(
            folder,
            outcome,
            dicom=not args.no_dicom,
            report=not args.no_report,
            evaluation=evaluation,
            scenario_doses_gy=scenario_doses,
        )
        if robustness is not None:
            title = f"{outcome.patient.name} · {outcome.plan.particle} · robustness"
            write_robustness(folder, robustness, robust, title=title, unit=outcome.dose_unit,
                             report=not args.no_report)  # fmt: skip
    stage(f"files written to {args.out}")
    print_summary(
        document,
        outcome.planning,
        title=f"{outcome.patient.name} · {inputs.particle}",
        out=args.out,
        as_json=args.json,
        goals=evaluation.goals,
    )
    if robustness is not None and not args.json:
        print("\n".join(robustness.lines()))
    if outcome.grid_check is not None and not args.json:
        from ionbeam.cli._grid_check import format_grid_check

        print("\n".join(format_grid_check(outcome.grid_check, outcome.dose_unit)))
    return exit_status([evaluation.goals], strict=args.strict)


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
