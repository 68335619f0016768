"""Robust field strategies: IMPT and SFUD over error scenarios.

As :mod:`.weights` (the same overlap priority, spot limits and SFUD shares), with a
:class:`~.robust_problem.RobustProblem` in place of the nominal problem. IMPT reads
the scenario matrices once, one at a time (each is cut to the voxels with objectives
as it arrives); SFUD optimizes each field alone over the scenarios, so it keeps the
scenario matrices for all fields. IMPT keeps its robust problem for a second pass with
fixed per-scenario offsets (the full-width halo's correction; ``offsets_for``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize.quantities import Quantity
from ionbeam.planning.optimize.robust_problem import RobustProblem, build_robust_problem
from ionbeam.planning.optimize.solver import OptimizationResult, SolverOptions, optimize_weights
from ionbeam.planning.optimize.spot_limits import apply_spot_limits
from ionbeam.planning.optimize.weights import _as_tuple, _masks, _polish, _scaled_to_level
from ionbeam.planning.plan import Plan

__all__ = ["RobustChoice", "optimize_robust_impt", "optimize_robust_sfud"]


@dataclasses.dataclass(frozen=True)
class RobustChoice:
    """What :func:`~.robust_problem.build_robust_problem` needs besides the matrices."""

    mode: str = "minimax"
    robustness: Mapping[str, str] = dataclasses.field(default_factory=dict)
    probabilities: np.ndarray | None = None
    sharpness: float = 8.0


#: Spot weights (particles) → per scenario the fixed offsets (flat arrays on the dose
#: grid by matrix name) to optimize again with, or None (see :func:`optimize_robust_impt`).
OffsetsFor = Callable[[np.ndarray], Sequence[Mapping[str, np.ndarray]] | None]


def optimize_robust_impt(
    influences: Iterable[DoseInfluence],
    masks: Mapping[str, np.ndarray],
    objectives: Mapping,
    *,
    quantity: Quantity,
    plan: Plan,
    target: str,
    level: float,
    priority: Sequence[str],
    choice: RobustChoice,
    method: str = "lbfgsb",
    solver: SolverOptions | None = None,
    min_particles: float = 0.0,
    max_particles: float = math.inf,
    offsets_for: OffsetsFor | None = None,
) -> tuple[np.ndarray, tuple[OptimizationResult, ...]]:
    """All fields together over the scenarios of ``influences`` (the nominal first).

    ``offsets_for``: given the optimized weights, each scenario's fixed offsets (the
    full-width halo's correction, :mod:`ionbeam.planning.robust.halo_offsets`); the
    problem is then optimized once more from those weights with the offsets held fixed,
    as the nominal planner does, so that the objectives are met on the reported dose."""
    solver = SolverOptions() if solver is None else solver
    opt_masks, objectives = _masks(masks, objectives, priority)
    options = dataclasses.replace(solver, description=f"{solver.description} (robust)")
    problem = _robust_problem(
        influences, opt_masks, objectives, choice, quantity, target, None, max_particles
    )
    result = _solve(problem, None, min_particles, method, options)
    offsets = None if offsets_for is None else offsets_for(result.x)
    if offsets is None:
        return result.x, (result,)
    again = dataclasses.replace(solver, description=f"{solver.description} (robust, full halo)")
    final = _solve(problem.with_offsets(offsets), result.x, min_particles, method, again)
    return final.x, (result, final)


def optimize_robust_sfud(
    influences: Iterable[DoseInfluence],
    masks: Mapping[str, np.ndarray],
    objectives: Mapping,
    *,
    quantity: Quantity,
    plan: Plan,
    target: str,
    level: float,
    priority: Sequence[str],
    choice: RobustChoice,
    method: str = "lbfgsb",
    solver: SolverOptions | None = None,
    min_particles: float = 0.0,
    max_particles: float = math.inf,
) -> tuple[np.ndarray, tuple[OptimizationResult, ...]]:
    """Each field alone to a 1/n share, robust over the scenarios (see :mod:`.weights`)."""
    solver = SolverOptions() if solver is None else solver
    influences = list(influences)
    opt_masks, objectives = _masks(masks, objectives, priority)
    share = 1.0 / len(plan.beams)
    shared = {
        name: tuple(o.with_levels(lambda d: d * share) for o in _as_tuple(given))
        for name, given in objectives.items()
    }
    offsets = plan.beam_offsets
    weights = np.zeros(plan.n_spots)
    results = []
    for k, beam in enumerate(plan.beams):
        spots = np.arange(offsets[k], offsets[k + 1])
        options = dataclasses.replace(solver, description=f"optimizing {beam.name} (robust)")
        result = _solve_robust(
            influences, opt_masks, shared, choice, quantity, target, spots, max_particles,
            min_particles, method, options,
        )  # fmt: skip
        weights[spots] = result.x
        results.append(result)
    if "dose" not in quantity.matrices:
        weights = _scaled_to_level(
            influences[0], opt_masks[target], quantity, weights, level, min_particles
        )
    return weights, tuple(results)


def _solve_robust(
    influences: Iterable[DoseInfluence],
    masks: Mapping[str, np.ndarray],
    objectives: Mapping,
    choice: RobustChoice,
    quantity: Quantity,
    target: str,
    spot_index: np.ndarray | None,
    max_particles: float,
    min_particles: float,
    method: str,
    options: SolverOptions,
) -> OptimizationResult:
    """One robust problem (all spots, or ``spot_index``) optimized, then the spot limits."""
    problem = _robust_problem(
        influences, masks, objectives, choice, quantity, target, spot_index, max_particles
    )
    return _solve(problem, None, min_particles, method, options)


def _robust_problem(
    influences: Iterable[DoseInfluence],
    masks: Mapping[str, np.ndarray],
    objectives: Mapping,
    choice: RobustChoice,
    quantity: Quantity,
    target: str,
    spot_index: np.ndarray | None,
    max_particles: float,
) -> RobustProblem:
    return build_robust_problem(
        influences,
        masks,
        objectives,
        mode=choice.mode,
        robustness=_present(choice.robustness, objectives),
        probabilities=choice.probabilities,
        quantity=quantity,
        spot_index=spot_index,
        max_particles=max_particles,
        reference=target,
        sharpness=choice.sharpness,
    )


def _solve(
    problem: RobustProblem,
    initial_weights: np.ndarray | None,
    min_particles: float,
    method: str,
    options: SolverOptions,
) -> OptimizationResult:
    """``problem`` optimized from ``initial_weights`` (particles), then the spot limits."""
    result = optimize_weights(
        problem, method=method, options=options, initial_weights=initial_weights
    )
    return apply_spot_limits(
        problem, result, min_particles=min_particles, method=method, options=_polish(options)
    )


def _present(robustness: Mapping[str, str], objectives: Mapping) -> dict[str, str]:
    """Per-structure robustness of the structures that still carry objectives (one wholly
    inside a structure of higher priority lost them)."""
    return {k: v for k, v in robustness.items() if k in objectives}
