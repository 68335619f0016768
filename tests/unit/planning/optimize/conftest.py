"""Small synthetic dose-influence matrices for the optimizer's unit tests.

A random sparse matrix (float32, like the dose engine's) on a tiny grid, with
α·D and √β·D companions of the same sparsity built from per-entry α and √β
(carbon-like values), so that every quantity can be checked against dense
numpy arithmetic on the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ionbeam.patient import Grid
from ionbeam.planning.dose_influence import DoseInfluence

GRID = Grid((6, 5, 4), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0))
N_SPOTS = 24


def make_influence(seed: int = 0, density: float = 0.3) -> DoseInfluence:
    """A random influence on GRID: dose ~ 1e-8 Gy per particle, α 0.3–0.9 Gy⁻¹,
    √β 0.15–0.25 Gy⁻¹ per entry; two beams of 12 spots."""
    rng = np.random.default_rng(seed)
    dense = rng.uniform(0.2, 1.0, (GRID.size, N_SPOTS)) * (
        rng.uniform(size=(GRID.size, N_SPOTS)) < density
    )
    dense[:, 0] = 0.5  # every voxel is reached by some spot
    dose = sp.csc_matrix(dense * 1e-8, dtype=np.float32)
    alpha = rng.uniform(0.3, 0.9, dose.nnz)
    sqrt_beta = rng.uniform(0.15, 0.25, dose.nnz)

    def companion(values: np.ndarray) -> sp.csc_matrix:
        data = (dose.data.astype(np.float64) * values).astype(np.float32)
        return sp.csc_matrix((data, dose.indices, dose.indptr), shape=dose.shape)

    return DoseInfluence(
        grid=GRID,
        dose=dose,
        beam_offsets=np.array([0, 12, 24]),
        alpha_dose=companion(alpha),
        sqrt_beta_dose=companion(sqrt_beta),
    )


def masks() -> dict[str, np.ndarray]:
    """Target: a block in the middle; OAR: next to it; Body: everything."""
    target = np.zeros(GRID.shape, dtype=bool)
    target[2:4, 1:4, 1:3] = True
    oar = np.zeros(GRID.shape, dtype=bool)
    oar[4:6, 1:4, 1:3] = True
    return {"Target": target, "OAR": oar, "Body": np.ones(GRID.shape, dtype=bool)}


@pytest.fixture
def influence() -> DoseInfluence:
    return make_influence()


@pytest.fixture
def structure_masks() -> dict[str, np.ndarray]:
    return masks()


@pytest.fixture
def dense_influence() -> DoseInfluence:
    """Every spot reaches most voxels (each beam alone can cover the target)."""
    return make_influence(seed=1, density=0.9)


@pytest.fixture
def influence_factory():
    """``make_influence`` itself, for tests that need several matrices (scenarios)."""
    return make_influence
