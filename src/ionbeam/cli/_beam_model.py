"""The commissioned beam model on the command line: ``--beam-model PATH`` and
``[plan] beam_model``, recorded in ``plan.json`` (settings ``beam_model``) so that
``ionbeam dose`` recomputes with the same file (refusing it if it changed since)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ionbeam.errors import ConfigError

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


def load_beam_model(path: Path | None, particle: str) -> Any:
    """The commissioning of ``path`` (None: None), checked to be for ``particle``."""
    if path is None:
        return None
    from ionbeam.machine.commissioning import load_commissioning

    commissioning = load_commissioning(path)
    if commissioning.particle != particle:
        raise ConfigError(
            f"beam-model file {path} is for {commissioning.particle}, not {particle}; plan "
            f"{commissioning.particle} or give a {particle} beam-model file"
        )
    return commissioning


def machine_for_plan(commissioning: Any, machine: Any = "cnao") -> Any:
    """``machine`` (a Machine or its name) with the commissioned beam (None: as it is)."""
    from ionbeam.machine import get_machine
    from ionbeam.machine.commissioning import machine_from_commissioning

    machine = get_machine(machine) if isinstance(machine, str) else machine
    return machine if commissioning is None else machine_from_commissioning(commissioning, machine)


def with_beam_model_record(settings: Mapping[str, Any], commissioning: Any) -> dict[str, Any]:
    """``settings`` with the beam model recorded (``"generic"`` without a file)."""
    from ionbeam.machine.commissioning import commissioning_record

    out = dict(settings)
    out["beam_model"] = "generic" if commissioning is None else commissioning_record(commissioning)
    return out


def recorded_beam_model(settings: Mapping[str, Any], particle: str) -> Any:
    """The commissioning a plan records, re-read and checked unchanged (None: generic)."""
    record = settings.get("beam_model")
    if not isinstance(record, Mapping):
        return None
    if not record.get("file"):
        raise ConfigError("the plan's beam model was not read from a file; pass --beam-model FILE")
    path = Path(str(record["file"]))
    commissioning = load_beam_model(path, particle)
    if record.get("sha256") and commissioning.sha256 != record["sha256"]:
        raise ConfigError(
            f"beam-model file {path} changed since the plan was made; pass --beam-model "
            f"{path} to recompute with it as it is now"
        )
    return commissioning


def beam_model_of_plan(plan: Any) -> Any:
    """The commissioned beam model at the plan's energies (for the report's Bragg curves);
    None for a plan on the generic model (the report then computes the physics)."""
    commissioning = recorded_beam_model(plan.settings, plan.particle)
    if commissioning is None or plan.n_spots == 0:
        return None
    import numpy as np

    from ionbeam.machine.commissioning import beam_model_from_commissioning

    energies = np.unique(np.concatenate([b.spots.energy_mev_u for b in plan.beams]))
    return beam_model_from_commissioning(commissioning, energies)


def beam_line_of_plan(plan: Any) -> Any:
    """The beam line a plan was made on: its recorded beam-model file's, or its machine's."""
    commissioning = recorded_beam_model(plan.settings, plan.particle)
    return machine_for_plan(commissioning, plan.machine).beam_line
