"""The dose-influence matrices restricted to the voxels that carry an objective.

The optimizer never touches a voxel without an objective, so the rows of the
dose-influence matrices (and of their α·D and √β·D companions) are cut to
those voxels once, before the first iteration, and kept twice: as compressed
rows (for D·w) and as compressed columns (for Dᵀ·g), both float32, so that
each product runs in parallel without write conflicts
(:mod:`._product_kernels`). Nothing here is ever dense.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ionbeam.errors import GridMismatchError, StructureError
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize import _product_kernels as kernels

__all__ = ["InfluenceRows", "restrict_influence"]

#: Dᵀ·g walks only the rows where g ≠ 0 when they hold less than this fraction of the
#: entries (the scatter costs about twice as much per entry as the column-wise product).
SCATTER_FRACTION = 0.4
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
    matrices, for the spots ``spot_index`` of the plan. ``row_*``: compressed rows
    (spot indices uint16 up to ``NARROW_INDEX_LIMIT`` spots, else int32);
    ``col_*``: compressed columns; ``values`` / ``col_values``: float32 entries per
    matrix name (``dose``, and ``alpha_dose``, ``sqrt_beta_dose`` when present)."""

    voxel_index: np.ndarray
    spot_index: np.ndarray
    row_indptr: np.ndarray
    row_indices: np.ndarray
    col_indptr: np.ndarray
    col_indices: np.ndarray
    values: dict[str, np.ndarray]
    col_values: dict[str, np.ndarray]

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
        """M·w on the kept voxels (w: particles per spot, float64)."""
        return kernels.rows_dot(self.row_indptr, self.row_indices, self.values[name], w)

    def times_pair(self, first: str, second: str, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M₁·w, M₂·w) in one pass over the shared pattern."""
        return kernels.rows_dot_pair(
            self.row_indptr, self.row_indices, self.values[first], self.values[second], w
        )

    def transpose_times(self, name: str, g: np.ndarray) -> np.ndarray:
        """Mᵀ·g per spot (g: one value per kept voxel)."""
        active = self._sparse_rows(g)
        if active is not None:
            values = self.values[name]
            return kernels.active_rows_scatter(
                self.row_indptr,
                self.row_indices,
                values,
                values,
                active,
                g,
                g,
                False,
                self.n_spots,
                SCATTER_CHUNKS,
            )
        return kernels.rows_dot(self.col_indptr, self.col_indices, self.col_values[name], g)

    def transpose_times_sum(
        self, first: str, second: str, g_first: np.ndarray, g_second: np.ndarray
    ) -> np.ndarray:
        """M₁ᵀ·g₁ + M₂ᵀ·g₂ in one pass over the shared pattern."""
        active = self._sparse_rows(g_first)
        if active is not None:
            return kernels.active_rows_scatter(
                self.row_indptr,
                self.row_indices,
                self.values[first],
                self.values[second],
                active,
                g_first,
                g_second,
                True,
                self.n_spots,
                SCATTER_CHUNKS,
            )
        return kernels.rows_dot_sum(
            self.col_indptr,
            self.col_indices,
            self.col_values[first],
            self.col_values[second],
            g_first,
            g_second,
        )

    def _sparse_rows(self, g: np.ndarray) -> np.ndarray | None:
        """The rows where ``g`` ≠ 0 when they hold few enough entries for the row-wise
        scatter to beat the column-wise product (under ``SCATTER_FRACTION`` of them)."""
        active = np.flatnonzero(g)
        if np.sum(self.row_lengths[active]) < SCATTER_FRACTION * self.nnz:
            return active
        return None


def restrict_influence(
    influence: DoseInfluence,
    voxel_index: np.ndarray,
    *,
    spot_index: np.ndarray | None = None,
    matrices: tuple[str, ...] = ("dose",),
) -> InfluenceRows:
    """The rows ``voxel_index`` (flat dose-grid indices) of ``matrices`` for the spots
    ``spot_index`` (default: all; a contiguous range, e.g. one beam, is cheapest)."""
    voxels = np.unique(np.asarray(voxel_index, dtype=np.int64).reshape(-1))
    n_voxels_grid, n_spots = influence.dose.shape
    if voxels.size == 0:
        raise StructureError("no voxel carries an objective; give at least one objective")
    if voxels[0] < 0 or voxels[-1] >= n_voxels_grid:
        raise GridMismatchError(
            f"voxel indices must lie in 0…{n_voxels_grid - 1} (the dose grid); "
            f"got {voxels[0]}…{voxels[-1]}"
        )
    spots = np.arange(n_spots) if spot_index is None else np.asarray(spot_index, dtype=np.int64)
    if spots.size == 0 or spots.min() < 0 or spots.max() >= n_spots:
        raise GridMismatchError(f"spot indices must lie in 0…{n_spots - 1}; got {spots.size} spots")
    sources = {name: _matrix(influence, name) for name in matrices}
    base = sources["dose"] if "dose" in sources else next(iter(sources.values()))
    indptr, indices, positions = _columns(base, spots)
    row_map = np.full(n_voxels_grid, -1, dtype=np.int64)
    row_map[voxels] = np.arange(voxels.size)
    col_indptr, col_indices, kept = kernels.restrict_rows(indptr, indices, row_map)
    kept = positions[kept] if positions is not None else kept
    row_indptr, row_indices, order = kernels.transpose_pattern(col_indptr, col_indices, voxels.size)
    if spots.size <= NARROW_INDEX_LIMIT:
        row_indices = row_indices.astype(np.uint16)
    everything = kept.size == base.nnz  # no row or column was cut
    col_values = {
        name: np.ascontiguousarray(m.data, dtype=np.float32)
        if everything
        else kernels.gather(m.data, kept)
        for name, m in sources.items()
    }
    values = {name: kernels.gather(v, order) for name, v in col_values.items()}
    return InfluenceRows(
        voxels, spots, row_indptr, row_indices, col_indptr, col_indices, values, col_values
    )


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


def _columns(
    matrix: sp.csc_matrix, spots: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """CSC pattern of the columns ``spots``: (indptr, indices, position of each entry in
    the full matrix, or None when the columns are the whole matrix)."""
    indptr = np.asarray(matrix.indptr, dtype=np.int64)
    indices = matrix.indices
    if spots.size == matrix.shape[1] and np.array_equal(spots, np.arange(spots.size)):
        return indptr, indices, None
    if np.all(np.diff(spots) == 1):  # contiguous: a view
        lo, hi = int(indptr[spots[0]]), int(indptr[spots[-1] + 1])
        return indptr[spots[0] : spots[-1] + 2] - lo, indices[lo:hi], np.arange(lo, hi)
    starts, ends = indptr[spots], indptr[spots + 1]
    counts = ends - starts
    new_indptr = np.concatenate([[0], np.cumsum(counts)])
    positions = np.repeat(starts - new_indptr[:-1], counts) + np.arange(new_indptr[-1])
    return new_indptr, indices[positions], positions
