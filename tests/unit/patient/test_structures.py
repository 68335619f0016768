"""Structures: volumes, centroids, anisotropic margins, boolean algebra, the set's lookups."""

import numpy as np
import pytest

from ionbeam.errors import GridMismatchError, StructureError, UnknownNameError
from ionbeam.patient import Grid, Structure, StructureSet


def _grid(spacing: float = 1.0, n: int = 61) -> Grid:
    half = (n - 1) * spacing / 2
    return Grid((n, n, n), (spacing,) * 3, (-half,) * 3)


def _ellipsoid(grid: Grid, semi_axes: tuple[float, float, float], centre=(0.0, 0.0, 0.0)):
    x, y, z = grid.axes_mm()
    return (
        ((x[:, None, None] - centre[0]) / semi_axes[0]) ** 2
        + ((y[None, :, None] - centre[1]) / semi_axes[1]) ** 2
        + ((z[None, None, :] - centre[2]) / semi_axes[2]) ** 2
    ) <= 1.0


def test_volume_and_centroid_of_a_box() -> None:
    grid = Grid((10, 10, 10), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0))
    mask = np.zeros(grid.shape, bool)
    mask[2:6, 3:5, 1:9] = True  # 4 × 2 × 8 voxels of 8 mm³
    s = Structure("box", mask, grid)
    assert s.volume_cm3 == pytest.approx(64 * 8 / 1000)
    np.testing.assert_allclose(s.centroid_mm, [7.0, 7.0, 9.0])


def test_expanded_sphere_has_the_volume_of_the_larger_sphere() -> None:
    grid = _grid(1.0)
    sphere = Structure("s", _ellipsoid(grid, (10.0, 10.0, 10.0)), grid)
    grown = sphere.expand(5.0)
    # Exact bounds on voxel centres: nothing beyond 15 mm, everything within 15 mm less
    # the largest distance from a point of the radius-10 ball to its nearest voxel centre
    # inside it (half a voxel diagonal, √3/2 mm).
    assert not np.any(grown.mask & ~_ellipsoid(grid, (15.0 + 1e-9,) * 3))
    assert np.all(grown.mask[_ellipsoid(grid, (15.0 - np.sqrt(3) / 2,) * 3)])
    expected = 4 / 3 * np.pi * 15.0**3 / 1000
    assert grown.volume_cm3 == pytest.approx(expected, rel=0.05)
    assert np.all(grown.mask[sphere.mask])  # expansion contains the original


def test_anisotropic_margin_gives_an_ellipsoid() -> None:
    grid = _grid(1.0)
    sphere = Structure("s", _ellipsoid(grid, (10.0, 10.0, 10.0)), grid)
    grown = sphere.expand((2.0, 6.0, 0.0))
    # A sphere grown by an ellipsoidal margin: extents along the axes are r + m.
    lo, hi = grown.bounding_box()
    extent_mm = (hi - lo) * 1.0
    np.testing.assert_allclose(extent_mm, [24.0, 32.0, 20.0], atol=1.0)


def test_contract_is_the_inverse_of_expand_for_a_convex_shape() -> None:
    grid = _grid(1.0)
    big = Structure("s", _ellipsoid(grid, (20.0, 20.0, 20.0)), grid)
    small = big.contract(5.0)
    expected = 4 / 3 * np.pi * 15.0**3 / 1000
    assert small.volume_cm3 == pytest.approx(expected, rel=0.03)
    assert not np.any(small.mask & ~big.mask)


def test_contract_treats_the_grid_border_as_outside() -> None:
    grid = Grid((10, 10, 10), (1.0, 1.0, 1.0))
    full = Structure("all", np.ones(grid.shape, bool), grid)
    assert full.contract(2.0).n_voxels == 6**3  # two voxels off every face


def test_boolean_algebra_and_operators() -> None:
    grid = Grid((4, 4, 1), (1.0, 1.0, 1.0))
    a = np.zeros(grid.shape, bool)
    b = np.zeros(grid.shape, bool)
    a[:2] = True
    b[1:3] = True
    sa, sb = Structure("A", a, grid), Structure("B", b, grid)
    assert (sa | sb).n_voxels == 12 and (sa & sb).n_voxels == 4 and (sa - sb).n_voxels == 4
    assert sa.union(sb, name="AB").name == "AB"
    assert sa.dice(sb) == pytest.approx(2 * 4 / 16)


def test_structure_masks_are_read_only_copies() -> None:
    grid = Grid((3, 3, 3), (1.0, 1.0, 1.0))
    mask = np.zeros(grid.shape, bool)
    s = Structure("s", mask, grid)
    mask[0, 0, 0] = True
    assert s.n_voxels == 0
    with pytest.raises(ValueError):
        s.mask[0, 0, 0] = True


def test_structure_set_lookup_lists_existing_names() -> None:
    grid = Grid((3, 3, 3), (1.0, 1.0, 1.0))
    ss = StructureSet([Structure("PTV", np.ones(grid.shape, bool), grid),
                       Structure("Body", np.ones(grid.shape, bool), grid)])  # fmt: skip
    assert list(ss) == ["PTV", "Body"] and ss.grid == grid
    with pytest.raises(UnknownNameError) as info:
        ss["Brainstem"]
    assert "Body" in str(info.value) and "PTV" in str(info.value)
    assert list(ss.without("PTV")) == ["Body"]


@pytest.mark.parametrize("margin", [-1.0, float("nan"), (1.0, 2.0), "big"])
def test_bad_margins_refused(margin: object) -> None:
    grid = Grid((3, 3, 3), (1.0, 1.0, 1.0))
    s = Structure("s", np.ones(grid.shape, bool), grid)
    with pytest.raises(StructureError):
        s.expand(margin)  # type: ignore[arg-type]


def test_bad_structures_refused() -> None:
    grid = Grid((3, 3, 3), (1.0, 1.0, 1.0))
    other = Grid((3, 3, 3), (2.0, 2.0, 2.0))
    with pytest.raises(StructureError):
        Structure("", np.ones(grid.shape, bool), grid)
    with pytest.raises(StructureError):
        Structure("s", np.full(grid.shape, 0.5), grid)
    with pytest.raises(GridMismatchError):
        Structure("s", np.ones((3, 3, 2), bool), grid)
    with pytest.raises(GridMismatchError):
        Structure("a", np.ones(grid.shape, bool), grid) | Structure(
            "b", np.ones(other.shape, bool), other
        )
    with pytest.raises(StructureError, match="empty"):
        _ = Structure("e", np.zeros(grid.shape, bool), grid).centroid_mm
    with pytest.raises(StructureError, match="two structures"):
        StructureSet([Structure("a", np.ones(grid.shape, bool), grid)] * 2)
