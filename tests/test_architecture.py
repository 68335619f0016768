"""The layer rule of DESIGN.md: a package imports only the packages below it.

Walks the import statements of every module (including imports inside
functions) and fails on an import that climbs the layers, e.g. ``physics``
importing ``planning``. Shared top-level modules (``ionbeam.errors``,
``ionbeam._atomic``, ``ionbeam._cache``, ``ionbeam._memory``, ``ionbeam._progress``,
``ionbeam._strips``, ``ionbeam._kernel_cache``) may be
imported by anyone.

Two more rules on the same walk: a private module (``ionbeam.X._name``) is imported only
from inside its package ``ionbeam.X`` (the shared modules above excepted), and no two
modules import each other, directly or through others (imports inside functions count;
imports only for type checking, under ``if TYPE_CHECKING:``, do not, nor do the lazy
re-exports of the root package's ``__getattr__``).
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
    "workflow": {
        "physics",
        "machine",
        "patient",
        "planning",
        "delivery",
        "evaluation",
        "io",
        "report",
    },
    "cli": {
        "physics",
        "machine",
        "patient",
        "planning",
        "delivery",
        "evaluation",
        "io",
        "report",
        "workflow",
    },
}
SHARED = {
    "errors",
    "registry",
    "_atomic",
    "_cache",
    "_memory",
    "_progress",
    "_strips",
    "_kernel_cache",
    "__init__",
}
#: Private modules of the top-level package that every package may use (docs/architecture.md).
SHARED_PRIVATE = {
    "ionbeam._atomic",
    "ionbeam._cache",
    "ionbeam._memory",
    "ionbeam._progress",
    "ionbeam._strips",
    "ionbeam._kernel_cache",
}


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


def _module_name(path: Path) -> str:
    parts = ["ionbeam", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def _is_type_checking_block(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_lazy_getattr(node: ast.AST) -> bool:
    """The root package's module ``__getattr__`` (PEP 562): it imports ``__version__``'s
    metadata and the front door (``ionbeam.workflow``) on first attribute access, after
    ``ionbeam`` is initialized, so its imports cannot take part in an import cycle."""
    return isinstance(node, ast.FunctionDef) and node.name == "__getattr__"


def _runtime_imports(module: str) -> set[str]:
    """The ionbeam modules ``module`` imports at run time (a name imported from a
    package counts as its submodule when there is one, else as the package)."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    stack: list[ast.AST] = [ast.parse(MODULES[module].read_text())]
    while stack:
        node = stack.pop()
        if _is_type_checking_block(node) or (module == "ionbeam" and _is_lazy_getattr(node)):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


def _private_owner(name: str) -> str | None:
    """The package holding the private module ``name`` names (None: nothing private)."""
    parts = name.split(".")
    for i in range(1, len(parts)):
        if parts[i].startswith("_") and not parts[i].startswith("__"):
            return ".".join(parts[:i])
    return None


@pytest.mark.parametrize("module", sorted(MODULES), ids=str)
def test_private_modules_are_imported_only_inside_their_package(module: str) -> None:
    illegal = sorted(
        name
        for name in _runtime_imports(module) | _type_checking_imports(module)
        if name not in SHARED_PRIVATE
        and (owner := _private_owner(name)) is not None
        and not (module == owner or module.startswith(owner + "."))
    )
    assert not illegal, (
        f"{module} imports private modules of other packages: {illegal}; "
        "import the package's public API instead (or make the module public)"
    )


def _type_checking_imports(module: str) -> set[str]:
    """The ionbeam modules imported under ``if TYPE_CHECKING:`` (private rule only)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if _is_type_checking_block(node):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                    found.add(inner.module)
                elif isinstance(inner, ast.Import):
                    found.update(alias.name for alias in inner.names)
    return {name for name in found if name in MODULES and name != module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    cycles = _cycles({module: _runtime_imports(module) for module in MODULES})
    assert not cycles, (
        f"modules that import each other (directly or through others): {cycles}; "
        "move what both need into a module that neither imports"
    )


def test_cycle_and_private_checks_can_fail() -> None:
    """The two checks above find what they are meant to find (a made-up graph and names)."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _private_owner("ionbeam.planning._dose_kernels") == "ionbeam.planning"
    assert _private_owner("ionbeam.io.dicom._files") == "ionbeam.io.dicom"
    assert _private_owner("ionbeam.planning.plan") is None
