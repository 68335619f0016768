"""The machine's per-spot limits: fewest and most particles a spot can deliver.

The upper limit is a bound throughout. The lower one makes the feasible set
non-convex (a spot is either off or at least ``min_particles``), so it is
handled after convergence, as commercial planning systems do: spots below half
the minimum are switched off (bounds [0, 0]), the others are raised to the
minimum (bounds [min, max]), and a short re-optimization from there lets the
kept spots make up for the removed ones — unless the rounding raised the
objective by less than ``ROUNDING_TOLERANCE`` (relative), when there is nothing
worth recovering. Rounding at half the minimum moves the least dose: a spot at
w < min/2 is closer to 0 than to min.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.planning.optimize.problem import OptimizationProblem
from ionbeam.planning.optimize.solver import OptimizationResult, SolverOptions, optimize_weights

if TYPE_CHECKING:  # a robust problem quacks like a problem; no import cycle
    from ionbeam.planning.optimize.robust_problem import RobustProblem

__all__ = ["POLISH", "ROUNDING_TOLERANCE", "apply_spot_limits"]

#: Relative rise of the objective from rounding below which no re-optimization is run.
ROUNDING_TOLERANCE = 0.01
#: Default solver options of the re-optimization: short, as it starts near the optimum.
POLISH = SolverOptions(max_iterations=30, relative_tolerance=3e-3, description="spot limits")


def apply_spot_limits(
    problem: OptimizationProblem | RobustProblem,
    result: OptimizationResult,
    *,
    min_particles: float,
    method: str = "lbfgsb",
    options: SolverOptions | None = None,
) -> OptimizationResult:
    """Weights that respect ``min_particles`` per delivered spot (and the problem's
    upper bounds), re-optimized from ``result`` (see the module docstring). The
    returned result's ``nit``, ``time_s`` and history cover both runs."""
    if not (
        isinstance(min_particles, (int, float))
        and math.isfinite(min_particles)
        and min_particles >= 0
    ):
        raise ConfigError(f"min_particles must be a finite number ≥ 0; got {min_particles!r}")
    weights = np.asarray(result.x, dtype=float)
    if min_particles == 0 or np.all((weights == 0) | (weights >= min_particles)):
        return result
    keep = weights >= 0.5 * min_particles
    upper = np.where(keep, problem.upper_particles, 0.0)
    lower = np.where(keep, np.minimum(min_particles, upper), 0.0)
    limited = problem.with_bounds(lower, upper)
    options = POLISH if options is None else options
    start = np.clip(weights, lower, upper)
    removed = int((~keep & (weights > 0)).sum())
    what = (
        f"{removed} spots below {0.5 * min_particles:g} particles removed, the rest "
        f"≥ {min_particles:g}"
    )
    rounded = limited.objective_value(start)
    if rounded <= (1.0 + ROUNDING_TOLERANCE) * result.fun:
        history = np.append(result.objective_history, rounded)
        return replace(
            result,
            x=start,
            objective_history=history,
            message=f"{result.message}; then {what} (objective +"
            f"{100 * (rounded / result.fun - 1):.2g} %, not re-optimized)",
        )
    second = optimize_weights(
        limited, method=method, initial_weights=start, options=options, warm_start=result
    )
    return replace(
        second,
        nit=result.nit + second.nit,
        n_evaluations=result.n_evaluations + second.n_evaluations,
        objective_history=np.concatenate([result.objective_history, second.objective_history]),
        time_s=result.time_s + second.time_s,
        message=f"{result.message}; then {what}: {second.message}",
    )
