"""The commissioned beam model on the command line: ``--beam-model PATH`` and
``[plan] beam_model``, recorded in ``plan.json`` (settings ``beam_model``) so that
``ionbeam dose`` recomputes with the same file (refusing it if it changed since).
Reading, recording and applying it is the library's (:mod:`ionbeam.workflow.beam_models`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ionbeam.workflow.beam_models import (
    beam_line_of_plan,
    beam_model_of_plan,
    load_beam_model,
    machine_for_plan,
    recorded_beam_model,
    with_beam_model_record,
)

__all__ = [
    "add_beam_model_argument",
    "beam_line_of_plan",
    "beam_model_of_plan",
    "load_beam_model",
    "machine_for_plan",
    "recorded_beam_model",
    "with_beam_model_record",
]


def add_beam_model_argument(parser: argparse.ArgumentParser, *, recompute: bool = False) -> None:
    """The ``--beam-model`` option."""
    default = (
        "the plan's recorded file, else the generic CNAO-like model"
        if recompute
        else ("the generic CNAO-like model")
    )
    parser.add_argument(
        "--beam-model",
        type=Path,
        metavar="FILE",
        help=f"commissioned beam model: beam_model.toml (or its folder) or an MCsquare BDL "
        f"(default: {default}); see docs/commissioning.md",
    )
