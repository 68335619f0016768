"""Gamma index: analytic cases (identical, uniform scaling, shifted linear ramps),
grids that differ, options, and refused input.

A linear dose is reproduced exactly by trilinear interpolation, and for a ramp
of gradient g shifted by d the gamma is known in closed form:
γ = d / sqrt(Δd² + (ΔD/g)²) (minimise (g(s − d)/ΔD)² + (s/Δd)² over s).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ionbeam.errors import ConfigError, GridMismatchError, OutOfRangeError
from ionbeam.evaluation import GammaOptions, gamma_index
from ionbeam.patient import Grid

REFERENCE = Grid((16, 10, 8), (2.0, 2.5, 3.0), (20.0, -10.0, 5.0))
# A coarser, offset evaluated grid that contains the reference grid with a margin.
EVALUATED = Grid((22, 14, 12), (3.0, 3.0, 3.5), (4.0, -25.0, -12.0))


def _ramp(grid: Grid, gradient_gy_mm: np.ndarray, shift_mm: float = 0.0) -> np.ndarray:
    """``1 + g · (p − shift · ĝ)``: a linear dose shifted by ``shift_mm`` along its gradient."""
    g = np.asarray(gradient_gy_mm, dtype=float)
    points = grid.voxel_centres_mm() - shift_mm * g / np.linalg.norm(g)
    return 1.0 + points @ g


def _interior(grid: Grid, margin_mm: float) -> np.ndarray:
    """Voxels at least ``margin_mm`` from the evaluated grid's outer voxel centres."""
    lo, hi = (
        EVALUATED.index_to_world(np.zeros(3)),
        EVALUATED.index_to_world(np.array(EVALUATED.shape) - 1),
    )
    centres = grid.voxel_centres_mm()
    return np.all((centres >= lo + margin_mm) & (centres <= hi - margin_mm), axis=-1)


def test_identical_doses_give_zero_gamma_and_full_pass() -> None:
    dose = _ramp(REFERENCE, np.array([0.02, 0.01, -0.01]))
    result = gamma_index(dose, REFERENCE, dose, REFERENCE)
    assert np.nanmax(result.gamma) == 0.0
    assert result.pass_rate_percent == 100.0
    expected = np.count_nonzero(dose >= 0.1 * dose.max())
    assert result.n_evaluated == expected == np.count_nonzero(np.isfinite(result.gamma))


@pytest.mark.parametrize("local", [False, True])
def test_uniform_two_percent_scaling_gives_two_thirds(local: bool) -> None:
    dose = np.full(REFERENCE.shape, 2.0)
    result = gamma_index(dose, REFERENCE, 1.02 * dose, REFERENCE, local=local)
    assert np.allclose(result.gamma, 2.0 / 3.0, atol=1e-12)
    half = gamma_index(dose, REFERENCE, 1.02 * dose, REFERENCE, normalisation_dose_gy=4.0)
    assert np.allclose(half.gamma, 1.0 / 3.0, atol=1e-12)


def test_same_linear_dose_on_another_grid_gives_zero() -> None:
    gradient = np.array([0.03, -0.02, 0.01])
    result = gamma_index(
        _ramp(REFERENCE, gradient), REFERENCE, _ramp(EVALUATED, gradient), EVALUATED
    )
    assert np.nanmax(result.gamma) < 1e-9


@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize(("gradient_gy_mm", "shift_mm"), [(0.2, 1.2), (0.05, 2.4), (1.0, 0.9)])
def test_shifted_ramp_along_an_axis_matches_the_closed_form(
    gradient_gy_mm: float, shift_mm: float, local: bool
) -> None:
    g = np.array([gradient_gy_mm, 0.0, 0.0])
    reference = _ramp(REFERENCE, g)
    result = gamma_index(
        reference, REFERENCE, _ramp(EVALUATED, g, shift_mm), EVALUATED, local=local,
        lower_percent_dose_cutoff=0.0,
    )  # fmt: skip
    tolerance = 0.03 * (reference if local else reference.max())
    expected = shift_mm / np.sqrt(3.0**2 + (tolerance / gradient_gy_mm) ** 2)
    expected = np.broadcast_to(expected, REFERENCE.shape)
    inside = _interior(REFERENCE, 3.0 * 2)
    # The minimum lies on a lattice edge along x, where the search is exact.
    assert np.allclose(result.gamma[inside], expected[inside], rtol=1e-9, atol=1e-9)


def test_shifted_ramp_in_an_oblique_direction_is_close_to_the_closed_form() -> None:
    g = 0.4 * np.array([0.6, 0.48, 0.64])  # |g| = 0.4 Gy/mm, not along a lattice axis
    reference = _ramp(REFERENCE, g)
    result = gamma_index(reference, REFERENCE, _ramp(EVALUATED, g, 1.5), EVALUATED)
    expected = 1.5 / np.sqrt(3.0**2 + (0.03 * reference.max() / 0.4) ** 2)
    inside = _interior(REFERENCE, 6.0) & np.isfinite(result.gamma)
    # Off the lattice axes the minimum lies between lattice edges; the Gauss–Newton
    # refinement is exact for a linear dose.
    error = result.gamma[inside] - expected
    assert np.abs(error).max() < 1e-9


def test_steep_gradient_crossing_between_lattice_points_is_found() -> None:
    """At 1 Gy/mm with ΔD = 0.03 × max, the isodose crossing of a 0.1 mm shift lies
    between lattice points 0.3 mm apart; point sampling would report γ ≈ 0.9."""
    g = np.array([0.0, 0.0, 1.0])
    reference = _ramp(REFERENCE, g)
    result = gamma_index(reference, REFERENCE, _ramp(EVALUATED, g, 0.1), EVALUATED)
    expected = 0.1 / np.sqrt(9.0 + (0.03 * reference.max()) ** 2)
    inside = _interior(REFERENCE, 3.0) & np.isfinite(result.gamma)
    assert np.allclose(result.gamma[inside], expected, rtol=1e-9)


def test_single_slice_doses_give_a_two_dimensional_gamma() -> None:
    plane = Grid((30, 20, 1), (1.0, 1.0, 3.0), (0.0, 0.0, 7.5))
    g = np.array([0.5, 0.0, 0.0])
    result = gamma_index(_ramp(plane, g), plane, _ramp(plane, g, 1.5), plane)
    x = plane.axes_mm()[0]
    inside = (x > 6.0) & (x < 22.0)
    expected = 1.5 / np.sqrt(9.0 + (0.03 * _ramp(plane, g).max() / 0.5) ** 2)
    assert np.allclose(result.gamma[inside], expected, rtol=1e-9)
    with pytest.raises(GridMismatchError, match="single slice"):
        gamma_index(np.ones(REFERENCE.shape), REFERENCE, _ramp(plane, g), plane)


def test_max_gamma_caps_values_and_limits_the_search() -> None:
    dose = np.full(REFERENCE.shape, 2.0)
    result = gamma_index(dose, REFERENCE, 1.5 * dose, REFERENCE, max_gamma=2.0)
    assert np.allclose(result.gamma, 2.0) and result.pass_rate_percent == 0.0
    far = Grid(REFERENCE.shape, REFERENCE.spacing_mm, (500.0, 0.0, 0.0))
    missing = gamma_index(dose, REFERENCE, dose, far, max_gamma=2.0)
    assert np.all(np.isnan(missing.gamma)) and missing.n_not_covered == REFERENCE.size
    assert missing.n_evaluated == 0


def test_unbounded_search_reaches_an_evaluated_grid_further_away() -> None:
    dose = np.full(REFERENCE.shape, 2.0)
    # reference voxel centres span x = 20..50 mm; the evaluated ones start at 53 mm
    beside = Grid(REFERENCE.shape, REFERENCE.spacing_mm, (53.0, -10.0, 5.0))
    result = gamma_index(dose, REFERENCE, dose, beside)
    assert np.allclose(result.gamma[-1], 1.0)  # 3 mm: on the fine lattice (0.3 mm)
    # 33 mm: beyond Δd the lattice pitch doubles per shell (4.8 mm at 24–48 mm)
    assert np.all((result.gamma[0] >= 11.0) & (result.gamma[0] <= 11.0 + 4.8 / 3.0))
    assert result.n_not_covered == 0


def test_cutoff_selects_the_evaluated_voxels() -> None:
    dose = _ramp(REFERENCE, np.array([0.1, 0.0, 0.0]))
    result = gamma_index(dose, REFERENCE, dose, REFERENCE, lower_percent_dose_cutoff=50.0)
    assert np.array_equal(np.isfinite(result.gamma), dose >= 0.5 * dose.max())


def test_inputs_are_unchanged_and_results_reproducible() -> None:
    rng = np.random.default_rng(0)
    reference = rng.uniform(1.0, 2.0, REFERENCE.shape)
    evaluated = rng.uniform(1.0, 2.0, EVALUATED.shape)
    copies = reference.copy(), evaluated.copy()
    first = gamma_index(reference, REFERENCE, evaluated, EVALUATED, local=True)
    second = gamma_index(reference, REFERENCE, evaluated, EVALUATED, local=True)
    assert np.array_equal(reference, copies[0]) and np.array_equal(evaluated, copies[1])
    assert np.array_equal(first.gamma, second.gamma, equal_nan=True)
    assert not first.gamma.flags.writeable
    summary = json.loads(json.dumps(first.to_dict(), allow_nan=False))
    assert summary["options"]["local"] is True
    assert summary["pass_rate_percent"] == pytest.approx(first.pass_rate_percent)


@pytest.mark.parametrize(
    "options",
    [
        {"dose_percent_threshold": -3.0},
        {"distance_mm_threshold": 0.0},
        {"distance_mm_threshold": float("nan")},
        {"lower_percent_dose_cutoff": 120.0},
        {"interp_fraction": 0},
        {"interp_fraction": 2.5},
        {"max_gamma": -1.0},
        {"normalisation_dose_gy": 0.0},
    ],
)
def test_bad_options_are_refused(options: dict) -> None:
    with pytest.raises(OutOfRangeError):
        GammaOptions(**options)
    dose = np.ones(REFERENCE.shape)
    with pytest.raises(OutOfRangeError):
        gamma_index(dose, REFERENCE, dose, REFERENCE, **options)


def test_bad_doses_are_refused() -> None:
    dose = np.ones(REFERENCE.shape)
    bad = dose.copy()
    bad[3, 3, 3] = np.nan
    with pytest.raises(GridMismatchError, match="finite"):
        gamma_index(bad, REFERENCE, dose, REFERENCE)
    with pytest.raises(GridMismatchError, match="finite"):
        gamma_index(dose, REFERENCE, bad, REFERENCE)
    with pytest.raises(GridMismatchError, match="shape"):
        gamma_index(dose, REFERENCE, dose, EVALUATED)
    with pytest.raises(ConfigError, match="no positive"):
        gamma_index(np.zeros(REFERENCE.shape), REFERENCE, dose, REFERENCE)
    with pytest.raises(ConfigError, match="cut-off"):
        gamma_index(dose, REFERENCE, dose, REFERENCE, normalisation_dose_gy=100.0)
