"""The ray tracer's strip kernels (:mod:`ionbeam.planning._raytrace_kernels`: the exact WEPL
map, the lattice's interpolation at every voxel and the WEPL along rays) give the same
numbers whatever the number of threads: each voxel or ray is computed alone and written at
its own place, so 1, 2 and 5 threads must agree bit for bit (``array_equal``)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from ionbeam.patient import Grid
from ionbeam.planning import raytrace
from ionbeam.planning.geometry import BeamGeometry


def _maps(spr: np.ndarray, grid: Grid) -> dict[str, np.ndarray]:
    geometry = BeamGeometry(35.0, 10.0, (1.0, -2.0, 0.5), (8000.0, 7500.0))
    rng = np.random.default_rng(2)
    origins = rng.uniform(-60.0, -50.0, (23, 3))
    directions = rng.normal(size=(23, 3))
    directions[:, 1] = np.abs(directions[:, 1]) + 1.0
    distances = np.sort(rng.uniform(0.0, 120.0, (23, 5)), axis=1)
    return {
        "lattice": raytrace.wepl_map(spr, grid, geometry),
        "exact": raytrace.wepl_map(spr, grid, geometry, method="exact"),
        "rays": raytrace.wepl_along_rays(spr, grid, origins, directions, distances_mm=distances),
    }


def test_wepl_maps_and_rays_are_the_same_on_1_2_and_5_threads(monkeypatch) -> None:
    """A heterogeneous volume (SPR 0.5–1.5, smooth), a divergent oblique beam: the lattice
    map, the exact map and the WEPL along 23 rays, identical on 1, 2 and 5 threads; the
    lattice map is within 1 % of the exact one at the median voxel where the WEPL
    exceeds 20 mm (the two methods agree; the lattice's edges differ more)
    and the WEPL along each ray grows with the distance."""
    grid = Grid((21, 26, 17), (2.0, 2.5, 3.0), (-20.0, -30.0, -25.0))
    x, y, z = np.meshgrid(*grid.axes_mm(), indexing="ij")
    spr = 1.0 + 0.5 * np.sin(x / 9.0) * np.cos(y / 13.0 + z / 17.0)
    results = []
    for n in (1, 2, 5):
        monkeypatch.setattr(numba, "get_num_threads", lambda n=n: n)
        results.append(_maps(spr, grid))
    for other in results[1:]:
        for name, value in results[0].items():
            assert np.array_equal(value, other[name]), name
    exact, lattice = results[0]["exact"], results[0]["lattice"]
    deep = exact > 20.0
    assert deep.sum() > 1000
    assert np.median(np.abs(lattice[deep] / exact[deep] - 1.0)) < 0.01
    assert np.all(np.diff(results[0]["rays"], axis=1) >= 0.0)


@pytest.fixture(autouse=True)
def _numba_threads_restored():
    yield
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
