"""What set-up errors allow before any dose is computed: target against organ at risk.

Under a rigid set-up error the dose moves with the beam: in the scenario with the
patient displaced by ``s`` the dose at a patient point ``p`` is the nominal dose at
``p + s`` (the isocentre lands at ``isocentre − s``; :mod:`ionbeam.planning.robust`).
An organ that must stay at or below a limit in *every* scenario ``s'`` then forces the
nominal dose at or below that limit on the organ moved by ``s'``; the target in scenario
``s`` reads the nominal dose at its own points moved by ``s``. A target point ``c``
whose ``c + s − s'`` lies in the organ for some ``s'`` therefore receives at most the
organ's limit in scenario ``s``, whatever the plan.

:func:`shift_conflict_fractions` gives, per scenario, that fraction of the target. When
it exceeds 5 % in a scenario, D95 of the target there is at most the organ's limit: no
plan can keep D95 above the limit in that scenario and the organ within it in all of
them. The bound is exact for dose that translates with the beam (homogeneous tissue,
the set-up model of the scenarios) and ignores the distance the dose needs to fall from
the target's level to the organ's limit, which only makes the conflict larger; range
errors do not enter it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.evaluation._inputs import as_structure_weights
from ionbeam.patient.grid import Grid

__all__ = ["shift_conflict_fractions"]


def shift_conflict_fractions(
    target: Any, organ: Any, grid: Grid, shifts_mm: Sequence[Sequence[float]]
) -> np.ndarray:
    """Per scenario shift ``s`` (mm, LPS; one row per scenario, the same set for the
    organ), the volume fraction of ``target`` (mask or structure on ``grid``) whose
    points ``c + s − s'`` lie in ``organ`` for some shift ``s'`` of the set (see the
    module docstring). Points are looked up at the nearest voxel."""
    shape = tuple(grid.shape)
    target_weights = as_structure_weights(target, shape, name="target", grid=grid)
    organ_mask = as_structure_weights(organ, shape, name="organ", grid=grid).reshape(shape) > 0
    shifts = np.asarray(shifts_mm, dtype=np.float64)
    if (
        shifts.ndim != 2
        or shifts.shape[1] != 3
        or len(shifts) == 0
        or not np.all(np.isfinite(shifts))
    ):
        raise ConfigError(
            f"shifts_mm must be finite rows of (x, y, z) mm; got shape {shifts.shape}"
        )
    inside = np.flatnonzero(target_weights > 0)
    points = grid.index_to_world(np.stack(np.unravel_index(inside, shape), axis=1))
    total = float(target_weights[inside].sum())
    out = np.empty(len(shifts))
    for k, shift in enumerate(shifts):
        conflict = np.zeros(len(inside), dtype=bool)
        for other in shifts:
            conflict |= _in_mask(organ_mask, grid, points + (shift - other))
        out[k] = float(target_weights[inside][conflict].sum()) / total
    return out


def _in_mask(mask: np.ndarray, grid: Grid, points_mm: np.ndarray) -> np.ndarray:
    """Whether each point's nearest voxel lies in ``mask`` (False outside the grid)."""
    index = np.rint(grid.world_to_index(points_mm)).astype(np.int64)
    valid = np.all((index >= 0) & (index < np.asarray(mask.shape)), axis=1)
    out = np.zeros(len(points_mm), dtype=bool)
    i, j, k = index[valid].T
    out[valid] = mask[i, j, k]
    return out
