"""Sub-voxel rows: the optimizer sees the dose of half-size voxels near the target.

The dose of a voxel is its mean over the voxel, so the optimizer cannot hide a hot
spot between grid points; but it cannot see the maximum of a smaller voxel inside a
steep gradient either. Where an organ at risk abuts the target, carbon's lateral
fall-off (~12 %/mm) leaves the 1.5 mm voxels of a recomputation up to 10 % hotter
than the 2 mm voxel that holds them (``docs/validation.md``, the demo on 1.5 mm).

So every dose-grid voxel whose centre lies within ``band_mm`` of the target's surface
(inside or outside) and that carries an objective is split into 2 × 2 × 2 sub-voxels.
Each sub-voxel gets its own row of the dose-influence matrix, computed by the same
engine on a grid of half the spacing (the engine's voxel average over the sub-voxel),
and its own occupancy of every structure (the exact overlap of its box with the
structure's mask). In the optimization problem the sub-voxels replace their parent:
the parent keeps no share of a structure that its sub-voxels carry, each sub-voxel
counts 1/8 of a voxel (its volume), so means, DVH and maximum objectives act on the
finer dose where it is steep, and the problem grows only by the band (7 rows more per
voxel split). The reported dose stays on the dose grid.

The rows are numbered after the dose grid's: row N + k (N dose-grid voxels) is
sub-voxel k, whose parent is ``parent[k]``; per-voxel values of the optimizer
(tissue α/β, the halo's correction held fixed) extend to the sub-voxels with their
parent's value (:meth:`SubVoxels.extend`): the nuclear halo is millimetres to
centimetres wide, so it is flat across a voxel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ionbeam.errors import ConfigError
from ionbeam.patient.grid import Grid
from ionbeam.patient.structures import Structure
from ionbeam.planning.dose_grid import occupancy_on_grid
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize.templates import optimization_masks

__all__ = [
    "MAX_BAND_MM",
    "SUB_VOXELS_PER_AXIS",
    "SubVoxels",
    "band_voxels",
    "split_voxels",
    "sub_voxel_fractions",
    "sub_voxel_influence",
]

#: Each split voxel becomes this many sub-voxels along each axis.
SUB_VOXELS_PER_AXIS = 2
_SHARE = 1.0 / SUB_VOXELS_PER_AXIS**3
_OFFSETS = np.array(
    [(a, b, c) for a in range(2) for b in range(2) for c in range(2)], dtype=np.int64
)
#: Longest band (mm): beyond a few voxels the steep gradients are gone and the
#: problem would only grow.
MAX_BAND_MM = 20.0


@dataclass(frozen=True, eq=False)
class SubVoxels:
    """The sub-voxels of split dose-grid voxels (module docstring).

    ``grid``: the dose grid; ``fine_grid``: a grid of half its spacing, aligned with it
    (each dose voxel holds 2 × 2 × 2 of its voxels) and cropped to the split voxels'
    bounding box; ``fine_index``: the flat ``fine_grid`` index of each sub-voxel row,
    ascending; ``parent``: the flat dose-grid index of its voxel; ``influence``: the
    dose-influence matrices on ``fine_grid`` (rows at ``fine_index``; None until
    computed)."""

    grid: Grid
    fine_grid: Grid
    fine_index: np.ndarray
    parent: np.ndarray
    influence: DoseInfluence | None = None

    @property
    def n_rows(self) -> int:
        """Number of sub-voxel rows."""
        return int(self.fine_index.size)

    @property
    def n_split(self) -> int:
        """Number of dose-grid voxels split."""
        return self.n_rows // SUB_VOXELS_PER_AXIS**3

    def extend(self, values: np.ndarray) -> np.ndarray:
        """Flat per-voxel ``values`` of the dose grid followed by those of the sub-voxels
        (each its parent's): N + ``n_rows`` values."""
        flat = np.asarray(values).reshape(-1)
        if flat.size != self.grid.size:
            raise ConfigError(
                f"expected one value per dose-grid voxel ({self.grid.size}); got {flat.size}"
            )
        return np.concatenate([flat, flat[self.parent]])

    def parents_of(self, rows: np.ndarray) -> np.ndarray:
        """The dose-grid voxels of optimizer ``rows`` (a sub-voxel's row → its parent),
        distinct and ascending."""
        rows = np.asarray(rows, dtype=np.int64)
        n = self.grid.size
        return np.unique(np.where(rows >= n, self.parent[np.maximum(rows - n, 0)], rows))

    def mask(self) -> np.ndarray:
        """The sub-voxels as a boolean volume on ``fine_grid``."""
        out = np.zeros(self.fine_grid.size, dtype=bool)
        out[self.fine_index] = True
        return out.reshape(self.fine_grid.shape)

    def with_influence(self, influence: DoseInfluence) -> SubVoxels:
        """A copy carrying the fine dose-influence matrices."""
        if influence.grid != self.fine_grid:
            raise ConfigError("the sub-voxels' influence must be computed on their fine grid")
        return SubVoxels(self.grid, self.fine_grid, self.fine_index, self.parent, influence)


def band_voxels(
    target_occupancy: np.ndarray, grid: Grid, band_mm: float, carried: np.ndarray
) -> np.ndarray:
    """Flat indices of the dose-grid voxels whose centres lie within ``band_mm`` of the
    target's surface (the voxels at least half inside it), inside or outside, among the
    ``carried`` ones (boolean, the voxels with an objective)."""
    inside = np.asarray(target_occupancy) >= 0.5
    if not inside.any():
        inside = np.asarray(target_occupancy) > 0.0
    spacing = grid.spacing_mm
    # distance of each outside voxel to the nearest inside one, and vice versa (centres)
    outside_mm = ndimage.distance_transform_edt(~inside, sampling=spacing)
    inside_mm = ndimage.distance_transform_edt(inside, sampling=spacing)
    # a voxel next to the surface is one spacing from the voxel across it: the surface
    # lies half a spacing away, so the band reaches band_mm + half the smallest spacing
    reach = float(band_mm) + 0.5 * min(spacing)
    near = np.where(inside, inside_mm, outside_mm) <= reach
    near |= (np.asarray(target_occupancy) > 0.0) & (np.asarray(target_occupancy) < 1.0)
    return np.flatnonzero(near & np.asarray(carried, dtype=bool))


def split_voxels(grid: Grid, voxels: np.ndarray) -> SubVoxels:
    """The sub-voxels of the dose-grid voxels ``voxels`` (flat indices), without their
    matrices; refused when there are none."""
    parents = np.unique(np.asarray(voxels, dtype=np.int64))
    if parents.size == 0:
        raise ConfigError(
            "no voxel with an objective lies near the target to split into sub-voxels; "
            "set oar_supersampling_mm = 0"
        )
    ijk = np.stack(np.unravel_index(parents, grid.shape), axis=1)
    low, high = ijk.min(axis=0), ijk.max(axis=0)
    spacing = np.asarray(grid.spacing_mm)
    nx, ny, nz = (int(v) for v in SUB_VOXELS_PER_AXIS * (high - low + 1))
    fine_shape = (nx, ny, nz)
    origin = np.asarray(grid.origin_mm) + (low - 0.25) * spacing
    fine_grid = Grid(fine_shape, tuple(spacing / SUB_VOXELS_PER_AXIS), tuple(origin))
    children = SUB_VOXELS_PER_AXIS * (ijk - low)[:, None, :] + _OFFSETS[None, :, :]
    fine = np.ravel_multi_index(tuple(children.reshape(-1, 3).T), fine_shape)
    parent = np.repeat(parents, _OFFSETS.shape[0])
    order = np.argsort(fine, kind="stable")
    return SubVoxels(grid, fine_grid, fine[order], parent[order])


def sub_voxel_fractions(
    sub: SubVoxels,
    structures: Sequence[Structure],
    occupancy: Mapping[str, np.ndarray],
    order: Sequence[str],
) -> dict[str, np.ndarray]:
    """The optimizer's voxel weights of the structures ``order`` (overlap priority, as
    :func:`~ionbeam.planning.optimize.templates.optimization_masks` applies it) on the
    rows of the dose grid and then of the sub-voxels: each structure's occupancy, the
    split voxels' share handed to their sub-voxels, the overlap priority applied and each
    sub-voxel's share scaled by its volume (1/8 of a voxel). Flat arrays of N +
    ``sub.n_rows`` values; the priority applied again by the optimizer changes nothing."""
    by_name = {s.name: s for s in structures}
    extended = {}
    for name in order:
        coarse = np.asarray(occupancy[name], dtype=np.float64).reshape(-1).copy()
        coarse[sub.parent] = 0.0
        fine = occupancy_on_grid([by_name[name]], sub.fine_grid)[name].reshape(-1)
        extended[name] = np.concatenate([coarse, fine[sub.fine_index]])
    shared = optimization_masks(extended, list(order))
    n = sub.grid.size
    for share in shared.values():
        share[n:] *= _SHARE
    return shared


def sub_voxel_influence(
    sub: SubVoxels,
    compute: Callable[..., DoseInfluence],
    tissue_map: np.ndarray | None,
) -> SubVoxels:
    """``sub`` with its matrices from ``compute(dose_grid=..., structures=...,
    tissue_map=...)`` (the planner's engine call with its other arguments bound): the
    sub-voxels as the one structure where dose is computed, each with its parent's
    tissue."""
    region = Structure("sub-voxels", sub.mask(), sub.fine_grid)
    fine_tissue = None
    if tissue_map is not None:
        flat = np.zeros(sub.fine_grid.size, dtype=np.int64)
        flat[sub.fine_index] = np.asarray(tissue_map).reshape(-1)[sub.parent]
        fine_tissue = flat.reshape(sub.fine_grid.shape)
    influence = compute(dose_grid=sub.fine_grid, structures=[region], tissue_map=fine_tissue)
    return sub.with_influence(influence)
