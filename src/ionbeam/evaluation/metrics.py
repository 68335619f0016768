"""Dose metrics per structure: D_x, V_x, mean/min/max, and target indices.

``dose_metrics`` is the one call later stages (the optimizer's report,
``ionbeam plan``'s ``metrics.json``, the HTML report) use. D_x and V_x follow
the conventions of :mod:`ionbeam.evaluation.dvh`; the homogeneity and Paddick
conformity indices those of :mod:`ionbeam.evaluation.indices`.

JSON keys carry their units: ``d95_gy`` is the dose (Gy, or Gy(RBE) for an
RBE-weighted dose) received by at least 95 % of the volume; ``v95_percent`` the
percentage of the volume receiving at least 95 % of the prescription;
``v20gy_percent`` the percentage receiving at least 20 Gy.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ionbeam.errors import OutOfRangeError, UnknownNameError
from ionbeam.evaluation._distribution import DoseDistribution
from ionbeam.evaluation._inputs import as_dose, as_structure_weights, named_structures
from ionbeam.evaluation.indices import conformity_from_weights, homogeneity_from_distribution
from ionbeam.patient import Grid

__all__ = ["DoseMetrics", "StructureMetrics", "dose_metrics"]

# D_x reported for every structure: (field name, volume fraction).
_DOSE_AT_VOLUME = (("d98_gy", 0.98), ("d95_gy", 0.95), ("d50_gy", 0.50), ("d5_gy", 0.05),
                   ("d2_gy", 0.02))  # fmt: skip


@dataclass(frozen=True)
class StructureMetrics:
    """Dose metrics of one structure (doses in Gy or Gy(RBE), volumes in cm³ or %).

    ``v95_percent`` / ``v107_percent``: % of the volume receiving at least 95 % /
    107 % of the prescription (``None`` without one). ``volume_percent_at_dose_gy``:
    ``(dose level, % of the volume receiving at least it)`` for each requested
    level. ``homogeneity_index`` and ``paddick_conformity_index`` are given for
    targets only (``None`` otherwise; the latter needs a prescription).
    """

    name: str
    volume_cm3: float
    mean_gy: float
    min_gy: float
    max_gy: float
    d98_gy: float
    d95_gy: float
    d50_gy: float
    d5_gy: float
    d2_gy: float
    v95_percent: float | None = None
    v107_percent: float | None = None
    volume_percent_at_dose_gy: tuple[tuple[float, float], ...] = ()
    homogeneity_index: float | None = None
    paddick_conformity_index: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready values keyed with units (``d95_gy``, ``v20gy_percent``, …); no name."""
        out: dict[str, float | None] = {
            key: getattr(self, key)
            for key in ("volume_cm3", "mean_gy", "min_gy", "max_gy",
                        *(name for name, _ in _DOSE_AT_VOLUME), "v95_percent", "v107_percent")
        }  # fmt: skip
        for level_gy, percent in self.volume_percent_at_dose_gy:
            out[f"v{level_gy:g}gy_percent"] = percent
        out["homogeneity_index"] = self.homogeneity_index
        out["paddick_conformity_index"] = self.paddick_conformity_index
        return out


@dataclass(frozen=True)
class DoseMetrics:
    """Metrics of every structure of one dose, in the order given, with the
    prescription (Gy or Gy(RBE), per fraction or total as the dose is) they refer to."""

    prescription_gy: float | None
    structures: tuple[StructureMetrics, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Structure names, in order."""
        return tuple(s.name for s in self.structures)

    def __getitem__(self, name: str) -> StructureMetrics:
        for metrics in self.structures:
            if metrics.name == name:
                return metrics
        raise UnknownNameError("structure", name, self.names)

    def to_dict(self) -> dict[str, Any]:
        """``{"prescription_gy": …, "structures": {name: {"d95_gy": …, …}}}`` (``metrics.json``)."""
        return {
            "prescription_gy": self.prescription_gy,
            "structures": {s.name: s.to_dict() for s in self.structures},
        }


def dose_metrics(
    dose_gy: np.ndarray,
    grid: Grid,
    structures: Any,
    *,
    prescription_gy: float | None = None,
    targets: Collection[str] = (),
    dose_levels_gy: Sequence[float] = (),
    body: str | None = None,
) -> DoseMetrics:
    """Dose metrics of each structure.

    ``structures``: a mapping name → mask (boolean or partial-volume weights)
    or an iterable of objects with ``.name`` and ``.mask``, all on ``grid``.
    ``targets``: names of the structures that also get the homogeneity index
    and (with ``prescription_gy``) the Paddick conformity index, whose
    prescription isodose volume is counted inside the structure named ``body``
    (default: the whole grid). ``dose_levels_gy``: levels for V_x Gy.
    """
    dose = as_dose(dose_gy, grid)
    prescription = _check_prescription(prescription_gy)
    levels = _check_levels(dose_levels_gy)
    pairs = named_structures(structures)
    names = [name for name, _ in pairs]
    for wanted in (*targets, *([body] if body is not None else [])):
        if wanted not in names:
            raise UnknownNameError("structure", wanted, names)
    weights = {name: as_structure_weights(m, dose.shape, name=name, grid=grid) for name, m in pairs}
    flat = dose.reshape(-1)
    body_weights = weights[body] if body is not None else None
    results = []
    for name in names:
        dist = DoseDistribution.from_arrays(flat, weights[name])
        is_target = name in targets
        ci = None
        if is_target and prescription is not None:
            ci = conformity_from_weights(flat, weights[name], body_weights, prescription)
        results.append(
            _structure_metrics(
                name, dist, grid, prescription, levels,
                homogeneity=homogeneity_from_distribution(dist, name=name) if is_target else None,
                conformity=ci,
            )
        )  # fmt: skip
    return DoseMetrics(prescription_gy=prescription, structures=tuple(results))


def _structure_metrics(
    name: str,
    dist: DoseDistribution,
    grid: Grid,
    prescription: float | None,
    levels: tuple[float, ...],
    *,
    homogeneity: float | None,
    conformity: float | None,
) -> StructureMetrics:
    d_values = dist.dose_at_volume(np.array([f for _, f in _DOSE_AT_VOLUME]))
    relative: tuple[float | None, float | None] = (None, None)
    if prescription is not None:
        v95, v107 = dist.volume_at_dose(np.array([0.95, 1.07]) * prescription)
        relative = (100.0 * float(v95), 100.0 * float(v107))
    at_levels = tuple(
        (level, 100.0 * float(v)) for level, v in zip(levels, dist.volume_at_dose(np.array(levels)),
                                                      strict=True)
    )  # fmt: skip
    return StructureMetrics(
        name=name,
        volume_cm3=dist.total_weight * grid.voxel_volume_mm3 / 1000.0,
        mean_gy=dist.mean_gy,
        min_gy=dist.min_gy,
        max_gy=dist.max_gy,
        **{key: float(v) for (key, _), v in zip(_DOSE_AT_VOLUME, d_values, strict=True)},
        v95_percent=relative[0],
        v107_percent=relative[1],
        volume_percent_at_dose_gy=at_levels,
        homogeneity_index=homogeneity,
        paddick_conformity_index=conformity,
    )


def _check_prescription(prescription_gy: float | None) -> float | None:
    if prescription_gy is None:
        return None
    value = float(prescription_gy)
    if not (math.isfinite(value) and value > 0):
        raise OutOfRangeError("prescription dose", prescription_gy, 0.0, math.inf, "Gy")
    return value


def _check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(v) for v in levels)
    for v in values:
        if not (math.isfinite(v) and v >= 0):
            raise OutOfRangeError("V_x dose level", v, 0.0, math.inf, "Gy")
    return values
