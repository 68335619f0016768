"""Grid geometry: voxel centres, index/world round trip, bad shapes refused."""

import numpy as np
import pytest

from ionbeam.errors import GridMismatchError
from ionbeam.patient import Grid


def test_index_world_round_trip() -> None:
    grid = Grid((10, 20, 5), (1.0, 2.0, 3.0), (-5.0, 10.0, 0.5))
    idx = np.array([[0, 0, 0], [9, 19, 4], [2.5, 3.25, 1.0]])
    world = grid.index_to_world(idx)
    assert np.allclose(world[1], [4.0, 48.0, 12.5])
    assert np.allclose(grid.world_to_index(world), idx)


def test_extent_and_contains() -> None:
    grid = Grid((4, 4, 4), (2.0, 2.0, 2.0), (1.0, 1.0, 1.0))
    lo, hi = grid.extent_mm
    assert np.allclose(lo, 0.0) and np.allclose(hi, 8.0)
    assert grid.contains([[0.1, 4, 7.9], [8.1, 4, 4]]).tolist() == [True, False]
    assert grid.size == 64 and grid.voxel_volume_mm3 == 8.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shape": (0, 2, 2), "spacing_mm": (1, 1, 1)},
        {"shape": (2, 2, 2), "spacing_mm": (1, -1, 1)},
        {"shape": (2, 2), "spacing_mm": (1, 1, 1)},
        {"shape": (2, 2, 2), "spacing_mm": (1, 1, float("nan"))},
    ],
)
def test_bad_grids_refused(kwargs: dict) -> None:
    with pytest.raises(GridMismatchError):
        Grid(**kwargs)
