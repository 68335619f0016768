"""Ring layouts: the published PIMMS geometry and the CNAO-like stretch of it."""

import itertools
import math

import pytest

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.machine.synchrotron.layout import (
    MagnetFamily,
    cnao_layout,
    get_layout,
    pimms_layout,
)


@pytest.mark.parametrize("layout", [pimms_layout(), cnao_layout()], ids=["pimms", "cnao"])
def test_sixteen_dipoles_close_the_ring(layout) -> None:
    dipoles = layout.elements_of("mb")
    assert len(dipoles) == 16
    assert 16 * layout.families["mb"].angle_rad == pytest.approx(2 * math.pi)
    quads = sum(len(layout.elements_of(f)) for f in ("qf1", "qd", "qf2"))
    assert quads == 24


@pytest.mark.parametrize("layout", [pimms_layout(), cnao_layout()], ids=["pimms", "cnao"])
def test_elements_do_not_overlap_and_fit_in_the_ring(layout) -> None:
    edges = sorted(
        (s - layout.families[f].length_m / 2, s + layout.families[f].length_m / 2)
        for f, s in zip(layout.element_families, layout.element_s_m, strict=True)
    )
    assert edges[0][0] >= 0 and edges[-1][1] <= layout.circumference_m
    for (_, end), (start, _) in itertools.pairwise(edges):
        assert start >= end - 1e-9


def test_published_dimensions() -> None:
    pimms, cnao = pimms_layout(), cnao_layout()
    assert pimms.circumference_m == 75.24
    assert cnao.circumference_m == pytest.approx(77.648, abs=1e-3)  # CNAO: 77.648 m
    assert pimms.bending_radius_m == pytest.approx(4.23, abs=5e-3)  # PIMMS: ρ ≈ 4.23 m
    assert cnao.families["mb"].length_m == 1.6772
    assert pimms.septum.s_m == pytest.approx(73.25, abs=0.01)
    assert pimms.betatron_core_s_m == pytest.approx(18.7, abs=0.05)
    assert pimms.strengths["xrr"] == 8.65


def test_with_strengths_returns_a_new_layout() -> None:
    layout = pimms_layout()
    other = layout.with_strengths(qf1=0.3)
    assert other.strengths["qf1"] == 0.3 and layout.strengths["qf1"] == 0.315396
    assert other.fingerprint() != layout.fingerprint()
    with pytest.raises(UnknownNameError):
        layout.with_strengths(qz=1.0)


def test_bad_names_and_families() -> None:
    with pytest.raises(UnknownNameError):
        get_layout("hit")
    with pytest.raises(UnknownNameError):
        MagnetFamily("octupole", 0.1)
    with pytest.raises(ConfigError):
        MagnetFamily("quadrupole", 0.0)
