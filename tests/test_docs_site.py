"""The API reference site (``mkdocs.yml``, ``docs/api/``) covers every public package.

The site itself is built by ``.ci/run`` (``mkdocs build --strict``); these checks need
no MkDocs: they read the files, so a new public package that nobody added to the
reference fails here, in the ordinary test run.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MKDOCS = ROOT / "mkdocs.yml"
API = ROOT / "docs" / "api"

#: Public parts of ``ionbeam`` that are deliberately not in the API reference.
NOT_IN_REFERENCE = {"cli": "the command line is documented in the README, not as an API"}


def _public_top_level() -> set[str]:
    """Public packages and modules directly under ``ionbeam`` (``_*.py`` are private)."""
    names = set()
    for path in (SRC / "ionbeam").iterdir():
        if path.name.startswith(("_", ".")):
            continue
        if path.is_dir() and (path / "__init__.py").is_file():
            names.add(path.name)
        elif path.suffix == ".py":
            names.add(path.stem)
    return names


def _hooks():
    spec = importlib.util.spec_from_file_location(
        "ionbeam_docs_hooks", ROOT / "docs/_mkdocs/hooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_package_has_an_api_page_in_the_nav() -> None:
    """Each public ``ionbeam.X`` has ``docs/api/X.md`` with a ``::: ionbeam.X`` block,
    listed in the nav of ``mkdocs.yml``."""
    config = MKDOCS.read_text()
    missing = []
    for name in sorted(_public_top_level() - set(NOT_IN_REFERENCE)):
        page = API / f"{name}.md"
        block = re.compile(rf"^::: ionbeam\.{name}\s*$", re.MULTILINE)
        if not page.is_file() or not block.search(page.read_text()):
            missing.append(f"docs/api/{name}.md lacks '::: ionbeam.{name}'")
        elif not re.search(rf"^\s+- ionbeam\.{name}: api/{name}\.md\s*$", config, re.MULTILINE):
            missing.append(f"mkdocs.yml's nav lacks api/{name}.md")
    assert not missing, "; ".join(missing)


def test_api_pages_render_submodules_and_leave_out_private_ones() -> None:
    """A package's page shows all its public submodules (so a new module appears by
    itself) and no private ``_*`` module or member."""
    config = MKDOCS.read_text()
    assert re.search(r"^\s+show_submodules: true\s*$", config, re.MULTILINE)
    assert re.search(r"^\s+filters: \[\"!\^_\"\]\s*$", config, re.MULTILINE)


def test_api_pages_name_only_modules_that_exist() -> None:
    """Every ``::: module`` block names a module under ``src/`` (or an optional one that
    the build hook replaces by a note while it is absent)."""
    hooks = _hooks()
    for page in API.glob("*.md"):
        for module in re.findall(r"^::: *([\w.]+)\s*$", page.read_text(), re.MULTILINE):
            assert hooks.module_exists(module, SRC) or module in hooks.OPTIONAL_MODULES, (
                f"{page.name}: {module} does not exist"
            )


@pytest.mark.parametrize("present", [False, True])
def test_optional_module_block_is_replaced_only_when_absent(tmp_path: Path, present: bool) -> None:
    """The build hook turns an absent optional module's block (and its options) into a
    note, keeps it when the module exists, and never touches other modules' blocks."""
    hooks = _hooks()
    module = sorted(hooks.OPTIONAL_MODULES)[0]
    if present:
        path = tmp_path.joinpath(*module.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True)
        path.write_text('"""Here."""\n')
    markdown = (
        f"# Title\n\n::: {module}\n    options:\n      heading_level: 2\n"
        "\nAfter.\n\n::: ionbeam.errors\n"
    )
    out = hooks.drop_absent_optional(markdown, tmp_path)
    assert out.endswith("After.\n\n::: ionbeam.errors\n")
    if present:
        assert out == markdown
    else:
        assert f"::: {module}" not in out and "heading_level" not in out
        assert f"`{module}` is not part of this build yet" in out


def test_sphinx_roles_become_optional_links() -> None:
    """The griffe extension rewrites ``:func:`~a.b.c``` into an optional autorefs link
    titled ``c``, resolves a bare name against the docstring's module, and turns the
    reStructuredText literal marker ``::`` into ``:``."""
    griffe = pytest.importorskip("griffe")
    spec = importlib.util.spec_from_file_location(
        "ionbeam_docs_roles", ROOT / "docs/_mkdocs/sphinx_roles.py"
    )
    assert spec is not None and spec.loader is not None
    roles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roles)
    module = griffe.Module(
        "dose_engine", parent=griffe.Module("planning", parent=griffe.Module("ionbeam"))
    )
    text = "See :func:`calc_dose` and :class:`~ionbeam.patient.grid.Grid`. Example::\n\n    x = 1\n"
    out = roles.rewrite_roles(text, module)
    assert (
        '<autoref identifier="ionbeam.planning.dose_engine.calc_dose" optional>'
        "<code>calc_dose</code></autoref>" in out
    )
    assert (
        '<autoref identifier="ionbeam.patient.grid.Grid" optional><code>Grid</code></autoref>'
        in out
    )
    assert "Example:\n\n    x = 1\n" in out and ":func:" not in out


def test_readme_table_escapes_are_undone_for_the_home_page() -> None:
    """GitHub's ``\\|`` inside a code span of a table row becomes ``|`` on the site's home
    page (Python-Markdown would show the backslash); elsewhere the text is unchanged."""
    hooks = _hooks()
    readme = "A `a\\|b` line.\n| `x [--a\\|--b]` | c \\| d |\n"
    assert hooks.readme_markdown(readme) == "A `a\\|b` line.\n| `x [--a|--b]` | c \\| d |\n"
    site = hooks.readme_markdown((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "ionbeam plan [PLAN_FILE]" in site and "pencil_beam|fine_sampling" in site
