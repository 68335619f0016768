"""MkDocs hooks for the ionbeam site.

The home page is the README (``docs/index.md`` is a placeholder), with the table
escapes that GitHub needs and Python-Markdown does not undone.

An API page may document a module that is still being written on another branch
(``ionbeam.workflow``): where such an *optional* module is absent from ``src/``,
its ``::: module`` block becomes a note instead of failing the strict build. Any
other missing module still fails the build, as it should.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: Modules whose API block is dropped (with a note) when the module is absent.
OPTIONAL_MODULES = frozenset({"ionbeam.workflow"})

_BLOCK = re.compile(r"^::: *([\w.]+)[ \t]*$", re.MULTILINE)
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def readme_markdown(readme: str) -> str:
    """The README as the site's home page. In a table GitHub needs ``\\|`` for a pipe
    inside a code span; Python-Markdown keeps such a pipe in the cell as it is and would
    show the backslash, so it goes there."""

    def unescape(match: re.Match[str]) -> str:
        return match.group(0).replace("\\|", "|")

    return "".join(
        _CODE_SPAN.sub(unescape, line) if line.lstrip().startswith("|") else line
        for line in readme.splitlines(keepends=True)
    )


def module_exists(module: str, src: Path) -> bool:
    """Whether ``module`` (dotted) is a module or package under the source root ``src``."""
    path = src.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def drop_absent_optional(markdown: str, src: Path) -> str:
    """``markdown`` with each ``::: module`` block of an absent optional module replaced
    by a note (the block's indented option lines go with it)."""
    lines, out, skipping = markdown.splitlines(keepends=True), [], False
    for line in lines:
        match = _BLOCK.match(line.rstrip("\n"))
        if match:
            module = match.group(1)
            skipping = module in OPTIONAL_MODULES and not module_exists(module, src)
            if skipping:
                out.append(f"!!! note\n    `{module}` is not part of this build yet.\n")
                continue
        elif skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        else:
            skipping = False
        out.append(line)
    return "".join(out)


def on_page_markdown(markdown: str, *, page: Any, config: Any, **kwargs: Any) -> str:
    root = Path(config.config_file_path).parent
    if page.file.src_uri == "index.md":
        return readme_markdown((root / "README.md").read_text(encoding="utf-8"))
    return drop_absent_optional(markdown, root / "src")
