"""Options and checks shared by the sub-commands that plan or recompute a patient
(``plan``, ``dose``, ``robust``, ``demo``), apart from them so that none imports another."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ionbeam.cli._plan_inputs import PHANTOM_DEFAULTS

__all__ = ["add_patient_arguments", "add_strict_argument", "check_out"]


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
