"""Third-integer resonance: Kobayashi Hamiltonian, separatrix, Steinbach diagram, Hardt condition.

Normalised coordinates at a point of horizontal lattice functions (β, α):
X = x/√β, X' = (αx + βx')/√β (units √m); linear motion is a clockwise
rotation by the phase advance. A thin sextupole of integrated strength
k2L (m⁻²) kicks X' by S·X² with the normalised strength

    S = −½ β^{3/2} k2L                                   (m^{-1/2}).

Several sextupoles act, near the resonance 3Q = p, like one *virtual
sextupole* of strength |Σ S_k e^{3iμ_k}| at phase arg(Σ)/3. Averaged over
three turns, the motion follows Kobayashi's Hamiltonian (Y. Kobayashi,
Nucl. Instrum. Methods 83 (1970) 77; PIMMS Part I, CERN/PS 99-010, ch. 2–3)

    H = 3π δQ (X² + X'²) + (S/4)(3 X X'² − X³),     δQ = Q − p/3,

with time counted in units of three turns. Its stable region is a triangle
of inscribed radius h = 4π|δQ|/S and area 48√3 π² δQ²/S², so a particle of
Courant–Snyder invariant ε (area πε) is unstable when ε ≥ 48√3 π δQ²/S²:
this boundary, drawn against momentum through the chromaticity
(δQ = Q₀ + Q'δ − p/3), is the Steinbach diagram. Outside, particles leave
along the separatrix arms (straight lines extending the triangle's sides)
and reach the septum; the separatrices of all momenta extracted at the
same time coincide at the septum when the Hardt condition (W. Hardt,
CERN PS/DL/LEAR Note 81-6, 1981) holds:

    Q' = −σ S (n̂·D_n) / (4π),

with n̂ the outward normal of the extracting side at the septum, D_n the
normalised dispersion there and σ = sign(δQ) of the particles extracted.

The model is first order in the sextupoles (no amplitude detuning); it holds
near the resonance (|δQ| ≲ 0.01) and for amplitudes of the order of the
stable triangle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import ConfigError
from ionbeam.machine.synchrotron.optics import PointOptics, RingOptics

__all__ = [
    "KOBAYASHI_AREA_FACTOR",
    "Separatrix",
    "VirtualSextupole",
    "hardt_chromaticity",
    "normalised_sextupole_strength",
    "resonance_tune",
    "separatrix_at",
    "stable_area_m",
    "stable_emittance_m",
    "steinbach_boundary",
    "tune_distance_for_emittance",
    "virtual_sextupole",
]

#: Area of the stable triangle is KOBAYASHI_AREA_FACTOR · δQ²/S² (m).
KOBAYASHI_AREA_FACTOR = 48.0 * math.sqrt(3.0) * math.pi**2


@dataclass(frozen=True)
class VirtualSextupole:
    """The sextupoles' net third-integer driving term: ``strength`` S (m^-1/2, ≥ 0) at
    horizontal phase ``phase_rad``."""

    strength: float
    phase_rad: float


def normalised_sextupole_strength(k2l: ArrayLike, betx_m: ArrayLike) -> np.ndarray:
    """S = −½ β^{3/2} k2L (m^-1/2) of thin sextupoles of integrated strength k2L (m⁻²)."""
    return -0.5 * np.asarray(k2l, float) * np.asarray(betx_m, float) ** 1.5


def virtual_sextupole(optics: RingOptics) -> VirtualSextupole:
    """The virtual sextupole of all of a ring's sextupoles (resonance and chromatic)."""
    s = normalised_sextupole_strength(optics.sext_k2l, optics.sext_betx_m)
    z = np.sum(s * np.exp(3j * optics.sext_phase_x_rad))
    if abs(z) == 0.0:
        raise ConfigError(
            f"ring {optics.machine!r} has no sextupole driving the third-integer resonance; "
            "switch on the resonance sextupole (k2 of 'xrr')"
        )
    return VirtualSextupole(strength=float(abs(z)), phase_rad=float(np.angle(z) / 3.0))


def resonance_tune(q: float) -> float:
    """The third-integer resonance p/3 nearest to the tune ``q``."""
    return round(3.0 * q) / 3.0


def stable_area_m(tune_distance: ArrayLike, strength: float) -> np.ndarray:
    """Area of Kobayashi's stable triangle, 48√3 π² δQ²/S² (normalised phase space, m)."""
    return KOBAYASHI_AREA_FACTOR * np.asarray(tune_distance, float) ** 2 / strength**2


def stable_emittance_m(tune_distance: ArrayLike, strength: float) -> np.ndarray:
    """Largest stable Courant–Snyder invariant ε = area/π (m) at tune distance δQ."""
    return stable_area_m(tune_distance, strength) / math.pi


def tune_distance_for_emittance(emittance_m: ArrayLike, strength: float) -> np.ndarray:
    """|δQ| at which a particle of invariant ε becomes unstable: S √(ε/(48√3 π))."""
    return strength * np.sqrt(np.asarray(emittance_m, float) * math.pi / KOBAYASHI_AREA_FACTOR)


def steinbach_boundary(delta: ArrayLike, *, qx: float, dqx: float, strength: float) -> np.ndarray:
    """√ε of the stability boundary (√m) against momentum offset δ (Steinbach diagram)."""
    dq = qx + dqx * np.asarray(delta, float) - resonance_tune(qx)
    return np.sqrt(stable_emittance_m(dq, strength))


def _rotate_cw(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([c * v[..., 0] + s * v[..., 1], -s * v[..., 0] + c * v[..., 1]], axis=-1)


@dataclass(frozen=True, eq=False)
class Separatrix:
    """Kobayashi's separatrix seen at one point of the ring, in normalised coordinates (√m).

    ``vertices`` (3×2) are the unstable fixed points; ``arm_normal`` is the
    outward unit normal of the side whose arm reaches the septum, ``arm_direction``
    the unit vector along which particles leave, ``arm_start`` the vertex where
    that arm begins. ``inradius`` is h = 4π|δQ|/S.
    """

    tune_distance: float
    strength: float
    inradius: float
    vertices: np.ndarray
    arm_normal: np.ndarray
    arm_direction: np.ndarray
    arm_start: np.ndarray

    @property
    def area_m(self) -> float:
        """Area of the stable triangle, 3√3 h² (m)."""
        return 3.0 * math.sqrt(3.0) * self.inradius**2


def separatrix_at(
    point: PointOptics, sextupole: VirtualSextupole, tune_distance: float, *, septum_side: float
) -> Separatrix:
    """The separatrix for tune distance δQ seen at ``point``; the extracting arm is the
    one pointing most towards ``septum_side`` (+1: septum at x > 0, −1: at x < 0)."""
    if tune_distance == 0.0 or not math.isfinite(tune_distance):
        raise ConfigError(
            f"the tune distance to the resonance must be finite and non-zero; got {tune_distance}"
        )
    sigma = math.copysign(1.0, tune_distance)
    h = 4.0 * math.pi * abs(tune_distance) / sextupole.strength
    base = 0.0 if sigma > 0 else math.pi
    angles = base + 2.0 * math.pi * np.arange(3) / 3.0
    vertex_dirs = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    normals = -vertex_dirs  # the side opposite each vertex
    # Along the side, H's flow leaves beyond the vertex reached by turning the
    # outward normal by +90° (σ > 0) or −90° (σ < 0).
    directions = np.stack([-sigma * normals[:, 1], sigma * normals[:, 0]], axis=-1)
    advance = point.phase_x_rad - sextupole.phase_rad
    vertex_dirs = _rotate_cw(vertex_dirs, advance)
    normals = _rotate_cw(normals, advance)
    directions = _rotate_cw(directions, advance)
    k = int(np.argmax(septum_side * directions[:, 0]))
    start = h * normals[k] + math.sqrt(3.0) * h * directions[k]
    return Separatrix(
        tune_distance=float(tune_distance),
        strength=sextupole.strength,
        inradius=h,
        vertices=2.0 * h * vertex_dirs,
        arm_normal=normals[k],
        arm_direction=directions[k],
        arm_start=start,
    )


def hardt_chromaticity(
    point: PointOptics, sextupole: VirtualSextupole, *, approach_sign: float, septum_side: float
) -> float:
    """The chromaticity dQ/dδ that satisfies the Hardt condition at the septum ``point``.

    ``approach_sign`` is the sign of δQ of the particles being extracted
    (+1 when the tunes come down onto the resonance from above).
    """
    sep = separatrix_at(
        point, sextupole, math.copysign(1e-3, approach_sign), septum_side=septum_side
    )
    d_n = np.asarray(point.normalised_dispersion)
    return float(
        -approach_sign * sextupole.strength * float(sep.arm_normal @ d_n) / (4.0 * math.pi)
    )
