"""``ionbeam robust``: a plan's dose in the error scenarios, and robust options of ``plan``.

``ionbeam robust PLAN`` recomputes the dose of a plan folder (or ``plan.json``, or a
DICOM RT Ion Plan with ``--dicom`` for its CT and structures, as ``ionbeam dose``)
in each scenario of a standard set (``--scenarios 9`` or ``21``; ``--range-error`` %
and ``--setup-error`` mm), evaluates it per structure (worst-case D98/D95/max of the
target, D0.03cc/mean of the others, DVH bands) and prints it. A plan folder gets the
result in ``metrics.json`` (key ``robustness``) and a ``robustness.html`` page;
``--out DIR`` writes ``robustness.json`` and ``robustness.html`` there instead. The
scenarios run as tasks on a Dask cluster: a local one with ``--workers`` processes
(default: one per core; ``--workers 0``: here, serially) or the one at ``--scheduler
tcp://HOST:PORT``. ``--strict`` exits with status 3 when a target's D95 falls below
95 % of the prescription in some scenario.

The ``plan`` command's ``--robust MODE`` (minimax, voxelwise, stochastic) optimizes over
the same scenarios and adds the robustness to its outputs.
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from ionbeam.workflow.robustness import evaluate_scenario_doses as evaluate_scenarios
from ionbeam.workflow.robustness import scenario_total_doses, write_robustness

__all__ = [
    "add_cluster_arguments",
    "add_scenario_arguments",
    "check_workers",
    "client_of",
    "evaluate_scenarios",
    "register",
    "robust_options",
    "robustness_of",
    "run",
    "scenario_total_doses",
    "write_robustness",
]


def add_scenario_arguments(parser: argparse.ArgumentParser) -> None:
    """``--scenarios``, ``--range-error``, ``--setup-error``, ``--rbe-error`` (shared with
    ``plan`` and ``dose``)."""
    parser.add_argument("--scenarios", choices=("9", "21"), help="scenario set (default 9)")
    parser.add_argument(
        "--range-error", type=float, metavar="PCT", help="range (SPR) error, %% (default 3.5)"
    )
    parser.add_argument(
        "--setup-error", type=float, metavar="MM", help="set-up error per axis, mm (default 3)"
    )
    parser.add_argument(
        "--rbe-error",
        type=float,
        metavar="PCT",
        help="constant-RBE error, %%: every scenario also with RBE × (1 ± it) (default 0)",
    )


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """``--workers`` and ``--scheduler`` (shared with ``dose --robust``)."""
    parser.add_argument(
        "--workers", type=int, metavar="N", help="local Dask workers (default: cores; 0: serial)"
    )
    parser.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler, tcp://HOST:PORT")


def register(subparsers: Any) -> None:
    """Add the ``robust`` sub-command."""
    from ionbeam.cli._shared_options import add_recompute_arguments, add_strict_argument

    parser = subparsers.add_parser(
        "robust",
        help="evaluate a plan in range and set-up error scenarios (DVH bands, worst cases)",
        description="Recompute a plan's dose in error scenarios (range ± and set-up shifts) "
        "and report the worst-case metrics and DVH bands per structure.",
    )
    add_recompute_arguments(parser)
    add_scenario_arguments(parser)
    add_cluster_arguments(parser)
    parser.add_argument("--out", type=Path, metavar="DIR", help="write the results there")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--no-report", action="store_true", help="no robustness.html")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_strict_argument(parser)
    parser.set_defaults(handler=run)


def robust_options(args: argparse.Namespace, mode: str = "minimax", recorded: Any = None) -> Any:
    """The :class:`~ionbeam.planning.robust.RobustOptions` of the command line (the
    ``recorded`` settings, a dict, fill what it does not say)."""
    from ionbeam.errors import ConfigError
    from ionbeam.planning.robust import RobustOptions

    base = dict(recorded or {})
    values: dict[str, Any] = {
        "mode": base.get("mode", mode),
        "scenario_set": str(base.get("scenario_set", "9")),
        "structures": dict(base.get("structures", {})),
    }
    for key in ("range_error", "setup_error_mm", "sharpness", "rbe_error"):
        if key in base:
            values[key] = base[key]
    if args.scenarios is not None:
        values["scenario_set"] = args.scenarios
    if args.range_error is not None:
        if not 0 <= args.range_error < 50:
            raise ConfigError(f"--range-error is a percentage in [0, 50); got {args.range_error}")
        values["range_error"] = args.range_error / 100.0
    if args.setup_error is not None:
        values["setup_error_mm"] = args.setup_error
    if args.rbe_error is not None:
        if not 0 <= args.rbe_error < 50:
            raise ConfigError(f"--rbe-error is a percentage in [0, 50); got {args.rbe_error}")
        values["rbe_error"] = args.rbe_error / 100.0
    return RobustOptions(**values)


def robustness_of(
    patient: Any,
    plan: Any,
    robust: Any,
    *,
    options: Any,
    machine: Any,
    calibration: Any,
    client: Any = None,
) -> Any:
    """The :class:`~ionbeam.evaluation.robust.RobustEvaluation` of ``plan``'s total dose
    (:mod:`ionbeam.workflow.robustness`)."""
    doses = scenario_total_doses(
        patient, plan, robust, options=options, machine=machine, calibration=calibration,
        client=client,
    )  # fmt: skip
    return evaluate_scenarios(doses, patient, plan, robust, options=options)


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam robust``."""
    from ionbeam._atomic import atomic_directory
    from ionbeam.cli._beam_model import machine_for_plan
    from ionbeam.cli._output import print_json, to_jsonable
    from ionbeam.cli._recompute import recompute_beam_model, recompute_inputs
    from ionbeam.cli._shared_options import check_recompute_out

    check_recompute_out(args)
    check_workers(args)
    plan, patient, options, _, calibration = recompute_inputs(args)
    plan, beam_model = recompute_beam_model(args, plan)
    robust = robust_options(args, recorded=plan.settings.get("robust"))
    with client_of(args) as client:
        evaluation = robustness_of(
            patient,
            plan,
            robust,
            options=options,
            machine=machine_for_plan(beam_model, plan.machine),
            calibration=calibration,
            client=client,
        )
    unit = "Gy" if plan.rbe_model == "none" else "Gy(RBE)"
    title = f"{patient.name} · {plan.particle} · robustness"
    folder = Path(args.plan) if Path(args.plan).is_dir() else Path(args.plan).parent
    is_plan_folder = (folder / "plan.json").exists() and Path(args.plan).suffix.lower() != ".dcm"
    if args.out is not None:
        with atomic_directory(args.out, overwrite=args.force) as out:
            write_robustness(out, evaluation, robust, title=title, unit=unit,
                             report=not args.no_report)  # fmt: skip
    elif is_plan_folder:
        write_robustness(folder, evaluation, robust, title=title, unit=unit,
                         report=not args.no_report)  # fmt: skip
    if args.json:
        print_json(to_jsonable(evaluation.to_dict()))
    else:
        print("\n".join(evaluation.lines()))
    failing = any(evaluation.underdosed_scenarios().values())
    return 3 if args.strict and failing else 0


def check_workers(args: argparse.Namespace) -> None:
    """``--workers`` is a count ≥ 0."""
    from ionbeam.errors import ConfigError

    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers must be ≥ 0 (0: serially here); got {args.workers}")


def client_of(args: argparse.Namespace) -> Any:
    """A context giving the Dask client (None: serially here)."""
    if args.scheduler is None and args.workers == 0:
        return nullcontext(None)
    from ionbeam.planning.robust.cluster import cluster_client

    return cluster_client(args.scheduler, n_workers=args.workers)
