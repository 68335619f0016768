"""A water box with a cubic (or box-shaped) target."""

from __future__ import annotations

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.patient.patient import Patient
from ionbeam.patient.phantoms._build import assemble, positive, triple
from ionbeam.patient.phantoms._shapes import box, centred_grid

__all__ = ["water_phantom"]

AIR_HU = -1000.0
WATER_HU = 0.0


def water_phantom(
    *,
    spacing_mm: float = 2.5,
    box_size_mm: float | tuple[float, float, float] = 160.0,
    target_size_mm: float | tuple[float, float, float] = 40.0,
    target_centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    air_margin_mm: float = 10.0,
) -> Patient:
    """Water (0 HU) box of ``box_size_mm`` centred on the origin, surrounded by
    ``air_margin_mm`` of air; target ``Target`` of ``target_size_mm`` at
    ``target_centre_mm``. Structures: ``Body``, ``Target``."""
    spacing = positive("spacing_mm", spacing_mm)
    size = np.asarray(triple("box_size_mm", box_size_mm))
    target = np.asarray(triple("target_size_mm", target_size_mm))
    centre = np.asarray(target_centre_mm, dtype=float)
    margin = float(air_margin_mm)
    if centre.shape != (3,) or not np.all(np.isfinite(centre)) or margin < 0:
        raise ConfigError("target_centre_mm must be (x, y, z) mm and air_margin_mm ≥ 0")
    if np.any(np.abs(centre) + target / 2 > size / 2):
        raise ConfigError(
            f"the target ({target.tolist()} mm at {centre.tolist()}) must lie inside the "
            f"water box ({size.tolist()} mm)"
        )
    grid = centred_grid(size + 2 * margin, spacing)
    body = box(grid, -size / 2, size / 2)
    target_mask = box(grid, centre - target / 2, centre + target / 2)
    hu = np.where(body, WATER_HU, AIR_HU).astype(np.float32)
    parameters = {
        "spacing_mm": spacing,
        "box_size_mm": size.tolist(),
        "target_size_mm": target.tolist(),
        "target_centre_mm": centre.tolist(),
        "air_margin_mm": margin,
    }
    return assemble(
        "water",
        grid,
        hu,
        {"Body": body, "Target": target_mask},
        target_name="Target",
        parameters=parameters,
    )
