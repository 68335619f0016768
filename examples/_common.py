"""Shared by the example scripts: where they write (never into the source tree)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


def output_folder(name: str) -> Path:
    """The folder an example writes into: the first command-line argument, else
    ``$IONBEAM_EXAMPLES_OUT/<name>``, else a new temporary folder."""
    if len(sys.argv) > 1:
        folder = Path(sys.argv[1])
    elif os.environ.get("IONBEAM_EXAMPLES_OUT"):
        folder = Path(os.environ["IONBEAM_EXAMPLES_OUT"]) / name
    else:
        folder = Path(tempfile.mkdtemp(prefix=f"ionbeam-{name}-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"writing into {folder}")
    return folder


def save_summary(folder: Path, summary: dict[str, Any]) -> None:
    """The example's key figures as ``summary.json`` (what its test checks)."""
    (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    for key, value in summary.items():
        print(f"  {key}: {value}")
