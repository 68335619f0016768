"""Scan paths: serpentine rows, optimisation never lengthens the path, move-time metric."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.delivery import path_move_times_s, scan_path, serpentine_order
from ionbeam.errors import GridMismatchError, UnknownNameError
from ionbeam.machine import ScanningSystem

SCANNING = ScanningSystem(speed_x_mm_per_ms=20.0, speed_y_mm_per_ms=5.0, settling_time_ms=0.1)


def _grid(nx: int, ny: int, spacing: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(nx) * spacing, np.arange(ny) * spacing)
    return gx.ravel(), gy.ravel()


def _is_permutation(order: np.ndarray, n: int) -> bool:
    return np.array_equal(np.sort(order), np.arange(n))


def test_move_time_metric_matches_the_scanning_system() -> None:
    x, y = np.array([0.0, 40.0, 40.0, 40.0]), np.array([0.0, 5.0, 15.0, 15.0])
    times = path_move_times_s(x, y, np.arange(4), SCANNING)
    expected = [0.0, SCANNING.move_time_ms(40.0, 5.0), SCANNING.move_time_ms(0.0, 10.0), 0.0]
    np.testing.assert_allclose(times, np.array(expected) * 1e-3)


def test_serpentine_on_a_regular_grid_visits_rows_alternately() -> None:
    x, y = _grid(4, 3)
    order = serpentine_order(x, y)
    assert _is_permutation(order, 12)
    np.testing.assert_array_equal(y[order], np.repeat([0.0, 3.0, 6.0], 4))
    np.testing.assert_array_equal(x[order][:8], [0, 3, 6, 9, 9, 6, 3, 0])
    # every move is one grid step: the shortest possible path on a grid
    times = path_move_times_s(x, y, order, SCANNING)[1:]
    steps = [SCANNING.move_time_ms(3.0, 0.0), SCANNING.move_time_ms(0.0, 3.0)]
    assert set(np.round(times * 1e3, 12)) <= set(np.round(steps, 12))


def test_serpentine_along_y_when_y_is_faster() -> None:
    x, y = _grid(3, 4)
    order = serpentine_order(x, y, fast_axis="y")
    np.testing.assert_array_equal(x[order], np.repeat([0.0, 3.0, 6.0], 4))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_optimisation_never_lengthens_the_path(seed: int) -> None:
    rng = np.random.default_rng(seed)
    layouts = [
        _grid(12, 9),
        (rng.uniform(-40, 40, 300), rng.uniform(-30, 30, 300)),
        # two islands: a good path finishes one before jumping to the other
        (np.r_[_grid(5, 5)[0], _grid(5, 5)[0] + 60.0], np.r_[_grid(5, 5)[1], _grid(5, 5)[1]]),
    ]
    for x, y in layouts:
        shuffled = rng.permutation(x.size)
        xs, ys = x[shuffled], y[shuffled]
        best = scan_path(xs, ys, SCANNING)
        assert _is_permutation(best.order, x.size)
        plan = path_move_times_s(xs, ys, np.arange(x.size), SCANNING).sum()
        serp = path_move_times_s(xs, ys, serpentine_order(xs, ys), SCANNING).sum()
        assert best.plan_time_s == pytest.approx(plan)
        assert best.total_move_time_s <= plan + 1e-12
        assert best.total_move_time_s <= serp + 1e-12
        np.testing.assert_allclose(
            best.move_time_s, path_move_times_s(xs, ys, best.order, SCANNING)
        )
        # a shuffled layer is far from optimal: the optimiser must win big
        assert best.total_move_time_s < 0.5 * plan


def test_random_cloud_is_improved_beyond_the_serpentine() -> None:
    rng = np.random.default_rng(7)
    x, y = rng.uniform(-40, 40, 1500), rng.uniform(-40, 40, 1500)
    best = scan_path(x, y, SCANNING)
    serp = path_move_times_s(x, y, serpentine_order(x, y), SCANNING).sum()
    assert best.method.endswith("2-opt")
    assert best.total_move_time_s < 0.5 * serp


def test_a_good_plan_order_is_kept() -> None:
    x, y = _grid(6, 6)
    order = serpentine_order(x, y)
    best = scan_path(x[order], y[order], SCANNING)
    assert best.method == "plan"  # ties go to the plan's own order
    np.testing.assert_array_equal(best.order, np.arange(36))


def test_deterministic_and_methods() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 50, 400), rng.uniform(0, 50, 400)
    a, b = scan_path(x, y, SCANNING), scan_path(x, y, SCANNING)
    np.testing.assert_array_equal(a.order, b.order)
    np.testing.assert_array_equal(scan_path(x, y, SCANNING, method="plan").order, np.arange(400))
    np.testing.assert_array_equal(
        scan_path(x, y, SCANNING, method="serpentine").order, serpentine_order(x, y)
    )
    assert scan_path(x[:1], y[:1], SCANNING).total_move_time_s == 0.0
    assert scan_path(np.empty(0), np.empty(0), SCANNING).order.size == 0


def test_bad_input() -> None:
    with pytest.raises(UnknownNameError):
        scan_path(np.zeros(3), np.zeros(3), SCANNING, method="tsp")
    with pytest.raises(GridMismatchError):
        scan_path(np.zeros(3), np.zeros(2), SCANNING)
    with pytest.raises(GridMismatchError):
        scan_path(np.array([0.0, np.nan]), np.zeros(2), SCANNING)
