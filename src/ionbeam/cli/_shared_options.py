"""Options and checks shared by the sub-commands that plan or recompute a patient
(``plan``, ``dose``, ``robust``, ``demo``), apart from them so that none imports another."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ionbeam.cli._plan_inputs import PHANTOM_DEFAULTS

__all__ = [
    "add_patient_arguments",
    "add_recompute_arguments",
    "add_strict_argument",
    "check_out",
    "check_recompute_out",
]


def add_strict_argument(parser: argparse.ArgumentParser) -> None:
    """``--strict`` (shared with ``ionbeam dose`` and ``ionbeam demo``)."""
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 3 when a clinical goal (target coverage, hot spot outside "
        "the target, organ limit) is not met",
    )


def add_patient_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that say which patient (shared with ``ionbeam dose``)."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--phantom", help="built-in phantom: " + ", ".join(PHANTOM_DEFAULTS))
    which.add_argument("--dicom", type=Path, metavar="DIR", help="folder with a CT and RTSTRUCT")
    parser.add_argument(
        "--ct-series", metavar="UID", help="with --dicom: the CT series (SeriesInstanceUID)"
    )
    parser.add_argument("--target", help="target structure (default: the phantom's / the PTV)")
    parser.add_argument("--ct-spacing", type=float, metavar="MM", help="phantom voxel size, mm")
    parser.add_argument(
        "--calibration", type=Path, metavar="FILE", help="HU → SPR table (two columns HU, SPR)"
    )


def check_out(out: Path, force: bool, *, inputs: Sequence[Path | None] = ()) -> None:
    """Refuse, before the work, an output folder that is not empty (without --force), that
    is, contains or lies inside an input, is the current folder, or cannot be written."""
    from ionbeam._atomic import check_output_folder

    check_output_folder(out, inputs=inputs, overwrite=force)


def add_recompute_arguments(parser: argparse.ArgumentParser) -> None:
    """The plan to recompute and how (shared by ``ionbeam dose`` and ``ionbeam robust``):
    the plan, its patient, machine, RBE model, MU calibration, dose grid, beam model."""
    from ionbeam.cli._beam_model import add_beam_model_argument

    parser.add_argument("plan", type=Path, metavar="PLAN", help="plan folder, plan.json or RP.dcm")
    add_patient_arguments(parser)
    parser.add_argument("--machine", help="machine (default: the plan's; cnao for an RT Ion Plan)")
    parser.add_argument(
        "--particles-per-mu",
        metavar="N|FILE",
        help="RT Ion Plan in MU: particles per MU (a number, or a file of two columns: "
        "energy MeV/u, particles per MU)",
    )
    parser.add_argument(
        "--rbe-model", help="RBE model (default: the plan's; per particle for an RT Ion Plan)"
    )
    parser.add_argument("--grid", type=float, metavar="MM", help="dose grid spacing, mm")
    add_beam_model_argument(parser, recompute=True)


def check_recompute_out(args: argparse.Namespace) -> None:
    """Refuse a recomputation's ``--out`` before the work (see :func:`check_out`): not empty
    without --force, or the plan, its DICOM folder or its calibration file (or inside one)."""
    if args.out is None:
        return
    plan_path = Path(args.plan)
    check_out(
        args.out,
        args.force,
        inputs=(
            plan_path / "plan.json" if plan_path.is_dir() else plan_path,
            args.dicom,
            args.calibration,
        ),
    )
