"""The exceptions ionbeam raises for bad input.

Every error a user can cause is an :class:`IonbeamError`; each specific error
also inherits the matching builtin (``ValueError``, ``LookupError``,
``FileNotFoundError``) so that generic handlers still work. Messages say what
was expected, what was received and what to do. The command line prints them
on one line and exits with status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "DicomError",
    "GeometryError",
    "GridMismatchError",
    "InsufficientMemoryError",
    "IonbeamError",
    "MachineLimitError",
    "OutOfRangeError",
    "StructureError",
    "UnknownNameError",
]


class IonbeamError(Exception):
    """Root of all errors caused by bad input to ionbeam."""


class UnknownNameError(IonbeamError, LookupError):
    """A name (particle, material, phantom, structure, machine, method) is not known."""

    def __init__(self, kind: str, name: object, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        super().__init__(
            f"unknown {kind} {name!r}; choose one of: {', '.join(self.known) or '(none)'}"
        )

    def __str__(self) -> str:  # LookupError would otherwise quote the message
        return str(self.args[0])


class OutOfRangeError(IonbeamError, ValueError):
    """A number is outside the range where ionbeam's models (or the machine) are valid."""

    def __init__(
        self,
        quantity: str,
        value: object,
        low: float,
        high: float,
        unit: str = "",
        *,
        hint: str = "",
    ) -> None:
        self.quantity = quantity
        self.value = value
        self.low = low
        self.high = high
        self.unit = unit
        u = f" {unit}" if unit else ""
        tail = f"; {hint}" if hint else ""
        super().__init__(f"{quantity} must be within {low:g}–{high:g}{u}; got {value}{u}{tail}")


class MachineLimitError(OutOfRangeError):
    """The machine cannot deliver what was asked (energy, intensity, spot weight)."""


class GridMismatchError(IonbeamError, ValueError):
    """Two arrays or grids that must match do not."""


class GeometryError(IonbeamError, ValueError):
    """A beam, target or point does not fit the patient geometry (e.g. outside the CT)."""


class StructureError(IonbeamError, ValueError):
    """A structure is empty, missing, or unusable for what was asked."""


class DicomError(IonbeamError, ValueError):
    """A DICOM file or series is malformed, inconsistent or unsupported."""


class ConfigError(IonbeamError, ValueError):
    """A configuration (plan file, options) has an unknown key or an invalid value."""


class InsufficientMemoryError(IonbeamError, MemoryError):
    """A run would need more memory than the machine has available."""
