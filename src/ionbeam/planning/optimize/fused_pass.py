"""One pass over the kept rows for objective and gradient (D·w and Dᵀ·g fused).

When every objective of a problem is a sum over its voxels of a function of that voxel's
quantity alone — :class:`~.squared_deviation.SquaredDeviation`,
:class:`~.squared_underdose.SquaredUnderdose`, :class:`~.squared_overdose.SquaredOverdose`,
with or without voxel fractions — a row's share of the gradient, ∂F/∂q_i·D_i, is known
as soon as its dose is summed: :func:`._product_kernels.fused_rows` sums the row, computes
the quantity (physical, constant-RBE, effect or LQ RBE-weighted dose, with the fixed
offsets added), the voxel's terms' value and ∂F/∂q, and scatters the row's entries into the
spot accumulator right away, while they are still in cache. Every row touched is read from
memory once per evaluation instead of twice (once for D·w, again for Dᵀ·g).

The voxels' terms are tabled once per problem (:class:`FusedTerms`): per kept voxel, in
the order of the problem's terms, each term's kind, level and coefficient (its weight
times the voxel's share of the term's mean: 1/N, or its fraction over the fractions' sum).
A problem with any other objective (the dose–volume ones, the mean dose: not sums of
per-voxel functions) has no table and keeps the two-pass evaluation as a whole.

The rows are dealt to ``FUSED_CHUNKS`` fixed chunks of consecutive rows (balanced by
entries), each with its own spot accumulator, summed in chunk order: the result is the
same, bit for bit, whatever the thread count, and whatever rows row skipping leaves out
(:mod:`.row_skip`: a skipped row adds exactly 0). It equals the two-pass evaluation to
rounding (the sums are grouped differently, and the row sums are reassociated: see
:data:`._product_kernels._FUSED_OPTIONS`): within 1e-12 relative in the tests. Measured
(``bench/optimizer_bandwidth.py``, ``docs/validation.md``): the evaluation's CPU time
−45 to −53 % on TG-119 (protons and carbon, 1 and 2 threads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np

from ionbeam.planning.optimize import _product_kernels as kernels
from ionbeam.planning.optimize.influence_rows import InfluenceRows
from ionbeam.planning.optimize.objective import voxel_shares
from ionbeam.planning.optimize.quantities import _LQ, BoundQuantity, _Linear
from ionbeam.planning.optimize.squared_deviation import SquaredDeviation
from ionbeam.planning.optimize.squared_overdose import SquaredOverdose
from ionbeam.planning.optimize.squared_underdose import SquaredUnderdose

if TYPE_CHECKING:
    from ionbeam.planning.optimize.problem import ObjectiveTerm
    from ionbeam.planning.optimize.row_skip import RowSkip

__all__ = ["FUSED_CHUNKS", "FusedTerms", "fused_evaluation", "fused_terms"]

#: Chunks of consecutive kept rows, each with its own spot accumulator: a fixed number,
#: not the thread count, so the sums are grouped alike on any machine.
FUSED_CHUNKS = 16
#: The objectives with a per-voxel penalty: (kernel kind, level field).
_SEPARABLE = {
    SquaredDeviation: (kernels.DEVIATION, "dose_gy"),
    SquaredUnderdose: (kernels.UNDERDOSE, "min_dose_gy"),
    SquaredOverdose: (kernels.OVERDOSE, "max_dose_gy"),
}


@dataclass(frozen=True, eq=False)
class FusedTerms:
    """Per kept voxel its terms (``indptr`` into ``kind``, ``level``, ``coefficient``;
    the penalty is Σ coefficient·h², h = q − level clipped by kind) and the first kept row
    of each chunk (``chunk_rows``, ``FUSED_CHUNKS`` + 1 values); ``all_rows``: 0 … N − 1;
    ``zeros``: N zeros (the offsets of a product without any)."""

    indptr: np.ndarray
    kind: np.ndarray
    level: np.ndarray
    coefficient: np.ndarray
    chunk_rows: np.ndarray
    all_rows: np.ndarray
    zeros: np.ndarray


def fused_terms(
    terms: Sequence[ObjectiveTerm], rows: InfluenceRows, bound: BoundQuantity
) -> FusedTerms | None:
    """The terms tabled per kept voxel, or None when one of them (or the quantity) has no
    per-voxel penalty: the problem is then evaluated in two passes."""
    if not isinstance(bound, (_Linear, _LQ)):
        return None
    if any(type(term.objective) not in _SEPARABLE for term in terms):
        return None
    positions, kinds, levels, coefficients = [], [], [], []
    for term in terms:
        kind, field = _SEPARABLE[type(term.objective)]
        n = term.positions.size
        share = voxel_shares(n, term.voxel_weights)
        positions.append(np.asarray(term.positions, dtype=np.int64))
        kinds.append(np.full(n, kind, dtype=np.int64))
        levels.append(np.full(n, float(getattr(term.objective, field))))
        coefficients.append(term.objective.weight * np.broadcast_to(share, (n,)))
    position = np.concatenate(positions)
    order = np.argsort(position, kind="stable")  # per voxel in the terms' order
    counts = np.bincount(position, minlength=rows.n_voxels)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    targets = np.linspace(0.0, float(rows.nnz), FUSED_CHUNKS + 1)
    chunk_rows = np.searchsorted(rows.row_indptr[1:], targets, side="left").astype(np.int64)
    chunk_rows[0], chunk_rows[-1] = 0, rows.n_voxels
    return FusedTerms(
        indptr=indptr,
        kind=np.concatenate(kinds)[order],
        level=np.concatenate(levels)[order],
        coefficient=np.ascontiguousarray(np.concatenate(coefficients)[order], dtype=np.float64),
        chunk_rows=np.maximum.accumulate(chunk_rows),
        all_rows=np.arange(rows.n_voxels, dtype=np.int64),
        zeros=np.zeros(rows.n_voxels),
    )


def fused_evaluation(
    fused: FusedTerms,
    bound: BoundQuantity,
    w: np.ndarray,
    skip: RowSkip | None,
    n_threads: int | None = None,
) -> tuple[float, np.ndarray]:
    """(F, ∂F/∂w) at spot weights ``w`` (particles), unscaled, in one pass over the rows
    that ``skip`` leaves (all without it; a full pass renews its reference), on
    ``n_threads`` threads (default: numba's thread count; the same numbers with any)."""
    rows: InfluenceRows = bound.rows  # type: ignore[attr-defined]
    selected = None if skip is None else skip.select(w)
    if selected is None:
        read, chunk_rows = fused.all_rows, fused.chunk_rows
    else:
        read = np.asarray(selected, dtype=np.int64)
        chunk_rows = np.searchsorted(read, fused.chunk_rows).astype(np.int64)
    value, gradient, a, b = kernels.fused_rows(
        _matrix(rows, bound),
        w,
        read,
        chunk_rows,
        _quantity(rows, bound, fused.zeros),
        (fused.indptr, fused.kind, fused.level, fused.coefficient),
        rows.n_voxels,
        numba.get_num_threads() if n_threads is None else n_threads,
        skip is not None and selected is None,  # keep the products: the new reference
    )
    if skip is not None and selected is None:
        skip.renew(w, (a,) if isinstance(bound, _Linear) else (a, b))
    return value, gradient


def _matrix(rows: InfluenceRows, bound: BoundQuantity) -> tuple:
    if isinstance(bound, _Linear):
        values = rows.values["dose"]
        return rows.row_indptr, rows.row_indices, values, values, False
    a, b = rows.values["alpha_dose"], rows.values["sqrt_beta_dose"]
    return rows.row_indptr, rows.row_indices, a, b, True


def _quantity(rows: InfluenceRows, bound: BoundQuantity, zeros: np.ndarray) -> tuple:
    """The kernel's quantity: (kind, factor, offset A, offset B, α_x, α_x², 4β_x)."""
    unused = np.zeros(1)
    if isinstance(bound, _Linear):
        offset = rows.offsets.get("dose", zeros)
        return kernels.LINEAR, float(bound.factor), offset, zeros, unused, unused, unused
    assert isinstance(bound, _LQ)
    kind = kernels.RBE_DOSE if bound.as_dose else kernels.EFFECT
    return (
        kind,
        1.0,
        rows.offsets.get("alpha_dose", zeros),
        rows.offsets.get("sqrt_beta_dose", zeros),
        np.ascontiguousarray(bound.alpha_x, dtype=np.float64),
        bound._alpha_x_squared,
        bound._four_beta_x,
    )
