"""Progress output for work that can take more than a couple of seconds.

* Bars (rich) go to standard error and vanish when done. They are off when
  standard error is not a terminal (tests, CI, pipes) unless ``IONBEAM_PROGRESS=1``;
  ``IONBEAM_PROGRESS=0`` turns them off everywhere. A bar shows a total (and an
  ETA) only when the total is known (:func:`make_progress`); work that stops when
  it converges counts its steps without one (:func:`make_counter`).
* Stage lines (:func:`stage_printer`): the commands that run for minutes print
  one line per finished stage on standard error, with the time since they
  started, whether or not it is a terminal (a log of a run in the background
  is not silent for minutes); ``IONBEAM_PROGRESS=0`` turns them off too.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

__all__ = ["make_counter", "make_progress", "progress_enabled", "stage_printer", "track"]

_OFF = {"0", "false", "no"}


def progress_enabled() -> bool:
    """Whether progress bars are shown (see module docstring)."""
    setting = os.environ.get("IONBEAM_PROGRESS", "").strip()
    if setting in _OFF:
        return False
    if setting in {"1", "true", "yes"}:
        return True
    return sys.stderr.isatty()


def make_progress() -> Progress:
    """A rich ``Progress`` with ionbeam's columns, disabled where bars are off."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not progress_enabled(),
    )


def make_counter() -> Progress:
    """A rich ``Progress`` that counts steps without a total (no bar to fill, no ETA):
    for iterations that stop when they converge. Disabled where bars are off."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("iteration {task.completed:.0f}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not progress_enabled(),
    )


def stage_printer(label: str = "") -> Callable[[str], None]:
    """A function printing ``ionbeam [  12 s] <label><text>`` on standard error (time
    since this call), one line per call, unless ``IONBEAM_PROGRESS=0``."""
    start = time.perf_counter()
    enabled = os.environ.get("IONBEAM_PROGRESS", "").strip() not in _OFF

    def report(text: str) -> None:
        if enabled:
            elapsed = time.perf_counter() - start
            print(f"ionbeam [{elapsed:5.0f} s] {label}{text}", file=sys.stderr, flush=True)

    return report


def track(items: Iterable[T], description: str, *, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar labelled ``description``."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
