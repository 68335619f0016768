"""CNAO's ring in ionbeam (Xsuite twiss) vs CNAO's published MAD-X optics.

Reference: CNAO's own lattice, github.com/CNAO/SlowExtractionSimulations
``LATTICE/Prova3.seq`` (the same lengths as github.com/CNAO/optics
``synchro/``), re-entered element by element, drifts included, in
``tests/data/machines/cnao_ring_elements.csv``. The reference optics are
computed here from that list with MAD-X's first-order thick-element maps
(drift, quadrupole, sector bend, dipole edge with FINT = 0), an oracle
independent of Xsuite and of ionbeam's layout (which keeps only the magnet
centres). The published working point is Qx = 1.666, Qy = 1.74 (the
target of CNAO's slow-extraction studies, ``pyLib/steinbach.py``).

Tolerances, as the issue asks: tunes within 1e-3 of the working point and
of the oracle; β and D at the extraction septum within 5 % of the oracle
(the two differ only by ionbeam's dropping of zero-strength elements and by
Xsuite's exact bend map against MAD-X's first-order one: well under 1 %
here). γ_tr within 1 %. Chromaticity: the sextupoles' share of dQx/dδ in
Xsuite (with minus without the sextupoles) against the first-order sum
(1/4π) Σ k2L βx D over the published sextupoles with the oracle's β and D
at their centres, within 5 % (the thin-lens sum leaves out the variation
of β and D along the 0.26 m magnets and second-order terms, ~1 %).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from ionbeam.machine.synchrotron.layout import cnao_layout
from ionbeam.machine.synchrotron.optics import compute_optics

DATA = Path(__file__).parents[1] / "data" / "machines" / "cnao_ring_elements.csv"
STRENGTHS = {
    "KF": 0.2912136711,
    "KD": -0.4954568844,  # the KD quadrupoles have K1 := -KD
    "KR": 0.4970952875,
    "S0": -0.62340650893723,
    "S1": 0.0034006333477191,
    "SR": -3.3,
}
ANGLE = math.pi / 8
EDGE = math.pi / 16
PUBLISHED_QX, PUBLISHED_QY = 1.666, 1.74


def _elements() -> list[tuple[str, str, float, float]]:
    rows = [r for r in DATA.read_text().splitlines() if r and not r.startswith("#")]
    out = []
    for row in csv.DictReader(rows):
        strength = STRENGTHS.get(row["strength"], 0.0)
        if row["strength"] == "-KD":
            strength = STRENGTHS["KD"]
        out.append((row["name"], row["type"], float(row["length_m"]), strength))
    return out


def _quad(k: float, length: float) -> np.ndarray:
    if abs(k) < 1e-12:
        return np.array([[1.0, length], [0.0, 1.0]])
    if k > 0:
        w = math.sqrt(k)
        c, s = math.cos(w * length), math.sin(w * length)
        return np.array([[c, s / w], [-w * s, c]])
    w = math.sqrt(-k)
    c, s = math.cosh(w * length), math.sinh(w * length)
    return np.array([[c, s / w], [w * s, c]])


def _maps(delta: float) -> list[tuple[np.ndarray, ...]]:
    """Per element: (3×3 horizontal map on (x, x', δ), 2×2 vertical map, length)."""
    maps = []
    for _, kind, length, k in _elements():
        mx3 = np.eye(3)
        if kind == "SBEND":
            h = ANGLE / length
            kx = h**2 / (1 + delta)
            w = math.sqrt(kx)
            c, s = math.cos(w * length), math.sin(w * length)
            body = np.array([[c, s / w, h * (1 - c) / kx], [-w * s, c, h * s / w], [0.0, 0.0, 1.0]])
            edge_x = np.array([[1.0, 0, 0], [h * math.tan(EDGE) / (1 + delta), 1, 0], [0, 0, 1]])
            edge_y = np.array([[1.0, 0], [-h * math.tan(EDGE) / (1 + delta), 1]])
            mx3 = edge_x @ body @ edge_x
            my = edge_y @ np.array([[1.0, length], [0.0, 1.0]]) @ edge_y
        else:
            k1 = k / (1 + delta) if kind == "QUADRUPOLE" else 0.0
            mx3[:2, :2] = _quad(k1, length)
            my = _quad(-k1, length)
        maps.append((mx3, my, length))
    return maps


def _one_turn(delta: float) -> tuple[np.ndarray, ...]:
    mx, my = np.eye(3), np.eye(2)
    for m3, m2, _ in _maps(delta):
        mx, my = m3 @ mx, m2 @ my
    return mx, my


def _periodic(m: np.ndarray) -> tuple[float, float, float]:
    cos_mu = (m[0, 0] + m[1, 1]) / 2
    sin_mu = math.copysign(math.sqrt(1 - cos_mu**2), m[0, 1])
    return m[0, 1] / sin_mu, (m[0, 0] - m[1, 1]) / (2 * sin_mu), math.atan2(sin_mu, cos_mu)


def _tune(m: np.ndarray, maps: list, plane: int) -> float:
    """Total phase advance / 2π, accumulated element by element (integer part included)."""
    beta, alpha, _ = _periodic(m[:2, :2])
    mu = 0.0
    for m3, m2, _ in maps:
        t = m3[:2, :2] if plane == 0 else m2
        mu += math.atan2(t[0, 1], t[0, 0] * beta - t[0, 1] * alpha)
        gamma = (1 + alpha**2) / beta
        beta, alpha = (
            t[0, 0] ** 2 * beta - 2 * t[0, 0] * t[0, 1] * alpha + t[0, 1] ** 2 * gamma,
            -t[0, 0] * t[1, 0] * beta
            + (t[0, 0] * t[1, 1] + t[0, 1] * t[1, 0]) * alpha
            - t[0, 1] * t[1, 1] * gamma,
        )
    return mu / (2 * math.pi)


def _oracle() -> dict[str, object]:
    maps = _maps(0.0)
    mx, my = _one_turn(0.0)
    beta, alpha, _ = _periodic(mx[:2, :2])
    d = np.linalg.solve(np.eye(2) - mx[:2, :2], mx[:2, 2])
    # Walk around the ring: optics at every element entrance.
    rows, s = [], 0.0
    state = np.array([beta, alpha, d[0], d[1]])
    circumference = sum(m[2] for m in maps)
    slip = 0.0
    for (name, kind, length, _), (m3, _, _) in zip(_elements(), maps, strict=True):
        rows.append((name, s, *state))
        b, a, dx, dpx = state
        if kind == "SBEND":  # ∮ D/ρ ds, D through the body by Simpson's rule
            h = ANGLE / length
            sub = [np.eye(3)]
            for f in (0.5, 1.0):
                part = _maps_sub_bend(length * f, h)
                sub.append(part)
            edge = np.array([[1.0, 0, 0], [h * math.tan(EDGE), 1, 0], [0, 0, 1]])
            v = edge @ np.array([dx, dpx, 1.0])
            ds = [(m @ v)[0] for m in sub]
            slip += h * length * (ds[0] + 4 * ds[1] + ds[2]) / 6
        t = m3[:2, :2]
        g = (1 + a**2) / b
        b, a = (
            t[0, 0] ** 2 * b - 2 * t[0, 0] * t[0, 1] * a + t[0, 1] ** 2 * g,
            -t[0, 0] * t[1, 0] * b
            + (t[0, 0] * t[1, 1] + t[0, 1] * t[1, 0]) * a
            - t[0, 1] * t[1, 1] * g,
        )
        dx, dpx, _ = m3 @ np.array([dx, dpx, 1.0])
        state = np.array([b, a, dx, dpx])
        s += length
    sextupole_sum = 0.0
    for (_, kind, length, k), r in zip(_elements(), rows, strict=True):
        if kind == "SEXTUPOLE":
            _, b, a, dx, dpx = r[1:]
            half = length / 2
            beta_c = b - 2 * a * half + (1 + a**2) / b * half**2
            sextupole_sum += k * length * beta_c * (dx + dpx * half) / (4 * math.pi)
    return {
        "qx": _tune(mx, maps, 0),
        "qy": _tune(my, maps, 1),
        "rows": {r[0]: r[1:] for r in rows},
        "momentum_compaction": slip / circumference,
        "sextupole_chromaticity": sextupole_sum,
        "circumference": circumference,
    }


def _maps_sub_bend(length: float, h: float) -> np.ndarray:
    w = h
    c, s = math.cos(w * length), math.sin(w * length)
    return np.array([[c, s / w, (1 - c) / h], [-w * s, c, s], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def oracle() -> dict[str, object]:
    return _oracle()


@pytest.fixture(scope="module")
def optics():
    return compute_optics(cnao_layout())


def test_magnet_centres_are_the_published_ones() -> None:
    """ionbeam's layout keeps the centre of every magnet of the published list (0.1 mm)."""
    published: dict[str, list[float]] = {"SBEND": [], "QUADRUPOLE": [], "SEXTUPOLE": []}
    s = 0.0
    for _, kind, length, _ in _elements():
        if kind in published:
            published[kind].append(s + length / 2)
        s += length
    layout = cnao_layout()
    assert s == pytest.approx(layout.circumference_m, abs=1e-4)
    kinds = {"SBEND": ("mb",), "QUADRUPOLE": ("qf1", "qd", "qf2"),
             "SEXTUPOLE": ("xcf", "xcd", "xrr")}  # fmt: skip
    for kind, families in kinds.items():
        ours = sorted(c for f in families for c in layout.elements_of(f))
        np.testing.assert_allclose(ours, published[kind], atol=1e-4)


def test_tunes_match_the_published_working_point(optics, oracle) -> None:
    assert optics.qx == pytest.approx(PUBLISHED_QX, abs=1e-3)
    assert optics.qy == pytest.approx(PUBLISHED_QY, abs=1e-3)
    assert optics.qx == pytest.approx(oracle["qx"], abs=1e-3)
    assert optics.qy == pytest.approx(oracle["qy"], abs=1e-3)


def test_optics_at_the_extraction_septum(optics, oracle) -> None:
    """SE_010A_ESP: β, D (and D′) within 5 % of the published lattice's optics."""
    _, beta, alpha, d, dp = oracle["rows"]["SE_010A_ESP"]
    septum = optics.septum
    assert septum.betx_m == pytest.approx(beta, rel=0.05)
    assert septum.dx_m == pytest.approx(d, rel=0.05)
    assert septum.dpx == pytest.approx(dp, rel=0.05)
    assert septum.alfx == pytest.approx(alpha, abs=0.05)
    # The septum sits one dipole upstream of the dispersion-free straight: large D.
    assert septum.dx_m > 3.0


def test_betatron_core_and_resonance_sextupole(optics, oracle) -> None:
    """Betatron core in a dispersive straight; resonance sextupole where D = 0."""
    _, beta, _, d, _ = oracle["rows"]["S4_015A_BEC"]
    assert optics.betatron_core.betx_m == pytest.approx(beta, rel=0.05)
    core = optics.betatron_core
    # The oracle row is the core's entrance; ionbeam's marker is at its centre (0.75 m on).
    assert core.dx_m == pytest.approx(d, rel=0.05)
    i = optics.sext_family.index("xrr")
    assert abs(optics.sext_dx_m[i]) < 0.05


def test_transition_and_chromaticity(optics, oracle) -> None:
    assert optics.gamma_transition == pytest.approx(
        1 / math.sqrt(oracle["momentum_compaction"]), rel=0.01
    )
    bare = compute_optics(cnao_layout().with_strengths(xcf=0.0, xcd=0.0, xrr=0.0))
    assert optics.dqx - bare.dqx == pytest.approx(oracle["sextupole_chromaticity"], rel=0.05)
    assert optics.dqx < 0  # negative: the betatron core drives the tune onto 5/3 from above
