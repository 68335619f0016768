"""The best common factor of the weights (the second leg's rescaled start)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.optimize import (
    PhysicalDose,
    RBEWeightedDose,
    SolverOptions,
    SquaredDeviation,
    SquaredOverdose,
)
from ionbeam.planning.optimize.problem import build_problem
from ionbeam.planning.optimize.rescale import best_scale
from ionbeam.planning.optimize.weights import optimize_impt
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

QUIET = SolverOptions(progress=False, relative_tolerance=1e-6, max_iterations=300)


def _offsets(influence, mask, value: float) -> dict[str, np.ndarray]:
    extra = np.zeros(influence.grid.size)
    extra[np.flatnonzero(mask)] = value
    return {"dose": extra}


def test_best_scale_is_the_least_squares_factor_with_offsets(influence, structure_masks) -> None:
    """One squared deviation from L on the target, products p = D·w and fixed offsets o:
    the objective Σ (s p + o − L)² is least at s = Σ p (L − o) / Σ p² (closed form); the
    search finds it to 1e-4 (its tolerance is 1e-5 in log s)."""
    target = structure_masks["Target"]
    problem = build_problem(
        influence, {"Target": target}, {"Target": SquaredDeviation(2.0, 1000.0)},
        quantity=PhysicalDose(),
    )  # fmt: skip
    held = problem.with_offsets(_offsets(influence, target, 0.1), grid_size=influence.grid.size)
    w = np.random.default_rng(3).uniform(0.5, 1.5, problem.n_spots) * problem.weight_unit
    p = influence.dose.toarray().astype(np.float64)[np.flatnonzero(target)] @ w
    expected = float(np.sum(p * (2.0 - 0.1)) / np.sum(p * p))
    assert best_scale(held, w) == pytest.approx(expected, rel=1e-4)
    assert best_scale(problem, w) == pytest.approx(float(np.sum(2.0 * p) / np.sum(p * p)), 1e-4)


def test_best_scale_minimizes_an_lq_objective(influence, structure_masks) -> None:
    """RBE-weighted dose (not linear in the weights): the factor found is the minimum of
    the objective over s on a fine grid of factors (±0.2 %), and no worse than s = 1."""
    problem = build_problem(
        influence, structure_masks,
        {"Target": SquaredDeviation(3.0, 1000.0), "OAR": SquaredOverdose(1.0, 100.0)},
        quantity=RBEWeightedDose(0.1, 0.05), reference="Target",
    )  # fmt: skip
    w = problem.initial_weights() * np.linspace(0.7, 1.6, problem.n_spots)
    s = best_scale(problem, w)
    factors = s * np.linspace(0.98, 1.02, 21)
    values = [problem.objective_value(f * w) for f in factors]
    assert int(np.argmin(values)) == 10
    assert problem.objective_value(s * w) <= problem.objective_value(w)


def test_best_scale_is_one_where_no_factor_helps(influence, structure_masks) -> None:
    """At weights that already give the target its level exactly under a squared
    deviation alone, the factor is 1 (to the search's tolerance)."""
    target = structure_masks["Target"]
    problem = build_problem(
        influence, {"Target": target}, {"Target": SquaredDeviation(2.0, 1000.0)},
        quantity=PhysicalDose(),
    )  # fmt: skip
    w = problem.initial_weights()
    p = influence.dose.toarray().astype(np.float64)[np.flatnonzero(target)] @ w
    w = w * float(np.sum(2.0 * p) / np.sum(p * p))  # the least-squares level
    assert best_scale(problem, w) == pytest.approx(1.0, abs=1e-4)


def test_the_second_leg_starts_from_the_rescaled_first(influence, structure_masks) -> None:
    """With offsets that add 10 % of the prescription to the target, the second leg's
    starting objective is that of the first leg's weights times the best factor (below
    that of the first leg's weights themselves), and the factor is below 1."""
    target = structure_masks["Target"]
    objectives = {"Target": SquaredDeviation(2.0, 1000.0), "OAR": SquaredOverdose(1.0, 10.0)}
    spots = SpotMap(np.full(12, 100.0), np.arange(12.0), np.zeros(12), np.zeros(12))
    beams = tuple(Beam(f"B{k}", BeamGeometry(gantry_deg=90.0 * k), spots) for k in range(2))
    plan = Plan("proton", beams, Prescription("Target", 2.0))
    _, results = optimize_impt(
        influence, structure_masks, objectives, quantity=PhysicalDose(), plan=plan,
        target="Target", level=2.0, priority=("Target", "OAR"), solver=QUIET,
        offsets=lambda w: _offsets(influence, target, 0.2),
    )  # fmt: skip
    first, second = results
    problem = build_problem(
        influence,
        {"Target": target, "OAR": structure_masks["OAR"] & ~target},
        objectives,
        quantity=PhysicalDose(),
        reference="Target",
    ).with_offsets(_offsets(influence, target, 0.2), grid_size=influence.grid.size)
    s = best_scale(problem, first.x)
    assert s < 1.0
    unscaled = problem.objective_value(first.x)
    assert second.objective_history[0] == pytest.approx(problem.objective_value(s * first.x))
    assert second.objective_history[0] < unscaled
    assert math.isfinite(second.fun) and second.fun <= second.objective_history[0]
