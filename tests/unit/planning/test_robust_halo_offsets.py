"""The full-width halo's correction in each error scenario of a robust plan
(:mod:`ionbeam.planning.robust.halo_offsets`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from ionbeam.patient import Grid
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.halo import HaloTerms
from ionbeam.planning.robust import Scenario
from ionbeam.planning.robust.halo_offsets import moved_with_shift, scenario_halo_offsets

GRID = Grid((6, 5, 4), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0))
CUBE = np.arange(GRID.size, dtype=float).reshape(GRID.shape) ** 1.5


@dataclasses.dataclass
class _Halo:
    """A halo whose correction is the weights' sum times fixed maps."""

    dose: np.ndarray
    alpha: np.ndarray

    def correction(self, weights: np.ndarray) -> HaloTerms:
        total = float(np.sum(weights))
        return HaloTerms(total * self.dose, total * self.dose, total * self.alpha, None)


def _influence(halo: _Halo | None) -> DoseInfluence:
    dose = sp.csc_matrix(np.full((GRID.size, 2), 1e-8, dtype=np.float32))
    return DoseInfluence(grid=GRID, dose=dose, beam_offsets=np.array([0, 2]), halo=halo)


def test_whole_voxel_shift_reads_the_values_one_shift_further() -> None:
    """A 4 mm shift along x on 2 mm voxels: the moved value at voxel i is the value at
    i + 2 (the dose at p in the scenario is the nominal dose at p + s), the last voxels
    keep the edge value; a half-voxel shift along y is the mean of two neighbours; no
    shift is the values themselves."""
    flat = CUBE.reshape(-1)
    moved = moved_with_shift(flat, GRID.shape, GRID.spacing_mm, (4.0, 0.0, 0.0))
    cube = moved.reshape(GRID.shape)
    np.testing.assert_allclose(cube[:4], CUBE[2:], rtol=1e-12)
    np.testing.assert_allclose(cube[4:], CUBE[5:6].repeat(2, axis=0), rtol=1e-12)
    half = moved_with_shift(flat, GRID.shape, GRID.spacing_mm, (0.0, -1.0, 0.0))
    expected = 0.5 * (CUBE[:, 1:] + CUBE[:, :-1])
    np.testing.assert_allclose(half.reshape(GRID.shape)[:, 1:], expected, rtol=1e-12)
    assert moved_with_shift(flat, GRID.shape, GRID.spacing_mm, (0.0, 0.0, 0.0)) is flat


def test_scenario_offsets_move_with_the_shift_and_scale_with_the_rbe() -> None:
    """Per scenario: the nominal correction for the weights (dose, α×dose; LET×dose is not
    optimized and left out), moved with a set-up shift, unchanged by a range error, the
    dose part × 1.1 with a constant RBE 10 % high; no halo, no offsets."""
    halo = _Halo(CUBE.reshape(-1), 0.3 * CUBE.reshape(-1))
    weights = np.array([2.0, 3.0])
    scenarios = [
        Scenario(),
        Scenario(0.0, (0.0, 0.0, 2.0)),
        Scenario(0.035),
        Scenario(0.0, (0.0, 0.0, 0.0), 0.1),
    ]
    out = scenario_halo_offsets(_influence(halo), weights, scenarios)
    assert out is not None and len(out) == 4
    assert set(out[0]) == {"dose", "alpha_dose"}
    np.testing.assert_allclose(out[0]["dose"], 5.0 * CUBE.reshape(-1), rtol=1e-12)
    shifted = out[1]["alpha_dose"].reshape(GRID.shape)
    np.testing.assert_allclose(shifted[:, :, :3], 1.5 * CUBE[:, :, 1:], rtol=1e-12)
    np.testing.assert_array_equal(out[2]["dose"], out[0]["dose"])
    np.testing.assert_allclose(out[3]["dose"], 1.1 * out[0]["dose"], rtol=1e-12)
    np.testing.assert_array_equal(out[3]["alpha_dose"], out[0]["alpha_dose"])
    assert scenario_halo_offsets(_influence(None), weights, scenarios) is None


@pytest.mark.parametrize("shift", [(4.0, 0.0, 0.0), (0.0, -6.0, 2.0)])
def test_moving_there_and_back_is_the_identity_inside(shift) -> None:
    """Whole-voxel shifts compose: +s then −s gives the values back away from the edges."""
    flat = CUBE.reshape(-1)
    there = moved_with_shift(flat, GRID.shape, GRID.spacing_mm, shift)
    back = moved_with_shift(there, GRID.shape, GRID.spacing_mm, tuple(-v for v in shift))
    steps = [int(abs(v) / 2.0) for v in shift]
    inner = tuple(slice(k, n - k) for k, n in zip(steps, GRID.shape, strict=True))
    np.testing.assert_allclose(back.reshape(GRID.shape)[inner], CUBE[inner], rtol=1e-12)
