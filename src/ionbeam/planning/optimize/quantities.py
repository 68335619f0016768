"""The quantities an objective can be put on, and their exact gradients.

A quantity maps spot weights w (particles) to one value per voxel:

* :class:`PhysicalDose` — d = D w (Gy);
* :class:`ConstantRBEDose` — d = RBE · D w (Gy(RBE); protons: RBE 1.1);
* :class:`RBEWeightedDose` — the LQ model with dose-weighted α and √β (Zaider–Rossi):
  E = A w + (B w)² with A = α·D and B = √β·D (``alpha_dose``, ``sqrt_beta_dose``),
  then d_RBE = D_RBE(E; α_x, β_x) per voxel (matRad's "RBExD" optimization);
* :class:`BiologicalEffect` — E itself (matRad's "effect" optimization); objective
  dose levels d are turned into effects α_x d + β_x d² with the structure's tissue.

For the LQ quantities the gradient is the exact chain rule
∂F/∂w = Aᵀ s + Bᵀ (2 (B w) s), s = ∂F/∂d · dD_RBE/dE (s = ∂F/∂E for the effect),
two sparse products per evaluation, as the forward pass (A w, B w) is one fused pass.
α_x and β_x are given per dose-grid voxel (from the tissue of each structure), or as
scalars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Protocol

import numpy as np

from ionbeam.errors import ConfigError, GridMismatchError
from ionbeam.planning.optimize.influence_rows import InfluenceRows

__all__ = [
    "BiologicalEffect",
    "BoundQuantity",
    "ConstantRBEDose",
    "PhysicalDose",
    "Quantity",
    "RBEWeightedDose",
]


class BoundQuantity(Protocol):
    """A quantity on the kept voxels of an :class:`InfluenceRows`."""

    def forward(self, w: np.ndarray) -> tuple[np.ndarray, Any]:
        """(q per kept voxel, what :meth:`backward` needs)."""
        ...

    def backward(self, cache: Any, dq: np.ndarray) -> np.ndarray:
        """∂F/∂w per spot from ∂F/∂q per kept voxel."""
        ...


class Quantity(Protocol):
    """What an objective is evaluated on (see the module docstring).

    The attributes are read-only (properties here) so that frozen dataclasses satisfy
    the protocol.
    """

    @property
    def name(self) -> str: ...

    @property
    def unit(self) -> str: ...

    @property
    def matrices(self) -> tuple[str, ...]: ...

    def bind(self, rows: InfluenceRows, *, grid_size: int) -> BoundQuantity:
        """This quantity on the voxels of ``rows`` (of a dose grid of ``grid_size`` voxels)."""
        ...

    def level_converter(self, voxel_index: np.ndarray) -> Callable[[float], float] | None:
        """How objective dose levels on these voxels convert to this quantity (None: as is)."""
        ...


@dataclass(frozen=True, eq=False)
class _Linear:
    rows: InfluenceRows
    factor: float

    #: the products :meth:`from_products` takes, by matrix name: q of products no larger
    #: in magnitude than some bounds is at most q of those bounds (:mod:`.row_skip`)
    products: ClassVar[tuple[str, ...]] = ("dose",)

    def forward(self, w: np.ndarray) -> tuple[np.ndarray, None]:
        return self.from_products((self.rows.times("dose", w),))

    def from_products(self, products: tuple[np.ndarray, ...]) -> tuple[np.ndarray, None]:
        """(q, cache) from the products D·w (+ offsets) on the kept voxels."""
        q = products[0]
        return (q if self.factor == 1.0 else self.factor * q), None

    def backward(self, cache: None, dq: np.ndarray) -> np.ndarray:
        g = self.rows.transpose_times("dose", dq)
        return g if self.factor == 1.0 else self.factor * g


@dataclass(frozen=True)
class PhysicalDose:
    """Physical dose, Gy."""

    name: str = "physical_dose"
    unit: str = "Gy"
    matrices: tuple[str, ...] = ("dose",)

    def bind(self, rows: InfluenceRows, *, grid_size: int) -> BoundQuantity:
        """D w on the kept voxels."""
        return _Linear(rows, 1.0)

    def level_converter(self, voxel_index: np.ndarray) -> None:
        """Levels are doses already."""
        return None


@dataclass(frozen=True)
class ConstantRBEDose:
    """RBE-weighted dose with a constant RBE (default 1.1, protons), Gy(RBE)."""

    rbe: float = 1.1
    name: str = "constant_rbe_dose"
    unit: str = "Gy(RBE)"
    matrices: tuple[str, ...] = ("dose",)

    def __post_init__(self) -> None:
        if not (isinstance(self.rbe, (int, float)) and math.isfinite(self.rbe) and self.rbe > 0):
            raise ConfigError(f"a constant RBE must be a finite number > 0; got {self.rbe!r}")

    def bind(self, rows: InfluenceRows, *, grid_size: int) -> BoundQuantity:
        """RBE · D w on the kept voxels."""
        return _Linear(rows, float(self.rbe))

    def level_converter(self, voxel_index: np.ndarray) -> None:
        """Levels are RBE-weighted doses already."""
        return None


@dataclass(frozen=True, eq=False)
class _LQ:
    """E = A w + (B w)², optionally mapped to D_RBE (``as_dose``).

    D_RBE and its slope share one root, r = √(α_x² + 4 β_x E): D_RBE = 2E / (r + α_x)
    and dD_RBE/dE = 1/r (:func:`~ionbeam.physics.radiobiology.lq.rbe_weighted_dose`
    and its derivative, the same expressions), evaluated once per iteration here with
    α_x² and 4β_x kept from binding (α_x, β_x were checked there)."""

    rows: InfluenceRows
    alpha_x: np.ndarray
    beta_x: np.ndarray
    as_dose: bool

    @cached_property
    def _alpha_x_squared(self) -> np.ndarray:
        return self.alpha_x * self.alpha_x

    @cached_property
    def _four_beta_x(self) -> np.ndarray:
        return 4.0 * self.beta_x

    products: ClassVar[tuple[str, ...]] = ("alpha_dose", "sqrt_beta_dose")

    def forward(self, w: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray | None]]:
        return self.from_products(self.rows.times_pair("alpha_dose", "sqrt_beta_dose", w))

    def from_products(
        self, products: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray | None]]:
        """(q, cache) from A·w and B·w (+ offsets) on the kept voxels."""
        a, b = products
        effect = np.maximum(a + b * b, 0.0)
        if not self.as_dose:
            return effect, (b, None)
        root = np.sqrt(self._alpha_x_squared + self._four_beta_x * effect)
        dose = 2.0 * effect / (root + self.alpha_x)
        return dose, (b, 1.0 / root)

    def backward(self, cache: tuple[np.ndarray, np.ndarray | None], dq: np.ndarray) -> np.ndarray:
        b, slope = cache
        s = dq if slope is None else dq * slope
        return self.rows.transpose_times_sum("alpha_dose", "sqrt_beta_dose", s, 2.0 * b * s)


def _tissue_values(values: Any, name: str, rows: InfluenceRows, grid_size: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        out = np.full(rows.n_voxels, float(array))
    elif array.size == grid_size:
        out = array.reshape(-1)[rows.voxel_index]
    else:
        raise GridMismatchError(
            f"{name} must be a scalar or one value per dose-grid voxel; got shape {array.shape}"
        )
    if not (np.all(np.isfinite(out)) and np.all(out > 0)):
        raise ConfigError(f"{name} must be finite and > 0 in every voxel with an objective")
    return out


@dataclass(frozen=True, eq=False)
class RBEWeightedDose:
    """RBE-weighted dose D_RBE (Gy(RBE)) through the LQ model, from ``alpha_dose`` and
    ``sqrt_beta_dose``, with the photon α_x (Gy⁻¹) and β_x (Gy⁻²) per dose-grid voxel
    (arrays of the grid's size, any shape) or scalars."""

    alpha_x_gy: Any
    beta_x_gy2: Any
    name: str = "rbe_weighted_dose"
    unit: str = "Gy(RBE)"
    matrices: tuple[str, ...] = ("alpha_dose", "sqrt_beta_dose")

    def bind(self, rows: InfluenceRows, *, grid_size: int) -> BoundQuantity:
        """D_RBE(A w + (B w)²) on the kept voxels."""
        alpha = _tissue_values(self.alpha_x_gy, "alpha_x", rows, grid_size)
        beta = _tissue_values(self.beta_x_gy2, "beta_x", rows, grid_size)
        return _LQ(rows, alpha, beta, as_dose=True)

    def level_converter(self, voxel_index: np.ndarray) -> None:
        """Levels are RBE-weighted doses already."""
        return None


@dataclass(frozen=True, eq=False)
class BiologicalEffect:
    """Biological effect E = A w + (B w)² (dimensionless). Objective levels (Gy(RBE))
    become α_x d + β_x d² with the tissue most frequent among the structure's voxels."""

    alpha_x_gy: Any
    beta_x_gy2: Any
    name: str = "biological_effect"
    unit: str = ""
    matrices: tuple[str, ...] = ("alpha_dose", "sqrt_beta_dose")

    def bind(self, rows: InfluenceRows, *, grid_size: int) -> BoundQuantity:
        """A w + (B w)² on the kept voxels."""
        alpha = _tissue_values(self.alpha_x_gy, "alpha_x", rows, grid_size)
        beta = _tissue_values(self.beta_x_gy2, "beta_x", rows, grid_size)
        return _LQ(rows, alpha, beta, as_dose=False)

    def level_converter(self, voxel_index: np.ndarray) -> Callable[[float], float]:
        """d ↦ α_x d + β_x d² with the structure's (most frequent) tissue."""
        alpha_x, beta_x = _modal(self.alpha_x_gy, self.beta_x_gy2, voxel_index)
        return lambda dose: alpha_x * dose + beta_x * dose * dose


def _modal(alpha_x: Any, beta_x: Any, voxel_index: np.ndarray) -> tuple[float, float]:
    """The (α_x, β_x) pair most frequent among ``voxel_index`` (flat dose-grid indices)."""
    pairs = np.stack([_at(alpha_x, voxel_index), _at(beta_x, voxel_index)], axis=1)
    unique, counts = np.unique(pairs, axis=0, return_counts=True)
    best = unique[int(np.argmax(counts))]
    return float(best[0]), float(best[1])


def _at(values: Any, voxel_index: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        return np.full(voxel_index.size, float(array))
    return array.reshape(-1)[voxel_index]
