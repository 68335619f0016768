"""The layer-by-layer influence kernels give the spot-by-spot kernels' matrix, bit for bit.

:mod:`ionbeam.planning._layer_kernels` computes each voxel's depth part (WEPL span, mean
IDD, halo share, LET, α, √β, σ_air²) once per energy layer instead of once per spot
(issue 11: the carbon dose-influence matrix's time). It must not change a single number:
``count_entries`` / ``fill_entries`` in :mod:`ionbeam.planning._dose_kernels` stay as the
reference, and every index and value must be equal (no tolerance), on a heterogeneous
phantom (bone and lung slabs, so that voxels' WEPL spans differ from their length), with
biology tables (α, √β for two tissues), a range shifter and voxels whose span misses the
table (beyond the range).
"""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.planning import _dose_kernels as reference
from ionbeam.planning import _layer_kernels as layered


def _fill(kernel, s, indptr, n_sigma, with_let, with_bio, *n_threads):
    nnz = int(indptr[-1])
    outputs = (np.empty(nnz, np.int32), *(np.empty(nnz, np.float32) for _ in range(4)))
    shares = (np.empty(0, np.uint16),) if n_threads else ()  # the layer kernel's halo shares
    kernel(
        indptr, s.spots, s.voxels, s.cells, s.rays, s.model, s.average, n_sigma, with_let,
        with_bio, *outputs, *shares, *n_threads,
    )  # fmt: skip
    return outputs


@pytest.mark.parametrize(
    ("gantry_deg", "range_shifter_mm", "n_sigma", "n_threads"),
    [(0.0, 0.0, 3.0, 1), (35.0, 30.0, 2.5, 5)],
)
def test_layer_kernels_equal_spot_kernels_bit_for_bit(
    carbon, slab_setup, gantry_deg: float, range_shifter_mm: float, n_sigma: float, n_threads: int
) -> None:
    """Counts, row indices, dose, LET×dose, α×dose and √β×dose identical (array_equal),
    however the work is dealt out (``n_threads``, scheduling only)."""
    s = slab_setup(carbon, gantry_deg=gantry_deg, range_shifter_mm=range_shifter_mm)
    args = (s.spots, s.voxels, s.cells, s.rays, s.model, s.average, n_sigma)
    counts = layered.count_layers(*args, n_threads)
    expected_counts = reference.count_entries(*args)
    np.testing.assert_array_equal(counts, expected_counts)
    assert counts.sum() > 1000 and counts.min() > 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    got = _fill(layered.fill_layers, s, indptr, n_sigma, True, True, n_threads)
    want = _fill(reference.fill_entries, s, indptr, n_sigma, True, True)
    for name, a, b in zip(("index", "dose", "let", "alpha", "sqrt_beta"), got, want, strict=True):
        assert np.array_equal(a, b), name
    assert np.all(got[1] > 0.0) and np.all(got[3] > 0.0)


def test_layer_kernels_without_let_or_biology_leave_those_outputs_alone(carbon, slab_setup) -> None:
    """with_let / with_bio False: the dose still equals the reference's and the LET, α and
    √β outputs are not written (a sentinel survives)."""
    s = slab_setup(carbon, gantry_deg=0.0)
    args = (s.spots, s.voxels, s.cells, s.rays, s.model, s.average, 3.0)
    counts = layered.count_layers(*args, 2)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    nnz = int(indptr[-1])
    index, dose = np.empty(nnz, np.int32), np.empty(nnz, np.float32)
    sentinel = np.full(nnz, -7.0, np.float32)
    let, alpha, beta = sentinel.copy(), sentinel.copy(), sentinel.copy()
    layered.fill_layers(indptr, *args, False, False, index, dose, let, alpha, beta,
                        np.empty(0, np.uint16), 2)  # fmt: skip
    want = _fill(reference.fill_entries, s, indptr, 3.0, False, False)
    assert np.array_equal(index, want[0]) and np.array_equal(dose, want[1])
    assert np.all(let == -7.0) and np.all(alpha == -7.0) and np.all(beta == -7.0)
