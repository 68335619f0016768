"""Printing helpers shared by the sub-commands (JSON and rich tables)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from ionbeam.workflow.outputs import to_jsonable

__all__ = ["print_json", "print_table", "save_figure", "to_jsonable"]


def print_json(value: Any) -> None:
    """Print ``value`` as indented strict JSON on standard output."""
    print(json.dumps(to_jsonable(value), indent=2, allow_nan=False))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a rich table on standard output."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    Console().print(table)


def save_figure(fig: Any, path: Any, *, dpi: int = 110) -> None:
    """Save a matplotlib figure atomically (format from the suffix; PNG by default)."""
    from pathlib import Path

    from ionbeam._atomic import write_atomically

    path = Path(path)
    kind = path.suffix[1:].lower() or "png"
    write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=kind))
