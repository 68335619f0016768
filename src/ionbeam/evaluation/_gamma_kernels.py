"""Numerical kernel of the gamma index: the per-point search.

The gamma index (Low et al., Med. Phys. 25:656, 1998) of a reference point
``r`` with dose ``D_r`` is ``min_p sqrt((D_e(p) − D_r)² / ΔD² + |p − r|² / Δd²)``
over positions ``p`` of the evaluated dose ``D_e``, trilinearly interpolated
(as pymedphys does). For each reference point the search has three stages:

1. **Lattice points**, in order of distance (Wendling et al., Med. Phys.
   34:1647, 2007): the offsets of :mod:`ionbeam.evaluation._gamma_table`.
2. **Lattice edges**: between each lattice point and its neighbour one pitch
   closer, ``D_e`` is taken linear and the minimum along the edge solved
   exactly (a quadratic; the one-dimensional case of the geometric gamma of
   Ju et al., Med. Phys. 35:879, 2008). In steep gradients (20 %/mm against a
   3 % criterion, a 0.3 mm pitch steps over 2 ΔD) point samples alone miss an
   isodose crossing between them and overestimate gamma several-fold; an edge
   crossing it finds it. The search stops once no remaining point or edge can
   come closer than the best gamma found.
3. **Refinement**: a few Gauss–Newton steps from the best position found,
   minimising the exact quadratic of ``D_e`` linearised there (closed form:
   the minimiser of ``(c + g·u)²/ΔD² + |u|²/Δd²`` is ``u = −c g / (ΔD²/Δd² + |g|²)``),
   kept only while they lower gamma. This removes the first-order sampling
   error near a smooth minimum that a lattice leaves (e.g. on noisy doses).

Every candidate is re-evaluated with the true trilinear dose at its position,
so a reported gamma is always attained somewhere: it can only overestimate
the continuous minimum, never underestimate it. Pure functions on arrays, in
mm and evaluated-grid voxel indices.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit

from ionbeam._kernel_cache import refresh_kernel_cache
from ionbeam._strips import strips

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = ["gamma_squared_search"]

# Outside the evaluated grid by less than this (in voxels) still counts as inside,
# so that a reference voxel lying exactly on the evaluated grid's edge is not lost
# to floating-point rounding of the coordinate transform.
_EDGE_TOLERANCE_VOXELS = 1e-6
# Reference points per work item dealt to the threads.
_POINTS_PER_TASK = 256
# Gauss–Newton refinement steps at most (each stops early if gamma does not drop).
_REFINE_STEPS = 4
# Compass search: step halvings (from half the lattice pitch) and moves per step.
_PATTERN_LEVELS = 3
_PATTERN_MOVES = 2


@njit(cache=True)
def _cell(x: float, n: int) -> tuple[int, int, float]:
    """Lower and upper corner index and fractional position along one axis."""
    if n == 1:
        return 0, 0, 0.0
    i = min(max(math.floor(x), 0), n - 2)
    t = min(max(x - i, 0.0), 1.0)
    return i, i + 1, t


@njit(cache=True)
def _outside(dose: np.ndarray, x: float, y: float, z: float) -> bool:
    nx, ny, nz = dose.shape
    tol = _EDGE_TOLERANCE_VOXELS
    return (
        x < -tol
        or y < -tol
        or z < -tol
        or x > nx - 1 + tol
        or y > ny - 1 + tol
        or (z > nz - 1 + tol)
    )


@njit(cache=True)
def _trilinear(dose: np.ndarray, x: float, y: float, z: float) -> float:
    """Trilinear interpolation at fractional voxel indices; NaN outside the voxel centres."""
    if _outside(dose, x, y, z):
        return np.nan
    i, i1, tx = _cell(x, dose.shape[0])
    j, j1, ty = _cell(y, dose.shape[1])
    k, k1, tz = _cell(z, dose.shape[2])
    c00 = dose[i, j, k] * (1 - tx) + dose[i1, j, k] * tx
    c10 = dose[i, j1, k] * (1 - tx) + dose[i1, j1, k] * tx
    c01 = dose[i, j, k1] * (1 - tx) + dose[i1, j, k1] * tx
    c11 = dose[i, j1, k1] * (1 - tx) + dose[i1, j1, k1] * tx
    return (c00 * (1 - ty) + c10 * ty) * (1 - tz) + (c01 * (1 - ty) + c11 * ty) * tz


@njit(cache=True)
def _trilinear_gradient(
    dose: np.ndarray, x: float, y: float, z: float
) -> tuple[float, float, float]:
    """Gradient of the trilinear interpolant, per voxel index (inside the grid only)."""
    i, i1, tx = _cell(x, dose.shape[0])
    j, j1, ty = _cell(y, dose.shape[1])
    k, k1, tz = _cell(z, dose.shape[2])
    a000, a100, a010, a110 = dose[i, j, k], dose[i1, j, k], dose[i, j1, k], dose[i1, j1, k]
    a001, a101, a011, a111 = dose[i, j, k1], dose[i1, j, k1], dose[i, j1, k1], dose[i1, j1, k1]
    sy, sz = 1 - ty, 1 - tz
    gx = ((a100 - a000) * sy + (a110 - a010) * ty) * sz + (
        (a101 - a001) * sy + (a111 - a011) * ty
    ) * tz
    sx = 1 - tx
    gy = ((a010 - a000) * sx + (a110 - a100) * tx) * sz + (
        (a011 - a001) * sx + (a111 - a101) * tx
    ) * tz
    c00 = a000 * sx + a100 * tx
    c10 = a010 * sx + a110 * tx
    c01 = a001 * sx + a101 * tx
    c11 = a011 * sx + a111 * tx
    gz = (c01 * sy + c11 * ty) - (c00 * sy + c10 * ty)
    return gx, gy, gz


@njit(cache=True)
def _gamma_sq_at(
    dose: np.ndarray, position: np.ndarray, spacing: np.ndarray, d_ref: float, inv_tol: float,
    inv_dta_sq: float, ux: float, uy: float, uz: float,
) -> float:  # fmt: skip
    """Squared gamma at offset ``u`` (mm) from the reference point; inf outside the grid."""
    value = _trilinear(
        dose, position[0] + ux / spacing[0], position[1] + uy / spacing[1],
        position[2] + uz / spacing[2],
    )  # fmt: skip
    if value != value:
        return np.inf
    diff = value - d_ref
    return diff * diff * inv_tol + (ux * ux + uy * uy + uz * uz) * inv_dta_sq


@njit(cache=True)
def _edge_parameter(
    near: np.ndarray, far: np.ndarray, near_excess: float, far_excess: float, inv_tol: float,
    inv_dta_sq: float,
) -> float:  # fmt: skip
    """Where along ``near → far`` (0–1) the squared gamma, with the dose excess
    ``D_e − D_r`` linear along the edge, is smallest; −1 if at an end."""
    dx, dy, dz = far[0] - near[0], far[1] - near[1], far[2] - near[2]
    dv = far_excess - near_excess
    a = dv * dv * inv_tol + (dx * dx + dy * dy + dz * dz) * inv_dta_sq
    b = near_excess * dv * inv_tol + (near[0] * dx + near[1] * dy + near[2] * dz) * inv_dta_sq
    t = -b / a
    return t if 0.0 < t < 1.0 else -1.0


@njit(cache=True)
def _search_lattice(
    position: np.ndarray, spacing: np.ndarray, d_ref: float, inv_tol: float,
    dose: np.ndarray, offsets_index: np.ndarray, offsets_mm: np.ndarray,
    radius_term_sq: np.ndarray, stop_term_sq: np.ndarray, earlier_neighbours: np.ndarray,
    inv_dta_sq: float, excess: np.ndarray,
) -> tuple[float, float, float, float]:  # fmt: skip
    """Stages 1–2: best squared gamma over lattice points and edges, and its offset (mm)."""
    best, bx, by, bz = np.inf, 0.0, 0.0, 0.0
    for q in range(offsets_index.shape[0]):
        if stop_term_sq[q] >= best:
            break
        value = _trilinear(
            dose, position[0] + offsets_index[q, 0], position[1] + offsets_index[q, 1],
            position[2] + offsets_index[q, 2],
        )  # fmt: skip
        diff = value - d_ref  # NaN outside the evaluated grid
        excess[q] = diff
        if diff != diff:
            continue
        candidate = diff * diff * inv_tol + radius_term_sq[q]
        if candidate < best:
            best, bx, by, bz = candidate, offsets_mm[q, 0], offsets_mm[q, 1], offsets_mm[q, 2]
        for axis in range(3):
            other = earlier_neighbours[q, axis]
            if other < 0 or excess[other] != excess[other]:
                continue
            near_excess = excess[other]
            # Lower bound on the edge: its nearer end's distance, plus the dose
            # term unless the dose excess changes sign along it.
            bound = radius_term_sq[other]
            if near_excess * diff > 0.0:
                smaller = min(abs(near_excess), abs(diff))
                bound += smaller * smaller * inv_tol
            if bound >= best:
                continue
            near, far = offsets_mm[other], offsets_mm[q]
            t = _edge_parameter(near, far, near_excess, diff, inv_tol, inv_dta_sq)
            if t < 0.0:
                continue
            ux = near[0] + t * (far[0] - near[0])
            uy = near[1] + t * (far[1] - near[1])
            uz = near[2] + t * (far[2] - near[2])
            candidate = _gamma_sq_at(dose, position, spacing, d_ref, inv_tol, inv_dta_sq,
                                     ux, uy, uz)  # fmt: skip
            if candidate < best:
                best, bx, by, bz = candidate, ux, uy, uz
    return best, bx, by, bz


@njit(cache=True)
def _pattern_search(
    position: np.ndarray, spacing: np.ndarray, d_ref: float, inv_tol: float, dose: np.ndarray,
    inv_dta_sq: float, active: np.ndarray, step_mm: float, best: float, ux: float, uy: float,
    uz: float,
) -> tuple[float, float, float, float]:  # fmt: skip
    """Stage 3a: compass search around offset ``u`` (mm) on the 26 neighbouring
    directions, halving the step from ``step_mm``; robust where ``D_e`` has kinks
    (cell faces of a noisy dose) that defeat the Gauss–Newton step."""
    step = step_mm
    for _ in range(_PATTERN_LEVELS):
        for _ in range(_PATTERN_MOVES):
            moved = False
            cx, cy, cz = ux, uy, uz
            for dx in range(-1, 2):
                for dy in range(-1, 2):
                    for dz in range(-1, 2):
                        if dx == 0 and dy == 0 and dz == 0:
                            continue
                        vx = cx + step * dx * active[0]
                        vy = cy + step * dy * active[1]
                        vz = cz + step * dz * active[2]
                        candidate = _gamma_sq_at(dose, position, spacing, d_ref, inv_tol,
                                                 inv_dta_sq, vx, vy, vz)  # fmt: skip
                        if candidate < best:
                            best, ux, uy, uz, moved = candidate, vx, vy, vz, True
            if not moved:
                break
        step *= 0.5
    return best, ux, uy, uz


@njit(cache=True)
def _refine(
    position: np.ndarray, spacing: np.ndarray, d_ref: float, inv_tol: float, dose: np.ndarray,
    inv_dta_sq: float, best: float, ux: float, uy: float, uz: float,
) -> float:  # fmt: skip
    """Stage 3: Gauss–Newton steps from offset ``u`` (mm) while they lower gamma²."""
    for _ in range(_REFINE_STEPS):
        x = position[0] + ux / spacing[0]
        y = position[1] + uy / spacing[1]
        z = position[2] + uz / spacing[2]
        if _outside(dose, x, y, z):
            break
        excess = _trilinear(dose, x, y, z) - d_ref
        gx, gy, gz = _trilinear_gradient(dose, x, y, z)
        gx, gy, gz = gx / spacing[0], gy / spacing[1], gz / spacing[2]  # Gy/mm
        c = excess - (gx * ux + gy * uy + gz * uz)
        scale = -c * inv_tol / (inv_dta_sq + inv_tol * (gx * gx + gy * gy + gz * gz))
        nx, ny, nz = scale * gx, scale * gy, scale * gz
        candidate = _gamma_sq_at(dose, position, spacing, d_ref, inv_tol, inv_dta_sq,
                                 nx, ny, nz)  # fmt: skip
        if not candidate < best:
            break
        best, ux, uy, uz = candidate, nx, ny, nz
    return best


def gamma_squared_search(
    positions: np.ndarray,
    reference_dose: np.ndarray,
    inverse_tolerance_sq: np.ndarray,
    evaluated_dose: np.ndarray,
    evaluated_spacing_mm: np.ndarray,
    offsets_mm: np.ndarray,
    radius_mm: np.ndarray,
    stop_radius_mm: np.ndarray,
    earlier_neighbours: np.ndarray,
    distance_mm_threshold: float,
    step_mm: float,
    active_axes: np.ndarray,
) -> np.ndarray:
    """Squared gamma of each reference point (inf where no evaluated dose was in reach).

    ``positions`` (n, 3): reference points in fractional voxel indices of the
    evaluated grid; ``reference_dose`` (n,); ``inverse_tolerance_sq`` (n,):
    ``1/ΔD²`` per point (constant for global gamma); ``evaluated_spacing_mm``
    (3,); the offsets, radii, stopping radii and neighbours from
    :class:`~ionbeam.evaluation._gamma_table.SearchTable`; ``step_mm``: the
    fine lattice pitch; ``active_axes`` (3,): 1.0 for searched axes, 0.0 for
    the thickness axis of a single-slice dose. Points in tasks of
    ``_POINTS_PER_TASK`` dealt to the threads (:mod:`ionbeam._strips`; each point
    alone: the same numbers whatever the threads).
    """
    active = np.asarray(active_axes).astype(np.float64)
    n = positions.shape[0]
    inv_dta_sq = 1.0 / (distance_mm_threshold * distance_mm_threshold)
    radius_term_sq = radius_mm * radius_mm * inv_dta_sq
    stop_term_sq = stop_radius_mm * stop_radius_mm * inv_dta_sq
    offsets_index = offsets_mm / evaluated_spacing_mm.reshape(1, 3)
    out = np.empty(n)
    n_tasks = (n + _POINTS_PER_TASK - 1) // _POINTS_PER_TASK
    table = (offsets_index, offsets_mm, radius_term_sq, stop_term_sq, earlier_neighbours)
    points = (positions, reference_dose, inverse_tolerance_sq)
    with strips(max(1, min(numba.get_num_threads(), n_tasks))) as run:
        run(_search_strip, points, evaluated_spacing_mm, evaluated_dose, table,
            float(inv_dta_sq), active, float(step_mm), out)  # fmt: skip
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _search_strip(strip, n_strips, points, evaluated_spacing_mm, evaluated_dose, table,
                  inv_dta_sq, active, step_mm, out):  # fmt: skip
    """Tasks ``strip, strip + n_strips, …`` of :func:`gamma_squared_search`'s points (one
    scratch row per strip)."""
    positions, reference_dose, inverse_tolerance_sq = points
    offsets_index, offsets_mm, radius_term_sq, stop_term_sq, earlier_neighbours = table
    n = positions.shape[0]
    excess = np.empty(offsets_mm.shape[0])
    for task in range(strip, (n + _POINTS_PER_TASK - 1) // _POINTS_PER_TASK, n_strips):
        for p in range(task * _POINTS_PER_TASK, min(n, (task + 1) * _POINTS_PER_TASK)):
            best, ux, uy, uz = _search_lattice(
                positions[p], evaluated_spacing_mm, reference_dose[p], inverse_tolerance_sq[p],
                evaluated_dose, offsets_index, offsets_mm, radius_term_sq, stop_term_sq,
                earlier_neighbours, inv_dta_sq, excess,
            )  # fmt: skip
            if best < np.inf:
                best, ux, uy, uz = _pattern_search(
                    positions[p], evaluated_spacing_mm, reference_dose[p],
                    inverse_tolerance_sq[p], evaluated_dose, inv_dta_sq, active, 0.5 * step_mm,
                    best, ux, uy, uz,
                )  # fmt: skip
                best = _refine(
                    positions[p], evaluated_spacing_mm, reference_dose[p],
                    inverse_tolerance_sq[p], evaluated_dose, inv_dta_sq, best, ux, uy, uz,
                )  # fmt: skip
            out[p] = best
