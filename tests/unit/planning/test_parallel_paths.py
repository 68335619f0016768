"""The paths of fine sampling's parallel share (``_dose_kernels._parallel_paths``).

A proton of a sub-beam's residual spread in air, known only to arrive at the voxel, has
come along the voxel's own ray on average and spread around it with the variance of
x(w) − x(w'), σ_b²(w') = σ²(w) − σ²(w') − 2 (w − w') M₁(w') (Fermi–Eyges moments along
the ray). In a medium of constant scattering power T that is
T [(w − w')² w' + (w − w')³ / 3] (the angle gathered before w' over the lever arm left,
plus the scattering after w'): the reference here, computed by hand, not by the code.
"""

from __future__ import annotations

import math

import numpy as np

from ionbeam.planning import _dose_kernels as kernels

T_RAD2_PER_MM = 2.0e-6
DEPTH_MM = 80.0


def _tables():
    w = np.arange(0.0, 101.0)
    sigma2 = (T_RAD2_PER_MM * w**3 / 3.0)[None, :]
    m1 = (T_RAD2_PER_MM * w**2 / 2.0)[None, :]
    # two lattice rays 1 mm apart: a dense side at u = −0.5 (WEPL = depth) and a lung-like
    # side at u = +0.5 (a quarter of it), an interface at u = 0
    lattice = np.stack([w, 0.25 * w])[:, None, :].astype(np.float32)
    start = np.array([-0.5, 0.0, 0.0])
    step = np.array([1.0, 1.0, 1.0])
    return sigma2, m1, lattice, start, step


def _expected_crossing_mm(to_u: float) -> float:
    """Depth (mm) along which the outer path at +1.150 σ_b (Φ⁻¹(7/8)) lies on the light
    side, for the paths' four equal segments (each read at its middle)."""
    length = 0.0
    for k in range(4):
        mid = (k + 0.5) * DEPTH_MM / 4
        lever = DEPTH_MM - mid
        var = T_RAD2_PER_MM * (lever**2 * mid + lever**3 / 3.0)
        if to_u + 1.1503493803760079 * math.sqrt(var) >= 0.0:
            length += DEPTH_MM / 4
    return length


def test_parallel_paths_spread_with_the_fermi_eyges_backward_variance() -> None:
    """The voxel 0.5 mm inside the dense side: the outer path towards the interface
    (1.150 σ_b = 0.66, 0.56, 0.38, 0.14 mm at the quarters' middles) crosses it in the
    first two quarters of the way only, so its WEPL is the voxel's less 0.75 × 40 mm; the
    inner paths (0.319 σ_b) and those away from it stay dense. With σ_b² = σ²(w) − σ²(w')
    (the M₁ term left out) it would cross in three quarters."""
    sigma2, m1, lattice, start, step = _tables()
    paths = kernels._parallel_paths(
        0, DEPTH_MM, -0.5, 0.0, DEPTH_MM, sigma2, m1, 0.0, 1.0, 0.0, lattice, start, step
    )
    crossing = _expected_crossing_mm(-0.5)
    assert crossing == 40.0  # the set-up
    assert math.isclose(paths[0], DEPTH_MM - 0.75 * crossing, abs_tol=0.05), paths
    for wepl in paths[1:]:
        assert math.isclose(wepl, DEPTH_MM, abs_tol=1e-6), paths


def test_parallel_paths_stay_on_the_voxels_ray_far_from_an_interface() -> None:
    """2.5 mm from the interface (beyond 1.150 σ_b everywhere) every path reads the voxel's
    own WEPL, whatever it is (a range shifter's WET included)."""
    sigma2, m1, lattice, start, step = _tables()
    lattice = np.concatenate([lattice[:1]] * 4 + [lattice[1:]])  # rays at −3.5 … +0.5
    start = np.array([-3.5, 0.0, 0.0])
    paths = kernels._parallel_paths(
        0, DEPTH_MM, -2.5, 0.0, DEPTH_MM + 7.0, sigma2, m1, 0.0, 1.0, 0.0, lattice, start, step
    )
    for wepl in paths:
        assert math.isclose(wepl, DEPTH_MM + 7.0, abs_tol=1e-4), paths
