"""The thread runner of the serial kernels (:mod:`ionbeam.planning._strips`)."""

from __future__ import annotations

import threading

import numba
import numpy as np
import pytest

from ionbeam.planning._strips import strips


@numba.njit(nogil=True)
def _fill_strip(strip, n_strips, out, value):
    for i in range(strip, out.size, n_strips):
        out[i] = value + i


@pytest.mark.parametrize("n_threads", [0, 1, 2, 5])
def test_every_item_is_done_once_whatever_the_threads(n_threads: int) -> None:
    """Each strip runs exactly once: every item written, by the values it alone computes."""
    out = np.full(23, -1.0)
    with strips(n_threads) as run:
        run(_fill_strip, out, 10.0)
        run(_fill_strip, out, 100.0)  # the runner is reused within its block
    np.testing.assert_array_equal(out, 100.0 + np.arange(23))


def test_strips_run_on_several_threads_and_wait_for_all() -> None:
    """n threads: strip 0 in the calling thread, the others on their own threads, all
    finished when ``run`` returns."""
    seen: dict[int, int] = {}

    def kernel(strip: int, n_strips: int) -> None:
        seen[strip] = threading.get_ident()

    with strips(3) as run:
        run(kernel)
    assert sorted(seen) == [0, 1, 2]
    assert seen[0] == threading.get_ident()
    assert len(set(seen.values())) >= 2


def test_an_error_in_a_strip_is_raised() -> None:
    """An exception in a worker's strip reaches the caller (nothing is silently lost)."""

    def kernel(strip: int, n_strips: int) -> None:
        if strip == 1:
            raise ValueError("strip 1 failed")

    with pytest.raises(ValueError, match="strip 1 failed"), strips(2) as run:
        run(kernel)
