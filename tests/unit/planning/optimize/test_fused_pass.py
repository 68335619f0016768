"""The one-pass evaluation (D·w and Dᵀ·g fused per row): the two-pass evaluation's value
and gradient to rounding, the same numbers bit for bit on any thread count and with or
without row skipping, and the two-pass path kept for non-separable objectives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ionbeam.planning.optimize import (
    BiologicalEffect,
    ConstantRBEDose,
    MaxDVH,
    MeanDose,
    MinDVH,
    RBEWeightedDose,
    SolverOptions,
    SquaredDeviation,
    SquaredOverdose,
    SquaredUnderdose,
    build_problem,
    optimize_weights,
)
from ionbeam.planning.optimize.fused_pass import fused_evaluation

QUANTITIES = [None, ConstantRBEDose(1.1), RBEWeightedDose(0.1, 0.05), BiologicalEffect(0.1, 0.05)]
IDS = ["dose", "constant_rbe", "rbe_weighted", "effect"]
#: Two correct evaluations differ only by the grouping of their float64 sums: a few
#: units in the last place of each product, so 1e-12 relative is ~10⁴ ulp of margin.
RTOL = 1e-12


@pytest.fixture
def make(influence_factory, structure_masks):
    """``_problem`` on the shared test matrices."""
    return lambda quantity=None, offsets=True, body_gy=1.2: _problem(
        influence_factory(seed=2), dict(structure_masks), quantity, offsets, body_gy
    )


def _problem(influence, structures, quantity=None, offsets=True, body_gy=1.2):
    """Every separable kind at once, on overlapping structures: the target by fractions
    (0.3–1), the OAR and the body (which holds both) as masks; fixed offsets when asked."""
    grid = influence.grid
    fractions = np.where(
        structures["Target"], np.linspace(0.3, 1.0, grid.size).reshape(grid.shape), 0
    )
    structures["Target"] = fractions
    objectives = {
        "Target": [SquaredDeviation(2.0, 100.0), SquaredUnderdose(1.9, 30.0)],
        "OAR": SquaredOverdose(1.0, 10.0),
        "Body": SquaredOverdose(body_gy, 3.0),
    }
    if offsets:
        extra = np.random.default_rng(4).uniform(0.0, 0.2, grid.size)
        names = ("dose", "alpha_dose", "sqrt_beta_dose")
        held = {name: extra * (1.0 if name == "dose" else 0.1) for name in names}
        influence = dataclasses.replace(influence, optimizer_offsets=held)
    return build_problem(influence, structures, objectives, quantity=quantity)


def _points(problem, n: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.uniform(0.0, 2.0, problem.n_spots) for _ in range(n)]


@pytest.mark.parametrize("quantity", QUANTITIES, ids=IDS)
def test_one_pass_equals_two_passes_to_rounding(make, quantity) -> None:
    """Value and gradient of the fused evaluation equal the two-pass evaluation's (each
    objective on its voxels, then Dᵀ·g) to 1e-12 relative, with voxel fractions, a voxel
    in three terms, fixed offsets and every quantity (LQ: the exact chain rule)."""
    problem = make(quantity)
    assert problem.fused is not None
    two = dataclasses.replace(problem, fused=None, skip=None)
    for x in _points(problem):
        value, gradient = problem.value_and_gradient(x)
        expected_value, expected_gradient = two.value_and_gradient(x)
        assert value == pytest.approx(expected_value, rel=RTOL)
        scale = np.max(np.abs(expected_gradient))
        np.testing.assert_allclose(gradient, expected_gradient, rtol=0, atol=RTOL * scale)
        assert scale > 0 and value > 0


@pytest.mark.parametrize("quantity", QUANTITIES, ids=IDS)
def test_one_pass_is_the_same_on_any_thread_count(make, quantity) -> None:
    """1, 2 and 5 threads: value and gradient bit for bit (fixed chunks, summed in
    order)."""
    problem = make(quantity, offsets=False)
    w = _points(problem, 1)[0] * problem.weight_unit
    runs = [fused_evaluation(problem.fused, problem.bound, w, None, n) for n in (1, 2, 5)]
    for value, gradient in runs[1:]:
        assert value == runs[0][0]
        np.testing.assert_array_equal(gradient, runs[0][1])


@pytest.mark.parametrize("quantity", QUANTITIES[:3], ids=IDS[:3])
def test_row_skipping_leaves_the_one_pass_optimization_unchanged(make, quantity) -> None:
    """An optimization with rows skipped is the one without, bit for bit (a skipped row
    adds exactly 0 and the chunks do not move), while fewer entries are read (a body
    level of 2.6 Gy that most voxels stay below)."""
    problem = make(quantity, offsets=False, body_gy=2.6)
    assert problem.skip is not None and problem.fused is not None
    options = SolverOptions(progress=False, relative_tolerance=1e-6)
    skipped = optimize_weights(problem, options=options)
    plain = optimize_weights(dataclasses.replace(problem, skip=None), options=options)
    np.testing.assert_array_equal(skipped.x, plain.x)
    np.testing.assert_array_equal(skipped.objective_history, plain.objective_history)
    assert problem.skip.read < problem.skip.evaluations * problem.rows.nnz


def test_one_pass_optimization_is_the_two_pass_one(make) -> None:
    """The same optimization either way: iterations within 2, the final objective within
    1e-6 relative and the weights within 1e-4 of the largest."""
    problem = make()
    options = SolverOptions(progress=False, relative_tolerance=1e-6)
    fused = optimize_weights(problem, options=options)
    two = optimize_weights(dataclasses.replace(problem, fused=None), options=options)
    assert abs(fused.nit - two.nit) <= 2
    assert fused.fun == pytest.approx(two.fun, rel=1e-6)
    np.testing.assert_allclose(fused.x, two.x, rtol=0, atol=1e-4 * np.max(two.x))


@pytest.mark.parametrize(
    "objective", [MaxDVH(1.0, 0.2), MinDVH(1.9, 0.9), MeanDose(0.5)], ids=["max", "min", "mean"]
)
def test_non_separable_objectives_keep_the_two_pass_evaluation(
    influence_factory, structure_masks, objective
) -> None:
    """A DVH or mean-dose objective anywhere: no term table, and the evaluation is the
    two-pass one bit for bit."""
    influence = influence_factory(seed=2)
    objectives = {"Target": SquaredDeviation(2.0, 100.0), "OAR": objective}
    problem = build_problem(influence, structure_masks, objectives)
    assert problem.fused is None
    x = _points(problem, 1)[0]
    value, gradient = problem.value_and_gradient(x)
    two = dataclasses.replace(problem, skip=None)
    assert value == two.value_and_gradient(x)[0]
    np.testing.assert_array_equal(gradient, two.value_and_gradient(x)[1])


def test_with_offsets_keeps_the_one_pass_evaluation(make) -> None:
    """Offsets added to a built problem (the halo leg) are honoured by the fused pass:
    its evaluation equals the two-pass one of the same problem to rounding."""
    problem = make(offsets=False)
    size = problem.rows.voxel_index.max() + 1
    extra = np.linspace(0.0, 0.3, size)
    added = problem.with_offsets({"dose": extra}, grid_size=size)
    assert added.fused is not None
    x = _points(problem, 1)[0]
    value, gradient = added.value_and_gradient(x)
    expected = dataclasses.replace(added, fused=None).value_and_gradient(x)
    assert value == pytest.approx(expected[0], rel=RTOL)
    assert value != pytest.approx(problem.value_and_gradient(x)[0], rel=1e-3)
    np.testing.assert_allclose(
        gradient, expected[1], rtol=0, atol=RTOL * np.max(np.abs(expected[1]))
    )
