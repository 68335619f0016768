"""The halo's strip kernels (:mod:`ionbeam.planning._halo_kernels`) give the same numbers
whatever the number of threads, and the numbers they should.

The kernels deal their voxels, chunks, levels or rows out to threads
(:mod:`ionbeam.planning._strips`); each item is computed alone and written at its own
place, so 1, 2 and 5 threads must give the same arrays bit for bit (``array_equal``, no
tolerance), on a carbon beam with biology for two tissues through bone and lung (the
halo's two Gaussians, LET, α and √β), by the default correction (``gather_layers``) and
the reference one (``halo_widths``, ``gather_halo``), both with ``filtered_maps``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from ionbeam.planning import _halo_kernels as kernels
from ionbeam.planning import halo as halo_module
from ionbeam.planning.halo import HaloTerms, beam_halo

THREADS = (1, 2, 5)


def _with_threads(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Every halo kernel on ``n`` threads (at most one per item), whatever numba's count."""
    monkeypatch.setattr(kernels, "_threads", lambda _n, items: max(1, min(n, items)))


def _halo(setup, weights: np.ndarray, *, reference: bool) -> HaloTerms:
    n = int(setup.voxels[0].max()) + 1
    terms = HaloTerms(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n))
    beam_halo(setup, weights, terms, with_let=True, with_bio=True, reference=reference)
    return terms


@pytest.mark.parametrize("reference", [False, True])
def test_the_halo_is_the_same_on_1_2_and_5_threads(
    carbon, slab_setup, monkeypatch, reference: bool
) -> None:
    """A beam's halo (dose, LET×dose, α×dose, √β×dose) with the kernels on 1, 2 and 5
    threads: identical arrays, none of them zero."""
    setup = slab_setup(carbon, gantry_deg=35.0, range_shifter_mm=30.0)
    weights = np.linspace(0.5, 1.5, setup.spots[0].size) * 1e6
    results = []
    for n in THREADS:
        _with_threads(monkeypatch, n)
        results.append(_halo(setup, weights, reference=reference))
    first = results[0]
    for name in ("dose", "let_dose", "alpha_dose", "sqrt_beta_dose"):
        assert np.count_nonzero(getattr(first, name)) > 100, name
        for other in results[1:]:
            assert np.array_equal(getattr(first, name), getattr(other, name)), name


def test_halo_widths_ranges_are_the_extremes_of_its_widths(carbon, slab_setup) -> None:
    """``halo_widths``' per-part ranges are the smallest and largest non-zero σ it returns
    (chunks' extremes combined), and σ is the same on 1, 2 and 5 threads."""
    setup = slab_setup(carbon, gantry_deg=0.0)
    weights = np.ones(setup.spots[0].size)
    part_sigma2 = halo_module._halo_part_tables(setup)[0]
    w0, dw = setup.rays[2], setup.rays[3]
    n_parts = part_sigma2.shape[0]
    e, _, _, mcs2_w, lever2_w = next(iter(halo_module._weighted_layers(setup, weights, n_parts)))
    args = (int(e), setup.voxels, setup.model, setup.average, mcs2_w, float(w0), float(dw),
            part_sigma2, lever2_w)  # fmt: skip
    sigma, ranges = kernels.halo_widths(*args, n_threads=1)
    assert sigma.shape == (part_sigma2.shape[0], setup.voxels[0].size)
    for p in range(sigma.shape[0]):
        reached = sigma[p][sigma[p] > 0.0]
        assert reached.size > 100
        assert ranges[p, 0] == reached.min() and ranges[p, 1] == reached.max()
    for n in THREADS[1:]:
        other, other_ranges = kernels.halo_widths(*args, n_threads=n)
        assert np.array_equal(sigma, other) and np.array_equal(ranges, other_ranges)


def test_the_maps_are_the_same_on_1_2_and_5_threads() -> None:
    """A layer's filtered maps (levels of different sizes: the rows of all levels dealt
    out together) on 1, 2 and 5 threads: identical; each map carries the layer's
    particles (Σ map · pixel² within 1e-9 of Σ weights: the Gaussians are normalised)."""
    rng = np.random.default_rng(3)
    u, v = rng.uniform(-30.0, 30.0, 60), rng.uniform(-20.0, 25.0, 60)
    weights = rng.uniform(1e6, 3e6, 60)
    levels = halo_module._levels(2.5, 24.0)
    maps = [halo_module._layer_maps(u, v, weights, levels)]
    _, start, origin_u, origin_v, pixel, nu, nv = maps[0]
    taps = [
        halo_module._gaussian_taps(float(s), float(p)) for s, p in zip(levels, pixel, strict=True)
    ]
    tap_start = np.concatenate([[0], np.cumsum([t.size for t in taps])]).astype(np.int64)
    for n in THREADS:
        got = kernels.filtered_maps(u, v, weights, origin_u, origin_v, pixel, nu, nv, start,
                                    np.concatenate(taps), tap_start, n_threads=n)  # fmt: skip
        assert np.array_equal(got, maps[0][0]), n
    for level in range(levels.size):
        total = maps[0][0][start[level] : start[level + 1]].sum() * pixel[level] ** 2
        assert abs(total - weights.sum()) < 1e-9 * weights.sum()


def test_disc_sums_are_the_weighted_shares_of_the_matrix_on_any_threads() -> None:
    """``disc_sums`` of a random matrix: Σ_s w_s (share/65535) M[:, s] per quantity, within
    1e-12 of its largest value against scipy's product, and bit for bit the same on 1, 2
    and 5 threads (the chunks fixed by ``bounds``)."""
    rng = np.random.default_rng(11)
    n_grid, n_cols, first = 400, 30, 5
    matrix = scipy.sparse.random(n_grid, first + n_cols, density=0.2, format="csc",
                                 random_state=4, dtype=np.float32)  # fmt: skip
    matrix.sort_indices()
    nnz = matrix.nnz
    share = rng.integers(0, 65536, nnz).astype(np.uint16)
    values = [matrix.data * rng.uniform(0.5, 2.0, nnz).astype(np.float32) for _ in range(4)]
    voxels = np.flatnonzero(rng.uniform(size=n_grid) < 0.9)
    keep = np.isin(matrix.indices, voxels)
    share[~keep] = 0  # entries outside the beam's voxels carry no share
    local = np.full(n_grid, -1, dtype=np.int32)
    local[voxels] = np.arange(voxels.size, dtype=np.int32)
    w = rng.uniform(0.0, 2.0, n_cols)
    w[::7] = 0.0
    bounds = np.array([0, 7, 8, 19, n_cols], dtype=np.int64)
    results = []
    for n in THREADS:
        results.append(kernels.disc_sums(
            matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), share, *values, w,
            first, local, voxels.size, bounds, True, True, n_threads=n,
        ))  # fmt: skip
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert np.array_equal(a, b)
    for q in range(4):
        shares = scipy.sparse.csc_matrix((values[q].astype(np.float64) * share / 65535.0,
                                          matrix.indices, matrix.indptr), matrix.shape)  # fmt: skip
        expected = (shares[:, first:] @ w)[voxels]
        assert np.abs(expected).max() > 0.0
        np.testing.assert_allclose(results[0][q], expected, rtol=0,
                                   atol=1e-12 * np.abs(expected).max())  # fmt: skip
