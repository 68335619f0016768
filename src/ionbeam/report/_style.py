"""Shared look of the figures: structure colours, line styles, PNG rendering.

Figures are built on :class:`matplotlib.figure.Figure` directly (never
pyplot), so that no global backend or figure registry is touched; saving a
PNG uses matplotlib's Agg renderer through ``Figure.savefig``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from typing import cast

from matplotlib import colormaps, rc_context
from matplotlib.artist import Artist
from matplotlib.axis import Axis
from matplotlib.colors import ListedColormap, to_hex
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.text import Text
from matplotlib.typing import LineStyleType

__all__ = [
    "PLAN_LINE_STYLES",
    "figure_png",
    "is_body",
    "new_figure",
    "structure_colours",
]

#: Line styles of the plans in a comparison: first solid, second dashed, …
PLAN_LINE_STYLES: tuple[LineStyleType, ...] = ("-", "--", ":", "-.")
_BODY_NAMES = {"body", "external", "skin", "outline"}
_BODY_COLOUR = "#9e9e9e"


def is_body(name: str) -> bool:
    """Whether a structure name is the patient's outline (Body, External, Skin, Outline)."""
    return name.strip().lower() in _BODY_NAMES


def _colours(name: str) -> Sequence[tuple[float, float, float]]:
    """The colours of a qualitative (listed) colour map."""
    return cast(
        "Sequence[tuple[float, float, float]]", cast(ListedColormap, colormaps[name]).colors
    )


def structure_colours(names: Iterable[str]) -> dict[str, str]:
    """A distinct colour (hex) per structure name, in order; the body outline is grey.

    The same names in the same order always get the same colours, so that a
    structure has one colour in every figure of a report.
    """
    palette = [
        c for c in (*_colours("tab10"), *_colours("Dark2")) if len(set(c[:3])) > 1
    ]  # greys are kept for the body outline
    colours: dict[str, str] = {}
    k = 0
    for name in names:
        if is_body(name):
            colours[name] = _BODY_COLOUR
            continue
        colours[name] = to_hex(palette[k % len(palette)])
        k += 1
    return colours


def new_figure(width_in: float, height_in: float) -> Figure:
    """A figure with constrained layout (its pixel size is exactly size × dpi when saved)."""
    return Figure(figsize=(width_in, height_in), layout="constrained")


def figure_png(figure: Figure, *, dpi: int) -> bytes:
    """The figure rendered as PNG bytes (no timestamp or software tag, so reproducible).

    Every text is drawn as written, never as mathtext: structure and beam names
    come from other systems and may hold ``$``.
    """
    for text in _texts(figure):
        text.set_parse_math(False)
    buffer = io.BytesIO()
    with rc_context({"text.parse_math": False}):  # the tick labels made while drawing
        _fix_layout(figure, dpi)
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _texts(artist: Artist) -> Iterator[Text]:
    """Every text of ``artist`` and its children, as ``findobj(Text)`` finds them, but
    without making an axis's ticks (``findobj`` makes them all, and the draw makes them
    again where the tick locations change): of an axis, its label, its offset text and
    the ticks it has already made."""
    if isinstance(artist, Text):
        yield artist
    if isinstance(artist, Axis):
        children: list[Artist] = [artist.label, artist.offsetText]
        for ticks in ("majorTicks", "minorTicks"):
            children += vars(artist).get(ticks, [])  # a lazy list: made on first access
    else:
        children = artist.get_children()
    for child in children:
        yield from _texts(child)


def _fix_layout(figure: Figure, dpi: int) -> None:
    """Run the constrained layout here, at the saving resolution, and keep its result.

    ``savefig`` on a figure with a layout engine first draws it with drawing disabled
    (running the layout and laying out every text and tick), then draws it for real:
    two draws where one gives the same picture. Here the layout runs alone, without the
    disabled draw, the engine is removed and ``savefig`` draws once (the demo's PNGs
    came out byte for byte the same, in 2/3 of the time).
    """
    engine = figure.get_layout_engine()
    if not isinstance(engine, ConstrainedLayoutEngine):
        return
    saved_dpi = figure.dpi
    figure.dpi = dpi
    try:
        engine.execute(figure)
    finally:
        figure.dpi = saved_dpi
    with rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        figure.set_layout_engine(None)  # None: savefig lays nothing out, draws once
