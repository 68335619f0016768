"""Restricted influence rows: every product equals scipy's on the same sub-matrix."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import GridMismatchError, StructureError
from ionbeam.planning.optimize import influence_rows as module
from ionbeam.planning.optimize import restrict_influence


def _dense(matrix, rows, cols) -> np.ndarray:
    return matrix.toarray().astype(np.float64)[np.ix_(rows, cols)]


@pytest.mark.parametrize(
    "spots", [None, np.arange(12, 24), np.array([0, 3, 5, 20, 23])], ids=["all", "beam", "some"]
)
def test_products_equal_the_dense_sub_matrix(influence, spots) -> None:
    rng = np.random.default_rng(3)
    voxels = np.sort(rng.choice(influence.grid.size, 50, replace=False))
    rows = restrict_influence(influence, voxels, spot_index=spots,
                              matrices=("dose", "alpha_dose", "sqrt_beta_dose"))  # fmt: skip
    cols = np.arange(influence.n_spots) if spots is None else spots
    d = _dense(influence.dose, voxels, cols)
    a = _dense(influence.alpha_dose, voxels, cols)
    b = _dense(influence.sqrt_beta_dose, voxels, cols)
    w = rng.uniform(1e6, 1e7, cols.size)
    g = rng.normal(size=voxels.size)
    h = rng.normal(size=voxels.size)
    np.testing.assert_array_equal(rows.voxel_index, voxels)
    np.testing.assert_allclose(rows.times("dose", w), d @ w, rtol=1e-12)
    first, second = rows.times_pair("alpha_dose", "sqrt_beta_dose", w)
    np.testing.assert_allclose(first, a @ w, rtol=1e-12)
    np.testing.assert_allclose(second, b @ w, rtol=1e-12)
    np.testing.assert_allclose(rows.transpose_times("dose", g), d.T @ g, rtol=1e-10, atol=1e-20)
    np.testing.assert_allclose(rows.transpose_times_sum("alpha_dose", "sqrt_beta_dose", g, h),
                               a.T @ g + b.T @ h, rtol=1e-10, atol=1e-20)  # fmt: skip


def test_wide_spot_indices_give_the_same_products(influence, monkeypatch) -> None:
    """Plans with more than 65535 spots keep int32 spot indices: same numbers."""
    voxels = np.arange(influence.grid.size)
    narrow = restrict_influence(influence, voxels)
    monkeypatch.setattr(module, "NARROW_INDEX_LIMIT", 0)
    wide = restrict_influence(influence, voxels)
    assert narrow.row_indices.dtype == np.uint16 and wide.row_indices.dtype == np.int32
    w = np.linspace(1e6, 2e6, influence.n_spots)
    g = np.zeros(wide.n_voxels)
    g[:5] = 1.0
    np.testing.assert_array_equal(narrow.times("dose", w), wide.times("dose", w))
    scattered = narrow.transpose_times("dose", g)
    np.testing.assert_array_equal(scattered, wide.transpose_times("dose", g))


def test_one_layout_holds_the_matrix_once(influence) -> None:
    """D·w and Dᵀ·g share one compressed-row copy: float32 values and uint16 spot indices,
    6 bytes per entry and matrix pattern (plus 4 per extra value array and the row
    pointers), with nothing else held; Dᵀ·g from a few non-zero g equals scipy's."""
    voxels = np.arange(influence.grid.size)
    rows = restrict_influence(influence, voxels, matrices=("dose", "alpha_dose"))
    assert rows.nnz == influence.dose.nnz
    assert rows.nbytes == 6 * rows.nnz + 4 * rows.nnz + 8 * (rows.n_voxels + 1)
    g = np.zeros(rows.n_voxels)
    g[[3, 17, 44]] = [1.0, -2.0, 0.5]
    expected = influence.dose.T.astype(np.float64) @ g
    scattered = rows.transpose_times("dose", g)
    np.testing.assert_allclose(scattered, expected, rtol=1e-12, atol=1e-22)
    assert np.any(scattered != 0)


def test_no_voxel_or_bad_indices_raise(influence) -> None:
    with pytest.raises(StructureError, match="no voxel"):
        restrict_influence(influence, np.array([], dtype=int))
    with pytest.raises(GridMismatchError, match="voxel indices"):
        restrict_influence(influence, np.array([influence.grid.size]))
    with pytest.raises(GridMismatchError, match="spot indices"):
        restrict_influence(influence, np.array([0]), spot_index=np.array([99]))
    with pytest.raises(GridMismatchError, match="unknown influence"):
        restrict_influence(influence, np.array([0]), matrices=("let_dose",))


def test_sorted_unique_is_numpys_unique() -> None:
    """The mask-based distinct indices equal np.unique (values, order and dtype) for
    unsorted indices with repeats, the first and last index of the range included."""
    from ionbeam.planning.optimize.influence_rows import sorted_unique

    rng = np.random.default_rng(7)
    index = np.concatenate([rng.integers(0, 5000, 20000), [0, 4999, 17, 17]])
    expected = np.unique(index)
    got = sorted_unique(index, 5000)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype


def test_subset_products_and_weighted_column_squares_equal_the_dense_ones(influence) -> None:
    """(M·w)[rows] on a subset, and Σᵢ cᵢ Mᵢⱼ² per spot, against dense numpy; the subset's
    rows are the full product's bit for bit; row weights of the wrong length raise."""
    rng = np.random.default_rng(5)
    voxels = np.sort(rng.choice(influence.grid.size, 60, replace=False))
    rows = restrict_influence(influence, voxels, matrices=("alpha_dose", "sqrt_beta_dose"))
    a = _dense(influence.alpha_dose, voxels, np.arange(influence.n_spots))
    w = rng.uniform(1e6, 1e7, influence.n_spots)
    subset = np.array([0, 7, 8, 31, 59])
    full = rows.times("alpha_dose", w)
    np.testing.assert_array_equal(rows.times_rows("alpha_dose", w, subset), full[subset])
    pair = rows.times_pair_rows("alpha_dose", "sqrt_beta_dose", w, subset)
    np.testing.assert_allclose(pair[0], (a @ w)[subset], rtol=1e-12)
    c = rng.uniform(0.0, 2.0, voxels.size)
    c[::3] = 0.0
    expected = (c[:, None] * a**2).sum(axis=0)
    np.testing.assert_allclose(rows.weighted_column_squares("alpha_dose", c), expected,
                               rtol=1e-10)  # fmt: skip
    with pytest.raises(GridMismatchError, match="row weights"):
        rows.weighted_column_squares("alpha_dose", c[:-1])


def test_product_kernels_handle_empty_and_one_entry_rows() -> None:
    """Rows with no entry give 0 and scatter nothing; a one-entry row its value × x
    (the kernels walk entry positions as unsigned integers)."""
    from ionbeam.planning.optimize import _product_kernels as kernels

    indptr = np.array([0, 0, 1, 1, 3], dtype=np.int64)
    indices = np.array([2, 0, 2], dtype=np.uint16)
    values = np.array([0.5, 2.0, 4.0], dtype=np.float32)
    x = np.array([1.0, 10.0, 100.0])
    np.testing.assert_array_equal(kernels.rows_dot(indptr, indices, values, x), [0, 50, 0, 402])
    rows = np.array([3, 0, 1], dtype=np.int64)
    np.testing.assert_array_equal(
        kernels.rows_dot_subset(indptr, indices, values, x, rows), [402, 0, 50]
    )
    g = np.array([7.0, 3.0, 5.0, 1.0])
    out = kernels.active_rows_scatter(indptr, indices, values, values, rows, g, g, False, 3, 16)
    np.testing.assert_array_equal(out, [2.0, 0.0, 4.0 + 0.5 * 3.0])
