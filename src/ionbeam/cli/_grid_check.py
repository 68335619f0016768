"""The grid check of ``ionbeam plan``: the optimized plan recomputed on a finer grid.

The plan's spot weights are recomputed on a dose grid of 3/4 of the planning
spacing (1.5 mm for the default 2 mm), in the target and in every structure that
does not hold the whole target (the organs at risk; a ``Body`` would only cost
time), and the target's
D95 and every structure's maximum are compared with the planned ones
(:func:`ionbeam.evaluation.grid_check.compare_grids`). The result goes into
``metrics.json`` (``grid_check``) and onto the terminal, with a warning when a
metric does not hold.
"""

from __future__ import annotations

from typing import Any

from ionbeam.workflow.grid_check import FINE_GRID_FRACTION, run_grid_check

__all__ = ["FINE_GRID_FRACTION", "format_grid_check", "run_grid_check"]


def format_grid_check(check: Any, unit: str) -> list[str]:
    """Terminal lines: one summary, then a warning per metric that does not hold."""
    lines = [
        f"grid check: the plan recomputed on a {check.fine_mm:g} mm grid (planned on "
        f"{check.planned_mm:g} mm): "
        + ", ".join(
            f"{i.structure} {i.metric.removesuffix('_gy')} {i.planned_gy:.4g} → "
            f"{i.recomputed_gy:.4g} ({100 * i.difference:+.1f} %)"
            for i in check.items
        )
    ]
    for item in check.failures:
        lines.append(
            f"warning: {item.structure} {item.metric.removesuffix('_gy')} changes by "
            f"{100 * item.difference:+.1f} % ({item.planned_gy:.4g} → {item.recomputed_gy:.4g} "
            f"{unit}) on the finer grid, more than ±{100 * item.tolerance:g} %; plan on a finer "
            "grid (--grid) before trusting this figure"
        )
    return lines
