"""The threaded matrix-free forward dose is the matrix times the weights, whatever the
thread count.

:func:`ionbeam.planning._forward_kernels.forward_dose` sums each spot's weighted
dose without storing the matrix. On a heterogeneous phantom (bone and lung slabs), with
biology tables for two tissues, a range shifter, spots of zero weight and the core and
halo parts apart (``core``, ``halo``), it must equal the independent reference, the CSC
matrix of :func:`ionbeam.planning._dose_kernels.fill_entries` times the weights (float32
entries: within 1e-5 of the largest value), and give the same numbers bit for bit on one
thread and on two (the chunks summed in the same order).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse

from ionbeam.planning import _dose_kernels as reference
from ionbeam.planning import _forward_kernels as threaded


@pytest.fixture(scope="module")
def setup(carbon, slab_setup):
    s = slab_setup(carbon, gantry_deg=35.0, range_shifter_mm=30.0)
    return s, int(s.voxels[0].max()) + 1


def _weights(s) -> np.ndarray:
    weights = np.random.default_rng(3).uniform(0.5, 2.0, s.spots[0].size)
    weights[::5] = 0.0
    return weights


def _forward(s, n_out, weights, n_chunks, core, halo, with_bio, n_threads):
    before = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        return threaded.forward_dose(
            weights, n_out, s.spots, s.voxels, s.cells, s.rays, s.model, s.average, 3.0,
            n_chunks, core, halo, with_bio,
        )  # fmt: skip
    finally:
        numba.set_num_threads(before)


def _matrix_products(s, n_out, weights) -> list[np.ndarray]:
    """Dose, LET×dose, α×dose and √β×dose of the spot-by-spot CSC matrix times ``weights``."""
    args = (s.spots, s.voxels, s.cells, s.rays, s.model, s.average, 3.0)
    counts = reference.count_entries(*args)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    nnz = int(indptr[-1])
    index = np.empty(nnz, np.int32)
    values = [np.empty(nnz, np.float32) for _ in range(4)]
    reference.fill_entries(indptr, *args, True, True, index, *values)
    shape = (n_out, counts.size)
    return [scipy.sparse.csc_matrix((v, index, indptr), shape=shape) @ weights for v in values]


@pytest.mark.parametrize(("n_chunks", "with_bio"), [(4, True), (1, True), (7, False)])
def test_threaded_forward_dose_equals_matrix_times_weights(
    setup, n_chunks: int, with_bio: bool
) -> None:
    """Dose, LET×dose, α×dose and √β×dose within 1e-5 of the largest matrix product
    (float32 matrix entries, relative rounding ~6e-8 each); α, √β zero without biology."""
    s, n_out = setup
    weights = _weights(s)
    got = _forward(s, n_out, weights, n_chunks, 1.0, 1.0, with_bio, 2)
    want = _matrix_products(s, n_out, weights)
    names = ("dose", "let", "alpha", "sqrt_beta")[: 4 if with_bio else 2]
    for name, a, b in zip(names, got, want, strict=False):
        assert b.max() > 0.0, name
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * b.max(), err_msg=name)
    assert got[0].max() > 0.0 and np.count_nonzero(got[0]) > 1000
    assert (np.count_nonzero(got[2]) > 0) == with_bio


def test_core_and_halo_parts_sum_to_the_whole(setup) -> None:
    """core = 1, halo = 0 plus core = 0, halo = 1 equals the whole (1, 1) within 1e-12 of
    its maximum (the lateral profile is linear in the two scales); both parts non-zero."""
    s, n_out = setup
    weights = _weights(s)
    whole = _forward(s, n_out, weights, 3, 1.0, 1.0, True, 2)
    core = _forward(s, n_out, weights, 3, 1.0, 0.0, True, 2)
    halo = _forward(s, n_out, weights, 3, 0.0, 1.0, True, 2)
    for a, b, c in zip(whole, core, halo, strict=True):
        assert b.max() > 0.0 and c.max() > 0.0
        np.testing.assert_allclose(b + c, a, rtol=0, atol=1e-12 * a.max())


@pytest.mark.parametrize(
    ("n_chunks", "core", "halo", "with_bio"),
    [(4, 1.0, 1.0, True), (7, 1.0, 0.0, False), (3, 0.0, 1.0, True)],
)
def test_threaded_forward_dose_does_not_depend_on_the_thread_count(
    setup, n_chunks: int, core: float, halo: float, with_bio: bool
) -> None:
    """One thread and two give identical (array_equal) dose, LET×dose, α×dose, √β×dose."""
    s, n_out = setup
    weights = _weights(s)
    one = _forward(s, n_out, weights, n_chunks, core, halo, with_bio, 1)
    two = _forward(s, n_out, weights, n_chunks, core, halo, with_bio, 2)
    for name, a, b in zip(("dose", "let", "alpha", "sqrt_beta"), one, two, strict=True):
        assert np.array_equal(a, b), name
    assert one[0].max() > 0.0
