"""Quantities: values against dense LQ arithmetic, problem gradients vs finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError, GridMismatchError
from ionbeam.physics.radiobiology import rbe_weighted_dose
from ionbeam.planning.optimize import (
    BiologicalEffect,
    ConstantRBEDose,
    MaxDVH,
    MeanDose,
    MinDVH,
    PhysicalDose,
    RBEWeightedDose,
    SquaredDeviation,
    SquaredOverdose,
    SquaredUnderdose,
    build_problem,
    restrict_influence,
)

#: The synthetic influence's grid (conftest.GRID).
SHAPE = (6, 5, 4)
SIZE = 6 * 5 * 4


def _tissue_maps() -> tuple[np.ndarray, np.ndarray]:
    """Tumour (α/β 10) in the target block, late-responding tissue (α/β 2) elsewhere."""
    alpha = np.full(SHAPE, 0.1)
    beta = np.full(SHAPE, 0.05)
    alpha[2:4, 1:4, 1:3], beta[2:4, 1:4, 1:3] = 0.3, 0.03
    return alpha, beta


ALPHA_X, BETA_X = _tissue_maps()
QUANTITIES = [
    PhysicalDose(),
    ConstantRBEDose(1.1),
    RBEWeightedDose(ALPHA_X, BETA_X),
    BiologicalEffect(ALPHA_X, BETA_X),
]
OBJECTIVES = {
    "Target": [SquaredDeviation(2.0, 1000.0), MinDVH(1.95, 0.95, 50.0)],
    "OAR": [SquaredOverdose(1.0, 300.0), MaxDVH(0.8, 0.3, 30.0), MeanDose(0.5, 10.0)],
    "Body": SquaredUnderdose(0.1, 5.0),
}


def test_lq_quantities_equal_dense_arithmetic(influence, structure_masks) -> None:
    """E = (αD)w + ((√βD)w)², D_RBE from the library's LQ function, on every voxel."""
    assert influence.grid.shape == SHAPE
    voxels = np.arange(SIZE)
    rows = restrict_influence(influence, voxels, matrices=("alpha_dose", "sqrt_beta_dose"))
    w = np.random.default_rng(2).uniform(1e7, 5e7, influence.n_spots)
    a = influence.alpha_dose.toarray().astype(np.float64) @ w
    b = influence.sqrt_beta_dose.toarray().astype(np.float64) @ w
    effect = a + b * b
    expected = rbe_weighted_dose(effect, ALPHA_X.reshape(-1), BETA_X.reshape(-1))
    rbe = RBEWeightedDose(ALPHA_X, BETA_X).bind(rows, grid_size=SIZE).forward(w)[0]
    bio = BiologicalEffect(ALPHA_X, BETA_X).bind(rows, grid_size=SIZE).forward(w)[0]
    np.testing.assert_allclose(rbe, expected, rtol=1e-12)
    np.testing.assert_allclose(bio, effect, rtol=1e-12)
    # the RBE of this carbon-like field is above 1 in the late-responding tissue
    dose = influence.dose.toarray().astype(np.float64) @ w
    assert np.all(rbe[dose > 0] / dose[dose > 0] > 1.0)


@pytest.mark.parametrize("quantity", QUANTITIES, ids=lambda q: q.name)
def test_problem_gradient_matches_central_differences(influence, structure_masks, quantity):
    """Issue 5: ∂F/∂w (sparse products, chain rule through the LQ model) equals central
    differences of F within 1e-4 relative. Weights are near the optimum's scale, where
    the piecewise objectives are smooth for steps of 1e-6 of a weight."""
    problem = build_problem(influence, structure_masks, OBJECTIVES, quantity=quantity)
    rng = np.random.default_rng(5)
    x = rng.uniform(0.5, 1.5, problem.n_spots)
    value, gradient = problem.value_and_gradient(x)
    h = 1e-6
    numeric = np.empty(problem.n_spots)
    for j in range(problem.n_spots):
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        numeric[j] = (problem.value_and_gradient(up)[0] - problem.value_and_gradient(down)[0]) / (
            2 * h
        )
    assert value > 0
    np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-4 * np.abs(numeric).max())


def test_effect_objectives_are_converted_with_the_structure_tissue(influence, structure_masks):
    """For effect optimization a dose level d becomes α_x d + β_x d² of the tissue of
    the structure: tumour in the target, late-responding in the OAR."""
    problem = build_problem(influence, structure_masks, OBJECTIVES,
                            quantity=BiologicalEffect(ALPHA_X, BETA_X))  # fmt: skip
    first = {}
    for term in problem.terms:
        first.setdefault(term.structure, term.objective)
    assert first["Target"].dose_gy == pytest.approx(0.3 * 2.0 + 0.03 * 4.0)
    assert first["OAR"].max_dose_gy == pytest.approx(0.1 * 1.0 + 0.05 * 1.0)


def test_bad_tissue_parameters_and_rbe_raise(influence, structure_masks) -> None:
    with pytest.raises(ConfigError, match="alpha_x"):
        build_problem(influence, structure_masks, OBJECTIVES,
                      quantity=RBEWeightedDose(np.zeros(SHAPE), BETA_X))  # fmt: skip
    with pytest.raises(GridMismatchError, match="one value per dose-grid voxel"):
        build_problem(influence, structure_masks, OBJECTIVES,
                      quantity=RBEWeightedDose(np.ones(7), BETA_X))  # fmt: skip
    with pytest.raises(ConfigError, match="constant RBE"):
        ConstantRBEDose(float("nan"))
