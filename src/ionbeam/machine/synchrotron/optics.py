"""Linear optics of a ring (Xsuite twiss), as plain arrays, and working-point matching.

With strengths normalised to the rigidity, the transverse optics are the
same for every particle and energy, so :func:`compute_optics` runs Xsuite's
4D twiss once per layout and caches the result on disk
(:mod:`ionbeam._cache`). Chromaticities are ``dQ/dδ`` with δ = Δp/p (Xsuite's
``dqx``; MAD-X quotes ``dQ/dpt`` = ``dQ/dδ`` / β₀). Phases are in radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ionbeam._cache import cache_key, load_arrays, save_arrays
from ionbeam.errors import ConfigError
from ionbeam.machine.synchrotron.layout import RingLayout

__all__ = ["PointOptics", "RingOptics", "compute_optics", "match_working_point"]


@dataclass(frozen=True)
class PointOptics:
    """Horizontal optics at one point: β (m), α, dispersion D (m) and D', phase μ (rad)."""

    s_m: float
    betx_m: float
    alfx: float
    dx_m: float
    dpx: float
    phase_x_rad: float

    @property
    def normalised_dispersion(self) -> tuple[float, float]:
        """(D/√β, (αD + βD')/√β), √m: closed-orbit shift per unit δ in normalised phase space."""
        root = math.sqrt(self.betx_m)
        return self.dx_m / root, (self.alfx * self.dx_m + self.betx_m * self.dpx) / root


@dataclass(frozen=True, eq=False)
class RingOptics:
    """Tunes, chromaticities, lattice functions (arrays along s) and key points of a ring.

    ``sext_*`` arrays describe every sextupole at its centre: family,
    integrated strength ``k2l`` (m⁻²), β_x (m), horizontal phase (rad) and
    dispersion (m).
    """

    machine: str
    circumference_m: float
    qx: float
    qy: float
    dqx: float
    dqy: float
    momentum_compaction: float
    s_m: np.ndarray
    betx_m: np.ndarray
    bety_m: np.ndarray
    alfx: np.ndarray
    dx_m: np.ndarray
    phase_x_rad: np.ndarray
    sext_family: tuple[str, ...]
    sext_k2l: np.ndarray
    sext_betx_m: np.ndarray
    sext_phase_x_rad: np.ndarray
    sext_dx_m: np.ndarray
    septum: PointOptics
    betatron_core: PointOptics

    @property
    def gamma_transition(self) -> float:
        """γ_tr = 1/√α_c."""
        return 1.0 / math.sqrt(self.momentum_compaction)

    def slip_factor(self, gamma: float) -> float:
        """Phase-slip factor η = α_c − 1/γ² (negative below transition)."""
        return self.momentum_compaction - 1.0 / gamma**2


_SCALARS = ("circumference_m", "qx", "qy", "dqx", "dqy", "momentum_compaction")
_ARRAYS = ("s_m", "betx_m", "bety_m", "alfx", "dx_m", "phase_x_rad")
_SEXT = ("sext_k2l", "sext_betx_m", "sext_phase_x_rad", "sext_dx_m")


def _point(tw: object, name: str) -> PointOptics:
    row = tw.rows[name]  # type: ignore[attr-defined]
    return PointOptics(
        s_m=float(row.s[0]),
        betx_m=float(row.betx[0]),
        alfx=float(row.alfx[0]),
        dx_m=float(row.dx[0]),
        dpx=float(row.dpx[0]),
        phase_x_rad=float(2 * np.pi * row.mux[0]),
    )


def _sextupole_centres(tw: object, layout: RingLayout) -> dict[str, np.ndarray]:
    """Optics at each sextupole's centre: linear optics through half its length is a drift."""
    names = np.asarray(tw.name)  # type: ignore[attr-defined]
    rows = []
    counters: dict[str, int] = {}
    for family in layout.element_families:
        i = counters.get(family, 0)
        counters[family] = i + 1
        if layout.families[family].kind != "sextupole":
            continue
        j = int(np.flatnonzero(names == f"{family}.{i}")[0])
        half = layout.families[family].length_m / 2
        beta0, alpha0 = tw.betx[j], tw.alfx[j]  # type: ignore[attr-defined]
        gamma0 = (1 + alpha0**2) / beta0
        beta = beta0 - 2 * alpha0 * half + gamma0 * half**2
        phase = 2 * np.pi * tw.mux[j] + math.atan2(half, beta0 - alpha0 * half)  # type: ignore[attr-defined]
        disp = tw.dx[j] + tw.dpx[j] * half  # type: ignore[attr-defined]
        k2l = layout.strengths[family] * layout.families[family].length_m
        rows.append((family, k2l, beta, phase, disp))
    return {
        "sext_family": np.array([r[0] for r in rows]),
        "sext_k2l": np.array([r[1] for r in rows]),
        "sext_betx_m": np.array([r[2] for r in rows]),
        "sext_phase_x_rad": np.array([r[3] for r in rows]),
        "sext_dx_m": np.array([r[4] for r in rows]),
    }


def _twiss_arrays(layout: RingLayout) -> dict[str, np.ndarray]:
    from ionbeam.machine.synchrotron.lattice_xsuite import build_line

    line = build_line(layout)
    tw = line.twiss4d()
    arrays = {
        "circumference_m": np.array(layout.circumference_m),
        "qx": np.array(tw.qx),
        "qy": np.array(tw.qy),
        "dqx": np.array(tw.dqx),
        "dqy": np.array(tw.dqy),
        "momentum_compaction": np.array(tw.momentum_compaction_factor),
        "s_m": np.asarray(tw.s),
        "betx_m": np.asarray(tw.betx),
        "bety_m": np.asarray(tw.bety),
        "alfx": np.asarray(tw.alfx),
        "dx_m": np.asarray(tw.dx),
        "phase_x_rad": 2 * np.pi * np.asarray(tw.mux),
        **_sextupole_centres(tw, layout),
    }
    for point in ("es_entry", "betatron_core"):
        p = _point(tw, point)
        arrays[point] = np.array(
            [p.s_m, p.betx_m, p.alfx, p.dx_m, p.dpx, p.phase_x_rad], dtype=float
        )
    return arrays


def compute_optics(layout: RingLayout) -> RingOptics:
    """The ring's linear optics from Xsuite's 4D twiss (cached on disk per layout)."""
    key = cache_key("ring-optics", layout=layout.fingerprint())
    arrays = load_arrays(key)
    if arrays is None:
        arrays = _twiss_arrays(layout)
        save_arrays(key, arrays)
    if not (np.isfinite(arrays["qx"]) and np.isfinite(arrays["qy"])):
        raise ConfigError(
            f"ring {layout.name!r} has no stable closed orbit with these strengths; "
            "choose quadrupole strengths that give real tunes"
        )
    return RingOptics(
        machine=layout.name,
        **cast("dict[str, Any]", {k: float(arrays[k]) for k in _SCALARS}),
        **cast("dict[str, Any]", {k: np.asarray(arrays[k], dtype=float) for k in _ARRAYS + _SEXT}),
        sext_family=tuple(str(f) for f in arrays["sext_family"]),
        septum=PointOptics(*(float(v) for v in arrays["es_entry"])),
        betatron_core=PointOptics(*(float(v) for v in arrays["betatron_core"])),
    )


def match_working_point(
    layout: RingLayout,
    *,
    qx: float,
    qy: float,
    dqx: float | None = None,
    dqy: float | None = None,
    zero_dispersion_at_resonance_sextupole: bool = False,
) -> RingLayout:
    """A copy of ``layout`` whose strengths give the tunes ``qx``, ``qy`` (and chromaticities).

    Quadrupole families are varied for the tunes (and, when asked, for zero
    dispersion at the resonance sextupole); the chromaticity sextupoles for
    ``dqx``/``dqy`` (dQ/dδ) when both are given. Uses Xsuite's matcher.
    """
    import xtrack as xt

    from ionbeam.machine.synchrotron.lattice_xsuite import build_line, knob_name

    line = build_line(layout)
    quads = list(layout.quadrupole_families)
    targets = [xt.TargetSet(qx=qx, qy=qy, tol=1e-7)]
    if zero_dispersion_at_resonance_sextupole:
        targets.append(xt.Target("dx", 0.0, at=f"{layout.resonance_sextupoles[0]}.0", tol=1e-6))
    else:
        quads = quads[:2]
    vary = [xt.VaryList([knob_name(q) for q in quads], step=1e-4)]
    if dqx is not None and dqy is not None:
        sexts = list(layout.chromaticity_sextupoles)
        vary.append(xt.VaryList([knob_name(s) for s in sexts], step=1e-3))
        targets.append(xt.TargetSet(dqx=dqx, dqy=dqy, tol=1e-5))
    line.match(method="4d", vary=vary, targets=targets, verbose=False)
    new = {f: float(line.vars[knob_name(f)]._value) for f in layout.strengths}
    return layout.with_strengths(**new)
