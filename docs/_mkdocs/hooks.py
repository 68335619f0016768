"""MkDocs hooks for the ionbeam site.

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


def on_page_markdown(markdown: str, *, config: Any, **kwargs: Any) -> str:
    src = Path(config.config_file_path).parent / "src"
    return drop_absent_optional(markdown, src)
