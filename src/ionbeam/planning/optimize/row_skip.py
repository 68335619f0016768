"""Skip the rows of D·w that cannot reach the level of their only objectives.

Most voxels that carry an objective carry only a one-sided maximum (a squared
overdose: "the body no higher than 60 %"), and most of those stay far below it: their
objective and its gradient are exactly 0, whatever their dose is down there. Yet D·w
reads every row at every evaluation (~80 % of an evaluation's time: the Dᵀ·g product
already visits only the rows with a non-zero gradient).

A row's dose cannot rise faster than its entries allow: with q_ref = D·w_ref at some
earlier weights, q(w) = q_ref + Σ_j D_ij (w_j − w_ref,j) ≤ q_ref + ‖D_i‖₁ max_j (w_j −
w_ref,j)⁺. Where that bound stays below the voxel's level, the voxel's objectives are
0 at w as at w_ref: its row is not read and its stale q_ref (also below the level) is
passed on; the other rows are computed as :meth:`InfluenceRows.times` computes them.
So the objective and its gradient are the same numbers, bit for bit, as without
skipping. w_ref is renewed (a full product) when more than ``REFRESH_FRACTION`` of the
entries would be read anyway. Measured on TG-119 (protons, 3 mm; simulated on the
weights of a whole optimization): 0.67 of the entries read per evaluation on average
(a per-beam bound: 0.66, not worth its memory); the optimization's CPU time −17 to −21 %
on TG-119 and −27 % on the clinical-size pelvis (``bench/optimizer_legs.py --skip on
off``, ``bench/clinical_size.py --no-skip``), the same plans bit for bit.

The LQ quantities (RBE-weighted dose, effect) rise with the magnitudes of their two
products A·w and B·w (E = A w + (B w)², D_RBE increasing in E), so the same bound on
each product (with max |w − w_ref|) bounds them too. Only voxels whose every objective
is a :class:`~.squared_overdose.SquaredOverdose` are skipped. The one-pass evaluation
(:mod:`.fused_pass`) asks :meth:`RowSkip.select` which rows to read and hands a full pass's
products to :meth:`RowSkip.renew`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ionbeam.planning.optimize import _product_kernels as kernels
from ionbeam.planning.optimize.squared_overdose import SquaredOverdose

if TYPE_CHECKING:
    from ionbeam.planning.optimize.problem import ObjectiveTerm

__all__ = ["REFRESH_FRACTION", "RowSkip", "skip_levels"]

#: A full product renews the reference when a partial one would read more than this
#: fraction of the entries (measured best of 0.5 / 0.7 / 0.9 on TG-119: 0.7).
REFRESH_FRACTION = 0.7
#: Levels are lowered by this relative margin against rounding in the products.
_MARGIN = 1.0e-9


def skip_levels(terms: Sequence[ObjectiveTerm], n_voxels: int) -> np.ndarray:
    """Per kept voxel: the level (quantity units) below which all its objectives are 0
    (−inf where one of them is not a squared overdose)."""
    levels = np.full(n_voxels, np.inf)
    never = np.zeros(n_voxels, dtype=bool)
    for term in terms:
        if isinstance(term.objective, SquaredOverdose):
            level = term.objective.max_dose_gy
            levels[term.positions] = np.minimum(levels[term.positions], level)
        else:
            never[term.positions] = True
    levels[never] = -np.inf
    return levels


class RowSkip:
    """A bound quantity's forward pass with the rows below their level skipped (see the
    module docstring). Holds the reference weights and products between calls: one per
    problem (its offsets and rows), never shared between threads."""

    def __init__(self, bound: Any, levels: np.ndarray, *, like: RowSkip | None = None):
        self.bound = bound
        self.rows = bound.rows
        self.names: tuple[str, ...] = tuple(bound.products)
        self.levels: np.ndarray
        # the rows' ℓ1 norms per product and whether all entries are ≥ 0, computed at the
        # first use (a problem never solved, a robust scenario's, costs no pass) and
        # shared with ``like`` (the same rows with other offsets)
        self._norms: dict[str, Any]
        if like is not None:
            self.levels, self._norms = like.levels, like._norms
        else:  # lowered by the rounding margin
            levels = np.asarray(levels, dtype=np.float64)
            finite = np.isfinite(levels)
            lowered = levels - _MARGIN * np.abs(np.where(finite, levels, 0.0))
            self.levels = np.where(finite, lowered, levels)
            self._norms = {}
        self.w_ref: np.ndarray | None = None
        self.p_ref: tuple[np.ndarray, ...] | None = None
        self.read = 0  # entries read, for the benches
        self.evaluations = 0

    @property
    def useful(self) -> bool:
        """Whether any voxel can be skipped at all."""
        return bool(np.any(np.isfinite(self.levels)))

    def forward(self, w: np.ndarray) -> tuple[np.ndarray, Any]:
        """The bound quantity's (q, cache), with stale values below the levels."""
        return self.bound.from_products(self._products(np.asarray(w, dtype=np.float64)))

    def select(self, w: np.ndarray) -> np.ndarray | None:
        """The kept rows (ascending) whose products are needed at ``w``, or None: all of
        them, a full pass whose products must then be given to :meth:`renew`."""
        self.evaluations += 1
        if self.w_ref is not None and self.p_ref is not None:
            need = np.flatnonzero(self._upper(w) >= self.levels)
            count = int(self.rows.row_lengths[need].sum())
            if count <= REFRESH_FRACTION * self.rows.nnz:
                self.read += count
                return need
        self.read += self.rows.nnz
        return None

    def renew(self, w: np.ndarray, products: tuple[np.ndarray, ...]) -> None:
        """The reference: the products of all rows at ``w`` (kept as given)."""
        self.w_ref, self.p_ref = w.copy(), products

    def _norm_bound(self) -> tuple[list[np.ndarray], bool]:
        if not self._norms:
            values = [self.rows.values[name] for name in self.names]
            self._norms["l1"] = [kernels.rows_abs_sums(self.rows.row_indptr, v) for v in values]
            self._norms["nonnegative"] = all(v.size == 0 or v.min() >= 0.0 for v in values)
        return self._norms["l1"], self._norms["nonnegative"]

    def _upper(self, w: np.ndarray) -> np.ndarray:
        """An upper bound of q at ``w`` per kept voxel, from the reference products."""
        assert self.w_ref is not None and self.p_ref is not None
        norms, nonnegative = self._norm_bound()
        change = w - self.w_ref
        if len(self.names) == 1 and nonnegative:  # q = c·(D w + offset), D ≥ 0, c > 0
            rise = max(float(np.max(change)), 0.0)
            return self.bound.from_products((self.p_ref[0] + norms[0] * rise,))[0]
        rise = float(np.max(np.abs(change)))
        upper = tuple(np.abs(p) + n * rise for p, n in zip(self.p_ref, norms, strict=True))
        return self.bound.from_products(upper)[0]

    def _products(self, w: np.ndarray) -> tuple[np.ndarray, ...]:
        need = self.select(w)
        if need is not None:
            assert self.p_ref is not None
            products = tuple(p.copy() for p in self.p_ref)
            for product, part in zip(products, self._rows(w, need), strict=True):
                product[need] = part
            return products
        products = self._rows(w, None)
        self.renew(w, tuple(p.copy() for p in products))
        return products

    def _rows(self, w: np.ndarray, rows: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """The products on ``rows`` (None: all), as the bound quantity computes them."""
        if len(self.names) == 1:
            name = self.names[0]
            return (
                self.rows.times(name, w) if rows is None else self.rows.times_rows(name, w, rows),
            )
        first, second = self.names
        if rows is None:
            return self.rows.times_pair(first, second, w)
        return self.rows.times_pair_rows(first, second, w, rows)
