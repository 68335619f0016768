"""The objective types by name, with their default weights: the one table the CLI, the
plan file and ``plan.json`` use (see :mod:`ionbeam.registry`).

Each type names an objective class (one module each in this package) and the weight it
gets when the plan file gives none: on the target, a dose level to reach is weighted
1000 and elsewhere 300; a maximum dose (``max_dose``, a hard-ish limit) 3000 everywhere.
These are relative weights of the objectives' mean-square penalties (levels in Gy per
fraction); only their ratios matter to the optimizer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ionbeam.errors import ConfigError
from ionbeam.planning.optimize.max_dvh import MaxDVH
from ionbeam.planning.optimize.mean_dose import MeanDose
from ionbeam.planning.optimize.min_dvh import MinDVH
from ionbeam.planning.optimize.objective import Objective
from ionbeam.planning.optimize.squared_deviation import SquaredDeviation
from ionbeam.planning.optimize.squared_overdose import SquaredOverdose
from ionbeam.planning.optimize.squared_underdose import SquaredUnderdose
from ionbeam.registry import Registry

__all__ = ["OBJECTIVES", "ObjectiveType"]


@dataclass(frozen=True)
class ObjectiveType:
    """One objective type: the class it builds (called ``objective_class(level_gy,
    [volume_fraction,] weight=...)``), whether it takes a volume, and its default
    weights on the target and on other structures."""

    name: str
    objective_class: Callable[..., Objective]
    needs_volume: bool = False
    target_weight: float = 1000.0
    organ_weight: float = 300.0

    def default_weight(self, *, on_target: bool) -> float:
        """The weight when none is given."""
        return self.target_weight if on_target else self.organ_weight

    def make(
        self,
        level_gy: float,
        *,
        volume_fraction: float | None = None,
        weight: float | None = None,
        on_target: bool = False,
    ) -> Objective:
        """The objective at ``level_gy`` (per fraction; ``volume_fraction`` 0–1 for the
        DVH types) with ``weight`` (default: :meth:`default_weight`)."""
        chosen = self.default_weight(on_target=on_target) if weight is None else weight
        if not self.needs_volume:
            if volume_fraction is not None:
                raise ConfigError(f"a {self.name} objective takes no volume; remove volume_percent")
            return self.objective_class(level_gy, weight=chosen)
        if volume_fraction is None:
            raise ConfigError(f"a {self.name} objective needs a volume (volume_percent)")
        return self.objective_class(level_gy, volume_fraction, weight=chosen)


def _entries(*types: ObjectiveType) -> dict[str, ObjectiveType]:
    return {t.name: t for t in types}


#: Objective type name → class and default weights (the plan file's ``type`` values).
OBJECTIVES: Registry[ObjectiveType] = Registry(
    "objective type",
    _entries(
        ObjectiveType("squared_deviation", SquaredDeviation),
        ObjectiveType("max_dose", SquaredOverdose, target_weight=3000.0, organ_weight=3000.0),
        ObjectiveType("squared_overdose", SquaredOverdose),
        ObjectiveType("min_dose", SquaredUnderdose),
        ObjectiveType("squared_underdose", SquaredUnderdose),
        ObjectiveType("mean_dose", MeanDose),
        ObjectiveType("min_dvh", MinDVH, needs_volume=True),
        ObjectiveType("max_dvh", MaxDVH, needs_volume=True),
    ),
)
