"""The commissioned beam model of a plan: read from its file (ionbeam TOML + CSV or an
MCsquare BDL, ``docs/commissioning.md``), put on a machine, and recorded in the plan's
settings (``beam_model``) so that a recomputation uses the same file, refused if it
changed since."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ionbeam.errors import ConfigError

if TYPE_CHECKING:
    from ionbeam.machine import BeamLine, Machine
    from ionbeam.machine.beam_model import BeamModel
    from ionbeam.machine.commissioning import Commissioning
    from ionbeam.planning.plan import Plan

__all__ = [
    "beam_line_of_plan",
    "beam_model_of_plan",
    "load_beam_model",
    "machine_for_plan",
    "recorded_beam_model",
    "with_beam_model_record",
]


def load_beam_model(path: str | Path | None, particle: str) -> Commissioning | None:
    """The commissioning of ``path`` (None: None, the generic model), checked to be for
    ``particle``."""
    if path is None:
        return None
    from ionbeam.machine.commissioning import load_commissioning

    commissioning = load_commissioning(Path(path))
    if commissioning.particle != particle:
        raise ConfigError(
            f"beam-model file {path} is for {commissioning.particle}, not {particle}; plan "
            f"{commissioning.particle} or give a {particle} beam-model file"
        )
    return commissioning


def machine_for_plan(
    commissioning: Commissioning | None, machine: Machine | str = "cnao"
) -> Machine:
    """``machine`` (a Machine, used as it is, or a registered name) with the commissioned
    beam line (None: the machine unchanged, the same object)."""
    from ionbeam.machine import get_machine
    from ionbeam.machine.commissioning import machine_from_commissioning

    machine = get_machine(machine) if isinstance(machine, str) else machine
    return machine if commissioning is None else machine_from_commissioning(commissioning, machine)


def with_beam_model_record(
    settings: Mapping[str, Any], commissioning: Commissioning | None
) -> dict[str, Any]:
    """``settings`` with the beam model recorded (``"generic"`` without a file)."""
    from ionbeam.machine.commissioning import commissioning_record

    out = dict(settings)
    out["beam_model"] = "generic" if commissioning is None else commissioning_record(commissioning)
    return out


def recorded_beam_model(settings: Mapping[str, Any], particle: str) -> Commissioning | None:
    """The commissioning a plan records, re-read and checked unchanged (None: generic)."""
    record = settings.get("beam_model")
    if not isinstance(record, Mapping):
        return None
    if not record.get("file"):
        raise ConfigError("the plan's beam model was not read from a file; pass --beam-model FILE")
    path = Path(str(record["file"]))
    commissioning = load_beam_model(path, particle)
    if (
        commissioning is not None
        and record.get("sha256")
        and commissioning.sha256 != record["sha256"]
    ):
        raise ConfigError(
            f"beam-model file {path} changed since the plan was made; pass --beam-model "
            f"{path} to recompute with it as it is now"
        )
    return commissioning


def beam_model_of_plan(
    plan: Plan, commissioning: Commissioning | str | None = "recorded"
) -> BeamModel | None:
    """The commissioned beam model at the plan's energies (for the report's Bragg curves);
    None for a plan on the generic model (the report then computes the physics).
    ``commissioning``: the one the plan was made with (default: its recorded file)."""
    if isinstance(commissioning, str):
        commissioning = recorded_beam_model(plan.settings, plan.particle)
    if commissioning is None or plan.n_spots == 0:
        return None
    import numpy as np

    from ionbeam.machine.commissioning import beam_model_from_commissioning

    energies = np.unique(np.concatenate([b.spots.energy_mev_u for b in plan.beams]))
    return beam_model_from_commissioning(commissioning, energies)


def beam_line_of_plan(plan: Plan) -> BeamLine:
    """The beam line a plan was made on, rebuilt from its record: its beam-model file's,
    or its machine's by name. (A workflow result carries its machine: use
    ``result.machine.beam_line``, which keeps a custom machine.)"""
    commissioning = recorded_beam_model(plan.settings, plan.particle)
    return machine_for_plan(commissioning, plan.machine).beam_line
