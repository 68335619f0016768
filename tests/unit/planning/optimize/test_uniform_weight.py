"""The uniform start's weight, found from the reference structure's rows alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from ionbeam.planning.optimize import (
    PhysicalDose,
    RBEWeightedDose,
    SquaredDeviation,
    SquaredOverdose,
)
from ionbeam.planning.optimize.problem import _forward_at, build_problem


def _whole_pass_unit(problem) -> float:
    """The weight unit as before: every try a whole forward pass, cut to the target."""
    positions = np.unique(np.concatenate([t.positions for t in problem.terms
                                          if t.structure == "Target"]))  # fmt: skip
    level = problem.reference[1]

    def mean_at(log_w: float) -> float:
        w = np.full(problem.n_spots, math.exp(log_w))
        return float(np.mean(problem.bound.forward(w)[0][positions]))

    guess = math.log(level / mean_at(0.0))
    lo, hi = guess - 1.0, guess + 1.0
    while mean_at(hi) < level:
        lo, hi = hi, hi + 2.0
    while mean_at(lo) > level:
        lo, hi = lo - 2.0, lo
    return math.exp(brentq(lambda t: mean_at(t) - level, lo, hi, xtol=1e-6))


@pytest.mark.parametrize("quantity", [PhysicalDose(), RBEWeightedDose(0.1, 0.05)])
def test_the_weight_unit_is_that_of_the_whole_forward_pass(
    influence, structure_masks, quantity
) -> None:
    """Reading the target's rows alone gives the same numbers there as the whole forward
    pass (each row summed in the same order), so the same weight unit bit for bit, for a
    linear and an LQ quantity, with offsets on the rows too."""
    objectives = {"Target": SquaredDeviation(2.0, 1000.0), "OAR": SquaredOverdose(1.0, 10.0)}
    masks = {"Target": structure_masks["Target"],
             "OAR": structure_masks["OAR"] & ~structure_masks["Target"]}  # fmt: skip
    problem = build_problem(influence, masks, objectives, quantity=quantity, reference="Target")
    assert problem.weight_unit == _whole_pass_unit(problem)
    w = np.random.default_rng(5).uniform(0.5, 2.0, problem.n_spots) * problem.weight_unit
    target = problem.terms[0].positions
    np.testing.assert_array_equal(
        _forward_at(problem.bound, target)(w), problem.bound.forward(w)[0][target]
    )
    extra = np.zeros(influence.grid.size)
    extra[np.flatnonzero(masks["Target"])] = 0.2
    held = problem.with_offsets({m: extra for m in quantity.matrices}, grid_size=extra.size)
    np.testing.assert_array_equal(
        _forward_at(held.bound, target)(w), held.bound.forward(w)[0][target]
    )
