"""The projected L-BFGS: reaches the bound-constrained optimum scipy's L-BFGS-B reaches,
keeps its bounds, and its curvature memory carried into a second run saves iterations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from ionbeam.errors import ConfigError, GridMismatchError
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.optimize import (
    PhysicalDose,
    SolverOptions,
    SquaredDeviation,
    build_problem,
    optimize_weights,
)
from ionbeam.planning.optimize.projected_lbfgs import CurvatureMemory, projected_lbfgs
from ionbeam.planning.optimize.weights import optimize_impt
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap


def _least_squares(seed=1, m=1500, n=300, offset=0.0, scales=None):
    """½‖A x − b‖² with A ≥ 0 sparse-ish (columns times ``scales``) and b partly 0: many x
    at the bound 0 at the optimum; ``offset`` changes b a little (as a halo's offset)."""
    rng = np.random.default_rng(seed)
    a = np.abs(rng.normal(size=(m, n))) * (rng.random((m, n)) < 0.05)
    a = a if scales is None else a * scales
    b = a @ np.abs(rng.normal(size=n))
    b[: m // 5] = 0.0
    b = b + offset * np.sin(np.arange(m))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        r = a @ x - b
        return 0.5 * float(r @ r), a.T @ r

    return fun, n


def _run(fun, n, lower, upper, memory=None, tolerance=0.0):
    history: list[float] = []

    def stop(f: float) -> bool:  # the relative rule of the solver front door, window 1
        history.append(f)
        return len(history) > 1 and history[-2] - f <= tolerance * abs(f)

    out = projected_lbfgs(fun, np.ones(n), lower, upper, max_iterations=400, history_size=20,
                          gradient_tolerance=1e-9, callback=stop, memory=memory)  # fmt: skip
    return out, history


def test_reaches_the_optimum_of_scipys_lbfgsb_within_bounds() -> None:
    """Same minimum as scipy's L-BFGS-B (relative 1e-9) with lower and upper bounds."""
    fun, n = _least_squares()
    lower, upper = np.zeros(n), np.full(n, 1.2)
    out, history = _run(fun, n, lower, upper)
    options = {"ftol": 0.0, "gtol": 1e-10, "maxiter": 2000, "maxcor": 20}
    reference = minimize(fun, np.ones(n), jac=True, method="L-BFGS-B",
                         bounds=list(zip(lower, upper, strict=True)), options=options)  # fmt: skip
    assert fun(out.x)[0] <= reference.fun * (1 + 1e-9)
    assert np.all(out.x >= lower) and np.all(out.x <= upper)
    assert np.sum(out.x == 0.0) > n // 10 and np.sum(out.x == 1.2) > 0  # both bounds bind
    assert np.all(np.diff(history) <= 0.0)  # monotone (Armijo)


def test_memory_carried_into_a_perturbed_problem_is_used() -> None:
    """A second run on the problem with a small change (as the halo leg's offsets), from
    the first's weights: with the first's pairs its first step is a quasi-Newton step,
    which leaves less to gain than the scaled gradient step a run without pairs starts
    with."""
    fun, n = _least_squares(scales=np.logspace(-1.0, 0.0, 300))  # ill-conditioned
    lower, upper = np.zeros(n), np.full(n, np.inf)
    first, _ = _run(fun, n, lower, upper, tolerance=1e-6)  # stopped by the rule, as a leg
    assert 0 < first.memory.size <= 20 and first.memory.s.shape[1] == n
    changed, _ = _least_squares(offset=0.3, scales=np.logspace(-1.0, 0.0, 300))

    def first_step(memory: CurvatureMemory | None) -> float:
        out = projected_lbfgs(changed, first.x, lower, upper, max_iterations=1, history_size=20,
                              gradient_tolerance=0.0, callback=lambda f: False,
                              memory=memory)  # fmt: skip
        return changed(out.x)[0]

    best = _run(changed, n, lower, upper)[1][-1]
    cold, warm = first_step(None) - best, first_step(first.memory) - best
    assert warm < 0.95 * cold, (cold, warm)  # the gap left to the optimum after one step


def test_front_door_keeps_memory_and_refuses_it_where_it_cannot(influence, structure_masks):
    problem = build_problem(influence, {"Target": structure_masks["Target"]},
                            {"Target": SquaredDeviation(2.0)})  # fmt: skip
    options = SolverOptions(progress=False)
    first = optimize_weights(problem, method="projected_lbfgs", options=options)
    assert first.method == "projectedlbfgs" and first.memory is not None
    assert first.memory.size > 0 and first.success
    reference = optimize_weights(problem, options=options)
    # as good as scipy's under the same rule (both stop near 0, within the rule's floor)
    floor = 1e-3 * reference.objective_history[0]
    assert first.fun <= reference.fun + floor
    assert reference.memory is None
    again = optimize_weights(problem, method="projected-lbfgs", options=options,
                             initial_weights=first.x, warm_start=first)  # fmt: skip
    assert again.fun <= first.fun * (1 + 1e-12)
    with pytest.raises(ConfigError, match="curvature memory"):
        optimize_weights(problem, options=options, warm_start=first)
    fewer = build_problem(influence, {"Target": structure_masks["Target"]},
                          {"Target": SquaredDeviation(2.0)},
                          spot_index=np.arange(problem.n_spots - 1))  # fmt: skip
    with pytest.raises(GridMismatchError, match="warm_start"):
        optimize_weights(fewer, method="projected_lbfgs", options=options, warm_start=first)


def test_impt_legs_share_the_memory(influence, structure_masks) -> None:
    """With offsets (the halo leg) the second leg starts from the first's pairs, and two
    runs give the same weights bit for bit."""
    spots = SpotMap(np.full(12, 100.0), np.arange(12.0), np.zeros(12), np.zeros(12))
    beams = tuple(Beam(f"B{k}", BeamGeometry(gantry_deg=90.0 * k), spots) for k in range(2))
    plan = Plan("proton", beams, Prescription("Target", 2.0))
    offsets = {"dose": np.full(influence.grid.size, 0.02)}

    def run():
        return optimize_impt(influence, {"Target": structure_masks["Target"]},
                             {"Target": SquaredDeviation(2.0)}, quantity=PhysicalDose(),
                             plan=plan, target="Target", level=2.0, priority=["Target"],
                             method="projected_lbfgs", solver=SolverOptions(progress=False),
                             offsets=lambda w: offsets)  # fmt: skip

    (w1, legs1), (w2, _) = run(), run()
    np.testing.assert_array_equal(w1, w2)
    assert len(legs1) == 2 and legs1[1].memory is not None and legs1[1].memory.size > 0
