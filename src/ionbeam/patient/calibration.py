"""HU calibration curves: HU → stopping-power ratio, mass density and tissue class.

A :class:`HUCalibration` is piecewise linear between its nodes and constant
beyond the first and last node (a CT number outside the table takes the
value of the nearest end). Tissue classes are HU intervals, used later by
Monte Carlo (material assignment) and biology (tissue parameters).

Build one with :func:`ionbeam.patient.stoichiometric_calibration` (the
Schneider et al. 1996 method) or read a clinical table with
:func:`ionbeam.patient.load_calibration` (``ionbeam.patient.calibration_file``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ionbeam.errors import ConfigError, OutOfRangeError
from ionbeam.patient.tissues import TISSUE_GROUPS

__all__ = [
    "DEFAULT_TISSUE_BOUNDARIES_HU",
    "HUCalibration",
]

#: Upper HU bounds of the tissue classes air, lung, adipose, soft tissue (bone above),
#: conventional values used when a calibration does not derive its own.
DEFAULT_TISSUE_BOUNDARIES_HU: tuple[float, ...] = (-900.0, -200.0, -20.0, 150.0)


def _frozen(values: np.ndarray) -> np.ndarray:
    array = np.array(values, dtype=float, copy=True)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class HUCalibration:
    """Piecewise-linear HU → SPR and HU → mass density, and HU → tissue class.

    ``hu`` (strictly increasing nodes), ``spr`` and ``density_g_cm3`` have one
    value per node. ``tissue_boundaries_hu`` are the upper HU bounds of all
    tissue classes but the last; ``tissue_names`` has one more entry.
    """

    hu: np.ndarray
    spr: np.ndarray
    density_g_cm3: np.ndarray
    tissue_boundaries_hu: tuple[float, ...] = DEFAULT_TISSUE_BOUNDARIES_HU
    tissue_names: tuple[str, ...] = TISSUE_GROUPS
    source: str = ""

    def __post_init__(self) -> None:
        hu = np.asarray(self.hu, dtype=float)
        spr = np.asarray(self.spr, dtype=float)
        density = np.asarray(self.density_g_cm3, dtype=float)
        if hu.ndim != 1 or hu.size < 2 or spr.shape != hu.shape or density.shape != hu.shape:
            raise ConfigError(
                "a calibration needs at least two nodes with one HU, SPR and density each; "
                f"got {hu.size} HU, {spr.size} SPR and {density.size} density values"
            )
        for name, values in (("HU", hu), ("SPR", spr), ("density", density)):
            if not np.all(np.isfinite(values)):
                raise ConfigError(f"calibration {name} values must be finite; found NaN/inf")
        if np.any(np.diff(hu) <= 0):
            bad = hu[1:][np.diff(hu) <= 0][0]
            raise ConfigError(
                f"calibration HU values must increase strictly; HU {bad:g} is not above "
                "the one before it (sort the table and remove duplicates)"
            )
        if np.any(spr < 0) or np.any(density < 0):
            raise ConfigError("calibration SPR and density values must be ≥ 0")
        bounds = tuple(float(b) for b in self.tissue_boundaries_hu)
        if len(tuple(self.tissue_names)) != len(bounds) + 1 or np.any(np.diff(bounds) <= 0):
            raise ConfigError(
                "tissue classes need increasing HU boundaries and one more name than "
                f"boundaries; got {bounds} and {tuple(self.tissue_names)}"
            )
        object.__setattr__(self, "hu", _frozen(hu))
        object.__setattr__(self, "spr", _frozen(spr))
        object.__setattr__(self, "density_g_cm3", _frozen(density))
        object.__setattr__(self, "tissue_boundaries_hu", bounds)
        object.__setattr__(self, "tissue_names", tuple(self.tissue_names))

    def hu_to_spr(self, hu: np.ndarray | float) -> np.ndarray:
        """Stopping-power ratio to water for CT numbers ``hu`` (any shape)."""
        return np.interp(self._checked(hu), self.hu, self.spr)

    def hu_to_density_g_cm3(self, hu: np.ndarray | float) -> np.ndarray:
        """Mass density (g/cm³) for CT numbers ``hu`` (any shape)."""
        return np.interp(self._checked(hu), self.hu, self.density_g_cm3)

    def hu_to_tissue(self, hu: np.ndarray | float) -> np.ndarray:
        """Tissue class index (into ``tissue_names``) for CT numbers ``hu``, int8."""
        return np.searchsorted(self.tissue_boundaries_hu, self._checked(hu), side="right").astype(
            np.int8
        )

    def _checked(self, hu: np.ndarray | float) -> np.ndarray:
        values = np.asarray(hu, dtype=float)
        if not np.all(np.isfinite(values)):
            raise OutOfRangeError("CT number", "NaN or infinity", -1024, 3071, "HU")
        return values
