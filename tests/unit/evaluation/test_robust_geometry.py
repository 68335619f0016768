"""The set-up conflict bound between a target and an organ at risk."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.evaluation.robust_geometry import shift_conflict_fractions
from ionbeam.patient.grid import Grid


def _slabs():
    """A 1 mm grid: target x in [0, 20) mm, organ x in [20, 30) mm (touching)."""
    grid = Grid((40, 4, 4), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    x = np.arange(40)[:, None, None] * np.ones((1, 4, 4))
    return grid, x < 20, (x >= 20) & (x < 30)


def test_touching_slabs_give_the_hand_computed_fractions():
    """Shifts 0, +3, −3 mm along x. Scenario s reads the nominal dose at c + s; the organ
    forces the nominal dose down on itself moved by s' ∈ {0, ±3}: in s = 0 the target's
    last 3 columns conflict (3/20), in s = +3 its last 6 (6/20), in s = −3 none."""
    grid, target, organ = _slabs()
    shifts = [(0, 0, 0), (3, 0, 0), (-3, 0, 0)]
    fractions = shift_conflict_fractions(target, organ, grid, shifts)
    np.testing.assert_allclose(fractions, [3 / 20, 6 / 20, 0.0])


def test_no_shift_and_no_contact_means_no_conflict():
    grid, target, organ = _slabs()
    apart = organ & (np.arange(40)[:, None, None] >= 25)
    fractions = shift_conflict_fractions(target, apart, grid, [(0, 0, 0), (0, 3, 0), (0, -3, 0)])
    np.testing.assert_array_equal(fractions, 0.0)


def test_bad_shifts_are_refused():
    grid, target, organ = _slabs()
    with pytest.raises(ConfigError, match="shifts_mm"):
        shift_conflict_fractions(target, organ, grid, [(0.0, 1.0)])
