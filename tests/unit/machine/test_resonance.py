"""Kobayashi's separatrix, the virtual sextupole and the Steinbach diagram (no Xsuite).

The geometry is checked against a direct iteration of the thin-sextupole
one-turn map (rotation by 2πQ and the kick X' += S X²), which is the model
Kobayashi's Hamiltonian averages.
"""

import math

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.machine.synchrotron.optics import PointOptics
from ionbeam.machine.synchrotron.resonance import (
    KOBAYASHI_AREA_FACTOR,
    VirtualSextupole,
    hardt_chromaticity,
    normalised_sextupole_strength,
    resonance_tune,
    separatrix_at,
    stable_area_m,
    stable_emittance_m,
    steinbach_boundary,
    tune_distance_for_emittance,
)


def _stable_radius(directions: np.ndarray, q: float, s: float, r_max: float) -> np.ndarray:
    """Largest stable radius per direction for the thin map observed just before the kick."""
    lo, hi = np.zeros_like(directions), np.full_like(directions, r_max)
    c, si = math.cos(2 * math.pi * q), math.sin(2 * math.pi * q)
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        x, p = mid * np.cos(directions), mid * np.sin(directions)
        alive = np.ones_like(x, bool)
        for _ in range(2500):
            p = p + s * x * x
            x, p = c * x + si * p, -si * x + c * p
            alive &= np.abs(x) < 1.0
            x, p = np.where(alive, x, 0.0), np.where(alive, p, 0.0)
        lo, hi = np.where(alive, mid, lo), np.where(alive, hi, mid)
    return 0.5 * (lo + hi)


def test_thin_map_stable_region_is_kobayashis_triangle() -> None:
    q, s = 5 / 3 - 0.002, 20.0
    directions = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    sextupole = VirtualSextupole(strength=s, phase_rad=0.0)
    at_sextupole = PointOptics(0.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    sep = separatrix_at(at_sextupole, sextupole, q - 5 / 3, septum_side=1.0)
    radius = _stable_radius(directions, q, s, 3 * sep.inradius)
    # Area by the same quadrature for map and triangle; Kobayashi is first order in S: 5 %.
    triangle = np.array([_triangle_radius(sep, a) for a in directions])
    assert np.sum(radius**2) == pytest.approx(np.sum(triangle**2), rel=0.05)
    # The largest radii point at the predicted vertices.
    vertex_angles = np.sort(np.arctan2(sep.vertices[:, 1], sep.vertices[:, 0]) % (2 * np.pi))
    measured = np.sort(directions[np.argsort(radius)[-3:]])
    np.testing.assert_allclose(measured, vertex_angles, atol=np.radians(11))


def _triangle_radius(sep, angle: float) -> float:
    u = np.array([math.cos(angle), math.sin(angle)])
    normals = -sep.vertices / np.linalg.norm(sep.vertices, axis=1)[:, None]
    cos = normals @ u
    return min(sep.inradius / c for c in cos if c > 1e-12)


def test_triangle_geometry_and_area() -> None:
    sep = separatrix_at(
        PointOptics(0.0, 9.0, 0.2, 0.0, 0.0, 1.0), VirtualSextupole(25.0, 0.3), 1e-3, septum_side=1
    )
    assert sep.inradius == pytest.approx(4 * math.pi * 1e-3 / 25.0)
    np.testing.assert_allclose(np.linalg.norm(sep.vertices, axis=1), 2 * sep.inradius)
    assert sep.area_m == pytest.approx(float(stable_area_m(1e-3, 25.0)), rel=1e-12)
    assert sep.area_m == pytest.approx(KOBAYASHI_AREA_FACTOR * 1e-6 / 625.0)
    # The arm starts at a vertex, lies on the side line and leaves perpendicular to the normal.
    assert any(np.allclose(sep.arm_start, v) for v in sep.vertices)
    assert sep.arm_normal @ sep.arm_start == pytest.approx(sep.inradius)
    assert sep.arm_normal @ sep.arm_direction == pytest.approx(0.0, abs=1e-12)
    assert sep.arm_direction[0] > 0.5  # it is the arm that heads for a septum at x > 0


def test_emittance_and_tune_distance_are_inverse() -> None:
    dq = np.array([1e-4, 1e-3, 5e-3])
    eps = stable_emittance_m(dq, 23.8)
    np.testing.assert_allclose(tune_distance_for_emittance(eps, 23.8), dq)


def test_steinbach_boundary_vanishes_at_the_resonant_momentum() -> None:
    qx, dqx = 1.666, -1.945
    delta_r = (5 / 3 - qx) / dqx
    boundary = steinbach_boundary(
        [delta_r - 1e-3, delta_r, delta_r + 1e-3], qx=qx, dqx=dqx, strength=24.0
    )
    assert boundary[1] == pytest.approx(0.0, abs=1e-12)
    assert boundary[0] == pytest.approx(boundary[2])  # a symmetric V
    assert boundary[0] == pytest.approx(math.sqrt(float(stable_emittance_m(1.945e-3, 24.0))))


def test_normalised_strength_and_resonance_tune() -> None:
    assert normalised_sextupole_strength(1.73, 9.0) == pytest.approx(-0.5 * 1.73 * 27.0)
    assert resonance_tune(1.666) == pytest.approx(5 / 3)
    assert resonance_tune(1.31) == pytest.approx(4 / 3)


def test_hardt_chromaticity_cancels_the_arm_offset() -> None:
    point = PointOptics(0.0, 9.0, 0.3, 2.0, 0.1, 0.7)
    sextupole = VirtualSextupole(20.0, 0.1)
    q_prime = hardt_chromaticity(point, sextupole, approach_sign=1.0, septum_side=1.0)
    # Arm offset n·(D_n δ) + h(δQ) must not depend on δ when δQ = δQ₀ + Q'δ.
    sep = separatrix_at(point, sextupole, 1e-3, septum_side=1.0)
    d_n = np.array(point.normalised_dispersion)
    offsets = [
        sep.arm_normal @ (d_n * d) + 4 * math.pi * (1e-3 + q_prime * d) / 20.0
        for d in (-1e-3, 1e-3)
    ]
    assert offsets[0] == pytest.approx(offsets[1], abs=1e-12)


def test_zero_tune_distance_is_refused() -> None:
    with pytest.raises(ConfigError):
        separatrix_at(PointOptics(0, 1, 0, 0, 0, 0), VirtualSextupole(1.0, 0.0), 0.0, septum_side=1)
