"""Integer particle counts from plan weights, and the machine's per-spot limits."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.delivery import spot_counts
from ionbeam.errors import MachineLimitError, UnknownNameError
from ionbeam.machine import SpotLimits

LIMITS = SpotLimits(1000.0, 1.0e6)


def test_weights_round_to_the_nearest_particle() -> None:
    weight = np.array([0.0, 0.4, 1500.49, 1500.5, 1501.5, 2e5 + 0.6])
    counts = spot_counts(weight, LIMITS, below_minimum="drop")
    # ties go to the even neighbour (numpy.rint), like IEEE round-half-even
    np.testing.assert_array_equal(counts.rounded, [0, 0, 1500, 1500, 1502, 200001])
    np.testing.assert_array_equal(counts.target, counts.rounded)
    assert counts.raised == counts.lowered == counts.particles_added == 0
    assert counts.target.dtype == np.int64 and not counts.target.flags.writeable


@pytest.mark.parametrize(
    ("policy", "expected", "raised", "lowered"),
    [
        ("round", [0, 0, 1000, 1000, 5000], 2, 1),
        ("round-up", [0, 1000, 1000, 1000, 5000], 3, 0),
        ("drop", [0, 0, 0, 0, 5000], 0, 3),
    ],
)
def test_below_minimum_policies(
    policy: str, expected: list[int], raised: int, lowered: int
) -> None:
    weight = np.array([0.0, 10.0, 500.0, 999.0, 5000.0])
    counts = spot_counts(weight, LIMITS, below_minimum=policy)
    np.testing.assert_array_equal(counts.target, expected)
    assert (counts.raised, counts.lowered) == (raised, lowered)
    assert counts.particles_added == sum(expected) - 6509


def test_refuse_below_minimum_says_what_to_do() -> None:
    with pytest.raises(MachineLimitError) as info:
        spot_counts(np.array([5000.0, 10.0, 700.0]), LIMITS, particle="carbon")
    message = str(info.value)
    assert "carbon particles per spot" in message and "got 10" in message
    assert "2 spots" in message and "--below-minimum" in message


def test_above_maximum_is_always_refused() -> None:
    for policy in ("refuse", "round", "round-up", "drop"):
        with pytest.raises(MachineLimitError, match="split the field"):
            spot_counts(np.array([2.0e6, 5000.0]), LIMITS, below_minimum=policy)


def test_unknown_policy() -> None:
    with pytest.raises(UnknownNameError):
        spot_counts(np.array([5000.0]), LIMITS, below_minimum="ceil")
