"""HTML building blocks: escaped elements, tables, embedded PNG figures, the page.

Everything a report contains is inline (CSS in ``<style>``, figures as
``data:image/png;base64`` URIs, the viewer's script and data inline), so the
file is self-contained and loads nothing from the network. All text passes
through :func:`html.escape`; only the functions here produce markup. Written
by hand rather than with a template engine: a report is a handful of sections
and tables, and no new dependency is needed.
"""

from __future__ import annotations

import base64
import html
import os
import struct
from collections.abc import Sequence
from pathlib import Path

from ionbeam._atomic import write_text_atomically as _write_text
from ionbeam.errors import ConfigError

__all__ = [
    "check_destination",
    "document",
    "element",
    "escape",
    "facts",
    "figure_block",
    "png_size",
    "table",
    "write_text_atomically",
]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 1.5em auto; max-width: 1300px; padding: 0 1em; color: #1a1a1a; }
h1 { font-size: 1.6em; border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #bbb; }
h3 { font-size: 1.05em; margin-top: 1.2em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f0f0f0; text-align: left; }
table.facts th { font-weight: 600; min-width: 11em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.group-start td { border-top: 2px solid #888; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #444; margin-top: .3em; }
ul.warnings li { color: #8a1f11; }
p.ok { color: #1e6b1e; }
footer { margin-top: 3em; font-size: .8em; color: #666; }
.ionbeam-viewer { font-size: .9em; }
.iv-controls, .iv-structures, .iv-dvh-buttons { display: flex; flex-wrap: wrap; gap: .4em 1.2em;
  align-items: center; margin: .4em 0; }
.iv-structures label { font-weight: 600; }
.iv-planes { display: flex; flex-wrap: wrap; gap: 10px; }
.iv-plane-box { display: flex; flex-direction: column; align-items: stretch; }
canvas.iv-plane { background: #000; cursor: crosshair; image-rendering: pixelated; }
.iv-slice-label, .iv-help, .iv-dvh-readout { color: #444; font-size: .9em; }
.iv-footer { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; }
.iv-readout { font-variant-numeric: tabular-nums; min-height: 1.4em; }
canvas.iv-dvh { max-width: 100%; border: 1px solid #ddd; cursor: crosshair; }
.iv-error { color: #8a1f11; }
.iv-isodose-legend { display: flex; flex-wrap: wrap; gap: .2em .8em; max-width: 30em; }
.iv-swatch { display: inline-block; width: 1.6em; height: .35em; vertical-align: middle;
  border: 1px solid #555; }
"""


def escape(text: object) -> str:
    """``str(text)`` with ``& < > " '`` escaped for HTML."""
    return html.escape(str(text), quote=True)


def element(tag: str, content: str = "", **attributes: object) -> str:
    """``<tag attr="…">content</tag>``; ``content`` is markup (escape text first),
    attribute values are escaped here (``class_`` → ``class``)."""
    attrs = "".join(
        f' {name.rstrip("_").replace("_", "-")}="{escape(value)}"'
        for name, value in attributes.items()
        if value is not None
    )
    return f"<{tag}{attrs}>{content}</{tag}>"


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[bool] | None = None,
    group_starts: Sequence[bool] | None = None,
    caption: str | None = None,
) -> str:
    """A table of text cells (escaped here); ``numeric`` right-aligns columns,
    ``group_starts`` draws a rule above the rows that start a group."""
    numeric = numeric or [False] * len(columns)
    head = element("tr", "".join(element("th", escape(c)) for c in columns))
    body = []
    for k, row in enumerate(rows):
        if len(row) != len(columns):
            raise ConfigError(f"a table row has {len(row)} cells but {len(columns)} columns")
        cells = "".join(
            element("td", escape(cell), class_="num" if is_number else None)
            for cell, is_number in zip(row, numeric, strict=True)
        )
        start = group_starts is not None and k > 0 and group_starts[k]
        body.append(element("tr", cells, class_="group-start" if start else None))
    parts = [element("caption", escape(caption))] if caption else []
    parts += [element("thead", head), element("tbody", "".join(body))]
    return element("table", "".join(parts))


def facts(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of labelled facts (label in a header cell), no column heads."""
    body = "".join(element("tr", element("th", escape(k)) + element("td", escape(v)))
                   for k, v in rows)  # fmt: skip
    return element("table", element("tbody", body), class_="facts")


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's header."""
    if png[:8] != _PNG_SIGNATURE or png[12:16] != b"IHDR":
        raise ConfigError("the figure did not render as a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def figure_block(png: bytes, *, caption: str, alt: str) -> str:
    """A ``<figure>`` with the PNG embedded as a base64 data URI, and its caption."""
    width, height = png_size(png)
    data = base64.b64encode(png).decode("ascii")
    image = (
        f'<img src="data:image/png;base64,{data}" width="{width}" height="{height}" '
        f'alt="{escape(alt)}">'
    )
    return element("figure", image + element("figcaption", escape(caption)))


def document(title: str, body: str) -> str:
    """The whole page: doctype, head with inline CSS, and ``body`` markup."""
    head = (
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        + element("title", escape(title))
        + element("style", _CSS)
    )
    return (
        "<!DOCTYPE html>\n"
        + element("html", element("head", head) + element("body", body), lang="en")
        + "\n"
    )


def check_destination(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, after checking that it is a file name in an existing folder
    (checked before the figures are drawn, so a bad path fails fast)."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{target} is a folder; give the path of the HTML file to write")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"cannot write {target}: folder {folder} does not exist; create it first")
    return target


def write_text_atomically(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :mod:`ionbeam._atomic`)."""
    check_destination(path)
    return _write_text(path, text)
