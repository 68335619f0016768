"""Built-in phantoms: each a CT plus structures, reproducible from its parameters.

``make_phantom(name, **params)`` builds one by name; ``PHANTOMS`` lists them.
Every phantom takes ``spacing_mm`` (isotropic voxel size); the other
parameters are those of its builder function.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.patient.patient import Patient
from ionbeam.patient.phantoms.head import head_phantom
from ionbeam.patient.phantoms.lung import lung_phantom
from ionbeam.patient.phantoms.tg119 import tg119_phantom
from ionbeam.patient.phantoms.water import water_phantom

__all__ = [
    "PHANTOMS",
    "head_phantom",
    "lung_phantom",
    "make_phantom",
    "phantom_parameters",
    "tg119_phantom",
    "water_phantom",
]

#: Phantom builders by name.
PHANTOMS: MappingProxyType[str, Callable[..., Patient]] = MappingProxyType(
    {
        "water": water_phantom,
        "tg119": tg119_phantom,
        "head": head_phantom,
        "lung": lung_phantom,
    }
)


def phantom_parameters(name: str) -> dict[str, Any]:
    """The parameters of phantom ``name`` with their defaults."""
    builder = _builder(name)
    return {p.name: p.default for p in inspect.signature(builder).parameters.values()}


def make_phantom(name: str, **params: Any) -> Patient:
    """Build the phantom ``name`` (``water``, ``tg119``, ``head``, ``lung``)."""
    builder = _builder(name)
    known = phantom_parameters(name)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(
            f"phantom {name!r} has no parameter(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(known)}"
        )
    return builder(**params)


def _builder(name: str) -> Callable[..., Patient]:
    key = str(name).strip().lower()
    if key not in PHANTOMS:
        raise UnknownNameError("phantom", name, PHANTOMS)
    return PHANTOMS[key]
