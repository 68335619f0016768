"""The sorted dose distributions kept between queries (``evaluation._distribution``):
every D_x, V_x, mean, min and max equals that of a fresh sort, whatever the mask's form,
and a dose changed in place is sorted again."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.evaluation import _distribution
from ionbeam.evaluation._distribution import DoseDistribution, _sorted_distribution, counted_voxels
from ionbeam.evaluation.dvh import d_at_volume, max_dose, mean_dose, min_dose, v_at_dose

_FRACTIONS = np.array([0.0, 0.02, 0.05, 0.5, 0.95, 0.98, 1.0])


def _case() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    dose = rng.gamma(4.0, 0.5, size=(40, 30, 20))
    occupancy = np.zeros(dose.shape)
    occupancy[5:35, 3:27, 2:18] = 1.0
    occupancy[5, 3:27, 2:18] = 0.4  # a partial face: not counted
    return dose, occupancy


def _uncached(dose: np.ndarray, occupancy: np.ndarray) -> DoseDistribution:
    d = dose.reshape(-1)[counted_voxels(occupancy)]
    return _sorted_distribution(d, float(np.sum(occupancy)))


def _same(a: DoseDistribution, b: DoseDistribution) -> None:
    np.testing.assert_array_equal(a.dose_desc_gy, b.dose_desc_gy)
    np.testing.assert_array_equal(a.dose_at_volume(_FRACTIONS), b.dose_at_volume(_FRACTIONS))
    levels = np.linspace(0.0, 6.0, 13)
    np.testing.assert_array_equal(a.volume_at_dose(levels), b.volume_at_dose(levels))
    assert (a.mean_gy, a.min_gy, a.max_gy, a.total_weight) == (
        b.mean_gy,
        b.min_gy,
        b.max_gy,
        b.total_weight,
    )


def test_cached_distribution_equals_a_fresh_sort() -> None:
    """Asked twice (second time from the cache) and through another mask form (boolean,
    float32 weights, a view of the dose), the distribution is that of a fresh sort, bit
    for bit; the structure's volume is that of the mask asked with."""
    dose, occupancy = _case()
    expected = _uncached(dose, occupancy)
    first = DoseDistribution.from_arrays(dose, occupancy)
    weights32 = occupancy.astype(np.float32)
    again = DoseDistribution.from_arrays(dose.reshape(-1), weights32)
    _same(first, expected)
    _same(again, _uncached(dose, weights32))
    assert again.dose_desc_gy is first.dose_desc_gy  # the sort was reused
    boolean = DoseDistribution.from_arrays(dose, occupancy >= 0.5)
    np.testing.assert_array_equal(boolean.dose_desc_gy, expected.dose_desc_gy)
    assert boolean.total_weight == float(np.sum(occupancy >= 0.5))
    for fraction in _FRACTIONS:  # the public D_x, V_x and mean/min/max
        assert d_at_volume(dose, occupancy, fraction) == float(expected.dose_at_volume(fraction))
    assert v_at_dose(dose, occupancy, 2.0) == float(expected.volume_at_dose(2.0))
    assert mean_dose(dose, occupancy) == expected.mean_gy
    assert (min_dose(dose, occupancy), max_dose(dose, occupancy)) == (
        expected.min_gy,
        expected.max_gy,
    )


def test_dose_changed_in_place_is_sorted_again() -> None:
    """The cache is keyed by the dose values themselves: after an in-place change of one
    counted voxel the answer follows the new dose."""
    dose, occupancy = _case()
    before = DoseDistribution.from_arrays(dose, occupancy)
    dose[20, 15, 10] = 99.0
    after = DoseDistribution.from_arrays(dose, occupancy)
    assert after.max_gy == 99.0 and before.max_gy < 99.0
    _same(after, _uncached(dose, occupancy))


def test_cached_arrays_are_read_only_and_the_cache_is_bounded() -> None:
    """Entries are shared, so their arrays are read-only; past its byte budget the least
    recently used entry goes."""
    dose, occupancy = _case()
    dist = DoseDistribution.from_arrays(dose, occupancy)
    with pytest.raises(ValueError):
        dist.dose_desc_gy[0] = 0.0
    small = _distribution._SortedDoses(max_bytes=2 * dist.dose_desc_gy.nbytes * 2)
    d = dose.reshape(-1)[counted_voxels(occupancy)]
    for shift in range(4):
        small.distribution(d + shift, 1.0)
    assert len(small._entries) == 2 and small._bytes <= small.max_bytes
    _same(small.distribution(d + 3, float(np.sum(occupancy))), _uncached(dose + 3, occupancy))
