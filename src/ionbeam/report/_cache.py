"""Work that several reports of one patient share (:class:`ReportCache`).

``ionbeam demo`` writes a report per plan and then a comparison of both plans: the
comparison shows each plan's LET_d figure and spot maps exactly as its own report
does, and its viewer holds the same CT, structures and plan volumes. A
:class:`ReportCache` handed to each of these reports makes every such piece once (the
PNG of a figure, an encoded volume, the structures' occupancy of a dose grid, a set of
DVHs) and gives the same bytes to the next report, which is therefore the report it
would be without the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["ReportCache"]

_T = TypeVar("_T")


class ReportCache:
    """What one report made that another report of the same patient would make again.

    Create one for a batch of reports of one patient (e.g. each plan's report and
    their comparison), pass it as ``cache=`` to each, and drop it afterwards. Entries
    are keyed by the identity of the patient, results, plans and arrays they were made
    from (the cache holds a reference to each, so that an identity is never reused)
    and by every option they depend on: the patient and the results must not change
    while the cache is in use (a :class:`~ionbeam.report.PlanResult` holds read-only
    copies of its volumes)."""

    def __init__(self) -> None:
        self._values: dict[tuple[Hashable, ...], Any] = {}
        self._held: dict[int, object] = {}

    def __len__(self) -> int:
        """The number of pieces made so far."""
        return len(self._values)

    def identity(self, thing: object) -> int:
        """A key part standing for ``thing`` itself (held until the cache is dropped)."""
        self._held.setdefault(id(thing), thing)
        return id(thing)

    def get(self, key: tuple[Hashable, ...], make: Callable[[], _T]) -> _T:
        """The value made for ``key`` before, else ``make()`` (kept for the next call)."""
        if key not in self._values:
            self._values[key] = make()
        return self._values[key]


def cached(
    cache: ReportCache | None, key: Callable[[ReportCache], tuple[Hashable, ...]] | None,
    make: Callable[[], _T],
) -> _T:  # fmt: skip
    """``make()``, through ``cache`` under ``key(cache)`` when both are given."""
    if cache is None or key is None:
        return make()
    return cache.get(key(cache), make)
