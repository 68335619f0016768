"""Beam geometry: IEC 61217 gantry and patient-support angles in patient coordinates.

Coordinate systems (IEC 61217): the fixed system *f* has X_f to the right
of an observer at the foot of the couch facing the gantry, Y_f towards the
gantry, Z_f up. The gantry system *g* is *f* rotated about Y_f by the
gantry angle (clockwise seen from the isocentre looking at the gantry);
the source lies on +Z_g. The patient-support system *s* is *f* rotated
about Z_f by the couch angle (counter-clockwise seen from above). The
patient (DICOM LPS: x to the patient's left, y posterior, z superior) lies
on the couch; for head-first supine (HFS) x = X_s, y = -Z_s, z = Y_s. So,
HFS with the couch at 0°, the beam travels posteriorly at gantry 0°
(anterior field), to the patient's right at 90° (left lateral field),
anteriorly at 180° and to the patient's left at 270°.

Beam's-eye view (BEV): x along X_g, y along Y_g (collimator at 0°), in the
plane through the isocentre normal to the central axis; ``depth`` is the
distance downstream of that plane along the central axis.

Scanned beams diverge from two virtual sources, one per scanning magnet,
at source–axis distances ``sad_mm = (sad_x, sad_y)`` upstream of the
isocentre. The central ray of the spot aimed at (x, y) in the isocentre
plane is the line through the points (x (1 + w/sad_x), y (1 + w/sad_y), w)
(BEV coordinates, w = depth): a straight line, through the x-magnet's
source in the x–depth projection and the y-magnet's in the y–depth one.
An infinite SAD means parallel scanning along that axis.

CNAO delivers with fixed horizontal and vertical beam lines and rotates the
patient (couch); :meth:`BeamGeometry.fixed_line` expresses both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ionbeam.errors import GeometryError, UnknownNameError

__all__ = ["PATIENT_POSITIONS", "BeamGeometry"]

#: Support → patient (LPS) axes for each patient position (columns: X_s, Y_s, Z_s).
PATIENT_POSITIONS: dict[str, np.ndarray] = {
    "HFS": np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float),
    "HFP": np.array([[-1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=float),
    "FFS": np.array([[-1, 0, 0], [0, 0, -1], [0, -1, 0]], dtype=float),
    "FFP": np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=float),
}
#: Where a ray of a parallel beam (infinite SAD) starts upstream of the isocentre, mm.
PARALLEL_START_MM = 10_000.0
_FIXED_LINES = {"vertical": 0.0, "horizontal": 90.0}


def _rotation_y(angle_deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rotation_z(angle_deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class BeamGeometry:
    """A beam direction: IEC 61217 ``gantry_deg`` and ``couch_deg``, the
    ``isocenter_mm`` (patient LPS), the virtual source–axis distances
    ``sad_mm = (sad_x, sad_y)`` (``math.inf`` = parallel) and the
    ``patient_position`` (HFS, HFP, FFS, FFP)."""

    gantry_deg: float = 0.0
    couch_deg: float = 0.0
    isocenter_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    sad_mm: tuple[float, float] = (math.inf, math.inf)
    patient_position: str = "HFS"

    def __post_init__(self) -> None:
        for name in ("gantry_deg", "couch_deg"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise GeometryError(f"{name} must be a finite angle in degrees; got {value}")
            object.__setattr__(self, name, value % 360.0)
        iso = tuple(float(v) for v in np.asarray(self.isocenter_mm, dtype=float).reshape(-1))
        if len(iso) != 3 or not all(math.isfinite(v) for v in iso):
            raise GeometryError(
                f"isocenter_mm must be three finite mm values; got {self.isocenter_mm}"
            )
        sad = tuple(float(v) for v in np.asarray(self.sad_mm, dtype=float).reshape(-1))
        if len(sad) != 2 or any(math.isnan(v) or v <= 0 for v in sad):
            raise GeometryError(
                f"sad_mm must be two positive distances (sad_x, sad_y) in mm, or inf for a "
                f"parallel beam; got {self.sad_mm}"
            )
        position = str(self.patient_position).upper()
        if position not in PATIENT_POSITIONS:
            raise UnknownNameError("patient position", self.patient_position, PATIENT_POSITIONS)
        object.__setattr__(self, "isocenter_mm", iso)
        object.__setattr__(self, "sad_mm", sad)
        object.__setattr__(self, "patient_position", position)

    @classmethod
    def fixed_line(
        cls,
        line: Literal["horizontal", "vertical"],
        *,
        couch_deg: float = 0.0,
        isocenter_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
        sad_mm: tuple[float, float] = (math.inf, math.inf),
        patient_position: str = "HFS",
    ) -> BeamGeometry:
        """A fixed beam line as at CNAO: ``vertical`` (from above, gantry 0°) or
        ``horizontal`` (gantry 90°; pass ``gantry_deg=270`` to the constructor for
        a line from the other side); the couch sets the direction in the patient."""
        key = str(line).strip().lower()
        if key not in _FIXED_LINES:
            raise UnknownNameError("fixed beam line", line, _FIXED_LINES)
        return cls(_FIXED_LINES[key], couch_deg, isocenter_mm, sad_mm, patient_position)

    # -- frames -------------------------------------------------------------
    @property
    def gantry_to_patient(self) -> np.ndarray:
        """Rotation [3, 3] whose columns are the BEV x, BEV y and towards-source
        unit vectors in patient coordinates."""
        support = _rotation_z(self.couch_deg).T @ _rotation_y(self.gantry_deg)
        return PATIENT_POSITIONS[self.patient_position] @ support

    @property
    def direction(self) -> np.ndarray:
        """Unit vector of the central axis, source → isocentre, patient coordinates."""
        return -self.gantry_to_patient[:, 2]

    @property
    def bev_axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors of BEV x and y in patient coordinates."""
        rotation = self.gantry_to_patient
        return rotation[:, 0], rotation[:, 1]

    @property
    def is_parallel(self) -> bool:
        """Whether both scanning directions are parallel (infinite SAD)."""
        return all(math.isinf(s) for s in self.sad_mm)

    # -- transforms -----------------------------------------------------------
    def bev_to_patient(self, xy_mm: np.ndarray) -> np.ndarray:
        """Patient coordinates [..., 3] of BEV points [..., 2] (x, y in the isocentre
        plane) or [..., 3] (x, y, depth downstream of the isocentre plane)."""
        points = np.asarray(xy_mm, dtype=float)
        if points.shape[-1] not in (2, 3):
            raise GeometryError(
                f"BEV points need 2 (x, y) or 3 (x, y, depth) values; got {points.shape}"
            )
        rotation = self.gantry_to_patient
        offset = points[..., 0, None] * rotation[:, 0] + points[..., 1, None] * rotation[:, 1]
        if points.shape[-1] == 3:
            offset = offset - points[..., 2, None] * rotation[:, 2]
        return np.asarray(self.isocenter_mm) + offset

    def patient_to_bev(self, points_mm: np.ndarray) -> np.ndarray:
        """BEV (x, y, depth) [..., 3] of patient points [..., 3]: x, y along the BEV
        axes and depth downstream of the isocentre plane, mm (no divergence)."""
        points = _points(points_mm)
        local = (points - np.asarray(self.isocenter_mm)) @ self.gantry_to_patient
        local[..., 2] *= -1.0
        return local

    def project_to_isoplane(self, points_mm: np.ndarray) -> np.ndarray:
        """Isocentre-plane position (x, y) [..., 2] of the spot whose central ray
        passes through each patient point (undoes the divergence)."""
        bev = self.patient_to_bev(points_mm)
        return bev[..., :2] / self._magnification(bev[..., 2])

    def source_position_mm(self, plane: Literal["x", "y"] = "x") -> np.ndarray:
        """Virtual source of the ``x`` or ``y`` scanning magnet, patient coordinates."""
        if plane not in ("x", "y"):
            raise UnknownNameError("scanning plane", plane, ("x", "y"))
        sad = self.sad_mm[0 if plane == "x" else 1]
        if math.isinf(sad):
            raise GeometryError(
                f"the {plane} scanning plane is parallel (infinite SAD) and has no source position"
            )
        return np.asarray(self.isocenter_mm) + sad * self.gantry_to_patient[:, 2]

    def spot_ray(
        self, x_mm: np.ndarray | float, y_mm: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Central ray of the spot(s) aimed at BEV (x, y) in the isocentre plane:
        ``origin`` [..., 3] upstream at the farther virtual source (10 m for a
        parallel beam) and unit ``direction`` [..., 3], patient coordinates."""
        x, y = np.broadcast_arrays(np.asarray(x_mm, dtype=float), np.asarray(y_mm, dtype=float))
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise GeometryError("spot positions must be finite mm values")
        rotation = self.gantry_to_patient
        inv_sad = np.array([0.0 if math.isinf(s) else 1.0 / s for s in self.sad_mm])
        slope = np.stack([x * inv_sad[0], y * inv_sad[1], -np.ones_like(x)], axis=-1)
        local_direction = slope / np.linalg.norm(slope, axis=-1, keepdims=True)
        start_depth = -self.ray_start_distance_mm
        local_origin = np.stack(
            [x * (1 + start_depth * inv_sad[0]), y * (1 + start_depth * inv_sad[1]),
             np.full_like(x, -start_depth)], axis=-1,
        )  # fmt: skip
        origin = np.asarray(self.isocenter_mm) + local_origin @ rotation.T
        return origin, local_direction @ rotation.T

    @property
    def ray_start_distance_mm(self) -> float:
        """Distance upstream of the isocentre plane where spot rays start, mm."""
        finite = [s for s in self.sad_mm if math.isfinite(s)]
        return max(finite) if finite else PARALLEL_START_MM

    def _magnification(self, depth_mm: np.ndarray) -> np.ndarray:
        inv_sad = np.array([0.0 if math.isinf(s) else 1.0 / s for s in self.sad_mm])
        factor = 1.0 + np.asarray(depth_mm)[..., None] * inv_sad
        if np.any(factor <= 0):
            raise GeometryError("a point lies upstream of a virtual source; check sad_mm")
        return factor


def _points(points_mm: np.ndarray) -> np.ndarray:
    points = np.array(points_mm, dtype=float)
    if points.shape[-1:] != (3,) or not np.all(np.isfinite(points)):
        raise GeometryError(
            f"points must be finite (x, y, z) mm values [..., 3]; got shape {points.shape}"
        )
    return points
