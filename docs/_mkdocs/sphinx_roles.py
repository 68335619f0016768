"""Griffe extension for the API reference: Sphinx roles in docstrings become links.

ionbeam's docstrings are prose that name other objects with Sphinx roles
(``:func:`calc_dose```, ``:class:`~ionbeam.patient.grid.Grid```). Markdown does not
know them, so this rewrites each into an *optional* mkdocs-autorefs link: a link
where the target is on a page of the reference, plain code where it is not (a
private module, a third-party object), never a build warning.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

#: reStructuredText's "text::" before an indented literal block; Markdown takes the
#: indented block as code already, so only the second colon goes.
_LITERAL_MARKER = re.compile(r"(?<=\S)::$", re.MULTILINE)
_ROLE = re.compile(r":(?:func|meth|class|mod|data|attr|obj|exc|const):`(~?)([^`<>]+?)`")


def _identifier(target: str, obj: griffe.Object) -> str:
    """The full dotted path that ``target`` most likely names, seen from ``obj``."""
    if target.startswith("ionbeam."):
        return target
    if target.startswith("."):  # relative to the module's package
        package = obj.module.path.rsplit(".", 1)[0] if obj.module.path.count(".") else ""
        return f"{package}{target}"
    return f"{obj.module.path}.{target}"


def rewrite_roles(text: str, obj: griffe.Object) -> str:
    """``text`` with every Sphinx role replaced by an optional autorefs link and each
    literal-block marker ``::`` by ``:``."""

    def link(match: re.Match[str]) -> str:
        short, target = match.group(1) == "~", match.group(2).strip()
        title = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
        identifier = html.escape(_identifier(target, obj), quote=True)
        code = f"<code>{html.escape(title)}</code>"
        return f'<autoref identifier="{identifier}" optional>{code}</autoref>'

    return _LITERAL_MARKER.sub(":", _ROLE.sub(link, text))


class SphinxRoles(griffe.Extension):
    """Rewrites the Sphinx roles of every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite_roles(obj.docstring.value, obj)
