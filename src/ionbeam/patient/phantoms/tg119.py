"""The AAPM TG-119 C-shape test geometry.

Ezzell et al., "IMRT commissioning: multiple institution planning and
dosimetry comparisons, a report from AAPM Task Group 119", *Med. Phys.* 36
(2009) 5359–5373: a C-shaped target (``OuterTarget``) wraps around a
cylindrical core organ at risk (``Core``) in a water-equivalent phantom.
The core is a cylinder of 1 cm radius, 10 cm long; the target's inner
surface is 0.5 cm from the core (radius 1.5 cm), its outer radius is
3.7 cm, and it is 8 cm long, in a 30 × 15 × 30 cm³ (left–right ×
anterior–posterior × superior–inferior) slab of water. Here the cylinders run
along the patient's long axis (z) and the C opens posteriorly (towards +y)
over 150° (``opening_deg``), which gives the 168 cm³ target of the TG-119
structure set distributed with matRad/pyRadPlan (measured there: 167.8 cm³,
core 29.7 cm³, body 30.6 × 15.3 × 30.3 cm), so that plans of both can be
compared on the same geometry.
"""

from __future__ import annotations

import numpy as np

from ionbeam.patient.patient import Patient
from ionbeam.patient.phantoms._build import assemble, positive, triple
from ionbeam.patient.phantoms._shapes import box, centred_grid, coordinates

__all__ = ["tg119_phantom"]

AIR_HU = -1000.0
WATER_HU = 0.0


def tg119_phantom(
    *,
    spacing_mm: float = 2.5,
    core_radius_mm: float = 10.0,
    gap_mm: float = 5.0,
    target_outer_radius_mm: float = 37.0,
    target_length_mm: float = 80.0,
    core_length_mm: float = 100.0,
    body_size_mm: float | tuple[float, float, float] = (300.0, 150.0, 300.0),
    opening_deg: float = 150.0,
    air_margin_mm: float = 10.0,
) -> Patient:
    """TG-119 C-shape; structures ``OuterTarget`` (target), ``Core``, ``Body``."""
    spacing = positive("spacing_mm", spacing_mm)
    core_r = positive("core_radius_mm", core_radius_mm)
    inner_r = core_r + positive("gap_mm", gap_mm)
    outer_r = positive("target_outer_radius_mm", target_outer_radius_mm)
    size = np.asarray(triple("body_size_mm", body_size_mm))
    target_half = positive("target_length_mm", target_length_mm) / 2
    core_half = positive("core_length_mm", core_length_mm) / 2
    grid = centred_grid(size + 2 * float(air_margin_mm), spacing)
    x, y, z = coordinates(grid)
    radius = np.sqrt(x**2 + y**2)
    half_opening = np.radians(positive("opening_deg", opening_deg) / 2)
    opening = np.arctan2(np.abs(x), y) < half_opening  # angle from the +y axis
    core = (radius <= core_r) & (np.abs(z) <= core_half)
    target = (radius >= inner_r) & (radius <= outer_r) & ~opening & (np.abs(z) <= target_half)
    body = box(grid, -size / 2, size / 2)
    hu = np.where(body, WATER_HU, AIR_HU).astype(np.float32)
    parameters = {
        "spacing_mm": spacing,
        "core_radius_mm": core_r,
        "gap_mm": inner_r - core_r,
        "target_outer_radius_mm": outer_r,
        "target_length_mm": 2 * target_half,
        "core_length_mm": 2 * core_half,
        "body_size_mm": size.tolist(),
        "opening_deg": float(opening_deg),
        "air_margin_mm": float(air_margin_mm),
    }
    masks = {"OuterTarget": target & body, "Core": core & body, "Body": body}
    return assemble("tg119", grid, hu, masks, target_name="OuterTarget", parameters=parameters)
