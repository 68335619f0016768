"""Ring layouts: which magnet sits where, as plain data (no Xsuite here).

A :class:`RingLayout` lists every element's family and centre position and
each family's length and strength, so that :mod:`.lattice_xsuite` can build
the Xsuite line and the rest of ionbeam can read the geometry without
importing Xsuite.

Sources
-------
PIMMS: the Proton-Ion Medical Machine Study, Part I and II, CERN/PS 99-010 (DI)
and CERN/PS 2000-007 (DR). Circumference 75.24 m; 16 rectangular dipoles of
1.661 m and 22.5° (ρ = 4.23 m, edge angles 11.25°); three quadrupole families
QF1, QD, QF2 of 0.35 m (8 each) and one QA of 0.556 m; chromaticity
sextupoles XCF, XCD and resonance sextupoles XRR of 0.2 m in the
dispersion-free straight; electrostatic septum at s = 73.25 m; betatron
core at s = 18.72 m. Element centres and the working-point strengths
(QF1 k1 = 0.315396 m⁻², QD k1 = −0.524626 m⁻², QF2 k1 = 0.522717 m⁻²,
XCF k2 = −0.433238 m⁻³, XCD k2 = −0.552276 m⁻³, XRR k2 = 8.65 m⁻³, giving
Qx = 1.666, Qy = 1.72) are the PIMMS values as digitised in the public
Xsuite test data (``xtrack/test_data/pimms/PIMM.seq`` and ``betatron.str``);
ionbeam re-enters them here as numbers.

CNAO: the ring of the Centro Nazionale di Adroterapia Oncologica (Pavia), a
PIMMS derivative whose MAD-X optics CNAO publishes on GitHub: element
lengths and the order of the elements from ``CNAO/SlowExtractionSimulations``
(``LATTICE/Prova3.seq``, the ring used for CNAO's slow-extraction studies)
and ``CNAO/optics`` (``synchro/sequences/synchro.seq`` and
``cnao-elem-BDI-v3.ele``, same lengths). Circumference 77.648 m; 16 sector
dipoles of 1.6772 m, 22.5°, edges 11.25° (FINT = 0 as in ``Prova3.seq``);
24 quadrupoles of 0.36 m in three families KF (8, ionbeam ``qf1``), KD (8,
defocusing, ``qd``), KR (8, ``qf2``); chromaticity sextupoles S0 (S2_019A,
SA_018A, ionbeam ``xcf``) and S1 (S5_012A, SD_014A, ``xcd``), resonance
sextupole SR (S8_028A_SXR, ``xrr``), all 0.26 m; the extraction
electrostatic septum SE_010A_ESP (0.8 m, after the dipole SE_001A, one
dipole upstream of the dispersion-free straight S0) and the betatron core
S4_015A_BEC (1.5 m). Strengths from ``Prova3.seq``: KF = 0.2912136711,
KD = 0.4954568844, KR = 0.4970952875 m⁻², S0 = −0.62340650893723,
S1 = 0.0034006333477191, SR = −3.3 m⁻³ (MAD-X K1, K2, the same
normalisation as Xsuite's k1, k2). ionbeam counts s from the entrance of
the dipole S0_001A_MBS (``START_SEQ`` of ``synchro.seq``); the centres
below are computed from the published lengths, rounded to 0.1 mm. The
other small elements (bumpers of zero angle, kickers, the skew and air-core
quadrupoles at zero strength, monitors) do not change the design optics
and are left out. The repositories carry no licence; ionbeam uses their
numbers as facts and writes the ring in its own code.

Septum: ionbeam puts the electrostatic septum's wires 35 mm from the
closed orbit on the outside (x > 0), 0.8 m long, 0.1 mm effective
thickness — of the order of the PIMMS design, but ionbeam's choice.

Known departures (PIMMS): with the digitised positions the septum sits in
a nearly dispersion-free straight (D ≈ 0.07 m), so the Hardt condition
(:func:`.resonance.hardt_chromaticity`) asks for dQx/dδ ≈ +0.04, whereas
the digitised sextupole settings give −1.94; the arms of different momenta
fan out at the septum (tracked 0.36 mrad per 10⁻³ of δ,
``tests/validation/test_hardt_vs_tracking.py``). The digitised file quotes
Q'x = −4.014, Q'y = −1.158 for these settings where Xsuite gives dQ/dδ =
−1.945, −0.620: the ratios (2.06 and 1.87) differ between the planes, so
MAD-X's normalisation (dQ/dpt = dQ/dδ / β₀, the same factor in both
planes) does not explain them alone; unresolved, and ionbeam keeps the
digitised strengths rather than re-matching to numbers whose definition is
unclear. CNAO's ring, from its own published optics, puts the septum one
dipole upstream of the dispersion-free straight (D = 3.94 m) and nearly
meets the Hardt condition (−2.26 against −2.02).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ionbeam.errors import ConfigError, UnknownNameError

__all__ = [
    "MagnetFamily",
    "RingLayout",
    "SeptumGeometry",
    "cnao_layout",
    "get_layout",
    "pimms_layout",
]

#: Kinds of families :mod:`.lattice_xsuite` knows how to build.
FAMILY_KINDS = ("dipole", "quadrupole", "sextupole")


@dataclass(frozen=True)
class MagnetFamily:
    """Magnets powered together: ``kind`` (dipole, quadrupole, sextupole),
    ``length_m`` (arc length for dipoles), and for dipoles ``angle_rad`` and
    ``edge_angle_rad`` (entry = exit; rectangular magnet: half the angle)."""

    kind: str
    length_m: float
    angle_rad: float = 0.0
    edge_angle_rad: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAMILY_KINDS:
            raise UnknownNameError("magnet kind", self.kind, FAMILY_KINDS)
        if not (math.isfinite(self.length_m) and self.length_m > 0):
            raise ConfigError(f"magnet length must be positive; got {self.length_m} m")


@dataclass(frozen=True)
class SeptumGeometry:
    """The electrostatic septum seen as an aperture.

    ``s_m`` is its entrance, ``length_m`` its length, ``x_m`` the transverse
    position of the septum wires (the circulating beam lives at x < x_m when
    positive), ``wire_thickness_m`` the effective thickness of the wire plane.
    """

    s_m: float
    length_m: float
    x_m: float
    wire_thickness_m: float


@dataclass(frozen=True)
class RingLayout:
    """A synchrotron ring as data: element families and centres, strengths, septum.

    ``element_families[i]`` has its centre at ``element_s_m[i]`` (m). Strengths
    are per family: ``k1`` (m⁻²) for quadrupoles, ``k2`` (m⁻³) for sextupoles,
    normalised to the beam rigidity, so that the optics do not depend on the
    particle or the energy.
    """

    name: str
    circumference_m: float
    families: Mapping[str, MagnetFamily]
    element_families: tuple[str, ...]
    element_s_m: tuple[float, ...]
    strengths: Mapping[str, float]
    septum: SeptumGeometry
    betatron_core_s_m: float
    resonance_sextupoles: tuple[str, ...] = ("xrr",)
    chromaticity_sextupoles: tuple[str, ...] = ("xcf", "xcd")
    quadrupole_families: tuple[str, ...] = ("qf1", "qd", "qf2")
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if len(self.element_families) != len(self.element_s_m):
            raise ConfigError(
                f"layout {self.name!r}: {len(self.element_families)} families for "
                f"{len(self.element_s_m)} positions; give one position per element"
            )
        unknown = set(self.element_families) - set(self.families)
        if unknown:
            raise UnknownNameError("magnet family", sorted(unknown)[0], self.families)
        missing = {
            n for n, f in self.families.items() if f.kind != "dipole" and n not in self.strengths
        }
        if missing:
            raise ConfigError(f"layout {self.name!r}: no strength for families {sorted(missing)}")
        object.__setattr__(self, "families", MappingProxyType(dict(self.families)))
        object.__setattr__(self, "strengths", MappingProxyType(dict(self.strengths)))

    def with_strengths(self, **strengths: float) -> RingLayout:
        """A copy with some family strengths replaced (k1 in m⁻², k2 in m⁻³)."""
        unknown = set(strengths) - set(self.strengths)
        if unknown:
            raise UnknownNameError("magnet family", sorted(unknown)[0], self.strengths)
        merged = {**self.strengths, **{k: float(v) for k, v in strengths.items()}}
        return replace(self, strengths=merged)

    @property
    def bending_radius_m(self) -> float:
        """Bending radius of the main dipoles ρ = L/θ, m."""
        dipole = next(f for f in self.families.values() if f.kind == "dipole")
        return dipole.length_m / dipole.angle_rad

    def elements_of(self, family: str) -> tuple[float, ...]:
        """Centres (m) of the elements of one family."""
        pairs = zip(self.element_families, self.element_s_m, strict=True)
        return tuple(s for f, s in pairs if f == family)

    def fingerprint(self) -> dict[str, object]:
        """Everything that determines the optics, JSON-ready (for cache keys)."""
        return {
            "name": self.name,
            "circumference_m": self.circumference_m,
            "families": {k: vars(v) for k, v in sorted(self.families.items())},
            "elements": list(zip(self.element_families, self.element_s_m, strict=True)),
            "strengths": dict(sorted(self.strengths.items())),
            "septum": vars(self.septum),
            "betatron_core_s_m": self.betatron_core_s_m,
        }


_ANGLE = math.pi / 8  # 22.5° per dipole, 16 dipoles

# PIMMS element centres, m (see module docstring for the source).
_PIMMS_CENTRES: dict[str, tuple[float, ...]] = {
    "mb": (3.8125, 7.0475, 12.1325, 15.9175, 21.7025, 25.4875, 30.5725, 33.8075,
           41.4325, 44.6675, 49.7525, 53.5375, 59.3225, 63.1075, 68.1925, 71.4275),
    "qf1": (2.3875, 8.3275, 29.1175, 35.0575, 40.0075, 45.9475, 66.7375, 72.6775),
    "qd": (5.2925, 14.2625, 23.1825, 32.1525, 42.9125, 51.8825, 60.8025, 69.7725),
    "qf2": (10.6775, 17.1975, 20.2475, 26.7675, 48.2975, 54.8175, 57.8675, 64.3875),
    "qa": (27.9425,),
    "xcd": (10.29, 47.91),
    "xcf": (24.045, 61.665),
    "xrr": (35.3575,),
}  # fmt: skip

_PIMMS_STRENGTHS = {
    "qf1": 0.315396,
    "qd": -0.524626,
    "qf2": 0.522717,
    "qa": 0.0,
    "xcf": -0.433238,
    "xcd": -0.552276,
    "xrr": 8.65,
}

#: CNAO's element centres, m from the entrance of S0_001A_MBS (computed from
#: the published lengths of ``CNAO/SlowExtractionSimulations``
#: ``LATTICE/Prova3.seq``; see the module docstring).
_CNAO_CENTRES: dict[str, tuple[float, ...]] = {
    "mb": (0.8386, 8.4641, 11.7996, 16.8851, 20.9206, 27.2061, 31.2416, 36.3271,
           39.6626, 47.2881, 50.6237, 55.7092, 59.7447, 66.0302, 70.0657, 75.1512),
    "qf1": (2.1764, 7.1264, 13.1674, 34.9594, 41.0004, 45.9504, 51.9914, 73.7834),
    "qd": (10.1319, 19.2529, 28.8739, 37.9949, 48.9559, 58.0769, 67.6979, 76.8189),
    "qf2": (15.5174, 22.2884, 25.8384, 32.6094, 54.3414, 61.1124, 64.6624, 71.4334),
    "xcf": (15.0424, 53.8664),
    "xcd": (29.6789, 68.5029),
    "xrr": (44.8394,),
}  # fmt: skip

#: CNAO's published strengths (``Prova3.seq``): KF, −KD, KR (m⁻²); S0, S1, SR (m⁻³).
_CNAO_STRENGTHS = {
    "qf1": 0.2912136711,
    "qd": -0.4954568844,
    "qf2": 0.4970952875,
    "xcf": -0.62340650893723,
    "xcd": 0.0034006333477191,
    "xrr": -3.3,
}

#: CNAO's circumference (Prova3.seq: the sum of its element lengths), m.
CNAO_CIRCUMFERENCE_M = 77.64808

#: Entrance of the extraction electrostatic septum SE_010A_ESP and centre of the
#: betatron core S4_015A_BEC, m from the entrance of S0_001A_MBS.
_CNAO_SEPTUM_S_M = 71.8584
_CNAO_BETATRON_CORE_S_M = 24.0444


def _families(dipole_length_m: float, with_qa: bool) -> dict[str, MagnetFamily]:
    families = {
        "mb": MagnetFamily("dipole", dipole_length_m, _ANGLE, _ANGLE / 2),
        "qf1": MagnetFamily("quadrupole", 0.35),
        "qd": MagnetFamily("quadrupole", 0.35),
        "qf2": MagnetFamily("quadrupole", 0.35),
        "xcf": MagnetFamily("sextupole", 0.2),
        "xcd": MagnetFamily("sextupole", 0.2),
        "xrr": MagnetFamily("sextupole", 0.2),
    }
    if with_qa:
        families["qa"] = MagnetFamily("quadrupole", 0.556)
    return families


def _sorted_elements(
    centres: Mapping[str, tuple[float, ...]], scale: float
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    pairs = sorted((s * scale, f) for f, ss in centres.items() for s in ss)
    return tuple(f for _, f in pairs), tuple(round(s, 6) for s, _ in pairs)


def pimms_layout() -> RingLayout:
    """The PIMMS ring (CERN/PS 99-010) at its betatron-core working point."""
    families, positions = _sorted_elements(_PIMMS_CENTRES, 1.0)
    return RingLayout(
        name="pimms",
        circumference_m=75.24,
        families=_families(1.661, with_qa=True),
        element_families=families,
        element_s_m=positions,
        strengths=_PIMMS_STRENGTHS,
        septum=SeptumGeometry(s_m=73.25225, length_m=0.8, x_m=0.035, wire_thickness_m=1.0e-4),
        betatron_core_s_m=18.7225,
        quadrupole_families=("qf1", "qd", "qf2"),
        source="PIMMS, CERN/PS 99-010 (DI) and CERN/PS 2000-007 (DR)",
    )


def _cnao_families() -> dict[str, MagnetFamily]:
    return {
        "mb": MagnetFamily("dipole", 1.6772, _ANGLE, _ANGLE / 2),
        **{q: MagnetFamily("quadrupole", 0.36) for q in ("qf1", "qd", "qf2")},
        **{x: MagnetFamily("sextupole", 0.26) for x in ("xcf", "xcd", "xrr")},
    }


def cnao_layout() -> RingLayout:
    """CNAO's ring from its public MAD-X optics (``CNAO/SlowExtractionSimulations``)."""
    families, positions = _sorted_elements(_CNAO_CENTRES, 1.0)
    return RingLayout(
        name="cnao",
        circumference_m=CNAO_CIRCUMFERENCE_M,
        families=_cnao_families(),
        element_families=families,
        element_s_m=positions,
        strengths=_CNAO_STRENGTHS,
        septum=SeptumGeometry(
            s_m=_CNAO_SEPTUM_S_M, length_m=0.8, x_m=0.035, wire_thickness_m=1.0e-4
        ),
        betatron_core_s_m=_CNAO_BETATRON_CORE_S_M,
        source="CNAO public MAD-X optics: github.com/CNAO/SlowExtractionSimulations "
        "LATTICE/Prova3.seq and github.com/CNAO/optics synchro/",
    )


_LAYOUTS = {"pimms": pimms_layout, "cnao": cnao_layout}


def get_layout(name: str) -> RingLayout:
    """The layout called ``name`` (``pimms`` or ``cnao``)."""
    key = str(name).strip().lower()
    if key not in _LAYOUTS:
        raise UnknownNameError("machine", name, _LAYOUTS)
    return _LAYOUTS[key]()
