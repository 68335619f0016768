"""What every objective is: a weighted penalty on one structure's voxel values.

An objective sees only ``q``, the optimized quantity (dose in Gy, RBE-weighted
dose in Gy(RBE), or biological effect) in the voxels of its structure, and
gives its ``value(q)`` (a mean over the voxels, so that structures of any
size weigh alike) and ``gradient(q)`` (∂value/∂q per voxel). Both take
optional per-voxel volume ``weights`` (the fraction of each voxel inside the
structure): the mean is then weighted, so that a voxel half inside counts half. Its ``weight``
(matRad's "priority") multiplies it in the total objective. Dose levels are
fields named in ``LEVELS``; :meth:`with_levels` maps them (to effect units, or to
one field's share in single-field uniform dose planning).

Constraints are penalties: a maximum dose is a :class:`SquaredOverdose` with a
large weight (see the planning recipe for the weights it uses).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

from ionbeam.errors import ConfigError

__all__ = [
    "Objective",
    "check_fraction",
    "check_level",
    "check_weight",
    "convert_levels",
    "voxel_mean",
    "voxel_shares",
]

T = TypeVar("T")


@runtime_checkable
class Objective(Protocol):
    """A penalty on the quantity ``q`` [n_voxels] of one structure (``weight``: read-only,
    so that frozen dataclasses satisfy the protocol)."""

    @property
    def weight(self) -> float: ...

    def value(self, q: np.ndarray, weights: np.ndarray | None = None) -> float:
        """The penalty (≥ 0), without the weight; ``weights``: per-voxel volumes."""
        ...

    def gradient(self, q: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """∂value/∂q per voxel, without the weight."""
        ...

    def with_levels(self, convert: Callable[[float], float]) -> Objective:
        """A copy whose dose levels are ``convert(level)``."""
        ...


def voxel_mean(values: np.ndarray, weights: np.ndarray | None) -> float:
    """The mean of per-voxel ``values``, weighted by the voxels' volumes (plain without)."""
    if weights is None:
        return float(np.mean(values))
    return float(np.dot(weights, values) / np.sum(weights))


def voxel_shares(n: int, weights: np.ndarray | None) -> float | np.ndarray:
    """Each voxel's share of the mean: 1/n, or its weight over the total weight."""
    if weights is None:
        return 1.0 / n
    return weights / np.sum(weights)


def convert_levels(objective: T, fields: tuple[str, ...], convert: Callable[[float], float]) -> T:
    """A copy of the dataclass ``objective`` with ``convert`` applied to ``fields``."""
    changes = {name: float(convert(getattr(objective, name))) for name in fields}
    return dataclasses.replace(objective, **changes)  # type: ignore[type-var]


def check_level(kind: str, name: str, value: float) -> float:
    """A dose level: finite and ≥ 0 (Gy, Gy(RBE) or effect)."""
    number = float(value) if isinstance(value, (int, float)) else math.nan
    if not (math.isfinite(number) and number >= 0.0):
        raise ConfigError(f"{kind}: {name} must be a finite dose ≥ 0 Gy; got {value!r}")
    return number


def check_weight(kind: str, value: float) -> float:
    """An objective weight: finite and > 0."""
    number = float(value) if isinstance(value, (int, float)) else math.nan
    if not (math.isfinite(number) and number > 0.0):
        raise ConfigError(f"{kind}: weight must be a finite number > 0; got {value!r}")
    return number


def check_fraction(kind: str, name: str, value: float) -> float:
    """A volume fraction in (0, 1]."""
    number = float(value) if isinstance(value, (int, float)) else math.nan
    if not (math.isfinite(number) and 0.0 < number <= 1.0):
        raise ConfigError(
            f"{kind}: {name} must be a volume fraction in (0, 1] (e.g. 0.95); got {value!r}"
        )
    return number
