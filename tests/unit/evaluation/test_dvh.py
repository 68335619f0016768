"""DVH and the exact D_V / V_d metrics: conventions, partial volumes, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError, GridMismatchError, OutOfRangeError, StructureError
from ionbeam.evaluation import (
    d_at_volume,
    dose_volume_histogram,
    dose_volume_histograms,
    max_dose,
    mean_dose,
    min_dose,
    v_at_dose,
)
from ionbeam.patient import Grid

GRID = Grid((10, 10, 1), (2.0, 2.0, 2.5))  # 100 voxels of 10 mm³


def _ramp() -> np.ndarray:
    """Doses 1, 2, …, 100 Gy, one per voxel."""
    return np.arange(1.0, 101.0).reshape(GRID.shape)


ALL = np.ones(GRID.shape, dtype=bool)


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.95, 6.0), (0.98, 3.0), (0.50, 51.0), (0.02, 99.0), (0.05, 96.0), (0.0, 100.0), (1.0, 1.0)],
)
def test_d_at_volume_is_the_dose_at_least_that_fraction_receives(
    fraction: float, expected: float
) -> None:
    # 95 of the voxels (doses 6..100) receive at least 6 Gy; 96 would need 5 Gy.
    assert d_at_volume(_ramp(), ALL, fraction) == expected


def test_v_at_dose_counts_voxels_at_or_above() -> None:
    dose = _ramp()
    assert v_at_dose(dose, ALL, 51.0) == pytest.approx(0.50)
    assert v_at_dose(dose, ALL, 50.5) == pytest.approx(0.50)
    assert v_at_dose(dose, ALL, 0.0) == 1.0
    assert v_at_dose(dose, ALL, 100.01) == 0.0


def test_d_and_v_are_consistent_on_random_weighted_doses() -> None:
    rng = np.random.default_rng(7)
    dose = rng.gamma(4.0, 0.5, GRID.shape)
    weights = rng.uniform(0.0, 1.0, GRID.shape) * (rng.uniform(size=GRID.shape) > 0.3)
    for fraction in np.linspace(0.0, 1.0, 41):
        d = d_at_volume(dose, weights, fraction)
        # at least the fraction receives D_V, and any higher dose is received by less
        assert v_at_dose(dose, weights, d) >= fraction - 1e-12
        higher = dose[(dose > d) & (weights >= 0.5)]  # the voxels counted
        if higher.size:
            assert v_at_dose(dose, weights, higher.min()) < fraction


def test_partial_volume_voxels_count_whole_when_at_least_half_inside() -> None:
    """Occupancy decides membership (≥ 0.5), not weight: the voxels an external DVH tool
    counts from the contour (dicompyler-core, plastimatch), each whole. Before issue 11
    the 0.5 voxel counted half and the 0.3 voxel 0.3, so that V(2 Gy) read 1/1.8."""
    dose = np.zeros(GRID.shape)
    weights = np.zeros(GRID.shape)
    dose[0, 0, 0], weights[0, 0, 0] = 2.0, 1.0
    dose[1, 0, 0], weights[1, 0, 0] = 1.0, 0.5
    dose[2, 0, 0], weights[2, 0, 0] = 0.5, 0.3  # less than half inside: not counted
    assert v_at_dose(dose, weights, 2.0) == pytest.approx(1 / 2)
    assert d_at_volume(dose, weights, 0.5) == 2.0
    assert d_at_volume(dose, weights, 0.6) == 1.0
    assert d_at_volume(dose, weights, 1.0) == 1.0
    assert mean_dose(dose, weights) == pytest.approx(1.5)
    assert min_dose(dose, weights) == 1.0 and max_dose(dose, weights) == 2.0
    # the volume stays the contour's: the sum of the occupancy (1.8 voxels of 10 mm³)
    dvh = dose_volume_histogram(dose, GRID, weights)
    assert dvh.volume_cm3 == pytest.approx(1.8 * 10.0 / 1000.0)


def test_a_structure_smaller_than_half_a_voxel_keeps_the_voxels_it_touches() -> None:
    dose = _ramp()
    weights = np.zeros(GRID.shape)
    weights[0, 0, 0], weights[0, 1, 0] = 0.2, 0.1  # doses 1 and 2
    assert (min_dose(dose, weights), max_dose(dose, weights)) == (1.0, 2.0)
    assert d_at_volume(dose, weights, 0.5) == 2.0


def test_mean_min_max_inside_the_mask_only() -> None:
    dose = _ramp()
    mask = np.zeros(GRID.shape, dtype=bool)
    mask[0, 2:4, 0] = True  # doses 3 and 4
    assert (mean_dose(dose, mask), min_dose(dose, mask), max_dose(dose, mask)) == (3.5, 3.0, 4.0)


def test_cumulative_dvh_is_exact_at_the_bin_edges() -> None:
    dose = _ramp()
    dvh = dose_volume_histogram(dose, GRID, ALL, name="ramp", bin_width_gy=7.0)
    expected = [np.mean(dose >= edge) for edge in dvh.dose_edges_gy]
    assert np.allclose(dvh.cumulative_volume_fraction, expected)
    assert dvh.dose_edges_gy[0] == 0.0 and dvh.dose_edges_gy[-1] >= 100.0
    assert dvh.volume_cm3 == pytest.approx(100 * 10.0 / 1000.0)
    assert np.all(np.diff(dvh.cumulative_volume_fraction) <= 0)
    # 7 Gy bins hold 7 voxels each (the first bin holds doses 1..6)
    assert dvh.differential_volume_fraction[0] == pytest.approx(0.06)
    assert dvh.differential_volume_fraction[1] == pytest.approx(0.07)
    assert dvh.differential_volume_fraction.sum() == pytest.approx(1.0)
    assert np.sum(dvh.differential_per_gy * dvh.bin_width_gy) == pytest.approx(1.0)
    assert dvh.cumulative_volume_cm3[0] == pytest.approx(1.0)
    assert dvh.name == "ramp" and dvh.to_dict()["volume_cm3"] == pytest.approx(1.0)


def test_default_bins_reach_the_maximum_and_doses_beyond_max_dose_are_excluded() -> None:
    dose = _ramp()
    dvh = dose_volume_histogram(dose, GRID, ALL)
    assert dvh.dose_edges_gy[-1] == pytest.approx(100.0) and dvh.dose_centres_gy.size == 1000
    capped = dose_volume_histogram(dose, GRID, ALL, max_dose_gy=50.0, bin_width_gy=1.0)
    assert capped.cumulative_volume_fraction[-1] == pytest.approx(0.51)  # 50..100 Gy
    assert capped.differential_volume_fraction.sum() == pytest.approx(0.49)


def test_histograms_of_several_structures_share_bins() -> None:
    dose = _ramp()
    low = np.zeros(GRID.shape, dtype=bool)
    low[:5] = True  # doses 1..50
    dvhs = dose_volume_histograms(dose, GRID, {"low": low, "all": ALL}, bin_width_gy=1.0)
    assert [d.name for d in dvhs] == ["low", "all"]
    assert np.array_equal(dvhs[0].dose_edges_gy, dvhs[1].dose_edges_gy)
    assert dvhs[0].cumulative_volume_fraction[-1] == 0.0


def test_structure_objects_with_mask_and_name_are_accepted() -> None:
    class Structure:
        name = "PTV"
        mask = ALL

    dvh = dose_volume_histogram(_ramp(), GRID, Structure())
    assert dvh.name == "PTV"
    assert d_at_volume(_ramp(), Structure(), 0.5) == 51.0


def test_inputs_are_not_modified() -> None:
    dose = _ramp()
    weights = np.full(GRID.shape, 0.5)
    dose_copy, weights_copy = dose.copy(), weights.copy()
    dose.flags.writeable = False
    dose_volume_histogram(dose, GRID, weights)
    d_at_volume(dose, weights, 0.9)
    assert np.array_equal(dose, dose_copy) and np.array_equal(weights, weights_copy)


def test_bad_input_is_refused() -> None:
    dose = _ramp()
    with pytest.raises(StructureError, match="empty"):
        d_at_volume(dose, np.zeros(GRID.shape, dtype=bool), 0.5)
    with pytest.raises(GridMismatchError, match="shape"):
        d_at_volume(dose, np.ones((3, 3, 3), dtype=bool), 0.5)
    with pytest.raises(GridMismatchError, match="shape"):
        dose_volume_histogram(np.ones((3, 3, 3)), GRID, ALL)
    nan_dose = dose.copy()
    nan_dose[0, 0, 0] = np.nan
    with pytest.raises(GridMismatchError, match="finite"):
        dose_volume_histogram(nan_dose, GRID, ALL)
    with pytest.raises(StructureError, match=r"\[0, 1\]"):
        mean_dose(dose, np.full(GRID.shape, 1.5))
    with pytest.raises(OutOfRangeError):
        d_at_volume(dose, ALL, 95.0)
    with pytest.raises(ConfigError):
        dose_volume_histogram(dose, GRID, ALL, bin_width_gy=0.0)
    with pytest.raises(ConfigError):
        dose_volume_histogram(dose, GRID, ALL, bin_width_gy=1e-9)
