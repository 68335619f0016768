"""Ray tracing: exact Siddon paths, WEPL along rays, WEPL maps against analytic depths."""

import numpy as np
import pytest

from ionbeam.errors import GeometryError, GridMismatchError, UnknownNameError
from ionbeam.patient import Grid
from ionbeam.planning import BeamGeometry, trace_ray, wepl_along_rays, wepl_map


def _clipped_chord(grid: Grid, start: np.ndarray, end: np.ndarray) -> float:
    """Length of the segment inside the grid's box (slab method, independent of the tracer)."""
    low, high = grid.extent_mm
    d = end - start
    t0, t1 = 0.0, 1.0
    for a in range(3):
        if d[a] == 0:
            if not low[a] <= start[a] <= high[a]:
                return 0.0
            continue
        ta, tb = sorted(((low[a] - start[a]) / d[a], (high[a] - start[a]) / d[a]))
        t0, t1 = max(t0, ta), min(t1, tb)
    return max(t1 - t0, 0.0) * float(np.linalg.norm(d))


def test_path_lengths_sum_to_the_chord_and_segments_lie_in_their_voxels() -> None:
    grid = Grid((7, 9, 5), (2.0, 1.5, 3.0), (-6.0, -6.0, -6.0))
    rng = np.random.default_rng(3)
    for _ in range(200):
        start, end = rng.uniform(-20, 20, size=(2, 3))
        path = trace_ray(grid, start, end)
        assert path.total_length_mm == pytest.approx(_clipped_chord(grid, start, end), abs=1e-9)
        if len(path) == 0:
            continue
        direction = (end - start) / np.linalg.norm(end - start)
        midpoints = start + (path.entry_mm + 0.5 * path.length_mm)[:, None] * direction
        index = np.rint(grid.world_to_index(midpoints)).astype(int)
        flat = np.ravel_multi_index(tuple(index.T), grid.shape)
        np.testing.assert_array_equal(flat, path.voxel_index)
        assert np.all(np.diff(path.entry_mm) > 0)


def test_path_along_a_row_of_voxel_centres() -> None:
    grid = Grid((5, 4, 3), (2.0, 2.0, 2.0))
    path = trace_ray(grid, np.array([-10.0, 2.0, 2.0]), np.array([20.0, 2.0, 2.0]))
    np.testing.assert_allclose(path.length_mm, 2.0)
    np.testing.assert_array_equal(
        path.voxel_index, np.ravel_multi_index(([0, 1, 2, 3, 4], [1] * 5, [1] * 5), grid.shape)
    )


def test_wepl_of_a_path_in_a_bone_slab() -> None:
    grid = Grid((40, 1, 1), (1.0, 1.0, 1.0))
    spr = np.ones(grid.shape)
    spr[10:25] = 1.7  # 15 mm of bone
    path = trace_ray(grid, np.array([-5.0, 0.0, 0.0]), np.array([50.0, 0.0, 0.0]))
    assert path.wepl(spr) == pytest.approx(25 * 1.0 + 15 * 1.7)


def _slab_phantom(spacing: tuple[float, float, float] = (2.0, 2.0, 2.0)) -> tuple[Grid, np.ndarray]:
    """Water box (SPR 1) from y = -60 to +60 mm, bone slab (1.7) at 0 ≤ y < 20, air elsewhere."""
    grid = Grid((61, 81, 41), spacing, (-60.0, -80.0, -40.0))
    y = grid.axes_mm()[1]
    spr = np.zeros(grid.shape)
    spr[:, (y > -60) & (y < 60), :] = 1.0
    spr[:, (y > 0) & (y < 20), :] = 1.7
    return grid, spr


def test_wepl_map_of_a_water_box_is_the_geometric_depth() -> None:
    grid = Grid((30, 40, 20), (2.0, 2.0, 3.0), (-29.0, -39.0, -28.5))
    spr = np.ones(grid.shape, dtype=np.float32)
    y = grid.axes_mm()[1]
    depth = y - grid.extent_mm[0][1]  # from the anterior face (beam travels +y)
    wepl = wepl_map(spr, grid, BeamGeometry(0.0))
    assert wepl.dtype == np.float32 and wepl.shape == grid.shape
    np.testing.assert_allclose(wepl, np.broadcast_to(depth[None, :, None], grid.shape), atol=1e-4)


def test_wepl_map_through_a_bone_slab_is_sum_of_spr_times_thickness() -> None:
    grid, spr = _slab_phantom()
    wepl = wepl_map(spr, grid, BeamGeometry(0.0))
    y = grid.axes_mm()[1]
    # voxel centres at even mm, edges at odd mm: water voxels -58..58 (edges -59, 59),
    # bone voxels 2..18 (edges 1, 19)
    water_in_front = 60.0  # mm of SPR 1 between the water's face (-59) and the slab (1)
    bone = 18.0
    beyond = y > 20
    expected = water_in_front + 1.7 * bone + (np.minimum(y[beyond], 59.0) - 19.0)  # air after 59
    np.testing.assert_allclose(
        wepl[:, beyond, :],
        np.broadcast_to(expected[None, :, None], wepl[:, beyond, :].shape),
        rtol=1e-6,
    )


def test_divergent_wepl_through_slabs_follows_the_oblique_rays() -> None:
    """A divergent beam crosses the slabs obliquely: WEPL = depth × (ray length / axial depth)."""
    grid, spr = _slab_phantom()
    sad = 1000.0  # short SAD to make the divergence visible
    geometry = BeamGeometry(0.0, sad_mm=(sad, 0.8 * sad))
    wepl = wepl_map(spr, grid, geometry)
    x, y, z = grid.axes_mm()
    iy = np.flatnonzero(y > 30)[0]
    parallel = wepl_map(spr, grid, BeamGeometry(0.0))[:, iy, :]
    # the ray through (x, y, z) from the two virtual sources has lateral slopes
    # x / (sad + y) and z / (0.8 sad + y)
    stretch = np.sqrt(
        1 + (x[:, None] / (sad + y[iy])) ** 2 + (z[None, :] / (0.8 * sad + y[iy])) ** 2
    )
    # away from the lateral faces, where edge rays enter through the side of the grid
    inner = (slice(6, -6), slice(6, -6))
    np.testing.assert_allclose(wepl[:, iy, :][inner], (parallel * stretch)[inner], rtol=2e-4)
    assert wepl[6, iy, 6] > wepl[30, iy, 20]  # off-axis rays are longer


def test_wepl_map_agrees_with_exact_rays_in_a_heterogeneous_volume() -> None:
    grid = Grid((24, 30, 20), (2.0, 2.0, 2.5), (-23.0, -29.0, -23.75))
    rng = np.random.default_rng(7)
    spr = rng.uniform(0.2, 1.8, size=grid.shape)
    geometry = BeamGeometry(40.0, 15.0, (1.0, -2.0, 0.5), (3000.0, 2500.0))
    wepl = wepl_map(spr, grid, geometry)
    index = np.column_stack([rng.integers(0, n, 60) for n in grid.shape])
    points = grid.index_to_world(index)
    origins, directions = geometry.spot_ray(*geometry.project_to_isoplane(points).T)
    distances = np.einsum("ij,ij->i", points - origins, directions)
    exact = np.array([trace_ray(grid, o, o + d * t).wepl(spr)
                      for o, d, t in zip(origins, directions, distances, strict=True)])  # fmt: skip
    exact_map = wepl_map(spr, grid, geometry, method="exact")
    np.testing.assert_allclose(exact_map[tuple(index.T)], exact, rtol=1e-5, atol=1e-4)
    mapped = wepl[tuple(index.T)]
    # Random SPR per voxel is the worst case for lateral interpolation: errors of the order
    # of one voxel's SPR contrast, unbiased on average.
    assert np.median(np.abs(mapped - exact)) < 1.5
    assert abs(np.mean(mapped - exact)) < 1.0


def test_wepl_along_rays_matches_the_traced_paths() -> None:
    grid, spr = _slab_phantom()
    geometry = BeamGeometry(30.0, 10.0, sad_mm=(6000.0, 5500.0))
    origins, directions = geometry.spot_ray(np.linspace(-30, 30, 7), np.linspace(-20, 20, 7))
    distances = geometry.ray_start_distance_mm + np.array([-100.0, 0.0, 50.0, 200.0])
    wepl = wepl_along_rays(spr, grid, origins, directions, distances_mm=distances)
    assert wepl.shape == (7, 4)
    for r in range(7):
        for k, t in enumerate(distances):
            exact = trace_ray(grid, origins[r], origins[r] + t * directions[r]).wepl(spr)
            assert wepl[r, k] == pytest.approx(exact, abs=1e-9)
    # unsorted per-ray distances come back in the caller's order
    shuffled = wepl_along_rays(spr, grid, origins, directions, distances_mm=distances[::-1])
    np.testing.assert_allclose(shuffled, wepl[:, ::-1])


def test_bad_input_refused() -> None:
    grid, spr = _slab_phantom()
    with pytest.raises(GridMismatchError):
        wepl_map(spr[:-1], grid, BeamGeometry(0.0))
    bad = spr.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(GridMismatchError, match="finite"):
        wepl_map(bad, grid, BeamGeometry(0.0))
    with pytest.raises(GeometryError, match="coincide"):
        trace_ray(grid, np.zeros(3), np.zeros(3))
    with pytest.raises(GeometryError):
        wepl_along_rays(spr, grid, np.zeros((1, 3)), np.zeros((1, 3)), distances_mm=[1.0])
    with pytest.raises(GeometryError):
        wepl_along_rays(spr, grid, np.zeros((1, 3)), np.ones((1, 3)), distances_mm=[-1.0])
    with pytest.raises(UnknownNameError):
        wepl_map(spr, grid, BeamGeometry(0.0), method="fast")  # type: ignore[arg-type]
    with pytest.raises(GeometryError, match="upstream"):
        wepl_map(spr, grid, BeamGeometry(0.0, sad_mm=(50.0, 50.0)))
