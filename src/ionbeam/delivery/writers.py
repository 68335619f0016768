"""Writing a delivery record: CSV (standard library), JSON, Parquet (when pyarrow is installed).

A record becomes three tables, ``spots``, ``spills`` and ``layers`` (one
file each per format), plus ``summary.json`` with the totals, the fields
and the interlock. Every file is first written under a temporary name in
the target folder and renamed into place only when all of them are
complete, so an error never leaves a half-written record behind.
Non-finite numbers are empty cells in CSV and ``null`` in JSON.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ionbeam._atomic import file_mode
from ionbeam.delivery.record import DeliveryRecord
from ionbeam.errors import ConfigError, UnknownNameError

__all__ = ["FORMATS", "record_tables", "record_to_dict", "write_files_atomically", "write_record"]

FORMATS = ("csv", "json", "parquet")


def record_tables(record: DeliveryRecord) -> dict[str, dict[str, np.ndarray]]:
    """The record's tables by name: ``spots``, ``spills``, ``layers`` (columns by name)."""
    return {
        "spots": record.spots.columns(),
        "spills": record.spills.columns(),
        "layers": record.layers.columns(),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def record_to_dict(record: DeliveryRecord, *, tables: bool = True) -> dict[str, Any]:
    """The record as JSON-ready Python values: summary, options and (optionally) the tables."""
    out: dict[str, Any] = {
        "format": "ionbeam-delivery-record",
        "format_version": 1,
        "summary": _plain(record.summary()),
        "options": _plain(asdict(record.options)),
    }
    if tables:
        out["tables"] = _plain(record_tables(record))
    return out


def _csv_text(columns: Mapping[str, np.ndarray]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(columns))
    cells = [_plain(np.asarray(values)) for values in columns.values()]
    for row in zip(*cells, strict=True):
        writer.writerow("" if v is None else v for v in row)
    return buffer.getvalue()


def _parquet_writer(columns: Mapping[str, np.ndarray]) -> Callable[[Path], None]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            "Parquet output needs pyarrow, which is not installed; choose csv or json "
            "(or pip install pyarrow)"
        ) from None
    table = pa.table({name: np.asarray(values) for name, values in columns.items()})
    return lambda path: pq.write_table(table, path)


def write_files_atomically(
    folder: Path, writers: Iterable[tuple[str, Callable[[Path], None]]]
) -> list[Path]:
    """Run each ``(name, write(path))`` into a temporary file in ``folder``, then rename all
    into place; on any error remove the temporary files and re-raise."""
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, write in writers:
            target = folder / name
            fd, name_tmp = tempfile.mkstemp(
                dir=folder, prefix=f".{target.stem}-", suffix=target.suffix
            )
            os.close(fd)
            staged.append((Path(name_tmp), target))
            write(Path(name_tmp))
            os.chmod(name_tmp, file_mode())
        for tmp, target in staged:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    return [target for _, target in staged]


def _text_writer(text: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    return write


def write_record(
    record: DeliveryRecord,
    folder: str | os.PathLike[str],
    *,
    formats: Iterable[str] = ("csv",),
    extra: Iterable[tuple[str, Callable[[Path], None]]] = (),
) -> list[Path]:
    """Write ``summary.json`` and the record's tables in each of ``formats`` into ``folder``
    (created if needed), together with ``extra`` files (name, writer); returns the paths."""
    formats = tuple(formats)
    for name in formats:
        if name not in FORMATS:
            raise UnknownNameError("record format", name, FORMATS)
    tables = record_tables(record)
    writers: list[tuple[str, Callable[[Path], None]]] = []
    summary = json.dumps(record_to_dict(record, tables=False), indent=1, allow_nan=False)
    writers.append(("summary.json", _text_writer(summary + "\n")))
    if "json" in formats:
        text = json.dumps(record_to_dict(record), allow_nan=False)
        writers.append(("record.json", _text_writer(text)))
    for table, columns in tables.items():
        if "csv" in formats:
            writers.append((f"{table}.csv", _text_writer(_csv_text(columns))))
        if "parquet" in formats:
            writers.append((f"{table}.parquet", _parquet_writer(columns)))
    return write_files_atomically(Path(folder), [*writers, *extra])
