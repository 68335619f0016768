"""A thorax slab with lungs and a tumour inside one of them (a heterogeneity test).

Patient LPS coordinates, mm: an elliptic-cylinder thorax (soft tissue,
40 HU) with two lungs (-750 HU, inflated lung), a vertebral body
(cancellous bone, 400 HU) with the spinal canal behind it (spinal cord
35 HU inside a 700 HU bony ring), and a spherical soft-tissue tumour
(30 HU) in the right lung (patient's right is -x). The PTV is the GTV
plus a margin.
"""

from __future__ import annotations

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.patient.patient import Patient
from ionbeam.patient.phantoms._build import assemble, positive
from ionbeam.patient.phantoms._shapes import centred_grid, ellipsoid, elliptic_cylinder_z
from ionbeam.patient.structures import Structure

__all__ = ["lung_phantom"]

HU = {"air": -1000.0, "soft_tissue": 40.0, "vertebra": 400.0, "bone_ring": 700.0,
      "cord": 35.0, "tumour": 30.0}  # fmt: skip
_SIZE_MM = (340.0, 240.0, 180.0)
_HALF_LENGTH_MM = 80.0


def lung_phantom(
    *,
    spacing_mm: float = 2.5,
    lung_hu: float = -750.0,
    tumour_radius_mm: float = 15.0,
    tumour_centre_mm: tuple[float, float, float] = (-75.0, -10.0, 10.0),
    ptv_margin_mm: float = 5.0,
) -> Patient:
    """Thorax slab; structures ``Body``, ``Lung_L``, ``Lung_R``, ``SpinalCord``,
    ``GTV``, ``PTV`` (target)."""
    spacing = positive("spacing_mm", spacing_mm)
    radius = positive("tumour_radius_mm", tumour_radius_mm)
    centre = np.asarray(tumour_centre_mm, dtype=float)
    if centre.shape != (3,) or not np.all(np.isfinite(centre)) or not -1000 <= lung_hu <= 0:
        raise ConfigError("tumour_centre_mm must be (x, y, z) mm and lung_hu within -1000–0 HU")
    grid = centred_grid(_SIZE_MM, spacing)
    z_range = (-_HALF_LENGTH_MM, _HALF_LENGTH_MM)
    body = elliptic_cylinder_z(grid, (0, 0), (160, 110), z_range)
    lung_left = elliptic_cylinder_z(grid, (75, -5), (55, 70), z_range)
    lung_right = elliptic_cylinder_z(grid, (-75, -5), (55, 70), z_range)
    vertebra = elliptic_cylinder_z(grid, (0, 65), (18, 16), z_range)
    canal_ring = elliptic_cylinder_z(grid, (0, 92), (12, 12), z_range)
    cord = elliptic_cylinder_z(grid, (0, 92), (6, 6), z_range)
    gtv = ellipsoid(grid, centre, (radius,) * 3) & body
    if not np.any(gtv & (lung_left | lung_right)):
        raise ConfigError(f"the tumour at {centre.tolist()} mm must lie inside a lung")
    hu = np.full(grid.shape, HU["air"], dtype=np.float32)
    for mask, value in (
        (body, HU["soft_tissue"]),
        (lung_left | lung_right, float(lung_hu)),
        (vertebra, HU["vertebra"]),
        (canal_ring, HU["bone_ring"]),
        (cord, HU["cord"]),
        (gtv, HU["tumour"]),
    ):
        hu[mask] = value
    ptv = Structure("GTV", gtv, grid).expand(float(ptv_margin_mm)).mask & body
    masks = {
        "Body": body,
        "Lung_L": lung_left & ~gtv,
        "Lung_R": lung_right & ~gtv,
        "SpinalCord": cord,
        "GTV": gtv,
        "PTV": ptv,
    }
    parameters = {
        "spacing_mm": spacing,
        "lung_hu": float(lung_hu),
        "tumour_radius_mm": radius,
        "tumour_centre_mm": centre.tolist(),
        "ptv_margin_mm": float(ptv_margin_mm),
    }
    return assemble("lung", grid, hu, masks, target_name="PTV", parameters=parameters)
