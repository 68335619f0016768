"""Stable region of the PIMMS ring, tracked with Xsuite, vs Kobayashi's triangle.

Reference: Y. Kobayashi, "Theory of the resonant beam ejection from
synchrotrons", Nucl. Instrum. Methods 83 (1970) 77, as used in PIMMS Part I
(CERN/PS 99-010 (DI), ch. 2): near 3Q = p the stable region in normalised
phase space is a triangle of inscribed radius h = 4π|δQ|/S and area
48√3 π² δQ²/S², S being the virtual sextupole of all the ring's sextupoles.

The ring (published PIMMS strengths, thick elements, exact bends) is
trimmed to Qx = 1.6637 (δQ = −0.003) so that particles outside the triangle
leave within the 1500 tracked turns. The largest stable amplitude is found
by bisection along 18 directions. Tolerances: Kobayashi's Hamiltonian is
first order in S and ignores the amplitude detuning of the sextupoles and
the bends' nonlinearities; the thin-map check in the unit tests agrees to
~4 %, so 10 % on the area and 12 % direction by direction leave room for
the thick lattice and the finite number of turns (particles just outside
the separatrix escape slowly and read as stable).
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator

import numpy as np
import pytest

from ionbeam.machine.synchrotron.lattice_xsuite import build_line
from ionbeam.machine.synchrotron.layout import pimms_layout
from ionbeam.machine.synchrotron.optics import PointOptics, compute_optics, match_working_point
from ionbeam.machine.synchrotron.resonance import resonance_tune, separatrix_at, virtual_sextupole
from ionbeam.machine.synchrotron.tracking import tracked_stable_radius


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IONBEAM_CACHE_DIR", str(tmp_path_factory.mktemp("separatrix-cache")))
        yield


def _triangle_radius(sep, angle: float) -> float:
    u = np.array([math.cos(angle), math.sin(angle)])
    normals = -sep.vertices / np.linalg.norm(sep.vertices, axis=1)[:, None]
    return min(sep.inradius / c for c in normals @ u if c > 1e-12)


@pytest.fixture(scope="module")
def measured_and_predicted():
    with contextlib.redirect_stdout(io.StringIO()):
        layout = match_working_point(pimms_layout(), qx=1.6637, qy=1.72)
    optics = compute_optics(layout)
    twiss = build_line(layout).twiss4d()
    start = PointOptics(0.0, float(twiss.betx[0]), float(twiss.alfx[0]), 0.0, 0.0, 0.0)
    sep = separatrix_at(
        start, virtual_sextupole(optics), optics.qx - resonance_tune(optics.qx), septum_side=1.0
    )
    directions = np.linspace(0.0, 2 * np.pi, 18, endpoint=False)
    measured = tracked_stable_radius(layout, directions, r_max=3 * sep.inradius, n_turns=1500)
    predicted = np.array([_triangle_radius(sep, a) for a in directions])
    return directions, measured, predicted, sep


def test_stable_area_matches_kobayashi(measured_and_predicted) -> None:
    _, measured, predicted, sep = measured_and_predicted
    # Same quadrature (½ Σ r² Δθ) for both; the triangle's exact area checks the quadrature.
    assert np.sum(measured**2) == pytest.approx(np.sum(predicted**2), rel=0.10)
    step = 2 * np.pi / measured.size
    assert 0.5 * np.sum(predicted**2) * step == pytest.approx(sep.area_m, rel=0.05)


def test_triangle_shape_and_orientation(measured_and_predicted) -> None:
    directions, measured, predicted, _ = measured_and_predicted
    np.testing.assert_allclose(measured, predicted, rtol=0.12)
    # The vertices (largest radii) point where the virtual sextupole's phase says.
    top = np.sort(directions[np.argsort(measured)[-3:]])
    expected = np.sort(directions[np.argsort(predicted)[-3:]])
    np.testing.assert_allclose(top, expected, atol=1e-9)
