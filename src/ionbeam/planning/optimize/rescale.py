"""The best common factor of a plan's spot weights, for a leg that starts from another's.

A leg that starts from an earlier leg's weights under new fixed offsets (the full-width
halo's correction, :func:`~ionbeam.planning.optimize.weights.optimize_impt`) starts from
a dose that is everywhere a few per cent higher than the one the earlier leg shaped:
the halo outside each spot's cut-off disc adds dose wherever many spots overlap, most
of all in the target. The shape of the dose is nearly right, its level is not. A
gradient step does not undo a level shift (the gradient of an overdosed target reshapes
the weights, spot by spot), so the solver spends its first tens of iterations — and,
with a restarted L-BFGS-B, its curvature pairs — on it. Scaling every weight by the one
factor s that minimizes the objective of s·w (the offsets held as they are) removes the
shift first, for one product of the matrices on the kept voxels: the objective is then
a function of s alone, evaluated on the products without touching the matrices again.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy.optimize import minimize_scalar

from ionbeam.planning.optimize.problem import OptimizationProblem

__all__ = ["SCALE_RANGE", "best_scale"]

#: The factor is searched in [1 / SCALE_RANGE, SCALE_RANGE] (log-uniformly).
SCALE_RANGE = 2.0
#: Tolerance of the search, in log(s).
_LOG_TOLERANCE = 1.0e-5


def best_scale(problem: OptimizationProblem, weights: np.ndarray) -> float:
    """The factor s in [1/:data:`SCALE_RANGE`, :data:`SCALE_RANGE`] that minimizes
    ``problem``'s objective at s × ``weights`` (particles) with the problem's fixed
    offsets held as they are; 1 when no factor does better than 1, or when the problem's
    quantity does not say how it is built from its products (then nothing is searched)."""
    bound = problem.bound
    names = getattr(bound, "products", None)
    if names is None or not hasattr(bound, "from_products"):
        return 1.0
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    rows = problem.rows
    plain = replace(rows, offsets={})  # M·w alone; the offsets do not scale with w
    products = [plain.times(name, w) for name in names]
    offsets = [rows.offsets.get(name) for name in names]

    def objective(log_s: float) -> float:
        s = math.exp(log_s)
        scaled = tuple(
            s * p if o is None else s * p + o for p, o in zip(products, offsets, strict=True)
        )
        return problem._objectives(bound.from_products(scaled)[0])[0]

    reach = math.log(SCALE_RANGE)
    found = minimize_scalar(
        objective, bounds=(-reach, reach), method="bounded", options={"xatol": _LOG_TOLERANCE}
    )
    if not (found.success and float(found.fun) < objective(0.0)):
        return 1.0
    return math.exp(float(found.x))
