"""The CT: Hounsfield units on a grid, and what the calibration derives from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ionbeam.errors import OutOfRangeError
from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.grid import Grid

__all__ = ["CT"]

#: CT numbers below this are not physical (air is -1000 HU; scanners pad with -1024 or so).
MIN_HU = -1100.0


@dataclass(frozen=True, eq=False)
class CT:
    """Hounsfield units ``hu`` [x, y, z] (float32, read-only) on ``grid``."""

    hu: np.ndarray
    grid: Grid

    def __post_init__(self) -> None:
        self.grid.check_volume(self.hu, "CT")
        hu = np.array(self.hu, dtype=np.float32, copy=True)
        if not np.all(np.isfinite(hu)):
            raise OutOfRangeError("CT number", "NaN or infinity", MIN_HU, np.inf, "HU")
        low = float(hu.min())
        if low < MIN_HU:
            raise OutOfRangeError("CT number", low, MIN_HU, np.inf, "HU")
        hu.flags.writeable = False
        object.__setattr__(self, "hu", hu)

    def spr(self, calibration: HUCalibration | None = None) -> np.ndarray:
        """Stopping-power ratio to water per voxel (float32), by ``calibration``
        (default: :func:`~ionbeam.patient.stoichiometric_calibration`)."""
        return self._calibration(calibration).hu_to_spr(self.hu).astype(np.float32)

    def density(self, calibration: HUCalibration | None = None) -> np.ndarray:
        """Mass density per voxel, g/cm³ (float32)."""
        return self._calibration(calibration).hu_to_density_g_cm3(self.hu).astype(np.float32)

    def tissue(self, calibration: HUCalibration | None = None) -> np.ndarray:
        """Tissue class index per voxel (int8; names in ``calibration.tissue_names``)."""
        return self._calibration(calibration).hu_to_tissue(self.hu)

    @staticmethod
    def _calibration(calibration: HUCalibration | None) -> HUCalibration:
        if calibration is not None:
            return calibration
        from ionbeam.patient.stoichiometric import stoichiometric_calibration

        return stoichiometric_calibration()

    def __repr__(self) -> str:
        return f"CT(shape={self.grid.shape}, spacing_mm={self.grid.spacing_mm})"
