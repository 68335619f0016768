"""Clinical goals of a plan: target coverage, hot spots outside the target, organ limits.

:func:`evaluate_goals` checks a dose against a :class:`GoalSet` and returns a
:class:`GoalReport` that the terminal, ``metrics.json`` and the HTML report all
show, and that ``--strict`` turns into an exit status. Nothing is silent: every
goal is listed as met or not, and the hottest region outside the target is
always reported (its volume above the threshold, its maximum and where it is).

Metrics (case-insensitive names; doses are those of the dose given, totals or per
fraction, Gy or Gy(RBE)):

* ``D<v>`` (``D95``, ``D98``, ``D2``): the dose that at least v % of the volume
  receives (:mod:`ionbeam.evaluation.dvh` conventions);
* ``D<v>cc`` (``D0.03cc``, ``D1cc``, ``D2cc``): the dose that the hottest v cm³
  receive — ``D0.03cc`` is the "maximum dose" of current reporting practice
  (a point dose is not measurable; ICRU Report 83 §3.7, AAPM TG-263); for a
  structure smaller than v cm³ it is the structure's minimum;
* ``V<p>``: the % of the volume receiving at least p % of the prescription;
* ``mean``, ``max``.

Limits are ``at_least`` or ``at_most`` a value in ``unit``: ``"%"`` (of the
prescription for dose metrics; of the structure's volume for ``V`` metrics) or
``"Gy"``. A goal's ``severity`` is ``"limit"`` (a failure fails the plan, e.g.
under ``--strict``) or ``"objective"`` (reported, met or not, never fatal).

Default goals (:func:`default_goals`): on the target D98 ≥ 90 %, D95 ≥ 95 %,
V95 ≥ 95 % (ICRU Report 83 coverage metrics; 95 % of the target at 95 % of the
prescription as in RTOG protocols) and D2 ≤ 107 % (ICRU 83's near-maximum, held
to the +7 % bound of ICRU Reports 50/62); outside the target no
more than :data:`HOT_SPOT_VOLUME_CM3` (0.03 cm³) above :data:`HOT_SPOT_PERCENT`
(107 %) of the prescription; per organ, the limits the caller gives (``D0.03cc``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.evaluation._distribution import DoseDistribution
from ionbeam.evaluation._inputs import as_dose, as_structure_weights, named_structures
from ionbeam.patient import Grid

__all__ = [
    "HOT_SPOT_PERCENT",
    "HOT_SPOT_VOLUME_CM3",
    "Goal",
    "GoalReport",
    "GoalResult",
    "GoalSet",
    "HotSpot",
    "OrganDoses",
    "default_goals",
    "evaluate_goals",
    "parse_metric",
]

#: Default hot-spot threshold outside the target, % of the prescription (ICRU 50/62: +7 %).
HOT_SPOT_PERCENT = 107.0
#: Default hot-spot volume tolerance, cm³ (the D0.03cc convention for a maximum).
HOT_SPOT_VOLUME_CM3 = 0.03
#: Default target coverage: (metric, at_least or at_most, % of the prescription).
TARGET_GOALS: tuple[tuple[str, str, float], ...] = (
    ("D98", "at_least", 90.0),
    ("D95", "at_least", 95.0),
    ("V95", "at_least", 95.0),
    ("D2", "at_most", 107.0),
)
_SEVERITIES = ("limit", "objective")
_UNITS = ("%", "Gy")
_ORGAN_METRICS = ("D0.03cc", "D1cc", "D2cc", "mean")
_METRIC = re.compile(r"^(d|v)(\d+(?:\.\d+)?)(cc)?$")


def parse_metric(text: str) -> tuple[str, float | None]:
    """``(kind, number)`` of a metric name: ``("D", 95.0)``, ``("Dcc", 0.03)``,
    ``("V", 95.0)``, ``("mean", None)``, ``("max", None)``; the canonical name is
    rebuilt by :meth:`Goal.metric_name`. Unknown names raise ``ConfigError``."""
    key = str(text).strip().lower().replace(" ", "")
    if key in ("mean", "max", "min"):
        return key, None
    match = _METRIC.match(key)
    if match is None or (match.group(1) == "v" and match.group(3)):
        raise ConfigError(
            f"unknown goal metric {text!r}; use D<v> (D95), D<v>cc (D0.03cc), V<p> (V95), "
            "mean, max or min"
        )
    number = float(match.group(2))
    kind = "Dcc" if match.group(3) else match.group(1).upper()
    if kind == "D" and number > 100.0:
        raise ConfigError(f"goal metric {text!r}: D<v> takes a volume of 0–100 %")
    if kind == "Dcc" and number <= 0.0:
        raise ConfigError(f"goal metric {text!r}: D<v>cc takes a volume > 0 cm³")
    return kind, number


@dataclass(frozen=True)
class Goal:
    """One clinical goal: ``metric`` of ``structure`` ``at_least`` or ``at_most``
    ``value`` in ``unit`` (see the module docstring), a ``"limit"`` or an ``"objective"``."""

    structure: str
    metric: str
    bound: str
    value: float
    unit: str = "%"
    severity: str = "limit"

    def __post_init__(self) -> None:
        kind, number = parse_metric(self.metric)
        object.__setattr__(self, "metric", _canonical(kind, number))
        if self.bound not in ("at_least", "at_most"):
            raise ConfigError(f"goal bound must be 'at_least' or 'at_most'; got {self.bound!r}")
        if self.unit not in _UNITS:
            raise ConfigError(f"goal unit must be '%' or 'Gy'; got {self.unit!r}")
        if kind == "V" and self.unit != "%":
            raise ConfigError(f"goal {self.metric}: a V metric is a % of the volume; use unit '%'")
        if self.severity not in _SEVERITIES:
            raise ConfigError(
                f"goal severity must be 'limit' or 'objective'; got {self.severity!r}"
            )
        value = float(self.value)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"goal {self.metric} of {self.structure}: value must be ≥ 0")
        object.__setattr__(self, "value", value)

    @property
    def text(self) -> str:
        """E.g. ``"D95 ≥ 95 %"``."""
        sign = "≥" if self.bound == "at_least" else "≤"
        return f"{self.metric} {sign} {self.value:g} {self.unit}"

    def to_dict(self) -> dict[str, Any]:
        """Plan-file form: ``{"structure", "metric", "at_least"|"at_most", "unit", "severity"}``."""
        return {
            "structure": self.structure,
            "metric": self.metric,
            self.bound: self.value,
            "unit": self.unit,
            "severity": self.severity,
        }


@dataclass(frozen=True)
class GoalSet:
    """The goals of a plan and its hot-spot rule: outside ``target`` no more than
    ``hot_spot_volume_cm3`` above ``hot_spot_percent`` of the prescription."""

    target: str
    goals: tuple[Goal, ...] = ()
    hot_spot_percent: float = HOT_SPOT_PERCENT
    hot_spot_volume_cm3: float = HOT_SPOT_VOLUME_CM3

    def __post_init__(self) -> None:
        for name in ("hot_spot_percent", "hot_spot_volume_cm3"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a number > 0; got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "goals", tuple(self.goals))

    def with_goals(self, goals: Sequence[Goal]) -> GoalSet:
        """A copy where ``goals`` replace those with the same structure and metric and
        the others are added."""
        keys = {(g.structure, g.metric) for g in goals}
        kept = tuple(g for g in self.goals if (g.structure, g.metric) not in keys)
        return GoalSet(self.target, (*kept, *goals), self.hot_spot_percent,
                       self.hot_spot_volume_cm3)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON/plan-settings form (read back by :meth:`from_dict`)."""
        return {
            "target": self.target,
            "hot_spot_percent": self.hot_spot_percent,
            "hot_spot_volume_cm3": self.hot_spot_volume_cm3,
            "goals": [g.to_dict() for g in self.goals],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GoalSet:
        """The inverse of :meth:`to_dict`."""
        goals = []
        for item in data.get("goals", ()):
            bound = "at_least" if "at_least" in item else "at_most"
            goals.append(
                Goal(item["structure"], item["metric"], bound, item[bound],
                     item.get("unit", "%"), item.get("severity", "limit"))
            )  # fmt: skip
        return cls(
            str(data["target"]),
            tuple(goals),
            data.get("hot_spot_percent", HOT_SPOT_PERCENT),
            data.get("hot_spot_volume_cm3", HOT_SPOT_VOLUME_CM3),
        )


def default_goals(
    target: str,
    *,
    organ_limits: Mapping[str, tuple[float, str]] | None = None,
    hot_spot_percent: float = HOT_SPOT_PERCENT,
    hot_spot_volume_cm3: float = HOT_SPOT_VOLUME_CM3,
) -> GoalSet:
    """The default goals (module docstring): the target's coverage, and per organ in
    ``organ_limits`` (name → (value, unit)) a limit ``D0.03cc ≤ value``."""
    goals = [Goal(target, metric, bound, value) for metric, bound, value in TARGET_GOALS]
    for organ, (value, unit) in (organ_limits or {}).items():
        goals.append(Goal(organ, "D0.03cc", "at_most", value, unit))
    return GoalSet(target, tuple(goals), hot_spot_percent, hot_spot_volume_cm3)


@dataclass(frozen=True)
class GoalResult:
    """A goal and what the dose gives: ``achieved`` in the goal's unit, ``achieved_gy``
    (dose metrics), ``met``; ``met`` is False too when the structure is missing."""

    goal: Goal
    achieved: float | None
    achieved_gy: float | None
    met: bool
    dose_unit: str = "Gy"

    @property
    def text(self) -> str:
        """E.g. ``"PTV D95 ≥ 95 %: 97.1 % (68.4 Gy) — met"``."""
        if self.achieved is None:
            got = "structure not found"
        else:
            unit = self.dose_unit if self.goal.unit == "Gy" else "%"
            got = f"{self.achieved:.4g} {unit}"
            if self.achieved_gy is not None and self.goal.unit == "%":
                got += f" ({self.achieved_gy:.4g} {self.dose_unit})"
        status = "met" if self.met else "NOT MET"
        kind = "" if self.goal.severity == "limit" else " (objective)"
        goal = self.goal.text.replace("Gy", self.dose_unit)
        return f"{self.goal.structure} {goal}{kind}: {got} — {status}"

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.goal.to_dict(),
            "achieved": self.achieved,
            "achieved_gy": self.achieved_gy,
            "met": self.met,
        }


@dataclass(frozen=True)
class HotSpot:
    """The dose outside the target above ``threshold_gy`` (``threshold_percent`` of the
    prescription): its ``volume_cm3``, the volume of it in each structure
    (``by_structure``, cm³, largest first), the highest dose outside the target
    (``max_gy``, ``max_percent``) and where it is (``location_mm``, LPS, the centre
    of its voxel; ``location_structures``: the structures holding that voxel).
    ``acceptable``: the volume is below ``tolerance_cm3``."""

    threshold_percent: float
    threshold_gy: float
    tolerance_cm3: float
    volume_cm3: float
    by_structure: tuple[tuple[str, float], ...]
    max_gy: float
    max_percent: float
    location_mm: tuple[float, float, float]
    location_structures: tuple[str, ...]
    dose_unit: str = "Gy"

    @property
    def acceptable(self) -> bool:
        """Whether the volume above the threshold is below the tolerance."""
        return self.volume_cm3 < self.tolerance_cm3

    @property
    def text(self) -> str:
        """One line for the terminal and the report."""
        where = ", ".join(self.location_structures) or "no structure"
        x, y, z = self.location_mm
        head = (
            f"hot spot outside the target: {self.volume_cm3:.3g} cm³ above "
            f"{self.threshold_percent:g} % ({self.threshold_gy:.4g} {self.dose_unit})"
        )
        if self.by_structure:
            head += " (" + ", ".join(f"{n} {v:.3g} cm³" for n, v in self.by_structure) + ")"
        status = "acceptable" if self.acceptable else "NOT ACCEPTABLE"
        return (
            f"{head}; max {self.max_gy:.4g} {self.dose_unit} ({self.max_percent:.0f} %) at "
            f"({x:.1f}, {y:.1f}, {z:.1f}) mm in {where} — {status} "
            f"(tolerance {self.tolerance_cm3:g} cm³)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold_percent": self.threshold_percent,
            "threshold_gy": self.threshold_gy,
            "tolerance_cm3": self.tolerance_cm3,
            "volume_cm3": self.volume_cm3,
            "by_structure_cm3": dict(self.by_structure),
            "max_gy": self.max_gy,
            "max_percent": self.max_percent,
            "location_mm": list(self.location_mm),
            "location_structures": list(self.location_structures),
            "acceptable": self.acceptable,
        }


@dataclass(frozen=True)
class OrganDoses:
    """Near-maximum and mean doses of a structure outside the target (Gy)."""

    name: str
    d0_03cc_gy: float
    d1cc_gy: float
    d2cc_gy: float
    mean_gy: float

    def to_dict(self) -> dict[str, float]:
        return {"d0.03cc_gy": self.d0_03cc_gy, "d1cc_gy": self.d1cc_gy,
                "d2cc_gy": self.d2cc_gy, "mean_gy": self.mean_gy}  # fmt: skip


@dataclass(frozen=True)
class GoalReport:
    """The goals' results, the hot spot outside the target, every other structure's
    near-maximum doses, and the hottest point of the whole dose (``hottest_mm``)."""

    prescription_gy: float
    target: str
    results: tuple[GoalResult, ...]
    hot_spot: HotSpot
    organs: tuple[OrganDoses, ...]
    hottest_mm: tuple[float, float, float]
    dose_unit: str = "Gy"

    @property
    def failures(self) -> tuple[str, ...]:
        """One line per failed limit (objectives never fail) and an unacceptable hot spot."""
        lines = [r.text for r in self.results if not r.met and r.goal.severity == "limit"]
        if not self.hot_spot.acceptable:
            lines.append(self.hot_spot.text)
        return tuple(lines)

    @property
    def passed(self) -> bool:
        """Whether every limit is met and the hot spot is acceptable."""
        return not self.failures

    @property
    def focus_mm(self) -> tuple[float, float, float]:
        """Where to look: the hot spot outside the target when it is not acceptable,
        else the hottest point of the dose."""
        return self.hottest_mm if self.hot_spot.acceptable else self.hot_spot.location_mm

    def lines(self) -> list[str]:
        """Every goal and the hot spot, one line each."""
        return [*(r.text for r in self.results), self.hot_spot.text]

    def to_dict(self) -> dict[str, Any]:
        """``metrics.json``'s ``goals`` entry."""
        return {
            "passed": self.passed,
            "prescription_gy": self.prescription_gy,
            "target": self.target,
            "goals": [r.to_dict() for r in self.results],
            "hot_spot": self.hot_spot.to_dict(),
            "organs": {o.name: o.to_dict() for o in self.organs},
            "hottest_mm": list(self.hottest_mm),
            "dose_unit": self.dose_unit,
            "failures": list(self.failures),
        }


def evaluate_goals(
    dose_gy: np.ndarray,
    grid: Grid,
    structures: Any,
    goals: GoalSet,
    *,
    prescription_gy: float,
    dose_unit: str = "Gy",
) -> GoalReport:
    """Check ``dose_gy`` on ``grid`` against ``goals`` (see the module docstring).

    ``structures``: name → mask (boolean or partial-volume weights) or objects with
    ``.name`` and ``.mask`` on ``grid``; it must hold ``goals.target``. A goal on a
    structure that is not there is reported as not met (never skipped).
    """
    dose = as_dose(dose_gy, grid)
    prescription = float(prescription_gy)
    if not (math.isfinite(prescription) and prescription > 0):
        raise ConfigError(f"prescription dose must be > 0 Gy; got {prescription_gy!r}")
    pairs = dict(named_structures(structures))
    if goals.target not in pairs:
        raise UnknownNameError("target structure", goals.target, list(pairs))
    weights = {name: as_structure_weights(m, dose.shape, name=name, grid=grid)
               for name, m in pairs.items()}  # fmt: skip
    flat = dose.reshape(-1)
    voxel_cm3 = grid.voxel_volume_mm3 / 1000.0
    distributions = {name: DoseDistribution.from_arrays(flat, w) for name, w in weights.items()}
    results = tuple(
        dataclasses.replace(
            _goal_result(g, distributions.get(g.structure), prescription, voxel_cm3),
            dose_unit=dose_unit,
        )
        for g in goals.goals
    )
    hot = dataclasses.replace(_hot_spot(flat, grid, weights, goals, prescription),
                              dose_unit=dose_unit)  # fmt: skip
    organs = tuple(
        _organ_doses(name, distributions[name], voxel_cm3)
        for name in pairs
        if name != goals.target and not _inside(weights[name], weights[goals.target])
    )
    hottest = _point_mm(grid, int(np.argmax(flat)))
    return GoalReport(prescription, goals.target, results, hot, organs, hottest, dose_unit)


def _canonical(kind: str, number: float | None) -> str:
    if number is None:
        return kind
    return f"{'D' if kind == 'Dcc' else kind}{number:g}{'cc' if kind == 'Dcc' else ''}"


def _metric_gy(kind: str, number: float | None, dist: DoseDistribution, voxel_cm3: float) -> float:
    if kind == "mean":
        return dist.mean_gy
    if kind == "max":
        return dist.max_gy
    if kind == "min":
        return dist.min_gy
    amount = float(number or 0.0)
    fraction = amount / 100.0 if kind == "D" else amount / (dist.total_weight * voxel_cm3)
    return float(dist.dose_at_volume(np.array([min(fraction, 1.0)]))[0])


def _goal_result(
    goal: Goal, dist: DoseDistribution | None, prescription: float, voxel_cm3: float
) -> GoalResult:
    if dist is None:
        return GoalResult(goal, None, None, False)
    kind, number = parse_metric(goal.metric)
    if kind == "V":
        level = float(number or 0.0) / 100.0 * prescription
        achieved = 100.0 * float(dist.volume_at_dose(np.array([level]))[0])
        achieved_gy = None
    else:
        achieved_gy = _metric_gy(kind, number, dist, voxel_cm3)
        achieved = achieved_gy if goal.unit == "Gy" else 100.0 * achieved_gy / prescription
    # Compare at the precision a report shows (1e-9 relative) so that a dose exactly
    # at its limit is not failed by rounding.
    slack = 1e-9 * max(abs(goal.value), 1.0)
    met = (
        achieved >= goal.value - slack
        if goal.bound == "at_least"
        else achieved <= goal.value + slack
    )
    return GoalResult(goal, achieved, achieved_gy, bool(met))


def _hot_spot(
    flat: np.ndarray,
    grid: Grid,
    weights: Mapping[str, np.ndarray],
    goals: GoalSet,
    prescription: float,
) -> HotSpot:
    voxel_cm3 = grid.voxel_volume_mm3 / 1000.0
    outside = 1.0 - weights[goals.target]
    threshold = goals.hot_spot_percent / 100.0 * prescription
    hot = (flat > threshold) * outside
    by_structure = []
    for name, w in weights.items():
        if name == goals.target:
            continue
        volume = float(np.dot(hot, w)) * voxel_cm3
        if volume > 0:
            by_structure.append((name, volume))
    by_structure.sort(key=lambda item: -item[1])
    candidates = np.where(outside > 0, flat, -np.inf)
    index = int(np.argmax(candidates))
    max_gy = float(flat[index]) if np.isfinite(candidates[index]) else 0.0
    holders = tuple(n for n, w in weights.items() if w[index] > 0 and n != goals.target)
    return HotSpot(
        threshold_percent=goals.hot_spot_percent,
        threshold_gy=threshold,
        tolerance_cm3=goals.hot_spot_volume_cm3,
        volume_cm3=float(hot.sum()) * voxel_cm3,
        by_structure=tuple(by_structure),
        max_gy=max_gy,
        max_percent=100.0 * max_gy / prescription,
        location_mm=_point_mm(grid, index),
        location_structures=holders,
    )


def _organ_doses(name: str, dist: DoseDistribution, voxel_cm3: float) -> OrganDoses:
    d = [_metric_gy("Dcc", v, dist, voxel_cm3) for v in (0.03, 1.0, 2.0)]
    return OrganDoses(name, d[0], d[1], d[2], dist.mean_gy)


def _inside(weights: np.ndarray, target: np.ndarray) -> bool:
    """Whether a structure lies wholly within the target (a GTV or CTV in a PTV)."""
    return bool(np.all(weights <= target))


def _point_mm(grid: Grid, flat_index: int) -> tuple[float, float, float]:
    index = np.unravel_index(flat_index, grid.shape)
    return tuple(
        float(o + i * s) for o, i, s in zip(grid.origin_mm, index, grid.spacing_mm, strict=True)
    )  # type: ignore[return-value]
