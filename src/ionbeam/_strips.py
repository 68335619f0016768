"""Strips of a serial numba kernel run on several threads (no numba parallel compile).

A numba kernel compiled with ``parallel=True`` pays numba's parallel pipeline on a cold start
for every ``prange`` loop, in proportion to the arrays the loop body reads (each is
passed to the outlined loop function): several seconds for a kernel that reads the dose
engine's tuples of arrays (``bench/numba_compile.py``). :func:`strips` runs instead a
plain ``nogil`` kernel whose first two arguments are its strip and the number of strips
(``strip``, ``n_strips``: it does its share of the items, every ``n_strips``-th from
``strip`` on or one contiguous block), one strip per thread, and returns when all are
done. Each item must be computed on its own (written at
its own place), so that nothing depends on the thread count.

The strip kernels are compiled as numba's parallel loop bodies are, with
``error_model="numpy"``, and those that allocate nothing without numba's reference
counting (``_nrt=False``): with it, every array handed to an inlined helper in the inner
loop costs an atomic increment and decrement, which made the forward dose 2.4× slower
than the ``prange`` kernel (``bench/numba_compile.py``: the same speed without).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import numba

__all__ = ["strip_kernel", "strips"]

_F = TypeVar("_F", bound=Callable[..., Any])


def strip_kernel(function: _F) -> _F:
    """``numba.njit`` for a strip kernel that allocates nothing: cached, ``nogil``, numpy's
    error model and no reference counting (see the module docstring)."""
    options: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy", "_nrt": False}
    return numba.njit(**options)(function)


@contextmanager
def strips(n_threads: int) -> Iterator[Callable[..., None]]:
    """A runner ``run(kernel, *args)`` that calls ``kernel(strip, n, *args)`` for strip =
    0 … n − 1 on n = ``n_threads`` threads (the calling thread does strip 0) and waits
    for all of them; an exception in any strip is raised after all have finished."""
    n = max(int(n_threads), 1)
    if n == 1:
        yield lambda kernel, *args: kernel(0, 1, *args)
        return
    with ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="ionbeam-strip") as pool:

        def run(kernel: Callable[..., Any], *args: Any) -> None:
            futures = [pool.submit(kernel, strip, n, *args) for strip in range(1, n)]
            try:
                kernel(0, n, *args)
            finally:
                for future in futures:
                    future.result()

        yield run
