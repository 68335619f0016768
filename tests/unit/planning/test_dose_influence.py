"""DoseInfluence products: the float32 matrix times float64 weights without a float64 copy."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ionbeam.patient.grid import Grid
from ionbeam.planning.dose_influence import DoseInfluence

GRID = Grid((6, 5, 4), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0))


def _influence() -> DoseInfluence:
    dose = sp.random(GRID.size, 30, density=0.2, format="csc", dtype=np.float32, random_state=4)
    let = dose.copy()
    let.data = (dose.data * 3.0).astype(np.float32)
    return DoseInfluence(GRID, dose, np.array([0, 30]), let_dose=let)


def test_products_equal_scipy_in_float64() -> None:
    """dose_gy and LET_d equal scipy's products with the matrix upcast to float64 (the
    same float32 entries, float64 sums: only the summation order may differ)."""
    influence = _influence()
    w = np.random.default_rng(1).uniform(0.0, 1e9, 30)
    w[[2, 7]] = 0.0
    expected = influence.dose.astype(np.float64) @ w
    np.testing.assert_allclose(influence.dose_gy(w).reshape(-1), expected, rtol=1e-12)
    let = influence.let_d_kev_um(w).reshape(-1)
    np.testing.assert_allclose(let[expected > 0], 3.0, rtol=1e-6)
    assert np.all(let[expected == 0] == 0.0)
