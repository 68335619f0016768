"""The reference halo correction for benchmarks that compare it with the default one.

The reference is the correction as it was before issue 16's cheaper one
(``HaloField(reference=True)``): maps of 6 pixels per σ, each layer's exact σ range and
the disc halo recomputed matrix-free. :func:`reference_of` gives it for
one dose influence; :func:`use_reference_halo` makes every dose influence built after it
in this process carry it (so that a whole plan is optimized with it).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


def reference_of(halo: Any) -> Any:
    """``halo`` (a :class:`~ionbeam.planning.halo.HaloField`) on the reference path."""
    return dataclasses.replace(halo, reference=True)


def use_reference_halo() -> None:
    """Every dose influence the engine builds from now on carries the reference path."""
    from ionbeam.planning import dose_engine
    from ionbeam.planning.halo import HaloField

    def reference(*args: Any, **kwargs: Any) -> HaloField:
        kwargs.update(disc=None, reference=True)
        return HaloField(*args, **kwargs)

    dose_engine.HaloField = reference  # type: ignore[assignment,misc]


def largest_difference(fast: Any, reference: Any) -> dict[str, float]:
    """max |fast − reference| of each term (dose, LET×dose, α×dose, √β×dose) of two
    :class:`~ionbeam.planning.halo.HaloTerms`."""
    return {
        name: float(np.abs(a - b).max())
        for name, a, b in zip(fast._fields, fast, reference, strict=True)
        if a is not None and b is not None
    }
