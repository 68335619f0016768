"""Progress bars (rich) for work that can take more than a couple of seconds.

Bars go to standard error and vanish when done. They are off when standard
error is not a terminal (tests, CI, pipes) unless ``IONBEAM_PROGRESS=1``;
``IONBEAM_PROGRESS=0`` turns them off everywhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

__all__ = ["make_progress", "progress_enabled", "track"]


def progress_enabled() -> bool:
    """Whether progress bars are shown (see module docstring)."""
    setting = os.environ.get("IONBEAM_PROGRESS", "").strip()
    if setting in {"0", "false", "no"}:
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


def track(items: Iterable[T], description: str, *, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar labelled ``description``."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
