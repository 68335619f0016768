"""The dose-influence matrix and its companions (matRad's ``dij``).

``dose`` is a ``scipy.sparse.csc_matrix`` [n_voxels, n_spots] (float32, Gy per
particle) on a dose grid: voxel index = C-order flat index of [x, y, z],
column = spot in the plan's weight order (beam by beam). Companion matrices
share its sparsity pattern (the same index arrays): ``let_dose`` (LET_d ×
dose, keV/µm · Gy per particle) and, for biological planning,
``alpha_dose`` (α × dose) and ``sqrt_beta_dose`` (√β × dose), so that for
weights w (particles)

    D = dose @ w,    LET_d = (let_dose @ w) / D,
    α = (alpha_dose @ w) / D,    √β = (sqrt_beta_dose @ w) / D   (dose-weighted mixing).

With ``halo`` (:class:`~ionbeam.planning.halo.HaloField`, the default of the dose
engine) the products that report a dose (:meth:`DoseInfluence.dose_gy`,
:meth:`~DoseInfluence.let_d_kev_um`, :meth:`~DoseInfluence.alpha_beta`,
:meth:`~DoseInfluence.products`) also replace the halo each column holds inside its
cut-off disc by the full-width halo computed by convolution; the matrices themselves
(what the optimizer multiplies) keep the disc. ``optimizer_offsets`` (flat arrays on
the grid by matrix name) are fixed products the optimizer adds to its own (the halo's
correction for the weights of a first optimization: see
:func:`~ionbeam.planning.planner.plan_patient`); the reported products ignore them.
With ``sub_voxels`` (:mod:`ionbeam.planning.sub_voxels`) the optimizer's rows go on
past the grid's N voxels with those of sub-voxels near the target (``n_rows`` in all;
``optimizer_offsets`` then have ``n_rows`` values); the reported products ignore them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ionbeam.errors import GridMismatchError
from ionbeam.patient.grid import Grid
from ionbeam.planning._influence_kernels import csc_times_chunked

if TYPE_CHECKING:
    from ionbeam.planning.halo import HaloField, HaloTerms
    from ionbeam.planning.sub_voxels import SubVoxels

__all__ = ["PRODUCT_CHUNK_BYTES", "PRODUCT_MAX_CHUNKS", "DoseInfluence", "product_chunks"]

#: The reported products M·w sum a matrix's columns in at most this many chunks, each
#: on its own thread (:func:`product_chunks`) …
PRODUCT_MAX_CHUNKS = 4
#: … holding together at most this many bytes (one float64 array on the grid each).
PRODUCT_CHUNK_BYTES = 256 << 20


@dataclass(frozen=True, eq=False)
class DoseInfluence:
    """Dose-influence matrices of a plan on ``grid`` (see module docstring)."""

    grid: Grid
    dose: sp.csc_matrix
    beam_offsets: np.ndarray
    let_dose: sp.csc_matrix | None = None
    alpha_dose: sp.csc_matrix | None = None
    sqrt_beta_dose: sp.csc_matrix | None = None
    halo: HaloField | None = None
    optimizer_offsets: Mapping[str, np.ndarray] | None = None
    sub_voxels: SubVoxels | None = None
    _last: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def n_spots(self) -> int:
        """Number of spots (columns)."""
        return int(self.dose.shape[1])

    @property
    def n_rows(self) -> int:
        """Rows the optimizer can address: the grid's voxels, then any sub-voxels."""
        extra = 0 if self.sub_voxels is None else self.sub_voxels.n_rows
        return int(self.grid.size) + extra

    @property
    def nnz(self) -> int:
        """Number of stored spot–voxel pairs."""
        return int(self.dose.nnz)

    def _weights(self, weights: np.ndarray) -> np.ndarray:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size != self.n_spots:
            raise GridMismatchError(
                f"the dose-influence matrix has {self.n_spots} spots "
                f"but {w.size} weights were given"
            )
        return w

    def products(self, weights: np.ndarray) -> HaloTerms:
        """Flat products with spot ``weights`` (particles): dose (Gy), LET×dose, α×dose,
        √β×dose (None for a matrix not computed), with the full-width halo when
        ``halo`` is set. The last call's result is kept (final doses ask for several
        quantities of the same weights)."""
        from ionbeam.planning.halo import HaloTerms

        w = self._weights(weights)
        key = w.tobytes()
        if self._last.get("key") == key:
            return self._last["value"]

        def times(matrix: sp.csc_matrix | None) -> np.ndarray | None:
            return None if matrix is None else _times(matrix, w)

        out = HaloTerms(
            _times(self.dose, w), times(self.let_dose), times(self.alpha_dose),
            times(self.sqrt_beta_dose),
        )  # fmt: skip
        if self.halo is not None:
            correction = self.halo.correction(w)
            for total, extra in zip(out, correction, strict=True):
                if total is not None and extra is not None:
                    total += extra
        self._last.clear()
        self._last.update(key=key, value=out)
        return out

    def dose_gy(self, weights: np.ndarray) -> np.ndarray:
        """Dose (Gy) on the grid [x, y, z] for spot weights in particles."""
        return self.products(weights).dose.reshape(self.grid.shape).copy()

    def let_d_kev_um(self, weights: np.ndarray) -> np.ndarray:
        """Dose-averaged LET (keV/µm) on the grid; 0 where there is no dose."""
        if self.let_dose is None:
            raise GridMismatchError("this dose-influence matrix was computed without LET")
        p = self.products(weights)
        assert p.let_dose is not None
        return _ratio(p.let_dose, p.dose).reshape(self.grid.shape)

    def alpha_beta(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dose-weighted α (Gy⁻¹) and β (Gy⁻²) on the grid; 0 where there is no dose."""
        if self.alpha_dose is None or self.sqrt_beta_dose is None:
            raise GridMismatchError("this dose-influence matrix was computed without biology")
        p = self.products(weights)
        assert p.alpha_dose is not None and p.sqrt_beta_dose is not None
        alpha = _ratio(p.alpha_dose, p.dose)
        sqrt_beta = _ratio(p.sqrt_beta_dose, p.dose)
        return alpha.reshape(self.grid.shape), (sqrt_beta**2).reshape(self.grid.shape)


def product_chunks(n_rows: int) -> int:
    """Column chunks of the reported products of a matrix of ``n_rows`` rows: a function
    of its shape only, never of the thread count, so that a plan's doses are the same
    bit for bit whatever ``NUMBA_NUM_THREADS`` is (floating-point sums depend on their
    grouping)."""
    per_chunk = 8 * max(int(n_rows), 1)
    return max(1, min(PRODUCT_MAX_CHUNKS, PRODUCT_CHUNK_BYTES // per_chunk))


def _times(matrix: sp.csc_matrix, w: np.ndarray) -> np.ndarray:
    """matrix @ w in float64 without a float64 copy of a float32 CSC matrix, its columns
    in :func:`product_chunks` chunks of about equal numbers of entries (in parallel)."""
    if not (sp.isspmatrix_csc(matrix) or isinstance(matrix, sp.csc_array)):
        return np.asarray(matrix @ w, dtype=np.float64)
    n_chunks = product_chunks(matrix.shape[0])
    indptr = matrix.indptr
    goal = np.arange(n_chunks + 1) * (int(indptr[-1]) / n_chunks)
    bounds = np.searchsorted(indptr, goal, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, matrix.shape[1]
    bounds = np.maximum.accumulate(np.minimum(bounds, matrix.shape[1]))
    return csc_times_chunked(indptr, matrix.indices, matrix.data, w, matrix.shape[0], bounds)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(denominator)
    positive = denominator > 0
    out[positive] = numerator[positive] / denominator[positive]
    return out
