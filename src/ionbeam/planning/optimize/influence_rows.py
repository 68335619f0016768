"""The dose-influence matrices restricted to the voxels that carry an objective.

The optimizer never touches a voxel without an objective, so the rows of the
dose-influence matrices (and of their α·D and √β·D companions) are cut to
those voxels once, before the first iteration, and kept once, as compressed
rows: float32 values and uint16 spot indices (int32 past 65535 spots), 6 to 8
bytes per entry. D·w runs in parallel over the rows; Dᵀ·g scatters the rows
where g ≠ 0 into a fixed number of partial sums (:mod:`._product_kernels`).
The rows are built straight from the dose engine's compressed columns with no
per-entry temporary, so the optimization's peak is the dose-influence matrix
plus this one copy of its kept rows. Nothing here is ever dense.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ionbeam.errors import GridMismatchError, StructureError
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize import _product_kernels as kernels

__all__ = ["InfluenceRows", "restrict_influence", "sorted_unique"]

#: Spot indices of the compressed rows are stored as uint16 when there are at most this
#: many spots: D·w then reads 6 instead of 8 bytes per entry (25 % faster, measured).
NARROW_INDEX_LIMIT = 65535
#: Dᵀ·g by the row-wise scatter sums into this many partial sums, in a fixed order: a
#: fixed number, not the thread count, so that the plan is the same bit for bit
#: whatever ``NUMBA_NUM_THREADS`` is (floating-point sums depend on their grouping).
SCATTER_CHUNKS = 16
#: Companion matrices of a DoseInfluence that can be restricted with the dose.
_MATRICES = ("dose", "alpha_dose", "sqrt_beta_dose")


@dataclass(frozen=True, eq=False)
class InfluenceRows:
    """Rows ``voxel_index`` (flat dose-grid indices, ascending) of the influence
    matrices, for the spots ``spot_index`` of the plan, as compressed rows: ``row_indptr``,
    ``row_indices`` (positions in ``spot_index``; uint16 up to ``NARROW_INDEX_LIMIT``
    spots, else int32) and ``values``: float32 entries per matrix name (``dose``, and
    ``alpha_dose``, ``sqrt_beta_dose`` when present), all sharing one pattern."""

    voxel_index: np.ndarray
    spot_index: np.ndarray
    row_indptr: np.ndarray
    row_indices: np.ndarray
    values: dict[str, np.ndarray]
    offsets: dict[str, np.ndarray] = field(default_factory=dict)

    @cached_property
    def row_lengths(self) -> np.ndarray:
        """Stored entries per kept voxel."""
        return np.diff(self.row_indptr)

    @property
    def n_voxels(self) -> int:
        """Number of rows kept."""
        return int(self.voxel_index.size)

    @property
    def n_spots(self) -> int:
        """Number of columns (spots)."""
        return int(self.spot_index.size)

    @property
    def nnz(self) -> int:
        """Stored entries per matrix."""
        return int(self.row_indices.size)

    def has(self, name: str) -> bool:
        """Whether matrix ``name`` is present."""
        return name in self.values

    def times(self, name: str, w: np.ndarray) -> np.ndarray:
        """M·w (+ its fixed offset, if any) on the kept voxels (w: particles per spot)."""
        q = kernels.rows_dot(self.row_indptr, self.row_indices, self.values[name], w)
        if name in self.offsets:
            q += self.offsets[name]
        return q

    def times_rows(self, name: str, w: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(M·w)[rows] (+ its fixed offset there): the same numbers as :meth:`times`."""
        q = kernels.rows_dot_subset(self.row_indptr, self.row_indices, self.values[name], w, rows)
        if name in self.offsets:
            q += self.offsets[name][rows]
        return q

    def times_pair_rows(
        self, first: str, second: str, w: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`times_pair` on ``rows`` only: the same numbers there."""
        a, b = kernels.rows_dot_pair_subset(
            self.row_indptr, self.row_indices, self.values[first], self.values[second], w, rows
        )
        if first in self.offsets:
            a += self.offsets[first][rows]
        if second in self.offsets:
            b += self.offsets[second][rows]
        return a, b

    def times_pair(self, first: str, second: str, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M₁·w, M₂·w) (+ their fixed offsets) in one pass over the shared pattern."""
        a, b = kernels.rows_dot_pair(
            self.row_indptr, self.row_indices, self.values[first], self.values[second], w
        )
        if first in self.offsets:
            a += self.offsets[first]
        if second in self.offsets:
            b += self.offsets[second]
        return a, b

    @property
    def nbytes(self) -> int:
        """Bytes held by the rows (pattern and every value array)."""
        arrays = (self.row_indptr, self.row_indices, *self.values.values())
        return int(sum(a.nbytes for a in arrays))

    def column_squares(self, name: str, positions: np.ndarray) -> np.ndarray:
        """Σ M² per spot over the kept voxels ``positions`` (the diagonal of MᵀM there)."""
        rows = np.asarray(positions, dtype=np.int64)
        return kernels.rows_squared_sums(
            self.row_indptr, self.row_indices, self.values[name], rows, self.n_spots
        )

    def weighted_column_squares(self, name: str, row_weights: np.ndarray) -> np.ndarray:
        """Σᵢ cᵢ Mᵢⱼ² per spot j over the kept voxels i (c: one weight per kept voxel)."""
        c = np.ascontiguousarray(row_weights, dtype=np.float64)
        if c.size != self.n_voxels:
            raise GridMismatchError(f"need {self.n_voxels} row weights; got {c.size}")
        return kernels.rows_weighted_squared_sums(
            self.row_indptr, self.row_indices, self.values[name], c, self.n_spots
        )

    def transpose_times(self, name: str, g: np.ndarray) -> np.ndarray:
        """Mᵀ·g per spot (g: one value per kept voxel)."""
        values = self.values[name]
        return self._scatter(values, values, g, g, False)

    def transpose_times_sum(
        self, first: str, second: str, g_first: np.ndarray, g_second: np.ndarray
    ) -> np.ndarray:
        """M₁ᵀ·g₁ + M₂ᵀ·g₂ in one pass over the shared pattern."""
        return self._scatter(self.values[first], self.values[second], g_first, g_second, True)

    def _scatter(
        self, a: np.ndarray, b: np.ndarray, ga: np.ndarray, gb: np.ndarray, with_b: bool
    ) -> np.ndarray:
        """Aᵀga (+ Bᵀgb) over the rows where ga or gb is non-zero."""
        ga = np.ascontiguousarray(ga, dtype=np.float64)
        gb = np.ascontiguousarray(gb, dtype=np.float64)
        active = np.flatnonzero((ga != 0.0) | (gb != 0.0)) if with_b else np.flatnonzero(ga)
        return kernels.active_rows_scatter(
            self.row_indptr,
            self.row_indices,
            a,
            b,
            active,
            ga,
            gb,
            with_b,
            self.n_spots,
            SCATTER_CHUNKS,
        )


def restrict_influence(
    influence: DoseInfluence,
    voxel_index: np.ndarray,
    *,
    spot_index: np.ndarray | None = None,
    matrices: tuple[str, ...] = ("dose",),
) -> InfluenceRows:
    """The rows ``voxel_index`` (flat dose-grid indices; past the grid's N voxels, the
    influence's sub-voxels: :mod:`ionbeam.planning.sub_voxels`) of ``matrices`` for the
    spots ``spot_index`` (default: all; a contiguous range, e.g. one beam, is cheapest)."""
    given = np.asarray(voxel_index, dtype=np.int64).reshape(-1)
    n_grid, n_spots = influence.dose.shape
    n_rows = influence.n_rows
    if given.size == 0:
        raise StructureError("no voxel carries an objective; give at least one objective")
    low, high = int(given.min()), int(given.max())
    if low < 0 or high >= n_rows:
        raise GridMismatchError(
            f"voxel indices must lie in 0…{n_rows - 1} (the dose grid); got {low}…{high}"
        )
    voxels = sorted_unique(given, n_rows)
    spots = np.arange(n_spots) if spot_index is None else np.asarray(spot_index, dtype=np.int64)
    if spots.size == 0 or spots.min() < 0 or spots.max() >= n_spots:
        raise GridMismatchError(f"spot indices must lie in 0…{n_spots - 1}; got {spots.size} spots")
    parts = [(influence, voxels[voxels < n_grid])]
    sub = influence.sub_voxels
    if sub is not None and voxels[-1] >= n_grid:
        if sub.influence is None:
            raise GridMismatchError("the sub-voxels carry no dose-influence matrices")
        parts.append((sub.influence, sub.fine_index[voxels[voxels >= n_grid] - n_grid]))
    patterns = [_kept_pattern(_base(source, matrices), rows, spots) for source, rows in parts]
    starts = np.cumsum([0] + [int(p[1][-1]) for p in patterns])
    row_indptr = np.concatenate(
        [[0]] + [p[1][1:] + start for p, start in zip(patterns, starts, strict=False)]
    ).astype(np.int64)
    nnz = int(starts[-1])
    narrow = spots.size <= NARROW_INDEX_LIMIT
    row_indices = np.empty(nnz, dtype=np.uint16 if narrow else np.int32)
    values = {name: np.empty(nnz, dtype=np.float32) for name in matrices}
    for (source, _), (indptr, kept, row_map), start in zip(parts, patterns, starts, strict=False):
        stop = start + int(kept[-1])
        base = _base(source, matrices)
        for k, name in enumerate(matrices):
            matrix = _matrix(source, name)
            if not (np.array_equal(matrix.indptr, base.indptr)):
                raise GridMismatchError(f"the {name} matrix does not share the dose's pattern")
            kernels.fill_kept_rows(
                indptr, matrix.indices, matrix.data, spots, row_map, kept,
                row_indices[start:stop], values[name][start:stop], k == 0,
            )  # fmt: skip
    offsets = {}
    if influence.optimizer_offsets is not None and spot_index is None:
        offsets = {
            name: np.asarray(influence.optimizer_offsets[name], dtype=np.float64)[voxels]
            for name in matrices
            if name in influence.optimizer_offsets
        }
    return InfluenceRows(voxels, spots, row_indptr, row_indices, values, offsets)


def _base(influence: DoseInfluence, matrices: tuple[str, ...]) -> sp.csc_matrix:
    """The matrix whose pattern the rows share (the dose, else the first asked for)."""
    return _matrix(influence, "dose" if "dose" in matrices else matrices[0])


def _kept_pattern(
    base: sp.csc_matrix, rows: np.ndarray, spots: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The base's column pointers, the kept rows' pointers (from 0) and the row map
    (matrix row → kept row, −1 elsewhere) of the matrix rows ``rows`` (ascending)."""
    n_matrix_rows = base.shape[0]
    row_map = np.full(n_matrix_rows, -1, dtype=np.int32 if rows.size < 2**31 else np.int64)
    row_map[rows] = np.arange(rows.size)
    indptr = np.asarray(base.indptr, dtype=np.int64)
    kept = kernels.count_kept_rows(indptr, base.indices, spots, row_map)
    return indptr, kept, row_map


def _matrix(influence: DoseInfluence, name: str) -> sp.csc_matrix:
    if name not in _MATRICES:
        raise GridMismatchError(f"unknown influence matrix {name!r}; have {_MATRICES}")
    matrix = getattr(influence, name)
    if matrix is None:
        raise GridMismatchError(
            f"the dose-influence matrix was computed without {name}; "
            "build the beam model with tissues=[...] for biological optimization"
        )
    return matrix


def sorted_unique(index: np.ndarray, size: int) -> np.ndarray:
    """The distinct values of ``index`` (integers in 0…size − 1), ascending: what
    ``np.unique`` gives, through a mask of ``size`` entries (a few ms for a dose grid,
    where sorting 10⁵-10⁶ indices takes a few hundred)."""
    seen = np.zeros(size, dtype=bool)
    seen[index] = True
    return np.flatnonzero(seen)
