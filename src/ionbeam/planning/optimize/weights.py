"""Field strategies: all fields together (IMPT) or each field alone (SFUD).

Both build the problem on the structures' optimization masks (the overlap
priority of :mod:`.templates`), run the solver and then the machine's spot
limits, and return the weights of every spot of the plan (particles per
fraction) with the solver results.

SFUD (single-field uniform dose): field k is optimized alone with every dose
level of every objective multiplied by 1/n (n fields), so that each field gives
the target a uniform share of the prescription and the OARs a share of their
limits. Physical and constant-RBE doses add, so the fields sum to the
prescription. RBE-weighted doses do not add (the effects of the fields mix
through √β), so for an LQ quantity the summed weights are scaled by one factor
so that the target's mean meets the prescription again (a few per cent; spots
pushed below the machine minimum by it are put back at the minimum).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import brentq

from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize.influence_rows import restrict_influence
from ionbeam.planning.optimize.objective import Objective
from ionbeam.planning.optimize.problem import StructureObjectives, build_problem
from ionbeam.planning.optimize.quantities import Quantity
from ionbeam.planning.optimize.solver import OptimizationResult, SolverOptions, optimize_weights
from ionbeam.planning.optimize.spot_limits import POLISH, apply_spot_limits
from ionbeam.planning.optimize.templates import optimization_masks
from ionbeam.planning.plan import Plan

__all__ = ["FIRST_LEG_TOLERANCE", "SECOND_LEG_KEEPS_FLOOR", "optimize_impt", "optimize_sfud"]

#: The first leg of an optimization with weight-dependent offsets stops at this many
#: times the solver's relative tolerance (see :func:`optimize_impt`). Measured on the
#: demo's plans (head phantom, 2 mm; iterations of the two legs, final objective):
#: 1× protons 110 + 10 (0.4167), carbon 107 + 12 (0.7975); 3× 70 + 10 (0.4523) and
#: 70 + 16 (0.8330): fewer iterations, but the second leg restarts L-BFGS-B without its
#: memory, its relative rule stops it within ~10 iterations, 5-8 % above, and organ
#: metrics move by up to 1.9 % of the prescription; 10× 43 + 87 (0.4120) and 38 + 83
#: (0.7886): no fewer in all. So the first leg runs to the full rule. With
#: ``method="projected_lbfgs"`` the second leg keeps the first's curvature pairs, and a
#: looser first leg still saves nothing (TG-119 protons, 3 mm: 1× 184 + 70 iterations,
#: objective 0.318; 3× 130 + 124, 0.312; ``bench/optimizer_legs.py``).
FIRST_LEG_TOLERANCE = 1.0

#: Whether the second leg (the offsets held) keeps the first leg's floor of the relative
#: stopping rule, :data:`~.solver.FLOOR_FRACTION` × the first leg's start, rather than
#: taking 1 % of its own start (see :func:`optimize_impt`). Off: a faster but looser
#: plan. Measured 8 December 2026 (``bench/clinical_legs.py``, ``bench/optimizer_legs.py``;
#: iterations first + second leg, optimization CPU s, final objective; own floor → kept
#: floor): clinical pelvis carbon 138 + 224 → 138 + 26, 58.2 → 40.5 s, f 0.0545 → 0.0884,
#: target D95 0.988 → 0.985, D5 1.0035 → 1.0064, rectum max 1.016 → 1.006; TG-119 carbon
#: 3 mm 114 + 290 → 114 + 32, 28.2 → 14.2 s, f 0.0162 → 0.0417, D95 0.992 → 0.990, core
#: mean 0.304 → 0.323 (worse by 1.9 % of the prescription); the demo's proton plan
#: 152 + 37 → 152 + 22 (D98 +0.17 %), its carbon plan unchanged. The second leg's strict
#: rule is what brings the objective down after the halo's jump (carbon: the first leg
#: stops on the floor, well above the optimum), so the kept floor trades plan quality
#: for time: not the default.
SECOND_LEG_KEEPS_FLOOR = False


def optimize_impt(
    influence: DoseInfluence,
    masks: Mapping[str, np.ndarray],
    objectives: StructureObjectives,
    *,
    quantity: Quantity,
    plan: Plan,
    target: str,
    level: float,
    priority: Sequence[str],
    method: str = "lbfgsb",
    solver: SolverOptions | None = None,
    min_particles: float = 0.0,
    max_particles: float = math.inf,
    initial_weights: np.ndarray | None = None,
    offsets: Callable[[np.ndarray], Mapping[str, np.ndarray]] | None = None,
) -> tuple[np.ndarray, tuple[OptimizationResult, ...]]:
    """All fields optimized together (multi-field IMPT), from ``initial_weights``
    (particles; default: uniform). ``level`` is unused (the objectives carry the
    prescription); it keeps the signature of :func:`optimize_sfud`.

    ``offsets``: fixed products that depend on the weights themselves (the full-width
    halo's correction: :func:`~ionbeam.planning.planner.plan_patient`), as flat arrays
    on the dose grid by matrix name. The optimization then runs in two legs on one
    problem: the first to a stopping rule :data:`FIRST_LEG_TOLERANCE` times looser,
    then ``offsets`` of its weights are held fixed and the second leg goes on from
    there to ``solver``'s rule (from the first leg's curvature pairs where the method
    keeps them; with the first leg's floor of the relative rule,
    :data:`SECOND_LEG_KEEPS_FLOOR`); the spot limits follow the second leg only."""
    solver = SolverOptions() if solver is None else solver
    opt_masks, objectives = _masks(masks, objectives, priority)
    problem = build_problem(
        influence,
        opt_masks,
        objectives,
        quantity=quantity,
        max_particles=max_particles,
        reference=target,
    )
    legs: tuple[OptimizationResult, ...] = ()
    if offsets is not None:
        first = optimize_weights(
            problem, method=method, options=_first_leg(solver), initial_weights=initial_weights
        )
        problem = problem.with_offsets(offsets(first.x), grid_size=influence.n_rows)
        legs, initial_weights = (first,), first.x
        floor = float(first.objective_history[0]) if SECOND_LEG_KEEPS_FLOOR else None
        solver = dataclasses.replace(
            solver, description=f"{solver.description} (offsets held)", floor_objective=floor
        )
    result = optimize_weights(
        problem,
        method=method,
        options=solver,
        initial_weights=initial_weights,
        warm_start=legs[0] if legs else None,
    )
    result = apply_spot_limits(
        problem, result, min_particles=min_particles, method=method, options=_polish(solver)
    )
    return result.x, (*legs, result)


def optimize_sfud(
    influence: DoseInfluence,
    masks: Mapping[str, np.ndarray],
    objectives: StructureObjectives,
    *,
    quantity: Quantity,
    plan: Plan,
    target: str,
    level: float,
    priority: Sequence[str],
    method: str = "lbfgsb",
    solver: SolverOptions | None = None,
    min_particles: float = 0.0,
    max_particles: float = math.inf,
) -> tuple[np.ndarray, tuple[OptimizationResult, ...]]:
    """Each field alone to a uniform 1/n share; ``level``: the target's prescribed
    level per fraction, met on average by the sum (see the module docstring)."""
    solver = SolverOptions() if solver is None else solver
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
        problem = build_problem(
            influence,
            opt_masks,
            shared,
            quantity=quantity,
            spot_index=spots,
            max_particles=max_particles,
            reference=target,
        )
        options = dataclasses.replace(solver, description=f"optimizing {beam.name}")
        result = optimize_weights(problem, method=method, options=options)
        result = apply_spot_limits(
            problem, result, min_particles=min_particles, method=method, options=_polish(options)
        )
        weights[spots] = result.x
        results.append(result)
    if "dose" not in quantity.matrices:  # an LQ quantity: fields do not add
        weights = _scaled_to_level(
            influence, opt_masks[target], quantity, weights, level, min_particles
        )
    return weights, tuple(results)


def _first_leg(solver: SolverOptions) -> SolverOptions:
    """The first leg's options: the caller's, with a looser relative tolerance."""
    return dataclasses.replace(
        solver,
        relative_tolerance=FIRST_LEG_TOLERANCE * solver.relative_tolerance,
        description=f"{solver.description} (first leg)",
    )


def _polish(solver: SolverOptions) -> SolverOptions:
    """The spot-limit re-optimization's options: short, with the caller's progress setting."""
    return dataclasses.replace(
        POLISH, progress=solver.progress, description=f"{solver.description} (spot limits)"
    )


def _as_tuple(given: Objective | Sequence[Objective]) -> tuple[Objective, ...]:
    return (given,) if isinstance(given, Objective) else tuple(given)


def _masks(
    masks: Mapping[str, np.ndarray], objectives: StructureObjectives, priority: Sequence[str]
) -> tuple[dict[str, np.ndarray], dict[str, Objective | Sequence[Objective]]]:
    """Optimization masks of the structures with objectives, in overlap priority, and
    the objectives without those of structures wholly inside ones before them (an
    empty structure stays, so that the problem refuses it)."""
    order = [n for n in priority if n in objectives]
    order += [n for n in objectives if n not in order]
    opt_masks = optimization_masks(masks, order)
    covered = {n for n in order if not opt_masks[n].any() and np.asarray(masks[n]).any()}
    return opt_masks, {n: o for n, o in objectives.items() if n not in covered}


def _scaled_to_level(
    influence: DoseInfluence,
    target_mask: np.ndarray,
    quantity: Quantity,
    weights: np.ndarray,
    level: float,
    min_particles: float,
) -> np.ndarray:
    """``weights`` times the factor that brings the target's mean quantity to ``level``."""
    rows = restrict_influence(influence, np.flatnonzero(target_mask), matrices=quantity.matrices)
    bound = quantity.bind(rows, grid_size=influence.n_rows)
    convert = quantity.level_converter(rows.voxel_index)
    goal = level if convert is None else convert(level)

    def excess(log_s: float) -> float:
        return float(np.mean(bound.forward(weights * math.exp(log_s))[0])) - goal

    factor = math.exp(brentq(excess, -1.0, 1.0, xtol=1e-8))
    scaled = weights * factor
    low = (scaled > 0) & (scaled < min_particles)
    scaled[low] = min_particles
    return scaled
