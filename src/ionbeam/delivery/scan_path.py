"""The scan path within one energy layer: serpentine, or optimised for the scanning magnets.

The cost of a path is the scanning magnets' total move time
(:meth:`ScanningSystem.move_time_ms`: both magnets at once, plus settling).
The first spot of a layer is free: the magnets move there while the
synchrotron changes energy. ``optimised`` builds a serpentine (rows along
the faster magnet's axis) and a nearest-neighbour path, improves both with
2-opt on candidate lists (the 8 nearest spots in move time), and keeps the
shortest of these and the plan's own order, so it is never longer than the
plan's path. Everything is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ionbeam.delivery import _scan_path_kernels as kernels
from ionbeam.delivery.options import SCAN_PATHS
from ionbeam.errors import GridMismatchError, UnknownNameError
from ionbeam.machine.facility import ScanningSystem

__all__ = ["ScanPath", "path_move_times_s", "scan_path", "serpentine_order"]

#: Above this many spots in a layer the O(n²) nearest-neighbour start is skipped.
NEAREST_NEIGHBOUR_MAX_SPOTS = 20_000
_CANDIDATES = 8
_MAX_PASSES = 50


@dataclass(frozen=True, eq=False)
class ScanPath:
    """A scan order of one layer's spots.

    ``order``: indices into the layer's spot arrays, in scan order;
    ``move_time_s``: move time into each position from the previous one
    (0 for the first); ``method``: which candidate path won; ``plan_time_s``:
    the total move time of the plan's own order, for comparison.
    """

    order: np.ndarray
    move_time_s: np.ndarray
    method: str
    plan_time_s: float

    @property
    def total_move_time_s(self) -> float:
        """Total move time of the path, s."""
        return float(self.move_time_s.sum())


def _arrays(x_mm: np.ndarray, y_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.ascontiguousarray(x_mm, dtype=float).reshape(-1)
    y = np.ascontiguousarray(y_mm, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise GridMismatchError(f"x_mm and y_mm differ in length: {x.size} and {y.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise GridMismatchError("spot positions must be finite; found NaN or infinity")
    return x, y


def serpentine_order(x_mm: np.ndarray, y_mm: np.ndarray, *, fast_axis: str = "x") -> np.ndarray:
    """Rows along ``fast_axis`` ("x" or "y"), alternating direction (boustrophedon).

    A new row starts where the slow coordinate jumps by more than half the
    typical row spacing (the median positive jump), so regular and
    hexagonal grids give their natural rows.
    """
    x, y = _arrays(x_mm, y_mm)
    if fast_axis not in ("x", "y"):
        raise UnknownNameError("fast scanning axis", fast_axis, ("x", "y"))
    fast, slow = (x, y) if fast_axis == "x" else (y, x)
    if slow.size == 0:
        return np.empty(0, dtype=np.int64)
    by_slow = np.argsort(slow, kind="stable")
    jumps = np.diff(slow[by_slow])
    positive = jumps[jumps > 1e-9]
    tolerance = 0.5 * float(np.median(positive)) if positive.size else np.inf
    row = np.concatenate([[0], np.cumsum(jumps > tolerance)])
    row_of = np.empty(slow.size, dtype=np.int64)
    row_of[by_slow] = row
    direction = np.where(row_of % 2 == 0, 1.0, -1.0)
    return np.lexsort((direction * fast, row_of)).astype(np.int64)


def path_move_times_s(
    x_mm: np.ndarray, y_mm: np.ndarray, order: np.ndarray, scanning: ScanningSystem
) -> np.ndarray:
    """Move time (s) into each position of ``order`` from the previous one (0 for the first)."""
    x, y = _arrays(x_mm, y_mm)
    order = np.ascontiguousarray(order, dtype=np.int64)
    ms = kernels.move_times(
        x, y, order, scanning.speed_x_mm_per_ms, scanning.speed_y_mm_per_ms,
        scanning.settling_time_ms,
    )  # fmt: skip
    return ms * 1e-3


def _candidates(x: np.ndarray, y: np.ndarray, scanning: ScanningSystem) -> np.ndarray:
    """The nearest spots of each spot in move time (Chebyshev distance on scaled axes)."""
    k = min(_CANDIDATES + 1, x.size)
    points = np.column_stack([x / scanning.speed_x_mm_per_ms, y / scanning.speed_y_mm_per_ms])
    _, index = cKDTree(points).query(points, k=k, p=np.inf)
    index = np.asarray(index, dtype=np.int64).reshape(x.size, k)
    own = index == np.arange(x.size)[:, None]
    return np.where(own, -1, index)


def _optimised(
    x: np.ndarray, y: np.ndarray, scanning: ScanningSystem, fast_axis: str
) -> dict[str, np.ndarray]:
    speeds = (scanning.speed_x_mm_per_ms, scanning.speed_y_mm_per_ms, scanning.settling_time_ms)
    candidates = _candidates(x, y, scanning)
    serpentine = serpentine_order(x, y, fast_axis=fast_axis)
    paths = {
        "serpentine": serpentine,
        "serpentine+2-opt": kernels.two_opt(x, y, serpentine, candidates, *speeds, _MAX_PASSES),
    }
    if x.size <= NEAREST_NEIGHBOUR_MAX_SPOTS:
        greedy = kernels.nearest_neighbour(x, y, int(serpentine[0]), *speeds)
        paths["nearest-neighbour+2-opt"] = kernels.two_opt(
            x, y, greedy, candidates, *speeds, _MAX_PASSES
        )
    return paths


def scan_path(
    x_mm: np.ndarray,
    y_mm: np.ndarray,
    scanning: ScanningSystem,
    *,
    method: str = "optimised",
) -> ScanPath:
    """The scan path of one layer's spots at (``x_mm``, ``y_mm``) for ``scanning``.

    ``method``: ``optimised``, ``serpentine`` or ``plan`` (the given order).
    """
    if method not in SCAN_PATHS:
        raise UnknownNameError("scan path", method, SCAN_PATHS)
    x, y = _arrays(x_mm, y_mm)
    plan_order = np.arange(x.size, dtype=np.int64)
    plan_time = float(path_move_times_s(x, y, plan_order, scanning).sum())
    fast_axis = "x" if scanning.speed_x_mm_per_ms >= scanning.speed_y_mm_per_ms else "y"
    if method == "plan" or x.size < 3:
        paths = {"plan": plan_order}
    elif method == "serpentine":
        paths = {"serpentine": serpentine_order(x, y, fast_axis=fast_axis)}
    else:
        paths = {"plan": plan_order, **_optimised(x, y, scanning, fast_axis)}
    costs = {name: path_move_times_s(x, y, order, scanning) for name, order in paths.items()}
    best = min(costs, key=lambda name: (costs[name].sum(), name != "plan"))
    order, moves = paths[best], costs[best]
    order.setflags(write=False)
    moves.setflags(write=False)
    return ScanPath(order=order, move_time_s=moves, method=best, plan_time_s=plan_time)
