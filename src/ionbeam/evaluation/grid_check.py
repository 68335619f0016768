"""Does a plan's quality hold on a finer dose grid? Its metrics, planned against recomputed.

A plan optimized on one dose grid must not owe its figures to that grid
(DESIGN.md, "What the dose means"): recomputed on a finer grid, its target
coverage and its maximum doses should stay where they were. :func:`compare_grids`
takes the metrics of the same plan on the planning grid and on a finer one and
checks, per structure present in both:

* the target's D95 within ``d95_tolerance`` (default 2 %) of the planned value;
* the maximum dose of the target and of every other structure within
  ``max_tolerance`` (default 3 %).

Differences are relative to the planned value, but never to less than 10 % of
the prescription, so that a low-dose organ (0.2 Gy → 0.3 Gy) does not fail on a
difference that means nothing clinically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ionbeam.errors import ConfigError
from ionbeam.evaluation.metrics import DoseMetrics

__all__ = ["GridCheck", "GridCheckItem", "compare_grids"]

#: Differences are relative to at least this fraction of the prescription.
_FLOOR_OF_PRESCRIPTION = 0.1


@dataclass(frozen=True)
class GridCheckItem:
    """One metric of one structure on both grids (Gy or Gy(RBE)); ``reference_gy`` is
    the dose the difference is relative to and ``tolerance`` its limit (a fraction)."""

    structure: str
    metric: str
    planned_gy: float
    recomputed_gy: float
    tolerance: float
    reference_gy: float

    @property
    def difference(self) -> float:
        """(recomputed − planned) / ``reference_gy`` (a fraction)."""
        return (self.recomputed_gy - self.planned_gy) / self.reference_gy

    @property
    def passed(self) -> bool:
        """Whether the difference is within the tolerance."""
        return abs(self.difference) <= self.tolerance


@dataclass(frozen=True)
class GridCheck:
    """The metrics of a plan on its grid (``planned_mm``) and on a finer one (``fine_mm``)."""

    planned_mm: float
    fine_mm: float
    items: tuple[GridCheckItem, ...]

    @property
    def passed(self) -> bool:
        """Whether every metric holds within its tolerance."""
        return all(item.passed for item in self.items)

    @property
    def failures(self) -> tuple[GridCheckItem, ...]:
        """The metrics that do not hold."""
        return tuple(item for item in self.items if not item.passed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (differences in %)."""
        return {
            "planned_grid_mm": self.planned_mm,
            "fine_grid_mm": self.fine_mm,
            "passed": self.passed,
            "items": [
                {
                    "structure": item.structure,
                    "metric": item.metric,
                    "planned_gy": item.planned_gy,
                    "recomputed_gy": item.recomputed_gy,
                    "difference_percent": 100.0 * item.difference,
                    "tolerance_percent": 100.0 * item.tolerance,
                    "passed": item.passed,
                }
                for item in self.items
            ],
        }


def compare_grids(
    planned: DoseMetrics,
    recomputed: DoseMetrics,
    *,
    target: str,
    planned_mm: float,
    fine_mm: float,
    d95_tolerance: float = 0.02,
    max_tolerance: float = 0.03,
) -> GridCheck:
    """Check ``recomputed`` (the plan on a ``fine_mm`` grid) against ``planned`` (on its
    ``planned_mm`` grid); see the module docstring."""
    for name, value in (("d95_tolerance", d95_tolerance), ("max_tolerance", max_tolerance)):
        if not (math.isfinite(value) and 0.0 < value < 1.0):
            raise ConfigError(f"{name} must be a fraction in (0, 1), e.g. 0.02; got {value}")
    before = {s.name: s for s in planned.structures}
    after = {s.name: s for s in recomputed.structures}
    if target not in before or target not in after:
        raise ConfigError(
            f"the grid check needs the target {target!r} in both sets of metrics; "
            "evaluate the target on both grids"
        )
    prescription = planned.prescription_gy or before[target].d50_gy
    floor = _FLOOR_OF_PRESCRIPTION * prescription
    items = [_item(target, "d95_gy", before[target].d95_gy, after[target].d95_gy,
                   d95_tolerance, floor)]  # fmt: skip
    for name, metrics in before.items():
        if name in after:
            items.append(
                _item(name, "max_gy", metrics.max_gy, after[name].max_gy, max_tolerance, floor)
            )
    return GridCheck(float(planned_mm), float(fine_mm), tuple(items))


def _item(
    name: str, metric: str, planned: float, recomputed: float, tolerance: float, floor: float
) -> GridCheckItem:
    reference = max(abs(planned), floor, 1e-12)
    return GridCheckItem(name, metric, float(planned), float(recomputed), tolerance, reference)
