"""Checks and conversions at the boundary of ``ionbeam.evaluation``.

Doses arrive as arrays on a :class:`~ionbeam.patient.Grid`; structures arrive
as boolean masks, partial-volume weight arrays (0–1 per voxel), or anything
with ``.mask`` (and ``.name``), such as ``ionbeam.patient`` structures. Inside
the package every structure is a flat float64 weight array, so that the
metrics code has one path for both kinds of mask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ionbeam.errors import GridMismatchError, StructureError
from ionbeam.patient import Grid

__all__ = ["as_dose", "as_structure_weights", "named_structures"]


def as_dose(dose_gy: Any, grid: Grid | None = None, *, name: str = "dose") -> np.ndarray:
    """``dose_gy`` as a float64 array, checked finite and (with ``grid``) of the grid's shape."""
    dose = np.asarray(dose_gy, dtype=np.float64)
    if grid is not None:
        grid.check_volume(dose, name)
    if dose.size == 0:
        raise GridMismatchError(f"{name} is empty; expected a dose array with at least one voxel")
    bad = dose.size - int(np.count_nonzero(np.isfinite(dose)))
    if bad:
        raise GridMismatchError(
            f"{name} must be finite; found NaN or infinity in {bad} of {dose.size} voxels "
            "(fix the dose calculation or resampling that produced them)"
        )
    return dose


def as_structure_weights(
    mask: Any, shape: tuple[int, ...], *, name: str = "structure", grid: Grid | None = None
) -> np.ndarray:
    """Per-voxel volume weights (0–1) of a structure, flattened in C order.

    ``mask`` is a boolean array, a weight array with values in [0, 1], or an
    object with a ``.mask`` attribute (and possibly ``.grid``, which must then
    equal ``grid``). Raises ``GridMismatchError`` on a shape or grid mismatch
    and ``StructureError`` for an empty structure or invalid weights.
    """
    own_grid = getattr(mask, "grid", None)
    if grid is not None and isinstance(own_grid, Grid) and own_grid != grid:
        raise GridMismatchError(
            f"structure {name!r} lies on {own_grid} but the dose on {grid}; "
            "resample the structure onto the dose grid first"
        )
    values = np.asarray(getattr(mask, "mask", mask))
    if values.shape != tuple(shape):
        raise GridMismatchError(
            f"structure {name!r} has shape {values.shape} but the dose is {tuple(shape)}; "
            "resample the structure onto the dose grid first"
        )
    if values.dtype == bool:
        weights = values.reshape(-1).astype(np.float64)
    else:
        weights = values.reshape(-1).astype(np.float64, copy=True)
        if not np.all(np.isfinite(weights)) or weights.min() < 0 or weights.max() > 1:
            raise StructureError(
                f"structure {name!r}: partial-volume weights must lie in [0, 1]; got values in "
                f"[{np.nanmin(weights):g}, {np.nanmax(weights):g}] (NaN present: "
                f"{bool(np.isnan(weights).any())}); pass a boolean mask or fractions of each voxel"
            )
    if not np.any(weights > 0):
        raise StructureError(
            f"structure {name!r} is empty (no voxel inside it on this grid); "
            "check the contour or use a finer dose grid"
        )
    return weights


def named_structures(structures: Any) -> list[tuple[str, Any]]:
    """``(name, mask)`` pairs from a name → mask mapping or an iterable of objects with
    ``.name`` and ``.mask``."""
    if isinstance(structures, Mapping):
        pairs = [(str(name), mask) for name, mask in structures.items()]
    elif isinstance(structures, Iterable) and not isinstance(structures, np.ndarray):
        pairs = []
        for item in structures:
            if not (hasattr(item, "name") and hasattr(item, "mask")):
                raise StructureError(
                    "structures must be a mapping name → mask or objects with .name and .mask; "
                    f"got an item of type {type(item).__name__}"
                )
            pairs.append((str(item.name), item))
    else:
        raise StructureError(
            "structures must be a mapping name → mask or objects with .name and .mask; "
            f"got {type(structures).__name__}"
        )
    names = [name for name, _ in pairs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise StructureError(f"structure names must be unique; repeated: {', '.join(duplicates)}")
    if not pairs:
        raise StructureError("no structures given; pass at least one name → mask")
    return pairs
