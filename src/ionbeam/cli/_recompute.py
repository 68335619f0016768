"""Inputs of a dose recomputation (``ionbeam dose`` and ``ionbeam robust``): the command
line as :class:`ionbeam.workflow.RecomputeOptions`, read by the library
(:mod:`ionbeam.workflow.recompute`): the plan (a plan folder's, with ``--machine``/
``--rbe-model`` applied, or a DICOM RT Ion Plan with ``--particles-per-mu``), its
patient, planning options, HU calibration and beam model.

Apart from the sub-command modules so that they share it without importing each other.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ionbeam.workflow.recompute import RecomputeOptions

__all__ = ["recompute_beam_model", "recompute_inputs", "recompute_options"]


def recompute_options(args: argparse.Namespace) -> RecomputeOptions:
    """The recomputation settings of the command line."""
    return RecomputeOptions(
        dicom=args.dicom,
        phantom=args.phantom,
        ct_spacing_mm=args.ct_spacing,
        ct_series=args.ct_series,
        target=args.target,
        calibration=args.calibration,
        machine=args.machine,
        rbe_model=args.rbe_model,
        particles_per_mu=args.particles_per_mu,
        dose_grid_mm=args.grid,
        beam_model=getattr(args, "beam_model", None),
    )


def recompute_inputs(args: argparse.Namespace) -> tuple[Any, Any, Any, Path | None, Any]:
    """(plan, patient, planning options, DICOM source folder, HU calibration)."""
    from ionbeam.workflow.recompute import recompute_inputs as read

    inputs = read(args.plan, recompute_options(args))
    return inputs.plan, inputs.patient, inputs.options, inputs.source_dicom, inputs.calibration


def recompute_beam_model(args: argparse.Namespace, plan: Any) -> tuple[Any, Any]:
    """The plan (its record updated) and the commissioning to recompute with: --beam-model,
    else the plan's recorded file (checked unchanged), else None (the generic model)."""
    from ionbeam.workflow.recompute import recompute_beam_model as choose

    return choose(plan, args.beam_model)
