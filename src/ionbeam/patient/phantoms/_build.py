"""Assembling a phantom Patient from a HU volume and named masks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.patient.ct import CT
from ionbeam.patient.grid import Grid
from ionbeam.patient.patient import Patient
from ionbeam.patient.structures import Structure, StructureSet

__all__ = ["assemble", "positive", "triple"]


def assemble(
    name: str,
    grid: Grid,
    hu: np.ndarray,
    masks: Mapping[str, np.ndarray],
    *,
    target_name: str,
    parameters: Mapping[str, Any],
) -> Patient:
    """A phantom patient; ``parameters`` are recorded in the metadata."""
    structures = StructureSet(Structure(n, m, grid) for n, m in masks.items())
    return Patient(
        name=f"phantom-{name}",
        ct=CT(hu, grid),
        structures=structures,
        target_name=target_name,
        metadata={"phantom": name, "parameters": dict(parameters)},
    )


def positive(name: str, value: float) -> float:
    """``value`` as a positive finite float, or ConfigError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"phantom parameter {name} must be a number; got {value!r}") from None
    if not np.isfinite(number) or number <= 0:
        raise ConfigError(f"phantom parameter {name} must be positive; got {value!r}")
    return number


def triple(
    name: str, value: float | tuple[float, float, float], *, allow_zero: bool = False
) -> tuple[float, float, float]:
    """A scalar or (x, y, z) as three floats (positive unless ``allow_zero``)."""
    values = np.asarray(value, dtype=float)
    if values.ndim == 0:
        values = np.full(3, float(values))
    if values.shape != (3,) or not np.all(np.isfinite(values)):
        raise ConfigError(f"phantom parameter {name} must be a number or (x, y, z); got {value!r}")
    if np.any(values < 0) or (not allow_zero and np.any(values == 0)):
        raise ConfigError(f"phantom parameter {name} must be positive; got {value!r}")
    return tuple(float(v) for v in values)  # type: ignore[return-value]
