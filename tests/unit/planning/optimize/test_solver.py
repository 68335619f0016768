"""The solver front door: reaches a known optimum, respects bounds and names, reports."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError, GridMismatchError, UnknownNameError
from ionbeam.planning.optimize import (
    RBEWeightedDose,
    SolverOptions,
    SquaredDeviation,
    SquaredOverdose,
    apply_spot_limits,
    build_problem,
    optimize_weights,
)
from ionbeam.planning.optimize.solver import FLOOR_FRACTION

QUIET = SolverOptions(progress=False, relative_tolerance=0.0, max_iterations=2000,
                      gradient_tolerance=1e-12)  # fmt: skip


def _reachable_problem(influence, structure_masks, quantity=None):
    """A target dose that some non-negative weights give exactly: the dose of random
    positive weights (so the optimum has objective 0)."""
    w_true = np.random.default_rng(4).uniform(0.5, 1.5, influence.n_spots) * 3e7
    target = structure_masks["Target"]
    problem = build_problem(influence, {"Target": target}, {"Target": SquaredDeviation(1.0)},
                            quantity=quantity)  # fmt: skip
    q_true = problem.quantity_values(w_true)
    # one objective per voxel so that each voxel must hit its own value
    masks, objectives = {}, {}
    for k, index in enumerate(problem.rows.voxel_index):
        mask = np.zeros(target.size, dtype=bool)
        mask[index] = True
        masks[f"v{k}"] = mask.reshape(target.shape)
        objectives[f"v{k}"] = SquaredDeviation(float(q_true[k]))
    return build_problem(influence, masks, objectives, quantity=quantity), q_true


@pytest.mark.parametrize("quantity", [None, RBEWeightedDose(0.1, 0.05)], ids=["dose", "lq"])
def test_lbfgsb_reaches_an_exactly_reachable_dose(influence, structure_masks, quantity) -> None:
    problem, q_true = _reachable_problem(influence, structure_masks, quantity)
    result = optimize_weights(problem, options=QUIET)
    assert result.fun < 1e-8 * result.objective_history[0]
    np.testing.assert_allclose(problem.quantity_values(result.x), q_true, rtol=1e-3)
    assert result.method == "lbfgsb" and result.nit == result.objective_history.size - 1
    assert np.all(np.diff(result.objective_history) <= 1e-12 * result.objective_history[0])


def test_relative_stopping_rule_stops_early(influence, structure_masks) -> None:
    problem, _ = _reachable_problem(influence, structure_masks)
    loose = optimize_weights(
        problem, options=SolverOptions(progress=False, relative_tolerance=0.05)
    )
    tight = optimize_weights(problem, options=QUIET)
    assert loose.success and "relative objective change" in loose.message
    assert loose.nit < tight.nit
    h = loose.objective_history
    assert h[-6] - h[-1] <= 0.05 * 5 * max(h[-1], FLOOR_FRACTION * h[0])


def test_a_kept_floor_stops_the_rule_at_the_earlier_run_s_precision(
    influence, structure_masks
) -> None:
    """``floor_objective`` (a second leg keeping the first leg's floor): the rule's floor
    is ``FLOOR_FRACTION`` × the larger of it and the run's own start, so a floor far above
    the start stops the run sooner, on the kept floor's absolute rule; one below the
    start changes nothing (the same iterations and weights); a non-finite one raises."""
    problem, _ = _reachable_problem(influence, structure_masks)
    options = SolverOptions(progress=False, relative_tolerance=1e-3)
    own = optimize_weights(problem, options=options)
    f0 = float(own.objective_history[0])
    below = optimize_weights(
        problem, options=SolverOptions(progress=False, relative_tolerance=1e-3,
                                       floor_objective=0.5 * f0)
    )  # fmt: skip
    assert below.nit == own.nit
    np.testing.assert_array_equal(below.x, own.x)
    kept = optimize_weights(
        problem, options=SolverOptions(progress=False, relative_tolerance=1e-3,
                                       floor_objective=1e4 * f0)
    )  # fmt: skip
    assert kept.success and kept.nit < own.nit
    h = kept.objective_history
    assert h[-6] - h[-1] <= 1e-3 * 5 * FLOOR_FRACTION * 1e4 * f0
    with pytest.raises(ConfigError, match="floor_objective"):
        SolverOptions(floor_objective=float("nan"))


def test_upper_bounds_and_spot_limits_hold(influence, structure_masks) -> None:
    problem, _ = _reachable_problem(influence, structure_masks)
    cap = 4e7
    capped = problem.with_bounds(np.zeros(problem.n_spots), np.full(problem.n_spots, cap))
    result = optimize_weights(capped, options=QUIET)
    assert result.x.max() <= cap * (1 + 1e-12)
    minimum = min(2.0 * float(np.percentile(result.x, 30)), 0.5 * cap)  # some below min/2
    limited = apply_spot_limits(capped, result, min_particles=minimum,
                                options=SolverOptions(progress=False))  # fmt: skip
    on = limited.x > 0
    assert np.all(limited.x[on] >= minimum * (1 - 1e-12))
    assert np.all(limited.x <= cap * (1 + 1e-12))
    assert not np.any(on[result.x < 0.5 * minimum])  # the small spots are off
    assert limited.nit >= result.nit and "removed" in limited.message


def test_unknown_method_and_bad_inputs_raise(influence, structure_masks) -> None:
    problem, _ = _reachable_problem(influence, structure_masks)
    with pytest.raises(UnknownNameError, match="lbfgsb"):
        optimize_weights(problem, method="ipopt")
    with pytest.raises(GridMismatchError, match="initial weights"):
        optimize_weights(problem, initial_weights=np.ones(3))
    with pytest.raises(ConfigError, match="max_iterations"):
        SolverOptions(max_iterations=0)
    with pytest.raises(ConfigError, match="min_particles"):
        apply_spot_limits(problem, optimize_weights(problem, options=QUIET), min_particles=-1.0)


def test_rounding_is_re_optimized_only_when_it_costs(influence, structure_masks, monkeypatch):
    """After rounding to the spot limits, the solver runs again only when the objective
    rose by more than ROUNDING_TOLERANCE; either way the limits hold."""
    from ionbeam.planning.optimize import spot_limits

    objectives = {"Target": SquaredDeviation(2.0, 1000.0), "OAR": SquaredOverdose(1.0, 100.0)}
    problem = build_problem(influence, structure_masks, objectives)
    result = optimize_weights(problem, options=QUIET)
    minimum = 2.0 * float(np.percentile(result.x[result.x > 0], 30))
    outcomes = {}
    for tolerance in (1e9, -1.0):
        monkeypatch.setattr(spot_limits, "ROUNDING_TOLERANCE", tolerance)
        outcomes[tolerance] = apply_spot_limits(problem, result, min_particles=minimum)
    kept, polished = outcomes[1e9], outcomes[-1.0]
    assert kept.nit == result.nit and "not re-optimized" in kept.message
    assert polished.nit > result.nit and polished.fun <= kept.objective_history[-1]
    for limited in (kept, polished):
        on = limited.x > 0
        assert np.all(limited.x[on] >= minimum * (1 - 1e-12))


def test_progress_counts_iterations_without_a_false_total(
    influence, structure_masks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run stops when it converges, well before max_iterations: its progress task
    has no total (the old bar counted to 500, stopped at ~137 and showed a false ETA)
    and counts exactly the iterations made."""
    from rich.progress import Progress

    seen: list[tuple[float | None, float]] = []
    exit_progress = Progress.__exit__

    def record(self, *args):
        seen.extend((task.total, task.completed) for task in self.tasks)
        return exit_progress(self, *args)

    monkeypatch.setattr(Progress, "__exit__", record)
    monkeypatch.setenv("IONBEAM_PROGRESS", "0")  # bars off, tasks still counted
    problem, _ = _reachable_problem(influence, structure_masks)
    options = SolverOptions(progress=True, relative_tolerance=0.05, max_iterations=500)
    result = optimize_weights(problem, options=options)
    assert result.nit < 500
    assert seen == [(None, float(result.nit))]


def test_jacobi_scaling_evens_the_target_curvature_and_finds_the_same_optimum(
    influence, structure_masks
) -> None:
    """With sⱼ = 1/√(Σ_target Dᵢⱼ²) (median 1), every spot reaching the target has the
    same Σ (sⱼ Dᵢⱼ)² over the target voxels; both scalings reach the exactly reachable
    optimum (objective 0) of the same problem, so the scaling changes the path only."""
    from ionbeam.planning.optimize.solver import spot_scales

    problem, q_true = _reachable_problem(influence, structure_masks)
    scale = spot_scales(problem, "jacobi")
    name = problem.reference[0]
    positions = np.concatenate([t.positions for t in problem.terms if t.structure == name])
    d = influence.dose.toarray().astype(np.float64)[problem.rows.voxel_index[positions]]
    scaled_squares = ((d * scale) ** 2).sum(axis=0)
    reached = (d**2).sum(axis=0) > 0
    np.testing.assert_allclose(scaled_squares[reached], scaled_squares[reached][0], rtol=1e-5)
    assert np.median(scale[reached]) == pytest.approx(1.0)
    np.testing.assert_array_equal(spot_scales(problem, "none"), 1.0)
    for scaling in ("none", "jacobi"):
        options = SolverOptions(progress=False, relative_tolerance=0.0, max_iterations=2000,
                                gradient_tolerance=1e-12, scaling=scaling)  # fmt: skip
        result = optimize_weights(problem, options=options)
        assert result.fun < 1e-8 * result.objective_history[0]
        np.testing.assert_allclose(problem.quantity_values(result.x), q_true, rtol=1e-3)
    with pytest.raises(UnknownNameError, match="scaling"):
        SolverOptions(scaling="newton")


def test_gauss_newton_scaling_evens_the_weighted_curvature_of_every_term(influence) -> None:
    """With sⱼ = 1/√(Σᵢ cᵢ Dᵢⱼ²), cᵢ = Σ over the voxel's terms of weight × its share of
    the term's mean (occupancies included), every spot has the same Σᵢ cᵢ (sⱼ Dᵢⱼ)²: the
    diagonal of the objective's Gauss–Newton Hessian (all terms active) is uniform;
    computed here densely from the matrix and the fractions, not by the library. A
    robust problem takes its nominal scenario's scales. The optimum (objective and
    doses) is the scaling's "none" one within the solver's tolerance."""
    from ionbeam.planning.optimize.solver import spot_scales

    target = np.zeros(influence.grid.shape)
    target[2:4, 1:4, 1:3] = 1.0
    target[1, 1:4, 1:3] = 0.25  # a partial voxel layer, as occupancies give
    body = np.ones(influence.grid.shape)
    problem = build_problem(
        influence,
        {"Target": target, "Body": body},
        {"Target": SquaredDeviation(1.0, weight=10.0), "Body": SquaredOverdose(0.5, weight=3.0)},
    )
    flat_t, flat_b = target.reshape(-1), body.reshape(-1)
    c = 10.0 * flat_t / flat_t.sum() + 3.0 * flat_b / flat_b.sum()
    d = influence.dose.toarray().astype(np.float64)
    scale = spot_scales(problem, "gauss_newton")
    weighted = (c[:, None] * (d * scale) ** 2).sum(axis=0)
    np.testing.assert_allclose(weighted, weighted[0], rtol=1e-5)
    assert np.median(scale) == pytest.approx(1.0)
    results = {}
    for scaling in ("none", "gauss_newton"):
        options = SolverOptions(progress=False, relative_tolerance=0.0, max_iterations=3000,
                                gradient_tolerance=1e-12, scaling=scaling)  # fmt: skip
        results[scaling] = optimize_weights(problem, options=options)
    assert results["gauss_newton"].fun == pytest.approx(results["none"].fun, rel=1e-4)
    doses = [problem.quantity_values(r.x) for r in results.values()]
    np.testing.assert_allclose(doses[1], doses[0], rtol=1e-2, atol=1e-3)


def test_longer_lbfgs_memory_is_honoured_and_converges_in_fewer_iterations(
    influence, structure_masks
) -> None:
    """``history_size`` reaches scipy's L-BFGS-B (``maxcor``): on a problem with target,
    OAR and body terms, 30 correction pairs (the default) reach the optimum to 1e-6 in
    fewer iterations than 3, and both reach the same optimum (the memory changes the path,
    not the problem)."""
    objectives = {"Target": SquaredDeviation(2.0, 1000.0), "OAR": SquaredOverdose(1.0, 100.0),
                  "Body": SquaredOverdose(1.2, 100.0)}  # fmt: skip
    problem = build_problem(influence, structure_masks, objectives)
    assert SolverOptions().history_size == 30
    runs = {}
    for size in (3, 30):
        options = SolverOptions(progress=False, relative_tolerance=0.0, max_iterations=5000,
                                gradient_tolerance=1e-14, history_size=size)  # fmt: skip
        runs[size] = optimize_weights(problem, options=options)
    best = min(r.fun for r in runs.values())
    reached = {
        size: int(np.argmax(r.objective_history <= best * (1 + 1e-6))) for size, r in runs.items()
    }
    assert all(r.fun <= best * (1 + 1e-9) for r in runs.values())
    assert 0 < reached[30] < reached[3]


def test_each_reported_evaluation_is_one_evaluation_of_the_problem(
    influence, structure_masks
) -> None:
    """The stopping rule's f₀ and the solver's first call are one evaluation at x₀: the
    result's ``n_evaluations`` is the number of times the problem was evaluated, and
    the weights are those of a solver that evaluated x₀ twice (the same numbers)."""
    problem, _ = _reachable_problem(influence, structure_masks)
    calls = []

    class Counting:
        def __getattr__(self, name):
            return getattr(problem, name)

        def value_and_gradient(self, x):
            calls.append(np.array(x))
            return problem.value_and_gradient(x)

    options = SolverOptions(progress=False, relative_tolerance=1e-4)
    result = optimize_weights(Counting(), options=options)  # type: ignore[arg-type]
    assert result.n_evaluations == len(calls)
    assert sum(np.array_equal(c, calls[0]) for c in calls) == 1  # x₀ evaluated once
    np.testing.assert_array_equal(result.x, optimize_weights(problem, options=options).x)
