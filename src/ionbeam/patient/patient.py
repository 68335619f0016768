"""The patient: a CT, its structures, and which structure is the target."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ionbeam.errors import GridMismatchError, StructureError
from ionbeam.patient.ct import CT
from ionbeam.patient.grid import Grid
from ionbeam.patient.structures import Structure, StructureSet

__all__ = ["Patient"]


@dataclass(frozen=True, eq=False)
class Patient:
    """``name``, ``ct``, ``structures`` (on the CT grid), optional ``target_name`` and
    free-form ``metadata`` (read-only mapping, e.g. phantom parameters, DICOM IDs)."""

    name: str
    ct: CT
    structures: StructureSet
    target_name: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        structures = self.structures
        if not isinstance(structures, StructureSet):
            structures = StructureSet(structures)
            object.__setattr__(self, "structures", structures)
        if structures.grid is not None and structures.grid != self.ct.grid:
            raise GridMismatchError(
                f"patient {self.name!r}: the structures are not on the CT grid; "
                "resample them onto the CT grid first"
            )
        if self.target_name is not None:
            target = structures[self.target_name]  # unknown name → UnknownNameError
            if target.is_empty:
                raise StructureError(f"patient {self.name!r}: target {self.target_name!r} is empty")
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def grid(self) -> Grid:
        """The CT grid."""
        return self.ct.grid

    @property
    def target(self) -> Structure:
        """The target structure."""
        if self.target_name is None:
            raise StructureError(f"patient {self.name!r} has no target; set target_name")
        return self.structures[self.target_name]

    def __repr__(self) -> str:
        return (
            f"Patient({self.name!r}, {self.ct!r}, structures={list(self.structures)}, "
            f"target={self.target_name!r})"
        )
