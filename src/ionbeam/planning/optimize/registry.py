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
    """One objective type: the class it builds (``build(level_gy, volume_fraction,
    weight)``), whether it needs a volume, and its default weights on the target and
    on other structures."""

    name: str
    build: Callable[[float, float | None, float], Objective]
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
        if self.needs_volume and volume_fraction is None:
            raise ConfigError(f"a {self.name} objective needs a volume (volume_percent)")
        if not self.needs_volume and volume_fraction is not None:
            raise ConfigError(f"a {self.name} objective takes no volume; remove volume_percent")
        chosen = self.default_weight(on_target=on_target) if weight is None else weight
        return self.build(level_gy, volume_fraction, chosen)


def _volume(value: float | None) -> float:
    if value is None:  # make() checks first; kept for direct callers of build
        raise ConfigError("a DVH objective needs a volume (volume_percent)")
    return value


#: Objective type name → class and default weights (the plan file's ``type`` values).
OBJECTIVES: Registry[ObjectiveType] = Registry(
    "objective type",
    {
        "squared_deviation": ObjectiveType(
            "squared_deviation", lambda d, v, w: SquaredDeviation(d, weight=w)
        ),
        "max_dose": ObjectiveType(
            "max_dose",
            lambda d, v, w: SquaredOverdose(d, weight=w),
            target_weight=3000.0,
            organ_weight=3000.0,
        ),
        "squared_overdose": ObjectiveType(
            "squared_overdose", lambda d, v, w: SquaredOverdose(d, weight=w)
        ),
        "min_dose": ObjectiveType("min_dose", lambda d, v, w: SquaredUnderdose(d, weight=w)),
        "squared_underdose": ObjectiveType(
            "squared_underdose", lambda d, v, w: SquaredUnderdose(d, weight=w)
        ),
        "mean_dose": ObjectiveType("mean_dose", lambda d, v, w: MeanDose(d, weight=w)),
        "min_dvh": ObjectiveType(
            "min_dvh", lambda d, v, w: MinDVH(d, _volume(v), weight=w), needs_volume=True
        ),
        "max_dvh": ObjectiveType(
            "max_dvh", lambda d, v, w: MaxDVH(d, _volume(v), weight=w), needs_volume=True
        ),
    },
)
