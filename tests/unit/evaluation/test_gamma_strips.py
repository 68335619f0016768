"""The gamma kernel's points are dealt to threads in tasks (:mod:`ionbeam._strips`), each
point computed alone: 1, 2 and 5 threads give the same squared gammas bit for bit."""

from __future__ import annotations

import numba
import numpy as np

from ionbeam.evaluation._gamma_kernels import gamma_squared_search
from ionbeam.evaluation._gamma_table import search_table


def _gamma_sq(dose: np.ndarray, points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Global 3 %/3 mm (ΔD = 0.03) squared gamma on a 2 mm grid, 0.3 mm lattice."""
    table = search_table(0.3, 6.0, 9.0, (True, True, True))
    return gamma_squared_search(
        points, reference, np.full(len(reference), 1.0 / 0.03**2), dose, np.full(3, 2.0),
        table.offsets_mm, table.radius_mm, table.stop_radius_mm, table.earlier_neighbours,
        3.0, 0.3, np.ones(3),
    )  # fmt: skip


def test_gamma_is_the_same_on_1_2_and_5_threads(monkeypatch) -> None:
    """A noisy Gaussian dose against a noisier copy at 3 000 points (more than the
    kernel's 256-point tasks on 5 threads): identical squared gammas on 1, 2 and 5
    threads, all finite, some above 1 (failing) and some below; the dose against itself
    at its voxel centres: 0 everywhere."""
    rng = np.random.default_rng(9)
    x = np.linspace(-1.0, 1.0, 24)
    xx, yy, zz = np.meshgrid(x, x, x, indexing="ij")
    dose = np.exp(-3.0 * (xx**2 + yy**2 + zz**2)) + 0.02 * rng.normal(size=xx.shape)
    centres = np.argwhere(np.ones(dose.shape, bool)).astype(float)[::4][:3000]
    points = centres + rng.uniform(-0.3, 0.3, centres.shape)
    reference = dose[tuple(centres.astype(int).T)] + 0.05 * rng.normal(size=len(centres))
    results = []
    for n in (1, 2, 5):
        monkeypatch.setattr(numba, "get_num_threads", lambda n=n: n)
        results.append(_gamma_sq(dose, points, reference))
    for other in results[1:]:
        assert np.array_equal(results[0], other)
    assert np.all(np.isfinite(results[0]))
    assert 0 < np.count_nonzero(results[0] > 1.0) < len(points)
    itself = _gamma_sq(dose, centres, dose[tuple(centres.astype(int).T)])
    assert np.all(itself == 0.0)
