"""Plan-quality metrics of the TG-119 comparison, shared by both programs' workers.

numpy only: ``bench/_pyradplan_worker.py`` imports it inside pyRadPlan's own virtual
environment, ``bench/_tg119_optimize.py`` inside ionbeam's, so that both plans are
judged by the same function on the same CT voxels.
"""

from __future__ import annotations

import numpy as np


def relative_metrics(
    dose_gy: np.ndarray, target: np.ndarray, core: np.ndarray, level: float
) -> dict[str, float]:
    """Target D95 and D5 (the 5th and 95th percentile of its voxels' doses, numpy's linear
    interpolation) and the core's mean dose, each divided by ``level``."""
    dose = np.asarray(dose_gy)
    values = dose[np.asarray(target, dtype=bool)]
    return {
        "d95": float(np.percentile(values, 5)) / level,
        "d5": float(np.percentile(values, 95)) / level,
        "core_mean": float(np.mean(dose[np.asarray(core, dtype=bool)])) / level,
    }
