"""Printing helpers shared by the sub-commands (JSON and rich tables)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

__all__ = ["print_json", "print_table", "save_figure", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays (and nested containers) to JSON-ready Python values.

    Non-finite floats become ``None`` so that the output is strict JSON.
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


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
