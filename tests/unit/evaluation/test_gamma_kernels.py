"""The gamma search table and kernel: lattice, ordering, neighbours, stopping bound;
and the kernel against a brute-force search on a random dose."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from ionbeam.evaluation._gamma_kernels import gamma_squared_search
from ionbeam.evaluation._gamma_table import search_table


def test_table_is_sorted_and_coarsens_beyond_the_fine_radius() -> None:
    table = search_table(0.3, 6.0, 20.0, (True, True, True))
    assert np.all(np.diff(table.radius_mm) >= 0) and table.radius_mm[0] == 0.0
    assert np.allclose(np.linalg.norm(table.offsets_mm, axis=1), table.radius_mm)
    assert table.radius_mm.max() <= 20.0 + 1e-9
    assert np.all(table.pitch_mm[table.radius_mm <= 6.0] == 0.3)
    assert set(np.unique(table.pitch_mm[table.radius_mm > 6.0])) == {0.6, 1.2}
    # every offset lies on its lattice
    steps = table.offsets_mm / table.pitch_mm[:, None]
    assert np.allclose(steps, np.round(steps))
    # the fine ball holds all lattice points of pitch 0.3 within 6 mm
    n = int(np.count_nonzero(table.radius_mm <= 6.0))
    k = np.arange(-20, 21)
    cube = np.stack(np.meshgrid(k, k, k, indexing="ij"), -1).reshape(-1, 3) * 0.3
    assert n == np.count_nonzero(np.linalg.norm(cube, axis=1) <= 6.0 + 1e-9)


def test_neighbours_are_one_pitch_closer_and_the_stop_bound_is_safe() -> None:
    table = search_table(0.5, 3.0, 9.0, (True, True, True))
    index = np.arange(table.radius_mm.size)
    for axis in range(3):
        nb = table.earlier_neighbours[:, axis]
        has = nb >= 0
        assert np.all(nb[has] < index[has])
        step = table.offsets_mm[has] - table.offsets_mm[nb[has]]
        expected = np.zeros_like(step)
        expected[:, axis] = np.sign(table.offsets_mm[has, axis]) * table.pitch_mm[has]
        assert np.allclose(step, expected)
        # a non-zero component has its neighbour unless it crosses a band boundary
        same_band_inner = np.abs(table.offsets_mm[:, axis]) > 0
        missing = same_band_inner & ~has
        assert np.all(table.radius_mm[missing] > 3.0 - 1e-9)
    assert np.all(np.diff(table.stop_radius_mm) >= 0)
    assert np.all(table.stop_radius_mm <= table.radius_mm)


def test_flat_axes_get_no_offsets() -> None:
    table = search_table(0.3, 3.0, 3.0, (True, True, False))
    assert np.all(table.offsets_mm[:, 2] == 0.0)
    assert np.all(table.earlier_neighbours[:, 2] == -1)


def _kernel_gamma(dose: np.ndarray, spacing_mm: float, points_mm: np.ndarray,
                  ref: np.ndarray) -> np.ndarray:  # fmt: skip
    """Global 3 %/3 mm (ΔD = 0.03 Gy) gamma from the kernel with a 0.3 mm lattice."""
    table = search_table(0.3, 6.0, 6.0, (True, True, True))
    gamma_sq = gamma_squared_search(
        points_mm / spacing_mm, ref, np.full(len(ref), 1.0 / 0.03**2), dose,
        np.full(3, spacing_mm), table.offsets_mm, table.radius_mm,
        table.stop_radius_mm, table.earlier_neighbours, 3.0, 0.3, np.ones(3),
    )  # fmt: skip
    return np.sqrt(gamma_sq)


def _brute_force(interpolate, point_mm: np.ndarray, ref: float, offsets_mm: np.ndarray) -> float:
    values = interpolate(point_mm + offsets_mm)
    return float(np.sqrt(np.min(((values - ref) / 0.03) ** 2 + np.sum(offsets_mm**2, 1) / 9.0)))


def test_kernel_is_at_most_the_minimum_over_its_lattice_points() -> None:
    """Early stopping must never skip a better lattice point: on a rough random dose
    the kernel is ≤ the brute-force minimum over every lattice point."""
    rng = np.random.default_rng(5)
    dose = rng.uniform(0.5, 1.5, (9, 9, 9))
    interpolate = RegularGridInterpolator(tuple(np.arange(9) * 2.0 for _ in range(3)), dose)
    points = rng.uniform(6.0, 10.0, (20, 3))
    ref = rng.uniform(0.7, 1.3, 20)
    gamma = _kernel_gamma(dose, 2.0, points, ref)
    lattice = search_table(0.3, 6.0, 6.0, (True, True, True)).offsets_mm
    for p in range(20):
        assert gamma[p] <= _brute_force(interpolate, points[p], ref[p], lattice) + 1e-12


def test_kernel_matches_a_dense_search_on_a_smooth_dose() -> None:
    """On a smooth dose (|∇D| ≤ 0.05 Gy/mm, 1.7 ΔD per mm) a 0.05 mm brute-force
    lattice is within ~0.01 of the continuous minimum; the kernel, with a
    0.3 mm lattice and its edges, must agree with it within 0.02."""
    rng = np.random.default_rng(11)
    axes = tuple(np.arange(16) * 2.0 for _ in range(3))
    x, y, z = np.meshgrid(*axes, indexing="ij")
    phases = rng.uniform(0.0, 2.0 * np.pi, 3)
    dose = 1.0 + 0.1 * (
        np.sin(x / 6 + phases[0]) * np.cos(y / 7 + phases[1]) + np.sin(z / 5 + phases[2])
    )
    interpolate = RegularGridInterpolator(axes, dose)
    points = rng.uniform(10.0, 20.0, (12, 3))
    ref = interpolate(points) + rng.normal(0.0, 0.03, 12)
    gamma = _kernel_gamma(dose, 2.0, points, ref)
    k = np.arange(-60, 61) * 0.05
    dense = np.stack(np.meshgrid(k, k, k, indexing="ij"), -1).reshape(-1, 3)
    dense = dense[np.sum(dense**2, 1) <= 9.0]
    for p in range(12):
        assert abs(gamma[p] - _brute_force(interpolate, points[p], ref[p], dense)) < 0.02


def test_trilinear_gradient_matches_finite_differences() -> None:
    from ionbeam.evaluation._gamma_kernels import _trilinear, _trilinear_gradient

    rng = np.random.default_rng(2)
    dose = rng.uniform(0.0, 1.0, (5, 6, 7))
    for x, y, z in rng.uniform(0.2, 3.8, (10, 3)):
        x, y, z = np.floor([x, y, z]) + np.clip(np.array([x, y, z]) % 1, 0.1, 0.9)
        h = 1e-6
        numeric = [
            (_trilinear(dose, *(np.array([x, y, z]) + h * e)) - _trilinear(dose, x, y, z)) / h
            for e in np.eye(3)
        ]
        assert np.allclose(_trilinear_gradient(dose, x, y, z), numeric, atol=1e-5)
