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

import math

import numpy as np
from scipy.ndimage import binary_dilation, minimum_filter
from scipy.spatial import cKDTree

from ionbeam.planning import _range_mixing_kernels as kernels
from ionbeam.planning._ray_tables import RayTables
from ionbeam.planning.raytrace import WeplLattice

__all__ = ["MAX_REACH_MM", "mix_voxels", "mixed_spans", "no_cross", "node_floor", "voxel_rays"]

#: Largest lateral distance (mm) at which a voxel reads a neighbouring ray: the WEPL
#: lattice is traced this much wider when range mixing is on.
MAX_REACH_MM = 15.0
#: Margin (mm) of :func:`mix_voxels`'s bound against rounding.
_FLOOR_MARGIN_MM = 1.0


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


def node_floor(lattice: WeplLattice) -> np.ndarray:
    """The lattice's WEPL table min-filtered laterally over :data:`MAX_REACH_MM` and two
    nodes beyond (every corner of every cell a node of a voxel's cross can fall in):
    :func:`._range_mixing_kernels.cross_floor` reads it for a lower bound of the nodes."""
    reach = np.ceil(MAX_REACH_MM / np.asarray(lattice.step[:2], dtype=float)).astype(int) + 2
    size = (2 * int(reach[0]) + 1, 2 * int(reach[1]) + 1, 1)
    return minimum_filter(np.asarray(lattice.table, dtype=np.float64), size=size, mode="nearest")


def mix_voxels(
    lattice: WeplLattice,
    tables: RayTables,
    u: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    spans: tuple[np.ndarray, np.ndarray, np.ndarray],
    spots: tuple[np.ndarray, np.ndarray, np.ndarray],
    r80_mm: np.ndarray,
    max_depth_mm: np.ndarray,
    *,
    wepl_offset_mm: float = 0.0,
    angular_mm2: np.ndarray | None = None,
    spot_reach_mm: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The voxels' (WEPL, span below, span above, cross table) with the range mixing:
    :func:`voxel_rays` and :func:`mixed_spans` for the voxels that a spot's primaries
    may reach (``spans``: their own WEPL, including ``wepl_offset_mm``, and span;
    ``spots``: (u, v, energy index); ``max_depth_mm`` per energy, ``angular_mm2`` per
    energy: the spots' angular variance in air; ``spot_reach_mm`` per spot: the
    isocentre-plane radius of its cut-off disc, None: everywhere). The others keep their
    own WEPL: those outside every spot's disc (no matrix entry; only the full-width halo
    of :mod:`.halo` reaches them, and it reads their own WEPL), and those for which a
    lower bound of their nodes (:func:`node_floor`) less their span below lies beyond
    the deepest table of the beam's energies (no spot reaches them, mixed or not)."""
    wepl, wepl_up, wepl_down = spans
    spot_u, spot_v, spot_e = spots
    near = np.arange(u.size)
    if spot_reach_mm is not None:
        near = np.flatnonzero(_near_spots(u, v, spot_u, spot_v, float(np.max(spot_reach_mm))))
    deepest = float(np.max(np.asarray(max_depth_mm)[spot_e]))
    floor = kernels.cross_floor(u[near], v[near], w[near], lattice.table, lattice.start,
                                lattice.step, node_floor(lattice))  # fmt: skip
    near = near[floor + wepl_offset_mm - wepl_up[near] < deepest + _FLOOR_MARGIN_MM]
    cross = np.full((u.size, kernels.CROSS_COLUMNS), np.nan)
    if near.size == 0:
        return wepl, wepl_up, wepl_down, cross
    rays = voxel_rays(u[near], v[near], wepl[near], spot_u, spot_v, spot_e, r80_mm)
    angular = None if angular_mm2 is None else np.asarray(angular_mm2)[spot_e[rays]]
    mixed = mixed_spans(
        lattice, tables, rays, u[near], v[near], w[near], wepl[near], wepl_up[near],
        wepl_down[near], wepl_offset_mm, angular,
    )  # fmt: skip
    out_wepl, out_up, out_down = wepl.copy(), wepl_up.copy(), wepl_down.copy()
    out_wepl[near], out_up[near], out_down[near], cross[near] = mixed[:4]
    return out_wepl, out_up, out_down, cross


def _near_spots(
    u: np.ndarray, v: np.ndarray, spot_u: np.ndarray, spot_v: np.ndarray, reach_mm: float
) -> np.ndarray:
    """Whether each point (u, v) may lie within ``reach_mm`` of a spot: the spots' cells
    (a quarter of the reach wide) dilated by a disc of the reach and a cell's diagonal
    (every point within the reach is kept, and some up to 1.4 cells beyond)."""
    cell = 0.25 * reach_mm
    low = np.array([min(u.min(), spot_u.min()), min(v.min(), spot_v.min())])
    high = np.array([max(u.max(), spot_u.max()), max(v.max(), spot_v.max())])
    shape = np.floor((high - low) / cell).astype(np.int64) + 1
    marked = np.zeros(shape, dtype=bool)
    marked[((spot_u - low[0]) // cell).astype(np.int64),
           ((spot_v - low[1]) // cell).astype(np.int64)] = True  # fmt: skip
    radius = reach_mm / cell + math.sqrt(2.0)
    n = math.ceil(radius)
    x = np.arange(-n, n + 1)
    disc = x[:, None] ** 2 + x[None, :] ** 2 <= radius**2
    marked = binary_dilation(marked, structure=disc)
    iu = np.minimum(((u - low[0]) // cell).astype(np.int64), shape[0] - 1)
    iv = np.minimum(((v - low[1]) // cell).astype(np.int64), shape[1] - 1)
    return marked[iu, iv]


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
    variance, cross, out_wepl, out_up, out_down = kernels.mixing_cross(
        u, v, w, rays, angular_mm2, tables.sigma2_mm2, tables.m1_mm, float(tables.w_start),
        float(tables.w_step), lattice.table, lattice.start, lattice.step, MAX_REACH_MM,
        (wepl, wepl_up, wepl_down, wepl_offset_mm),
    )  # fmt: skip
    return out_wepl, out_up, out_down, cross, np.sqrt(variance)
