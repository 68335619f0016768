"""Structures: named boolean masks on the CT grid, and ordered sets of them.

A :class:`Structure` is a region of interest (target or organ at risk) as a
boolean mask ``[x, y, z]`` on a :class:`~ionbeam.patient.grid.Grid`. Margins
are ellipsoidal: ``expand((mx, my, mz))`` adds every voxel whose centre lies
within the ellipsoid of semi-axes (mx, my, mz) mm around some voxel centre of
the structure (a Euclidean distance transform on anisotropically scaled
coordinates), and ``contract`` removes every voxel within that ellipsoid of
a voxel outside it (the grid's border counts as outside). Margins are exact
on the voxel centres, so a margin smaller than the voxel spacing may add
nothing along that axis.

matRad readers: a :class:`StructureSet` plays the role of ``cst``, without
the optimisation objectives (those belong to planning).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ionbeam.errors import GridMismatchError, StructureError, UnknownNameError
from ionbeam.patient.grid import Grid

__all__ = ["Structure", "StructureSet"]

#: Scaled distance beyond which nothing is reached along an axis with a zero margin.
_FAR = 1.0e6


@dataclass(frozen=True, eq=False)
class Structure:
    """A named boolean mask on ``grid`` (read-only; operations return new structures)."""

    name: str
    mask: np.ndarray
    grid: Grid

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise StructureError(f"a structure needs a non-empty name; got {self.name!r}")
        mask = np.asarray(self.mask)
        if mask.dtype != np.bool_ and (
            mask.dtype.kind not in "biu" or not np.isin(mask, (0, 1)).all()
        ):
            raise StructureError(
                f"structure {self.name!r}: the mask must be boolean (or 0/1); "
                f"got dtype {mask.dtype}"
            )
        self.grid.check_volume(mask, f"mask of structure {self.name!r}")
        mask = np.array(mask, dtype=bool, copy=True)
        mask.flags.writeable = False
        object.__setattr__(self, "mask", mask)

    # -- measures ---------------------------------------------------------
    @property
    def n_voxels(self) -> int:
        """Number of voxels in the structure."""
        return int(np.count_nonzero(self.mask))

    @property
    def is_empty(self) -> bool:
        """Whether the mask has no voxel."""
        return not self.mask.any()

    @property
    def volume_cm3(self) -> float:
        """Volume in cm³ (voxel count times voxel volume)."""
        return self.n_voxels * self.grid.voxel_volume_mm3 / 1000.0

    @property
    def centroid_mm(self) -> np.ndarray:
        """Centre of mass of the voxel centres, patient coordinates (mm)."""
        if self.is_empty:
            raise StructureError(f"structure {self.name!r} is empty and has no centroid")
        index = np.array([np.mean(axis) for axis in np.nonzero(self.mask)])
        return self.grid.index_to_world(index)

    def flat_indices(self) -> np.ndarray:
        """C-order flat indices of the structure's voxels (the dose-matrix row order)."""
        return np.flatnonzero(self.mask)

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest voxel index (inclusive) along x, y, z."""
        if self.is_empty:
            raise StructureError(f"structure {self.name!r} is empty and has no bounding box")
        nonzero = [
            np.flatnonzero(self.mask.any(axis=tuple(a for a in range(3) if a != k)))
            for k in range(3)
        ]
        return np.array([n[0] for n in nonzero]), np.array([n[-1] for n in nonzero])

    # -- new structures -----------------------------------------------------
    def renamed(self, name: str) -> Structure:
        """The same mask under another name."""
        return Structure(name, self.mask, self.grid)

    def expand(
        self, margin_mm: float | tuple[float, float, float], *, name: str | None = None
    ) -> Structure:
        """The structure grown by an (anisotropic) margin in mm: scalar or (x, y, z)."""
        margins = _margins(margin_mm)
        if not margins.any() or self.is_empty:
            return Structure(name or self.name, self.mask, self.grid)
        reach = np.ceil(margins / np.asarray(self.grid.spacing_mm)).astype(int) + 1
        lo, hi = self.bounding_box()
        lo = np.maximum(lo - reach, 0)
        hi = np.minimum(hi + reach, np.asarray(self.grid.shape) - 1)
        box = tuple(slice(a, b + 1) for a, b in zip(lo, hi, strict=True))
        sub = self.mask[box]
        distance = ndimage.distance_transform_edt(~sub, sampling=self._scaled_sampling(margins))
        grown = np.zeros_like(self.mask)
        grown[box] = distance <= 1.0 + 1e-9
        return Structure(name or self.name, grown, self.grid)

    def contract(
        self, margin_mm: float | tuple[float, float, float], *, name: str | None = None
    ) -> Structure:
        """The structure shrunk by an (anisotropic) margin in mm: scalar or (x, y, z)."""
        margins = _margins(margin_mm)
        if not margins.any() or self.is_empty:
            return Structure(name or self.name, self.mask, self.grid)
        lo, hi = self.bounding_box()
        box = tuple(slice(a, b + 1) for a, b in zip(lo, hi, strict=True))
        padded = np.pad(self.mask[box], 1, constant_values=False)
        distance = ndimage.distance_transform_edt(padded, sampling=self._scaled_sampling(margins))
        shrunk = np.zeros_like(self.mask)
        shrunk[box] = (distance > 1.0 + 1e-9)[1:-1, 1:-1, 1:-1]
        return Structure(name or self.name, shrunk, self.grid)

    def union(self, other: Structure, *, name: str | None = None) -> Structure:
        """Voxels in either structure."""
        self._check_same_grid(other)
        return Structure(name or f"{self.name}|{other.name}", self.mask | other.mask, self.grid)

    def intersection(self, other: Structure, *, name: str | None = None) -> Structure:
        """Voxels in both structures."""
        self._check_same_grid(other)
        return Structure(name or f"{self.name}&{other.name}", self.mask & other.mask, self.grid)

    def subtract(self, other: Structure, *, name: str | None = None) -> Structure:
        """Voxels in this structure but not in ``other``."""
        self._check_same_grid(other)
        return Structure(name or f"{self.name}-{other.name}", self.mask & ~other.mask, self.grid)

    __or__ = union
    __and__ = intersection
    __sub__ = subtract

    def dice(self, other: Structure) -> float:
        """Dice similarity coefficient 2|A∩B| / (|A| + |B|) with ``other`` (1 when both empty)."""
        self._check_same_grid(other)
        total = self.n_voxels + other.n_voxels
        if total == 0:
            return 1.0
        return 2.0 * np.count_nonzero(self.mask & other.mask) / total

    def _scaled_sampling(self, margins: np.ndarray) -> tuple[float, float, float]:
        spacing = np.asarray(self.grid.spacing_mm)
        with np.errstate(divide="ignore"):
            scaled = np.where(margins > 0, spacing / np.where(margins > 0, margins, 1.0), _FAR)
        return tuple(float(s) for s in scaled)  # type: ignore[return-value]

    def _check_same_grid(self, other: Structure) -> None:
        if not isinstance(other, Structure):
            raise StructureError(f"expected a Structure; got {type(other).__name__}")
        if other.grid != self.grid:
            raise GridMismatchError(
                f"structures {self.name!r} and {other.name!r} are on different grids "
                f"({self.grid} vs {other.grid}); resample one onto the other's grid first"
            )

    def __repr__(self) -> str:
        return f"Structure({self.name!r}, {self.n_voxels} voxels, {self.volume_cm3:.3g} cm³)"


def _margins(margin_mm: float | tuple[float, float, float]) -> np.ndarray:
    try:
        values = np.asarray(margin_mm, dtype=float)
    except (TypeError, ValueError):
        values = np.full(1, np.nan)
    if values.ndim == 0:
        values = np.full(3, float(values))
    if values.shape != (3,) or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise StructureError(
            f"a margin must be one non-negative number of mm or three (x, y, z); got {margin_mm!r}"
        )
    return values


class StructureSet(Mapping[str, Structure]):
    """An ordered, read-only mapping name → :class:`Structure`, all on one grid.

    Looking up a missing name raises :class:`~ionbeam.errors.UnknownNameError`
    listing the names that exist.
    """

    def __init__(self, structures: Iterable[Structure] = ()) -> None:
        items: dict[str, Structure] = {}
        grid: Grid | None = None
        for structure in structures:
            if not isinstance(structure, Structure):
                raise StructureError(f"a StructureSet holds Structures; got {type(structure)}")
            if structure.name in items:
                raise StructureError(f"two structures are named {structure.name!r}; rename one")
            if grid is not None and structure.grid != grid:
                raise GridMismatchError(
                    f"structure {structure.name!r} is on another grid than the others; "
                    "resample it first"
                )
            grid = structure.grid
            items[structure.name] = structure
        self._items = items
        self._grid = grid

    @property
    def grid(self) -> Grid | None:
        """The common grid (None for an empty set)."""
        return self._grid

    @property
    def names(self) -> tuple[str, ...]:
        """Structure names in order."""
        return tuple(self._items)

    def __getitem__(self, name: str) -> Structure:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError("structure", name, self._items) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def with_structure(self, structure: Structure) -> StructureSet:
        """A new set with ``structure`` added (or replacing the one of the same name)."""
        kept = [s for s in self._items.values() if s.name != structure.name]
        return StructureSet([*kept, structure])

    def without(self, name: str) -> StructureSet:
        """A new set without the structure called ``name``."""
        self[name]  # raises for an unknown name
        return StructureSet(s for s in self._items.values() if s.name != name)

    def __repr__(self) -> str:
        return f"StructureSet({', '.join(self._items)})"
