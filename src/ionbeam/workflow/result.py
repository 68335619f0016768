"""The result of the workflow: a plan, its doses and everything it was made with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ionbeam.evaluation import GoalSet
    from ionbeam.evaluation.grid_check import GridCheck
    from ionbeam.machine import Machine
    from ionbeam.machine.commissioning import Commissioning
    from ionbeam.patient import Grid, HUCalibration, Patient
    from ionbeam.planning.plan import Plan
    from ionbeam.planning.planner import PlanningOptions, PlanningResult

__all__ = ["PlanOutcome"]


@dataclass(frozen=True, eq=False)
class PlanOutcome:
    """A plan with its doses, patient and machine, as :func:`make_plan` and
    :func:`recompute_dose` return it.

    ``planning``: the recipe's :class:`~ionbeam.planning.planner.PlanningResult` (doses
    per fraction, the dose-influence matrix, the optimizer's record); ``machine``: the
    machine object the plan was made on, which export and delivery use as it is (the
    plan records its name); ``goals``: the clinical goals checked on the total dose;
    ``options``: the planning options (dose grid, tissues) a recomputation reuses;
    ``grid_check``: the plan recomputed on a finer grid (None: not run).

    Doses come per fraction (``*_per_fraction_gy``) and in total over all fractions
    (``*_total_gy`` = per fraction × :attr:`fractions`), arrays [x, y, z] on :attr:`grid`.
    """

    planning: PlanningResult
    patient: Patient
    machine: Machine
    goals: GoalSet
    options: PlanningOptions
    calibration: HUCalibration | None = None
    beam_model: Commissioning | None = None
    source_dicom: Path | None = None
    grid_check: GridCheck | None = None

    @property
    def plan(self) -> Plan:
        """The plan (beams, spots, weights in particles per fraction, settings)."""
        return self.planning.plan

    @property
    def fractions(self) -> int:
        """The number of fractions of the prescription."""
        return int(self.plan.prescription.fractions)

    @property
    def grid(self) -> Grid:
        """The dose grid."""
        return self.planning.grid

    @property
    def dose_unit(self) -> str:
        """``Gy(RBE)`` where an RBE model applies, else ``Gy``."""
        return "Gy" if self.planning.rbe_dose_gy is None else "Gy(RBE)"

    @property
    def dose_per_fraction_gy(self) -> np.ndarray:
        """The dose the prescription refers to, per fraction: RBE-weighted (Gy(RBE))
        where an RBE model applies, else physical (Gy)."""
        return self.planning.evaluated_dose_gy

    @property
    def dose_total_gy(self) -> np.ndarray:
        """:attr:`dose_per_fraction_gy` over all fractions."""
        return self.planning.evaluated_dose_gy * self.fractions

    @property
    def physical_dose_total_gy(self) -> np.ndarray:
        """The physical dose over all fractions, Gy."""
        return self.planning.dose_gy * self.fractions

    @property
    def rbe_dose_total_gy(self) -> np.ndarray | None:
        """The RBE-weighted dose over all fractions, Gy(RBE) (None without an RBE model)."""
        rbe = self.planning.rbe_dose_gy
        return None if rbe is None else rbe * self.fractions

    @property
    def let_d_kev_um(self) -> np.ndarray | None:
        """The dose-averaged LET, keV/µm (None where the engine gives none)."""
        return self.planning.let_d_kev_um

    def beam_dose_total_gy(self, index: int) -> np.ndarray:
        """The physical dose of beam ``index`` alone over all fractions, Gy."""
        return self.planning.beam_dose_gy(index) * self.fractions
