"""Lateral range mixing for the plain pencil beam (Urie et al. 1986; Szymanowski &
Oelfke 2002, Phys. Med. Biol. 47:3313).

A plain pencil beam reads each voxel's depth–dose at the WEPL of the voxel's own ray,
while the ions that reach the voxel scattered on the way and crossed the materials
beside it: behind a tumour's face in lung some crossed the tumour and some only lung.
Here each voxel's WEPL becomes a distribution over the neighbouring rays of the beam's
WEPL lattice, read at the voxel's depth:

* its lateral width is physical, the Fermi–Eyges conditional spread of the paths that
  reach the voxel (:func:`._range_mixing_kernels.mixing_variance`: σ² and the
  angle–position covariance M₁ traced along the nearest spot's ray, averaged over the
  depths where the WEPL varies laterally), never a fitted width;
* the distribution is sampled with a fixed 5-point cross, the 3-point Gauss–Hermite
  rule along u and along v (nodes 0, ±√3 σ; weights 1/3 at the centre, 1/6 on each
  arm: the Gaussian's second and fourth moments along each axis);
* the kernels then average the depth–dose (and LET, α, √β) over the voxel's WEPL span
  widened to the same mean and variance: span² → span² + 12 Var(WEPL) around the
  cross's mean WEPL (a uniform stand-in for the cross: the kernels stay as they are).

In a medium without lateral WEPL differences the cross reads one WEPL, the variance is
zero and the spans are unchanged: the dose is identical.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ionbeam.planning import _range_mixing_kernels as kernels
from ionbeam.planning._ray_tables import RayTables
from ionbeam.planning.raytrace import WeplLattice, lattice_wepl

__all__ = ["MAX_REACH_MM", "mixed_spans", "voxel_rays"]

#: Largest lateral distance (mm) at which a voxel reads a neighbouring ray: the WEPL
#: lattice is traced this much wider when range mixing is on.
MAX_REACH_MM = 15.0
#: The cross's arm (in σ) and weights: 3-point Gauss–Hermite along each axis.
_ARM = np.sqrt(3.0)
_W_CENTRE, _W_ARM = 1.0 / 3.0, 1.0 / 6.0


def voxel_rays(
    u: np.ndarray,
    v: np.ndarray,
    wepl: np.ndarray,
    spot_u: np.ndarray,
    spot_v: np.ndarray,
    spot_e: np.ndarray,
    r80_mm: np.ndarray,
) -> np.ndarray:
    """Per voxel, the traced spot ray whose σ² and M₁ stand for the ions reaching it: the
    nearest spot (isocentre plane) of the lowest energy of the beam whose R80 reaches
    the voxel's WEPL (the beam's highest where none does)."""
    energies = np.unique(spot_e)
    order = energies[np.argsort(r80_mm[energies], kind="stable")]
    reach = np.asarray(r80_mm, dtype=float)[order]
    pick = np.minimum(np.searchsorted(reach, wepl, side="left"), order.size - 1)
    rays = np.zeros(u.size, dtype=np.int64)
    for i, e in enumerate(order):
        voxels = np.flatnonzero(pick == i)
        if voxels.size == 0:
            continue
        spots = np.flatnonzero(spot_e == e)
        tree = cKDTree(np.column_stack([spot_u[spots], spot_v[spots]]))
        _, nearest = tree.query(np.column_stack([u[voxels], v[voxels]]))
        rays[voxels] = spots[nearest]
    return rays


def mixed_spans(
    lattice: WeplLattice,
    tables: RayTables,
    rays: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    wepl: np.ndarray,
    wepl_up: np.ndarray,
    wepl_down: np.ndarray,
    wepl_offset_mm: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The voxels' (WEPL, span below, span above) with the range mixing (see the module),
    and each voxel's mixing σ (mm). ``wepl`` includes ``wepl_offset_mm`` (a range
    shifter's WET), which the lattice does not."""
    variance = kernels.mixing_variance(
        np.ascontiguousarray(u, dtype=np.float64),
        np.ascontiguousarray(v, dtype=np.float64),
        np.ascontiguousarray(w, dtype=np.float64),
        np.ascontiguousarray(rays, dtype=np.int64),
        np.ascontiguousarray(tables.sigma2_mm2, dtype=np.float64),
        np.ascontiguousarray(tables.m1_mm, dtype=np.float64),
        float(tables.w_start),
        float(tables.w_step),
        lattice.table,
        np.asarray(lattice.start, dtype=np.float64),
        np.asarray(lattice.step, dtype=np.float64),
        MAX_REACH_MM,
    )
    sigma = np.sqrt(variance)
    arm = np.minimum(_ARM * sigma, MAX_REACH_MM)
    mixed = sigma > 0.0
    if not mixed.any():
        return wepl, wepl_up, wepl_down, sigma
    um, vm, wm, am = u[mixed], v[mixed], w[mixed], arm[mixed]
    arms = [lattice_wepl(lattice, um + du * am, vm + dv * am, wm) + wepl_offset_mm
            for du, dv in ((1, 0), (-1, 0), (0, 1), (0, -1))]  # fmt: skip
    centre = wepl[mixed]
    mean = _W_CENTRE * centre + _W_ARM * sum(arms)
    var = _W_CENTRE * (centre - mean) ** 2 + _W_ARM * sum((a - mean) ** 2 for a in arms)
    span = wepl_up[mixed] + wepl_down[mixed]
    widen = 0.5 * (np.sqrt(span**2 + 12.0 * var) - span)
    out_wepl, out_up, out_down = wepl.copy(), wepl_up.copy(), wepl_down.copy()
    out_wepl[mixed] = mean
    out_up[mixed] += widen
    out_down[mixed] += widen
    return out_wepl, out_up, out_down, sigma
