"""Lateral range mixing for the plain pencil beam (Urie et al. 1986; Szymanowski &
Oelfke 2002, Phys. Med. Biol. 47:3313).

A plain pencil beam reads each voxel's depth–dose at the WEPL of the voxel's own ray,
while the ions that reach the voxel scattered on the way and crossed the materials
beside it: behind a tumour's face in lung some crossed the tumour and some only lung.
Here each voxel's WEPL becomes a distribution over the neighbouring rays of the beam's
WEPL lattice, read at the voxel's depth:

* its lateral width is physical, the Fermi–Eyges conditional spread of the paths that
  reach the voxel (:func:`._range_mixing_kernels.mixing_variance`: σ² and the
  angle–position covariance M₁ traced along the nearest spot's ray, plus the spread of
  the spots' own initial directions in air over the lever arm, averaged over the depths
  where the WEPL varies laterally), never a fitted width;
* the distribution is sampled with a fixed 5-point cross, the 3-point Gauss–Hermite
  rule along u and along v (:data:`._range_mixing_kernels.NODES`: nodes 0, ±√3 σ,
  arms capped at :data:`MAX_REACH_MM`; weights 1/3 at the centre, 1/6 on each arm);
* the kernels read the depth–dose (and LET, α, √β) at each node's WEPL, the voxel's own
  WEPL span shifted there, with the nodes' weights
  (:func:`._range_mixing_kernels.cross_means`, from the cross table
  :attr:`._beam_setup.BeamSetup.cross`); the voxel's WEPL becomes the cross's mean (where
  σ_air, the halo's width and the depth bins of the lateral part are read) and its span
  the cross's envelope (which decides whether a spot's table reaches it, and over which
  the full-width halo of :mod:`.halo` averages).

In a medium without lateral WEPL differences the cross reads one WEPL, the voxel is not
mixed and its WEPL and span are unchanged: the dose is identical.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ionbeam.planning import _range_mixing_kernels as kernels
from ionbeam.planning._ray_tables import RayTables
from ionbeam.planning.raytrace import WeplLattice

__all__ = ["MAX_REACH_MM", "mixed_spans", "no_cross", "voxel_rays"]

#: Largest lateral distance (mm) at which a voxel reads a neighbouring ray: the WEPL
#: lattice is traced this much wider when range mixing is on.
MAX_REACH_MM = 15.0
_WEIGHTS = np.array(kernels.NODE_WEIGHTS)


def no_cross() -> np.ndarray:
    """The cross table of a beam without range mixing (no rows)."""
    return np.empty((0, kernels.CROSS_COLUMNS))


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
    by_pick = np.argsort(pick, kind="stable")
    bounds = np.searchsorted(pick[by_pick], np.arange(order.size + 1))
    for i, e in enumerate(order):
        voxels = by_pick[bounds[i] : bounds[i + 1]]
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
    angular_mm2: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The voxels' (WEPL, span below, span above, cross table) with the range mixing
    (see the module), and each voxel's mixing σ (mm). ``wepl`` includes
    ``wepl_offset_mm`` (a range shifter's WET), which the lattice does not.
    ``angular_mm2``: per voxel, the angular variance in air of its ray's spots (None:
    parallel spots). A voxel whose cross reads one WEPL keeps its own (NaN in its cross
    row)."""
    if angular_mm2 is None:
        angular_mm2 = np.zeros(u.size)
    variance, all_nodes = kernels.mixing_cross(
        u, v, w, rays, angular_mm2, tables.sigma2_mm2, tables.m1_mm, float(tables.w_start),
        float(tables.w_step), lattice.table, lattice.start, lattice.step, MAX_REACH_MM,
    )  # fmt: skip
    sigma = np.sqrt(variance)
    cross = np.full((u.size, kernels.CROSS_COLUMNS), np.nan)
    candidates = np.flatnonzero(sigma > 0.0)
    if candidates.size == 0:
        return wepl, wepl_up, wepl_down, cross, sigma
    nodes = all_nodes[candidates] + wepl_offset_mm
    differs = np.any(nodes != wepl[candidates, None], axis=1)
    mixed, nodes = candidates[differs], nodes[differs]
    out_wepl, out_up, out_down = wepl.copy(), wepl_up.copy(), wepl_down.copy()
    mean = nodes @ _WEIGHTS
    n = kernels.N_NODES
    cross[mixed, :n] = nodes
    cross[mixed, n] = wepl_up[mixed]
    cross[mixed, n + 1] = wepl_down[mixed]
    out_wepl[mixed] = mean
    out_up[mixed] = mean - nodes.min(axis=1) + wepl_up[mixed]
    out_down[mixed] = nodes.max(axis=1) - mean + wepl_down[mixed]
    return out_wepl, out_up, out_down, cross, sigma
