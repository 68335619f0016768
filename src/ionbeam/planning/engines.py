"""The dose engines by name: the one table the planner, the CLI, the plan file and
``plan.json`` use (see :mod:`ionbeam.registry`).

``pencil_beam``
    The analytical pencil beam of :mod:`ionbeam.planning.dose_engine`: each spot reads
    the WEPL along its central axis per depth (matRad's/TRiP98's "singleCentral").
``fine_sampling``
    The same kernels with each spot split into n × n sub-beams that read their own WEPL
    (lateral heterogeneities; n² times the work; ``fine_sampling`` = n, default 3).

An engine is a function with the signature of
:func:`~ionbeam.planning.dose_engine.calc_dose_influence` that returns a
:class:`~ionbeam.planning.dose_influence.DoseInfluence`; a Monte Carlo or GPU engine
is one more entry here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.machine.beam_model import BeamModel
from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.ct import CT
from ionbeam.patient.grid import Grid
from ionbeam.patient.structures import Structure
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose_influence
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.plan import Plan
from ionbeam.registry import Registry

__all__ = [
    "DEFAULT_FINE_SAMPLING",
    "DOSE_ENGINES",
    "DoseEngine",
    "InfluenceFunction",
    "engine_name",
]

#: Sub-beams per side of the ``fine_sampling`` engine when none is given (3 × 3 = 9).
DEFAULT_FINE_SAMPLING = 3


class InfluenceFunction(Protocol):
    """What a dose engine computes: the dose-influence matrices of a plan."""

    def __call__(
        self,
        ct: CT,
        plan: Plan,
        beam_model: BeamModel,
        *,
        dose_grid: Grid | None = None,
        structures: Iterable[Structure] = (),
        calibration: HUCalibration | None = None,
        tissue_map: np.ndarray | None = None,
        options: DoseEngineOptions | None = None,
    ) -> DoseInfluence: ...


@dataclass(frozen=True)
class DoseEngine:
    """One dose engine: its ``influence`` function and whether it splits spots into
    sub-beams (``sub_beams``)."""

    name: str
    influence: InfluenceFunction
    sub_beams: bool = False

    def options(self, options: DoseEngineOptions) -> DoseEngineOptions:
        """``options`` made consistent with this engine: the sub-beam count is refused
        where the engine has none, and set to :data:`DEFAULT_FINE_SAMPLING` where it
        needs one and none is given."""
        n = options.fine_sampling
        if not self.sub_beams and n > 1:
            raise ConfigError(
                f"the {self.name} engine has no sub-beams; got fine_sampling = {n}: "
                "choose the fine_sampling engine or set fine_sampling to 0"
            )
        if self.sub_beams and n < 2:
            return replace(options, fine_sampling=DEFAULT_FINE_SAMPLING)
        return options


#: Dose engine name → engine.
DOSE_ENGINES: Registry[DoseEngine] = Registry(
    "dose engine",
    {
        "pencil_beam": DoseEngine("pencil_beam", calc_dose_influence),
        "fine_sampling": DoseEngine("fine_sampling", calc_dose_influence, sub_beams=True),
    },
)


def engine_name(fine_sampling: int) -> str:
    """The engine a sub-beam count implies when no engine is named (2–9: fine sampling)."""
    return "fine_sampling" if fine_sampling > 1 else "pencil_beam"
