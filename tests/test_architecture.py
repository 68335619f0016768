"""The layer rule of DESIGN.md: a package imports only the packages below it.

Walks the import statements of every module (including imports inside
functions) and fails on an import that climbs the layers, e.g. ``physics``
importing ``planning``. Shared top-level modules (``ionbeam.errors``,
``ionbeam._atomic``, ``ionbeam._cache``, ``ionbeam._memory``, ``ionbeam._progress``) may be
imported by anyone.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ionbeam"

# Allowed imports per package (transitively closed by hand; keep in sync with DESIGN.md).
ALLOWED: dict[str, set[str]] = {
    "physics": set(),
    "machine": {"physics"},
    "patient": {"physics"},
    "evaluation": {"patient"},
    "planning": {"physics", "machine", "patient"},
    "delivery": {"physics", "machine", "planning", "patient"},
    "io": {"physics", "machine", "patient", "planning", "delivery", "evaluation"},
    "report": {"physics", "machine", "patient", "planning", "delivery", "evaluation", "io"},
    "cli": {
        "physics",
        "machine",
        "patient",
        "planning",
        "delivery",
        "evaluation",
        "io",
        "report",
    },
}
SHARED = {"errors", "_atomic", "_cache", "_memory", "_progress", "__init__"}


def _imported_ionbeam_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "ionbeam":
                names = [f"ionbeam.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "ionbeam" and len(parts) > 1:
                found.add(parts[1])
    return found


def _modules() -> list[tuple[str, Path]]:
    return [
        (path.relative_to(SRC).parts[0], path)
        for path in sorted(SRC.rglob("*.py"))
        if len(path.relative_to(SRC).parts) > 1
    ]


@pytest.mark.parametrize(("package", "path"), _modules(), ids=lambda v: str(v))
def test_module_respects_layers(package: str, path: Path) -> None:
    assert package in ALLOWED, f"package {package!r} is not in the layer table; add it"
    imported = _imported_ionbeam_packages(path) - SHARED - {package, "__version__"}
    illegal = imported - ALLOWED[package]
    assert not illegal, f"{path.relative_to(SRC)} imports {sorted(illegal)} above its layer"


def test_physics_imports_no_third_party_beyond_numpy_scipy() -> None:
    """DESIGN.md: physics depends on numpy/scipy only (numba allowed for kernels)."""
    allowed_roots = {"numpy", "scipy", "numba", "ionbeam", "__future__"}
    for path in (SRC / "physics").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            third_party = {r for r in roots if r not in sys.stdlib_module_names}
            extra = third_party - allowed_roots
            assert not extra, f"{path.name} imports {extra}"
