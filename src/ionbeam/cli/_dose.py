"""``ionbeam dose``: recompute and evaluate the dose of a saved plan or of an RT Ion Plan.

``PLAN`` is a plan folder (or its ``plan.json``) written by ``ionbeam plan`` —
its patient (phantom or DICOM folder), dose grid, RBE model and tissues come
from the plan's settings — or a DICOM RT Ion Plan file (from ionbeam or from
another planning system), for which ``--dicom`` names the CT and RTSTRUCT it
was made on. The doses are recomputed with the plan's spot weights, evaluated,
printed (and compared with the plan folder's ``metrics.json`` when there is
one), and with ``--out`` written as a plan folder (metrics, DICOM, report).

A clinical RT Ion Plan whose spot weights are in MU needs the machine's
calibration, ``--particles-per-mu`` (a number, or a two-column file of energy
in MeV/u and particles per MU, interpolated linearly); a folder with several CT
series needs ``--ct-series UID``.

The clinical goals recorded in the plan (or the defaults) are checked on the recomputed
dose; ``--strict`` exits with status 3 when one fails.

``--robust`` also recomputes the dose in the error scenarios, as ``ionbeam robust``
does and with its options (``--scenarios``, ``--range-error``, ``--setup-error``,
``--rbe-error``, ``--workers``, ``--scheduler``; default: what the plan was optimized with, else 9 /
3.5 % / 3 mm), with :func:`ionbeam.workflow.robustness_with_doses`: the worst-case table
is printed and, with ``--out``, added to ``metrics.json`` (key ``robustness``), drawn as
DVH bands in ``report.html`` and written as ``robustness.html``; with ``--strict`` a
target whose D95 falls below 95 % of the prescription in some scenario also exits with
status 3.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ionbeam.cli._plan import print_summary
from ionbeam.cli._shared_options import (
    add_recompute_arguments,
    add_strict_argument,
    check_recompute_out,
)

__all__ = ["register", "run"]

_COMPARED = ("d95_gy", "d5_gy", "mean_gy", "max_gy")


def register(subparsers: Any) -> None:
    """Add the ``dose`` sub-command."""
    parser = subparsers.add_parser(
        "dose",
        help="recompute and evaluate the dose of a plan folder or a DICOM RT Ion Plan",
        description="Recompute the dose of a saved plan (plan folder or plan.json) or of a "
        "DICOM RT Ion Plan (with --dicom for its CT and structures) and evaluate it.",
    )
    add_recompute_arguments(parser)
    parser.add_argument("--out", type=Path, metavar="DIR", help="write a plan folder there")
    parser.add_argument("--no-dicom", action="store_true", help="with --out: no DICOM files")
    parser.add_argument("--no-report", action="store_true", help="with --out: no report.html")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_strict_argument(parser)
    _add_robust_arguments(parser)
    parser.set_defaults(handler=run)


def _add_robust_arguments(parser: argparse.ArgumentParser) -> None:
    from ionbeam.cli._robust import add_cluster_arguments, add_scenario_arguments

    parser.add_argument(
        "--robust",
        action="store_true",
        help="also evaluate the plan in range/set-up error scenarios (as `ionbeam robust`; "
        "DVH bands in the report)",
    )
    add_scenario_arguments(parser)
    add_cluster_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam dose``: the library's :func:`ionbeam.workflow.recompute_dose`
    (and :func:`~ionbeam.workflow.write_plan_folder` with ``--out``)."""
    from ionbeam._atomic import atomic_directory
    from ionbeam._progress import stage_printer
    from ionbeam.cli._goals import exit_status
    from ionbeam.cli._recompute import recompute_options
    from ionbeam.workflow import (
        evaluate,
        metrics_document,
        recompute_dose,
        recompute_inputs,
        write_plan_folder,
        write_robustness,
    )

    _check_flags(args)
    check_recompute_out(args)
    options = recompute_options(args)
    inputs = recompute_inputs(args.plan, options)
    stage = stage_printer(f"{inputs.plan.particle}: ")
    outcome = recompute_dose(inputs, options=options, on_stage=stage)
    evaluation = evaluate(outcome)
    robust, robustness, scenario_doses = _robustness(args, outcome)
    if args.out is not None:
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
                write_robustness(folder, robustness, robust, title=title,
                                 unit=outcome.dose_unit, report=not args.no_report)  # fmt: skip
    else:
        document = metrics_document(outcome, evaluation)
    plan, patient, result = outcome.plan, outcome.patient, outcome.planning
    report = evaluation.goals
    previous = _previous_metrics(args.plan)
    if previous is not None:
        document["recomputed_vs_saved"] = _differences(document, previous)
    print_summary(
        document,
        result,
        title=f"{patient.name} · {plan.particle} (recomputed)",
        out=args.out or args.plan,
        as_json=args.json,
        goals=report,
    )
    if previous is not None and not args.json:
        worst = max(
            (abs(d) for s in document["recomputed_vs_saved"].values() for d in s.values()),
            default=0.0,
        )
        print(f"largest difference from the saved metrics: {worst:.3g} Gy")
    if robustness is not None and not args.json:
        print("\n".join(robustness.lines()))
    status = exit_status([report], strict=args.strict)
    if status == 0 and args.strict and robustness is not None:
        return 3 if any(robustness.underdosed_scenarios().values()) else 0
    return status


def _robustness(args: argparse.Namespace, outcome: Any) -> tuple[Any, Any, tuple[Any, ...]]:
    """With ``--robust``: the robust options (the command line over what the plan was
    optimized with), the evaluation in their scenarios and the scenario doses the report
    draws as DVH bands (kept only when a report is written)."""
    if not args.robust:
        return None, None, ()
    from ionbeam.cli._robust import client_of, robust_options
    from ionbeam.workflow import robustness_with_doses

    robust = robust_options(args, recorded=outcome.plan.settings.get("robust"))
    keep = args.out is not None and not args.no_report
    with client_of(args) as client:
        evaluation, doses = robustness_with_doses(outcome, robust, client=client, keep_doses=keep)
    return robust, evaluation, doses


def _check_flags(args: argparse.Namespace) -> None:
    """Options that would be ignored are refused."""
    from ionbeam.cli._robust import check_workers
    from ionbeam.errors import ConfigError

    if not args.robust:
        for flag, value in (("--scenarios", args.scenarios), ("--range-error", args.range_error),
                            ("--setup-error", args.setup_error), ("--rbe-error", args.rbe_error),
                            ("--workers", args.workers),
                            ("--scheduler", args.scheduler)):  # fmt: skip
            if value is not None:
                raise ConfigError(f"{flag} applies with --robust only (no scenarios are computed)")
    check_workers(args)

    if args.out is None:
        for flag, given in (("--no-dicom", args.no_dicom), ("--no-report", args.no_report),
                            ("--force", args.force)):  # fmt: skip
            if given:
                raise ConfigError(f"{flag} applies with --out DIR only (nothing is written)")


def _previous_metrics(path: Path) -> dict[str, Any] | None:
    folder = path if path.is_dir() else path.parent
    file = folder / "metrics.json"
    if path.suffix.lower() not in ("", ".json") or not file.exists():
        return None
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _differences(document: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Recomputed minus saved metrics (Gy) per structure present in both."""
    out = {}
    for name, metrics in document["structures"].items():
        before = previous.get("structures", {}).get(name)
        if before is None:
            continue
        out[name] = {
            key: float(metrics[key]) - float(before[key])
            for key in _COMPARED
            if metrics.get(key) is not None and before.get(key) is not None
        }
    return out
