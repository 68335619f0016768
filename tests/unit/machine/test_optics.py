"""Ring optics from Xsuite's twiss: published working points, chromaticity, matching, cache."""

import contextlib
import io

import numpy as np
import pytest

from ionbeam.machine.synchrotron.lattice_xsuite import build_line
from ionbeam.machine.synchrotron.layout import cnao_layout, pimms_layout
from ionbeam.machine.synchrotron.optics import compute_optics, match_working_point


@pytest.fixture(scope="module")
def pimms():
    return compute_optics(pimms_layout())


def test_pimms_tunes_from_published_strengths(pimms) -> None:
    # PIMMS betatron-core working point: Qx = 1.666, Qy = 1.72 (CERN/PS 99-010).
    assert pimms.qx == pytest.approx(1.666, abs=1e-3)
    assert pimms.qy == pytest.approx(1.72, abs=1e-3)
    assert 5 / 3 - pimms.qx == pytest.approx(6.7e-4, abs=1e-4)  # just below the resonance


def test_cnao_like_tunes() -> None:
    optics = compute_optics(cnao_layout())
    assert optics.qx == pytest.approx(1.666, abs=1e-3)
    assert optics.qy == pytest.approx(1.74, abs=1e-3)
    # Zero dispersion at the resonance sextupole (the PIMMS/CNAO design choice).
    i = optics.sext_family.index("xrr")
    assert abs(optics.sext_dx_m[i]) < 5e-3  # matched to zero at its entrance


def test_chromaticity_is_the_tune_slope(pimms) -> None:
    line = build_line(pimms_layout())
    q = [line.twiss4d(delta0=d).qx for d in (-1e-4, 1e-4)]
    assert (q[1] - q[0]) / 2e-4 == pytest.approx(pimms.dqx, rel=0.01)
    assert pimms.dqx < 0  # the PIMMS sextupole settings: Q'x negative


def test_lattice_functions(pimms) -> None:
    assert 1.5 < pimms.gamma_transition < 2.5
    assert pimms.slip_factor(1.0) < 0  # below transition at every therapy energy
    # Dispersion-free long straights: the resonance sextupole and the septum see D ≈ 0.
    assert abs(pimms.septum.dx_m) < 0.1
    assert np.all(pimms.betx_m > 0) and np.all(pimms.bety_m > 0)
    assert pimms.betatron_core.dx_m > 5.0  # the betatron core sits in the high-dispersion arc


def test_optics_come_back_from_the_cache_unchanged(pimms) -> None:
    again = compute_optics(pimms_layout())
    assert again.qx == pimms.qx
    np.testing.assert_array_equal(again.betx_m, pimms.betx_m)


def test_matching_reaches_its_targets() -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        layout = match_working_point(pimms_layout(), qx=1.6637, qy=1.73)
    optics = compute_optics(layout)
    assert optics.qx == pytest.approx(1.6637, abs=1e-6)
    assert optics.qy == pytest.approx(1.73, abs=1e-6)
