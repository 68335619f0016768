"""A skull-base chordoma case, as CNAO treats them with protons and carbon ions.

A stylised adult head (patient LPS coordinates, mm; the origin near the
centre of the head): an ellipsoidal head on a neck, a 6 mm cortical-bone
skull shell over the brain, a skull-base plate with the foramen magnum,
the clivus (cancellous bone) sloping down and back from the dorsum sellae,
the sphenoid and maxillary sinuses (air) in front of it, both eyes, the
brainstem behind the clivus and the optic chiasm above the sella. The GTV
sits in the clivus and abuts the brainstem; the PTV is the GTV plus a
margin (it overlaps the brainstem, as in the clinic). CT numbers are
typical of a 120 kV scan: brain 35 HU, soft tissue 40 HU, skull 1200 HU,
clivus 700 HU, air -1000 HU.
"""

from __future__ import annotations

import numpy as np

from ionbeam.patient.grid import Grid
from ionbeam.patient.patient import Patient
from ionbeam.patient.phantoms._build import assemble, positive
from ionbeam.patient.phantoms._shapes import (
    centred_grid,
    coordinates,
    ellipsoid,
    elliptic_cylinder_z,
    oriented_box,
)
from ionbeam.patient.structures import Structure

__all__ = ["head_phantom"]

HU = {
    "air": -1000.0,
    "soft_tissue": 40.0,
    "brain": 35.0,
    "brainstem": 32.0,
    "skull": 1200.0,
    "clivus": 700.0,
    "eye": 20.0,
    "tumour": 45.0,
}
#: Grid extent (x, y, z) mm and its centre offset along z.
_SIZE_MM = (176.0, 216.0, 270.0)
_Z_CENTRE_MM = -17.5
#: Unit vector along the clivus (down and back) and its normal (back and up).
_CLIVUS_AXIS = np.array([0.0, 0.45, -0.893])
_CLIVUS_NORMAL = np.array([0.0, 0.893, 0.45])


def head_phantom(*, spacing_mm: float = 2.0, ptv_margin_mm: float = 3.0) -> Patient:
    """Skull-base chordoma; structures ``Body``, ``Brain``, ``Skull``, ``Brainstem``,
    ``OpticChiasm``, ``Eye_L``, ``Eye_R``, ``GTV``, ``PTV`` (target)."""
    spacing = positive("spacing_mm", spacing_mm)
    margin = float(ptv_margin_mm)
    grid = centred_grid(_SIZE_MM, spacing)
    grid = Grid(
        grid.shape,
        grid.spacing_mm,
        (grid.origin_mm[0], grid.origin_mm[1], grid.origin_mm[2] + _Z_CENTRE_MM),
    )
    masks = _anatomy(grid)
    hu = np.full(grid.shape, HU["air"], dtype=np.float32)
    for region, value in (
        ("Body", HU["soft_tissue"]),
        ("Brain", HU["brain"]),
        ("Skull", HU["skull"]),
        ("clivus", HU["clivus"]),
        ("sinuses", HU["air"]),
        ("Eye_L", HU["eye"]),
        ("Eye_R", HU["eye"]),
        ("Brainstem", HU["brainstem"]),
        ("OpticChiasm", HU["brainstem"]),
        ("GTV", HU["tumour"]),
    ):
        hu[masks[region]] = value
    structures = {k: v for k, v in masks.items() if k not in ("clivus", "sinuses")}
    ptv = Structure("GTV", masks["GTV"], grid).expand(margin).mask & masks["Body"]
    structures["PTV"] = ptv
    parameters = {"spacing_mm": spacing, "ptv_margin_mm": margin}
    return assemble("head", grid, hu, structures, target_name="PTV", parameters=parameters)


def _anatomy(grid: Grid) -> dict[str, np.ndarray]:
    x, y, z = coordinates(grid)
    head = ellipsoid(grid, (0, 0, 0), (75, 95, 105))
    neck = elliptic_cylinder_z(grid, (0, 10), (55, 62), (-150, -40))
    body = head | neck
    outer = ellipsoid(grid, (0, 0, 0), (70, 90, 100))
    inner = ellipsoid(grid, (0, 0, 0), (64, 84, 94))
    vault = z > -40
    skull_base = inner & (z <= -40) & (z > -46) & ~(((x / 16) ** 2 + ((y - 28) / 16) ** 2) <= 1)
    skull = (outer & ~inner & vault) | skull_base
    brain = inner & vault
    clivus = oriented_box(grid, (0, 5, -20), (_CLIVUS_AXIS, _CLIVUS_NORMAL, (1, 0, 0)), (24, 6, 13))
    brainstem = ellipsoid(grid, (0, 28, -20), (14, 11, 30))
    sinuses = (
        ellipsoid(grid, (0, -24, -8), (14, 10, 10))
        | ellipsoid(grid, (28, -50, -35), (14, 16, 16))
        | ellipsoid(grid, (-28, -50, -35), (14, 16, 16))
    )
    gtv = ellipsoid(grid, (0, 5, -18), (16, 14, 20)) & ~brainstem
    return {
        "Body": body,
        "Brain": brain & ~brainstem,
        "Skull": skull,
        "clivus": clivus & ~brainstem,
        "sinuses": sinuses & ~clivus,
        "Eye_L": ellipsoid(grid, (32, -68, 8), (12, 12, 12)),
        "Eye_R": ellipsoid(grid, (-32, -68, 8), (12, 12, 12)),
        "Brainstem": brainstem,
        "OpticChiasm": ellipsoid(grid, (0, -12, 14), (9, 5, 2.5)),
        "GTV": gtv,
    }
