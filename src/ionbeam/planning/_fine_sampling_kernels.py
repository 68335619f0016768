"""Numba kernels of fine sampling: each spot split into sub-beams with their own WEPL.

A pencil beam that straddles a lateral heterogeneity (a bone edge, an air
cavity running along the beam) is not described by one depth–dose at the
voxel's WEPL: parts of the beam cross different materials. Fine sampling
(Soukup et al. 2005; matRad and RayStation use it) splits the spot's initial
Gaussian into K sub-beams: offsets (δu_k, δv_k) and weights ω_k of a 2-D
Gauss–Hermite rule for a Gaussian of variance σ_s² per axis (arrays
[n_energy, K]: σ_s depends on the energy's spot size), each sub-beam
keeping the rest of the spot's variance in air, σ_air² − σ_s². Each sub-beam
reads its own WEPL at the voxel's depth along its own axis — from the WEPL
lattice traced through the CT — and spreads by scattering from there. The
voxel's dose is the weighted sum of the sub-beams' doses (each computed as in
:mod:`._dose_kernels`), stored once per spot and voxel, so the matrix has the
same layout as without fine sampling.
"""

from __future__ import annotations

import numba
import numpy as np

from ionbeam.planning._dose_kernels import _cell_range, _lateral, _lookup, _pair
from ionbeam.planning._raytrace_kernels import _lattice_value

__all__ = ["count_entries_fine", "fill_entries_fine"]


@numba.njit(cache=True, parallel=True)
def count_entries_fine(
    spot_u: np.ndarray,
    spot_v: np.ndarray,
    spot_e: np.ndarray,
    spot_radius: np.ndarray,
    sub_du: np.ndarray,
    sub_dv: np.ndarray,
    split_var: np.ndarray,
    table: np.ndarray,
    lattice_start: np.ndarray,
    lattice_step: np.ndarray,
    wepl_offset: float,
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    vox_mag_u: np.ndarray,
    vox_mag_v: np.ndarray,
    vox_w: np.ndarray,
    cell_start: np.ndarray,
    cell_origin: np.ndarray,
    cell_mm: float,
    n_cells: np.ndarray,
    step: np.ndarray,
    max_depth: np.ndarray,
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    sigma_mcs2: np.ndarray,
    n_sigma: float,
) -> np.ndarray:
    """Number of voxels each spot reaches through at least one of its sub-beams."""
    n_spots = spot_u.size
    counts = np.zeros(n_spots, dtype=np.int64)
    nsig2 = n_sigma * n_sigma
    nv = n_cells[1]
    for s in numba.prange(n_spots):
        e = spot_e[s]
        shift = split_var[e]
        iu0, iu1 = _cell_range(spot_u[s], spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(spot_v[s], spot_radius[s], cell_origin[1], cell_mm, nv)
        count = 0
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * nv + iv
                for j in range(cell_start[c], cell_start[c + 1]):
                    for k in range(sub_du.shape[1]):
                        su = spot_u[s] + sub_du[e, k]
                        sv = spot_v[s] + sub_dv[e, k]
                        wepl = wepl_offset + _lattice_value(
                            table, su, sv, vox_w[j], lattice_start, lattice_step
                        )
                        inside = _pair(j, e, su, sv, wepl, shift, vox_u, vox_v, vox_mag_u,
                                       vox_mag_v, vox_w, step, max_depth, air_a, air_b, air_c,
                                       sigma_mcs2, nsig2)[0]  # fmt: skip
                        if inside:
                            count += 1
                            break
        counts[s] = count
    return counts


@numba.njit(cache=True, parallel=True)
def fill_entries_fine(
    indptr: np.ndarray,
    spot_u: np.ndarray,
    spot_v: np.ndarray,
    spot_e: np.ndarray,
    spot_radius: np.ndarray,
    sub_du: np.ndarray,
    sub_dv: np.ndarray,
    sub_weight: np.ndarray,
    split_var: np.ndarray,
    table: np.ndarray,
    lattice_start: np.ndarray,
    lattice_step: np.ndarray,
    wepl_offset: float,
    vox_index: np.ndarray,
    vox_u: np.ndarray,
    vox_v: np.ndarray,
    vox_mag_u: np.ndarray,
    vox_mag_v: np.ndarray,
    vox_w: np.ndarray,
    vox_tissue: np.ndarray,
    cell_start: np.ndarray,
    cell_origin: np.ndarray,
    cell_mm: float,
    n_cells: np.ndarray,
    step: np.ndarray,
    max_depth: np.ndarray,
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    idd: np.ndarray,
    sigma_mcs2: np.ndarray,
    halo_weight: np.ndarray,
    halo_sigma2: np.ndarray,
    let_d: np.ndarray,
    alpha: np.ndarray,
    sqrt_beta: np.ndarray,
    n_sigma: float,
    with_let: bool,
    with_biology: bool,
    out_index: np.ndarray,
    out_dose: np.ndarray,
    out_let_dose: np.ndarray,
    out_alpha_dose: np.ndarray,
    out_sqrt_beta_dose: np.ndarray,
) -> None:
    """Write every spot's column: the sum over its sub-beams at each voxel reached
    (same visiting order and criteria as :func:`count_entries_fine`)."""
    n_spots = spot_u.size
    nsig2 = n_sigma * n_sigma
    nv = n_cells[1]
    for s in numba.prange(n_spots):
        e = spot_e[s]
        shift = split_var[e]
        iu0, iu1 = _cell_range(spot_u[s], spot_radius[s], cell_origin[0], cell_mm, n_cells[0])
        iv0, iv1 = _cell_range(spot_v[s], spot_radius[s], cell_origin[1], cell_mm, nv)
        p = indptr[s]
        for iu in range(iu0, iu1 + 1):
            for iv in range(iv0, iv1 + 1):
                c = iu * nv + iv
                for j in range(cell_start[c], cell_start[c + 1]):
                    reached = False
                    dose = 0.0
                    let_dose = 0.0
                    alpha_dose = 0.0
                    sqrt_beta_dose = 0.0
                    t = vox_tissue[j]
                    for m in range(sub_du.shape[1]):
                        su = spot_u[s] + sub_du[e, m]
                        sv = spot_v[s] + sub_dv[e, m]
                        wepl = wepl_offset + _lattice_value(
                            table, su, sv, vox_w[j], lattice_start, lattice_step
                        )
                        inside, r2, air, s1, k, f = _pair(
                            j, e, su, sv, wepl, shift, vox_u, vox_v, vox_mag_u, vox_mag_v,
                            vox_w, step, max_depth, air_a, air_b, air_c, sigma_mcs2, nsig2,
                        )  # fmt: skip
                        if not inside:
                            continue
                        reached = True
                        g = _lateral(r2, air, s1, e, k, f, halo_weight, halo_sigma2, nsig2)
                        d = sub_weight[m] * _lookup(idd, e, k, f) * g
                        dose += d
                        if with_let:
                            let_dose += d * _lookup(let_d, e, k, f)
                        if with_biology:
                            alpha_dose += d * ((1.0 - f) * alpha[t, e, k] + f * alpha[t, e, k + 1])
                            sqrt_beta_dose += d * (
                                (1.0 - f) * sqrt_beta[t, e, k] + f * sqrt_beta[t, e, k + 1]
                            )
                    if not reached:
                        continue
                    out_index[p] = vox_index[j]
                    out_dose[p] = dose
                    if with_let:
                        out_let_dose[p] = let_dose
                    if with_biology:
                        out_alpha_dose[p] = alpha_dose
                        out_sqrt_beta_dose[p] = sqrt_beta_dose
                    p += 1
