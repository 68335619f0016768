"""How a plan is made robust: the robustness, the scenarios, per-structure choices."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ionbeam.errors import ConfigError
from ionbeam.planning.optimize.robust_problem import DEFAULT_SHARPNESS, normalize_robustness
from ionbeam.planning.robust.scenarios import (
    DEFAULT_RANGE_ERROR,
    DEFAULT_SETUP_ERROR_MM,
    ScenarioSet,
    scenario_set,
)

__all__ = ["RobustOptions"]


@dataclass(frozen=True)
class RobustOptions:
    """Robust optimization settings.

    ``mode``: the robustness of every objective (``minimax``: composite worst case,
    ``voxelwise``: voxel-wise worst case, ``stochastic``: expected value, ``nominal``);
    ``structures``: per structure name another robustness (e.g. ``{"Body": "nominal"}``);
    ``scenario_set``: ``"9"`` or ``"21"`` (see :func:`.scenario_set`); ``range_error``
    (relative, 0.035 = 3.5 %) and ``setup_error_mm`` (per axis); ``rbe_error``
    (relative, 0.1 = 10 %; 0: none): each scenario also with a constant RBE × (1 ± it);
    ``sharpness``: the exponent of the composite worst case's smooth maximum.
    """

    mode: str = "minimax"
    scenario_set: str = "9"
    range_error: float = DEFAULT_RANGE_ERROR
    setup_error_mm: float = DEFAULT_SETUP_ERROR_MM
    structures: Mapping[str, str] = field(default_factory=dict)
    sharpness: float = DEFAULT_SHARPNESS
    rbe_error: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", normalize_robustness(self.mode))
        object.__setattr__(
            self,
            "structures",
            {str(k): normalize_robustness(v) for k, v in dict(self.structures).items()},
        )
        if not (isinstance(self.sharpness, (int, float)) and 1.0 <= self.sharpness <= 64.0):
            raise ConfigError(f"sharpness must be within 1–64; got {self.sharpness!r}")
        if not math.isfinite(float(self.range_error)):
            raise ConfigError(f"range_error must be finite; got {self.range_error!r}")
        self.scenarios()  # checks the set's name and the error sizes

    def scenarios(self) -> ScenarioSet:
        """The scenario set (the nominal first)."""
        return scenario_set(
            self.scenario_set,
            range_error=self.range_error,
            setup_error_mm=self.setup_error_mm,
            rbe_error=self.rbe_error,
        )

    def spot_options(self, options: Any, spot_spacing_mm: float) -> Any:
        """Planning options whose spots can cover the target in every scenario (matRad's
        robust ``addMargin``): the spot margin grown by the set-up error, energy layers
        for WEPLs up to the range error beyond the target's."""
        margin = spot_spacing_mm if options.spot_margin_mm is None else options.spot_margin_mm
        return dataclasses.replace(
            options,
            spot_margin_mm=float(margin) + self.setup_error_mm,
            range_margin_fraction=max(options.range_margin_fraction, abs(self.range_error)),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (recorded in the plan's settings)."""
        return {
            "mode": self.mode,
            "scenario_set": self.scenario_set,
            "range_error": self.range_error,
            "setup_error_mm": self.setup_error_mm,
            "structures": dict(self.structures),
            "sharpness": self.sharpness,
            "rbe_error": self.rbe_error,
            "scenarios": [s.label for s in self.scenarios().scenarios],
        }
