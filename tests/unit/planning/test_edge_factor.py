"""Fine sampling's edge factor (``_edge_kernels.edge_factor``, ``_edge_moments``).

A broad beam over a lateral step of scattering (variance s_l at x < 0, s_r at x > 0;
Goitein 1978): the protons arriving at x came from x' with the kernel of their own side,
so the fluence is F(x) = Φ(x/σ_r) + Φ(−x/σ_l) for x > 0 and Φ(−x/σ_l) + Φ(x/σ_r) for
x < 0 (the same expression) — the reference here, by hand, not by the code. The
moments' second integral is checked against ∫ ρ (w − z)² dz in closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ionbeam.planning._edge_kernels import edge_factor
from ionbeam.planning._edge_moments import scattering_moments
from ionbeam.planning.raytrace import WeplLattice

S_LEFT = 4.0  # mm², the dense (bone-like) side
S_RIGHT = 1.5  # mm², water


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _step_lattice(left: float, right: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moments constant per half (cells 1 mm wide, the step on a cell face at u = 0),
    uniform in v and depth; the clear distances from the module's own rule."""
    from ionbeam.planning._edge_moments import _clear_distance

    u = -19.5 + np.arange(40)
    moment = np.where(u < 0, left, right)[:, None, None] * np.ones((1, 41, 3))
    start = np.array([-19.5, -20.0, 0.0])
    return moment.astype(np.float32), _clear_distance(moment), start


@pytest.mark.parametrize("x_mm", [-2.5, -0.5, 0.5, 1.5, 3.5])
def test_edge_factor_matches_the_broad_beam_step(x_mm: float) -> None:
    """Within 0.5 % (the window's tails at 3 σ of the wider side)."""
    moment, clear, start = _step_lattice(S_LEFT, S_RIGHT)
    step = np.ones(3)
    f = edge_factor(x_mm, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, moment, clear, start, step)
    expected = _phi(x_mm / math.sqrt(S_RIGHT)) + _phi(-x_mm / math.sqrt(S_LEFT))
    assert f == pytest.approx(expected, abs=5e-3)
    assert (f - 1.0) * x_mm > 0.0  # hot on the water side, cold behind the dense side


def test_edge_factor_is_exactly_one_where_uniform() -> None:
    moment, clear, start = _step_lattice(S_RIGHT, S_RIGHT)
    step = np.ones(3)
    for x in (-3.2, 0.1, 0.5, 7.0):
        assert edge_factor(x, 0.3, 1.0, 1.0, 1.0, 1.0, 0.08, moment, clear, start, step) == 1.0


def test_scattering_moments_integrate_the_lever_arm() -> None:
    """A ray with ρ = 1 from z = 10 mm (P = w − 10 beyond): S(w) = (w − 10)³ / 3 (exact
    for P linear between the nodes)."""
    w = np.arange(0.0, 60.0, 0.5)
    cumulative = np.maximum(w - 10.0, 0.0)[None, None, :].repeat(2, axis=0).repeat(2, axis=1)
    lattice = WeplLattice(cumulative.astype(np.float32), np.zeros(3), np.array([1.0, 1.0, 0.5]))
    moment, clear = scattering_moments(lattice)
    expected = np.maximum(w - 10.0, 0.0) ** 3 / 3.0
    np.testing.assert_allclose(moment[0, 0], expected, rtol=1e-5, atol=1e-4)
    assert np.all(clear > 0)  # all four rays alike


def _sub_beam_reference(x: float, y: float, axis_x: float, air: float, s_axis: float) -> float:
    """A sub-beam (entries N(axis_x, air) in x, N(0, air) in y) over the step: its dose at
    (x, y), ∫ N(x'; axis, air) K(x − x'; s(x')) dx' × the y Gaussian of the same s, by
    quadrature (0.005 mm), over its Gaussian of variance air + s_axis per axis."""
    xs = np.arange(-40.0, 40.0, 0.005)
    s = np.where(xs < 0.0, S_LEFT, S_RIGHT)
    entry = np.exp(-0.5 * (xs - axis_x) ** 2 / air) / math.sqrt(2.0 * math.pi * air)
    kernel = np.exp(-0.5 * (x - xs) ** 2 / s) / np.sqrt(2.0 * math.pi * s)
    across = np.exp(-0.5 * y**2 / (air + s)) / np.sqrt(2.0 * math.pi * (air + s))
    dose = float(np.sum(entry * kernel * across) * 0.005)
    gauss = math.exp(-0.5 * ((x - axis_x) ** 2 + y**2) / (air + s_axis)) / (
        2.0 * math.pi * (air + s_axis)
    )
    return dose / gauss


@pytest.mark.parametrize("axis_mm", [-2.0, -0.3, 0.7, 3.0])
@pytest.mark.parametrize("x_mm", [-1.5, -0.5, 0.5, 2.5])
def test_sub_beam_edge_matches_the_step_by_quadrature(axis_mm: float, x_mm: float) -> None:
    """A sub-beam of residual variance 2 mm² whose own ray scatters as its side of the
    step (the lattice's factor from its axis cell): within 1 % of the quadrature (the
    window of 6 cells either side holds the entries' Gaussian, a s ≤ 1.3 mm², to 5 σ)."""
    from ionbeam.planning._edge_kernels import sub_beam_edge

    moment, clear, start = _step_lattice(S_LEFT, S_RIGHT)
    step = np.ones(3)
    air, y = 2.0, 0.4
    s_axis = S_LEFT if axis_mm < 0 else S_RIGHT
    h = sub_beam_edge(x_mm, y, 1.0, 1.0, 1.0, axis_mm, 0.0, air, s_axis, moment, clear, start, step)
    expected = _sub_beam_reference(x_mm, y, axis_mm, air, s_axis)
    assert h == pytest.approx(expected, rel=1e-2)


def test_sub_beam_edge_of_a_broad_sub_beam_is_the_edge_factor() -> None:
    from ionbeam.planning._edge_kernels import sub_beam_edge

    moment, clear, start = _step_lattice(S_LEFT, S_RIGHT)
    step = np.ones(3)
    for x in (-0.5, 0.5, 1.5):
        f = edge_factor(x, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, moment, clear, start, step)
        h = sub_beam_edge(x, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1e5, S_RIGHT, moment, clear, start, step)
        assert h == pytest.approx(f, abs=2e-3)


def test_sub_beam_edge_is_exactly_one_where_uniform() -> None:
    from ionbeam.planning._edge_kernels import sub_beam_edge

    moment, clear, start = _step_lattice(S_RIGHT, S_RIGHT)
    step = np.ones(3)
    for x, axis in ((-3.2, 1.0), (0.1, -2.0), (7.0, 6.5)):
        h = sub_beam_edge(x, 0.3, 1.0, 1.0, 1.0, axis, 0.0, 2.0, 1.7, moment, clear, start, step)
        assert h == 1.0
