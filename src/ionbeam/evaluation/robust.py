"""Robust evaluation: a plan's dose in every error scenario, per structure.

:func:`robust_evaluation` takes the dose of each scenario (the nominal first; any
iterable, read one dose at a time, so that only one is in memory) and gives per
structure

* the metrics of every scenario: D98, D95, D50, D2, mean, max and D0.03cc (the
  "maximum" of current reporting practice, ICRU 83 / Nelms et al. 2015);
* the worst case over the scenarios: for a target the lowest D98, D95, mean and the
  highest D2, max; for any other structure the highest of every metric;
* the scenario band of the cumulative DVH (lowest and highest volume fraction at
  each dose over the scenarios, with the nominal curve).

For a target with a prescription it also says in which scenarios D95 falls below
95 % of it (the usual robustness criterion, e.g. Korevaar et al. 2019, *Radiother.
Oncol.* 133, 77: CTV D98 ≥ 95 % in the voxel-wise minimum; here per scenario).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ionbeam.errors import ConfigError, GridMismatchError, UnknownNameError
from ionbeam.evaluation._distribution import DoseDistribution
from ionbeam.evaluation._inputs import as_dose, as_structure_weights, named_structures
from ionbeam.patient.grid import Grid

__all__ = ["ROBUST_METRICS", "RobustEvaluation", "StructureBand", "robust_evaluation"]

#: Metrics per scenario, in this order.
ROBUST_METRICS = ("d98_gy", "d95_gy", "d50_gy", "d2_gy", "mean_gy", "max_gy", "d0_03cc_gy")
#: Metrics whose worst case in a target is the lowest value (the others: the highest).
_TARGET_LOW = ("d98_gy", "d95_gy", "d50_gy", "mean_gy")
#: Volume (cm³) of the near-maximum dose.
NEAR_MAX_CM3 = 0.03
#: Number of dose bins of the DVH band.
BAND_BINS = 200


@dataclass(frozen=True, eq=False)
class StructureBand:
    """One structure over the scenarios: ``metrics`` (name → value per scenario),
    ``worst`` (name → worst value), ``dose_edges_gy`` and the cumulative DVH of the
    nominal scenario with the lowest and highest over all scenarios (volume fractions
    at each edge)."""

    name: str
    is_target: bool
    metrics: dict[str, np.ndarray]
    worst: dict[str, float]
    dose_edges_gy: np.ndarray
    volume_nominal: np.ndarray
    volume_low: np.ndarray
    volume_high: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per-scenario metrics, worst case, and the band on 50 dose points."""
        step = max(1, self.dose_edges_gy.size // 50)
        return {
            "target": self.is_target,
            "worst": {k: float(v) for k, v in self.worst.items()},
            "scenarios": {k: [float(x) for x in v] for k, v in self.metrics.items()},
            "dvh_band": {
                "dose_gy": [float(x) for x in self.dose_edges_gy[::step]],
                "nominal": [float(x) for x in self.volume_nominal[::step]],
                "low": [float(x) for x in self.volume_low[::step]],
                "high": [float(x) for x in self.volume_high[::step]],
            },
        }


@dataclass(frozen=True, eq=False)
class RobustEvaluation:
    """A plan over its scenarios (``labels``, the nominal first): one
    :class:`StructureBand` per structure; ``prescription_gy`` (per the doses' unit)."""

    labels: tuple[str, ...]
    structures: tuple[StructureBand, ...]
    prescription_gy: float | None

    def structure(self, name: str) -> StructureBand:
        """The band of structure ``name``."""
        for band in self.structures:
            if band.name == name:
                return band
        raise UnknownNameError("structure", name, [b.name for b in self.structures])

    def underdosed_scenarios(self, fraction: float = 0.95) -> dict[str, list[str]]:
        """Per target, the scenarios whose D95 is below ``fraction`` × the prescription."""
        if self.prescription_gy is None:
            return {}
        limit = fraction * self.prescription_gy
        return {
            band.name: [
                label
                for label, d95 in zip(self.labels, band.metrics["d95_gy"], strict=True)
                if d95 < limit
            ]
            for band in self.structures
            if band.is_target
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for ``metrics.json``)."""
        return {
            "scenarios": list(self.labels),
            "prescription_gy": self.prescription_gy,
            "targets_d95_below_95_percent": self.underdosed_scenarios(),
            "structures": {b.name: b.to_dict() for b in self.structures},
        }

    def lines(self) -> list[str]:
        """A table for the terminal: nominal, worst and the scenario range per metric."""
        out = [f"robustness over {len(self.labels)} scenarios ({', '.join(self.labels)})"]
        out.append(f"  {'structure':<14}{'metric':<9}{'nominal':>9}{'worst':>9}   band")
        for band in self.structures:
            keys = ("d98_gy", "d95_gy", "max_gy") if band.is_target else ("d0_03cc_gy", "mean_gy")
            for key in keys:
                values = band.metrics[key]
                out.append(
                    f"  {band.name:<14}{key.removesuffix('_gy').replace('_', '.'):<9}"
                    f"{values[0]:>9.3f}{band.worst[key]:>9.3f}   "
                    f"{values.min():.3f}–{values.max():.3f}"
                )
        for name, labels in self.underdosed_scenarios().items():
            verdict = "robust" if not labels else f"D95 < 95 % in {', '.join(labels)}"
            out.append(f"  {name}: {verdict}")
        return out


def robust_evaluation(
    doses: Iterable[np.ndarray],
    grid: Grid,
    structures: Any,
    *,
    labels: Sequence[str],
    targets: Collection[str] = (),
    prescription_gy: float | None = None,
    max_dose_gy: float | None = None,
) -> RobustEvaluation:
    """Evaluate the scenario ``doses`` [x, y, z] on ``grid`` (one per label, the nominal
    first) for ``structures`` (name → mask, or objects with ``.name`` and ``.mask``).
    ``max_dose_gy``: top of the DVH band (default 1.3 × the nominal's highest dose in
    any structure)."""
    named = [(name, mask) for name, mask in named_structures(structures)]
    if not named:
        raise ConfigError("robust evaluation needs at least one structure")
    voxel_cm3 = float(np.prod(grid.spacing_mm)) / 1000.0
    weights = {name: as_structure_weights(m, grid.shape, name=name, grid=grid) for name, m in named}
    rows: dict[str, list[list[float]]] = {name: [] for name, _ in named}
    curves: dict[str, list[np.ndarray]] = {name: [] for name, _ in named}
    edges = None
    count = 0
    for dose_gy in doses:
        dose = as_dose(dose_gy, grid)
        for name, _ in named:
            dist = DoseDistribution.from_arrays(dose, weights[name])
            if edges is None:
                top = max(DoseDistribution.from_arrays(dose, w).max_gy for w in weights.values())
                top = 1.3 * top if max_dose_gy is None else float(max_dose_gy)
                edges = np.linspace(0.0, max(top, 1e-12), BAND_BINS + 1)
            rows[name].append(_metrics(dist, voxel_cm3))
            curves[name].append(dist.volume_at_dose(edges))
        count += 1
    if count != len(labels) or edges is None:
        raise GridMismatchError(
            f"got {count} scenario doses for {len(labels)} labels; give one dose per scenario"
        )
    bands = []
    for name, _ in named:
        table = np.array(rows[name])
        metrics = {key: table[:, k] for k, key in enumerate(ROBUST_METRICS)}
        is_target = name in set(targets)
        worst = {
            key: float(values.min() if is_target and key in _TARGET_LOW else values.max())
            for key, values in metrics.items()
        }
        stack = np.array(curves[name])
        bands.append(
            StructureBand(
                name, is_target, metrics, worst, edges, stack[0], stack.min(0), stack.max(0)
            )
        )
    return RobustEvaluation(tuple(labels), tuple(bands), prescription_gy)


def _metrics(dist: DoseDistribution, voxel_cm3: float) -> list[float]:
    fractions = np.array([0.98, 0.95, 0.50, 0.02])
    near_max = min(NEAR_MAX_CM3 / (dist.total_weight * voxel_cm3), 1.0)
    at = dist.dose_at_volume(np.append(fractions, near_max))
    return [*(float(v) for v in at[:4]), dist.mean_gy, dist.max_gy, float(at[4])]
