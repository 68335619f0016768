"""Skipping the rows of D·w below their overdose level: the same optimization, bit for
bit, with fewer entries read."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from ionbeam.patient import Grid
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize import (
    BiologicalEffect,
    ConstantRBEDose,
    RBEWeightedDose,
    SolverOptions,
    SquaredDeviation,
    SquaredOverdose,
    build_problem,
    optimize_weights,
)

GRID = Grid((10, 8, 6), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0))


def _influence() -> tuple[DoseInfluence, dict[str, np.ndarray]]:
    """Rows whose dose falls off by two decades away from a target block (as a body's
    voxels far from the target), 40 spots."""
    rng = np.random.default_rng(3)
    n_spots = 40
    dense = rng.uniform(0.2, 1.0, (GRID.size, n_spots)) * (
        rng.uniform(size=(GRID.size, n_spots)) < 0.4
    )
    dense[:, 0] = 0.5
    falloff = np.logspace(0.0, -2.0, GRID.shape[0])[:, None, None] * np.ones(GRID.shape)
    dense *= falloff.reshape(-1, 1)
    dose = sp.csc_matrix(dense * 1e-8, dtype=np.float32)

    def companion(low: float, high: float) -> sp.csc_matrix:
        factors = rng.uniform(low, high, dose.nnz)
        data = (dose.data.astype(np.float64) * factors).astype(np.float32)
        return sp.csc_matrix((data, dose.indices, dose.indptr), shape=dose.shape)

    target = np.zeros(GRID.shape, dtype=bool)
    target[0:2, 2:6, 2:4] = True
    body = np.ones(GRID.shape, dtype=bool)
    influence = DoseInfluence(
        grid=GRID,
        dose=dose,
        beam_offsets=np.array([0, n_spots]),
        alpha_dose=companion(0.3, 0.9),
        sqrt_beta_dose=companion(0.15, 0.25),
    )
    return influence, {"Target": target, "Body": body & ~target}


def _problem(quantity=None):
    influence, masks = _influence()
    objectives = {"Target": SquaredDeviation(2.0, 100.0), "Body": SquaredOverdose(1.0, 10.0)}
    return build_problem(influence, masks, objectives, quantity=quantity), influence


QUANTITIES = [None, ConstantRBEDose(1.1), RBEWeightedDose(0.1, 0.05), BiologicalEffect(0.1, 0.05)]
IDS = ["dose", "constant_rbe", "rbe_weighted", "effect"]


@pytest.mark.parametrize("quantity", QUANTITIES, ids=IDS)
def test_skipping_gives_the_same_optimization_bit_for_bit(quantity) -> None:
    problem, _ = _problem(quantity)
    assert problem.skip is not None
    options = SolverOptions(progress=False, relative_tolerance=1e-6)
    skipped = optimize_weights(problem, options=options)
    plain = optimize_weights(dataclasses.replace(problem, skip=None), options=options)
    np.testing.assert_array_equal(skipped.x, plain.x)
    np.testing.assert_array_equal(skipped.objective_history, plain.objective_history)
    full = problem.skip.evaluations * problem.rows.nnz
    assert problem.skip.read < 0.9 * full  # rows were skipped


@pytest.mark.parametrize("quantity", QUANTITIES, ids=IDS)
def test_stale_rows_lie_below_their_level(quantity) -> None:
    """Where the skipping product differs from D·w, both lie below the voxel's level."""
    problem, _ = _problem(quantity)
    skip = problem.skip
    rng = np.random.default_rng(0)
    w = np.full(problem.n_spots, problem.weight_unit)
    for _ in range(20):
        w = np.clip(w * rng.uniform(0.9, 1.1, w.size), 0.0, None)
        lazy = skip.forward(w)[0]
        exact = problem.bound.forward(w)[0]
        differ = lazy != exact
        assert np.all(lazy[differ] < skip.levels[differ])
        assert np.all(exact[differ] < skip.levels[differ])
    assert skip.read < skip.evaluations * problem.rows.nnz


def test_offsets_and_two_sided_objectives() -> None:
    """A problem with offsets gets its own reference; voxels under a two-sided objective
    are never skipped."""
    problem, _ = _problem()
    moved = problem.with_offsets({"dose": np.full(GRID.size, 0.05)}, grid_size=GRID.size)
    assert moved.skip is not None and moved.skip is not problem.skip
    assert moved.skip.w_ref is None
    target_positions = next(t.positions for t in problem.terms if t.structure == "Target")
    assert np.all(problem.skip.levels[target_positions] == -np.inf)
    options = SolverOptions(progress=False, relative_tolerance=1e-6)
    a = optimize_weights(moved, options=options)
    b = optimize_weights(dataclasses.replace(moved, skip=None), options=options)
    np.testing.assert_array_equal(a.x, b.x)
