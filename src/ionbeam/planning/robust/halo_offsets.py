"""The full-width nuclear halo in robust optimization: fixed offsets per scenario.

The dose-influence matrices keep each spot's halo inside its cut-off disc; the reported
dose carries it at full width (:mod:`ionbeam.planning.halo`). The nominal planner
re-optimizes once with the halo's correction for its weights held fixed; a robust plan
needs the same in every scenario, or the dose it reports differs from the one it
optimized (less in a small target and at a target's edge, more around it).

:func:`scenario_halo_offsets` takes the nominal geometry's correction for the weights
and gives each scenario its own: moved with the scenario's set-up shift (the dose at a
patient point p in a scenario shifted by s is the nominal dose at p + s, the model of
:mod:`.scenarios`), unchanged by its range error, and scaled by a constant RBE's error
(as the scenario's dose matrix is, :mod:`.rbe_error`). The halo is a smooth part of
the dose (σ of 1–2.5 cm for protons), so that a range error of a few per cent changes its
correction by a few per cent of a correction that is itself a few per cent of the dose;
the scenario's own correction is not recomputed (that would need its ray tracing again).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.robust.scenarios import Scenario

__all__ = ["moved_with_shift", "scenario_halo_offsets"]

#: The halo terms the optimizer's quantities read (LET×dose is not optimized).
_OPTIMIZED = ("dose", "alpha_dose", "sqrt_beta_dose")


def scenario_halo_offsets(
    nominal: DoseInfluence, weights: np.ndarray, scenarios: Sequence[Scenario]
) -> list[dict[str, np.ndarray]] | None:
    """Per scenario (in order), the halo's correction for spot ``weights`` (particles)
    as flat arrays on the dose grid by matrix name; None when ``nominal`` has no halo."""
    if nominal.halo is None:
        return None
    terms = nominal.halo.correction(np.asarray(weights, dtype=np.float64))
    base = {
        name: np.asarray(value, dtype=np.float64)
        for name, value in zip(terms._fields, terms, strict=True)
        if name in _OPTIMIZED and value is not None
    }
    grid = nominal.grid
    out = []
    for scenario in scenarios:
        moved = {
            name: moved_with_shift(value, grid.shape, grid.spacing_mm, scenario.shift_mm)
            for name, value in base.items()
        }
        if scenario.rbe_error and "dose" in moved:
            moved["dose"] = moved["dose"] * (1.0 + scenario.rbe_error)
        out.append(moved)
    return out


def moved_with_shift(
    values: np.ndarray,
    shape: Sequence[int],
    spacing_mm: Sequence[float],
    shift_mm: Sequence[float],
) -> np.ndarray:
    """Flat ``values`` on a grid of ``shape`` read at p + ``shift_mm`` for every voxel p
    (linear between voxels, the edge value beyond the grid): a quantity that moves with
    the dose in the scenario of that set-up shift. Exact for whole-voxel shifts."""
    steps = np.asarray(shift_mm, dtype=np.float64) / np.asarray(spacing_mm, dtype=np.float64)
    if not np.any(steps):
        return values
    cube = values.reshape(tuple(shape))
    moved = ndimage.shift(cube, -steps, order=1, mode="nearest", prefilter=False)
    return moved.reshape(-1)
