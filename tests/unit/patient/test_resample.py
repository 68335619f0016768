"""Resampling between axis-aligned grids: identities, exactness for linear fields, masks."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError, GridMismatchError
from ionbeam.patient import Grid, resample


def _linear_field(grid: Grid) -> np.ndarray:
    x, y, z = grid.axes_mm()
    return 2.0 * x[:, None, None] - 0.5 * y[None, :, None] + 3.0 * z[None, None, :] + 7.0


def test_same_grid_is_identity_and_a_copy() -> None:
    grid = Grid((5, 6, 7), (1.0, 2.0, 3.0), (1.0, -2.0, 0.5))
    volume = np.random.default_rng(0).random(grid.shape)
    out = resample(volume, grid, grid)
    assert np.array_equal(out, volume) and out is not volume


def test_integer_shift_moves_the_voxels() -> None:
    grid = Grid((6, 5, 4), (2.0, 2.0, 2.0))
    shifted = Grid((6, 5, 4), (2.0, 2.0, 2.0), (2.0, 0.0, 0.0))
    volume = np.random.default_rng(1).random(grid.shape)
    out = resample(volume, grid, shifted, fill_value=-1.0)
    assert np.allclose(out[:-1], volume[1:])
    assert np.all(out[-1] == -1.0)  # beyond the source's bounding box


def test_trilinear_reproduces_a_linear_field_exactly() -> None:
    source = Grid((20, 18, 16), (2.0, 2.5, 3.0), (-20.0, -20.0, -20.0))
    target = Grid((13, 11, 9), (2.7, 3.1, 4.3), (-15.0, -14.0, -13.0))
    out = resample(_linear_field(source), source, target)
    np.testing.assert_allclose(out, _linear_field(target), rtol=0, atol=1e-9)


def test_down_and_up_sampling_round_trip_of_a_linear_field() -> None:
    fine = Grid((21, 21, 21), (1.0, 1.0, 1.0), (-10.0, -10.0, -10.0))
    coarse = Grid((11, 11, 11), (2.0, 2.0, 2.0), (-10.0, -10.0, -10.0))
    back = resample(resample(_linear_field(fine), fine, coarse), coarse, fine)
    np.testing.assert_allclose(back, _linear_field(fine), atol=1e-9)


def test_nearest_keeps_mask_dtype_and_volume() -> None:
    fine = Grid((40, 40, 40), (1.0, 1.0, 1.0), (-19.5, -19.5, -19.5))
    coarse = Grid((20, 20, 20), (2.0, 2.0, 2.0), (-19.0, -19.0, -19.0))
    x, y, z = (
        a.reshape(s)
        for a, s in zip(fine.axes_mm(), [(-1, 1, 1), (1, -1, 1), (1, 1, -1)], strict=True)
    )
    sphere = x**2 + y**2 + z**2 <= 12.0**2
    out = resample(sphere, fine, coarse, method="nearest", fill_value=False)
    assert out.dtype == bool
    volume_fine = sphere.sum() * fine.voxel_volume_mm3
    volume_coarse = out.sum() * coarse.voxel_volume_mm3
    assert volume_coarse == pytest.approx(volume_fine, rel=0.08)


def test_bad_input_refused() -> None:
    grid = Grid((3, 3, 3), (1.0, 1.0, 1.0))
    with pytest.raises(GridMismatchError):
        resample(np.zeros((3, 3, 4)), grid, grid)
    with pytest.raises(ConfigError, match="linear, nearest"):
        resample(np.zeros((3, 3, 3)), grid, grid, method="cubic")  # type: ignore[arg-type]
