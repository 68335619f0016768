"""Objectives: values where they must vanish or not, gradients vs central finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.planning.optimize import (
    MaxDVH,
    MeanDose,
    MinDVH,
    Objective,
    SquaredDeviation,
    SquaredOverdose,
    SquaredUnderdose,
)

RNG = np.random.default_rng(7)
#: Doses spread around 2 Gy, away from the kinks of the piecewise objectives.
Q = RNG.uniform(1.0, 3.0, 200)

OBJECTIVES = [
    SquaredDeviation(2.0),
    SquaredOverdose(2.2),
    SquaredUnderdose(1.8),
    MeanDose(1.5),
    MeanDose(),
    MaxDVH(2.0, 0.2),
    MinDVH(2.0, 0.9),
]


def _central_difference(objective: Objective, q: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.empty(q.size)
    for i in range(q.size):
        up, down = q.copy(), q.copy()
        up[i] += h
        down[i] -= h
        out[i] = (objective.value(up) - objective.value(down)) / (2 * h)
    return out


@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: repr(o))
def test_gradient_matches_central_differences(objective: Objective) -> None:
    """Issue 5: the analytic gradient equals the finite-difference one; for quadratic
    pieces central differences are exact up to rounding, so 1e-4 relative is loose."""
    analytic = objective.gradient(Q)
    numeric = _central_difference(objective, Q)
    assert np.linalg.norm(analytic) > 0
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6 * np.abs(numeric).max())


def test_values_are_those_of_the_definitions() -> None:
    """Each value against the formula of its docstring, computed independently."""
    q = np.array([1.0, 2.0, 3.0, 4.0])
    assert SquaredDeviation(2.0).value(q) == pytest.approx((1 + 0 + 1 + 4) / 4)
    assert SquaredOverdose(2.5).value(q) == pytest.approx((0.25 + 2.25) / 4)
    assert SquaredUnderdose(2.5).value(q) == pytest.approx((2.25 + 0.25) / 4)
    assert MeanDose(2.0).value(q) == pytest.approx(0.25)
    assert MeanDose(3.0).value(q) == 0.0


def test_dvh_objectives_vanish_when_the_constraint_holds() -> None:
    """MaxDVH(d, V) is zero when at most V is above d, positive otherwise; MinDVH(d, V)
    is zero when at least V is at or above d."""
    q = np.linspace(0.0, 10.0, 101)  # 10 % of the voxels are above 9 Gy
    assert MaxDVH(9.05, 0.10).value(q) == 0.0
    assert MaxDVH(5.0, 0.10).value(q) > 0.0
    assert MinDVH(1.0, 0.85).value(q) == 0.0
    assert MinDVH(5.0, 0.85).value(q) > 0.0


def test_max_dvh_pushes_only_the_voxels_that_break_it() -> None:
    """Of the voxels above d, only those below the dose at volume V (the coldest of the
    excess) are pushed down: the hottest V of the structure may stay."""
    q = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    gradient = MaxDVH(4.5, 0.2).gradient(q)  # at most 2 voxels above 4.5 Gy
    assert np.all(gradient[:4] == 0) and np.all(gradient[8:] == 0)
    assert np.all(gradient[4:8] > 0)


def test_with_levels_converts_every_dose_level() -> None:
    double = lambda d: 2.0 * d  # noqa: E731
    assert SquaredDeviation(2.0, 5.0).with_levels(double) == SquaredDeviation(4.0, 5.0)
    assert MaxDVH(3.0, 0.5).with_levels(double) == MaxDVH(6.0, 0.5)
    assert MeanDose(1.0).with_levels(double).max_mean_gy == 2.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: SquaredDeviation(math.nan),
        lambda: SquaredOverdose(-1.0),
        lambda: SquaredUnderdose("2"),
        lambda: SquaredDeviation(2.0, weight=0.0),
        lambda: MeanDose(weight=math.inf),
        lambda: MaxDVH(2.0, 0.0),
        lambda: MinDVH(2.0, 1.5),
    ],
)
def test_bad_levels_weights_and_fractions_raise(make) -> None:
    with pytest.raises(ConfigError, match="must be"):
        make()


@pytest.mark.parametrize(
    "objective",
    [SquaredDeviation(2.0, 3.0), SquaredOverdose(2.1, 5.0), SquaredUnderdose(1.9, 2.0)],
    ids=["deviation", "overdose", "underdose"],
)
def test_value_and_gradient_in_one_pass_are_value_and_gradient(objective) -> None:
    """The one-pass ``value_and_gradient`` the optimizer calls gives exactly (bit for bit)
    ``value`` and ``gradient``, with and without voxel fractions, for doses on both sides
    of the level."""
    rng = np.random.default_rng(3)
    q = rng.uniform(1.5, 2.5, 1000)
    for weights in (None, rng.uniform(0.1, 1.0, 1000)):
        value, gradient = objective.value_and_gradient(q, weights)
        assert value == objective.value(q, weights) and value > 0.0
        np.testing.assert_array_equal(gradient, objective.gradient(q, weights))
