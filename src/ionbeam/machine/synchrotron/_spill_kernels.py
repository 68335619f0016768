"""Pure array kernels of the reduced slow-extraction model (numpy, no state, no I/O).

Notation (see :mod:`.resonance`): a particle has normalised betatron
amplitude r = √ε (√m, Rayleigh-distributed for a Gaussian beam) and
momentum offset δ; the betatron core adds the same Δδ(t) to everyone.
It becomes unstable when σ·δQ ≤ c_K r, with δQ = δQ₀ + Q'(δ + Δδ),
c_K = S √(π / (48√3 π²)) and σ the side from which tunes approach the
resonance. Hence the betatron-core shift at which it turns unstable is
Δδ* = g(r) − δ with g(r) = (σ c_K r − δQ₀)/Q'.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

__all__ = [
    "momentum_cdf",
    "rayleigh_nodes",
    "shift_cdf",
    "spiral_step",
    "transit_turns",
]


def rayleigh_nodes(sigma_r: float, n: int) -> np.ndarray:
    """``n`` equal-probability amplitudes of a Rayleigh distribution (quantile midpoints)."""
    p = (np.arange(n) + 0.5) / n
    return sigma_r * np.sqrt(-2.0 * np.log1p(-p))


def momentum_cdf(z: np.ndarray, half_width: float, distribution: str) -> np.ndarray:
    """CDF of the momentum offset δ: ``uniform`` on ±half_width, or ``gaussian`` (σ = hw/2)."""
    if distribution == "uniform":
        return np.clip((z + half_width) / (2.0 * half_width), 0.0, 1.0)
    return ndtr(z / (0.5 * half_width))


def shift_cdf(
    shift: np.ndarray,
    g_of_r: np.ndarray,
    *,
    half_width: float,
    distribution: str,
) -> np.ndarray:
    """P(Δδ* ≤ shift) averaged over amplitude nodes with instability offsets ``g_of_r``.

    ``shift`` may be (n_t,) or (n_t, n_r) (one shift per amplitude node, e.g. with a
    per-amplitude delay); returns (n_t,).
    """
    shift = np.asarray(shift, float)
    if shift.ndim == 1:
        shift = shift[:, None]
    return np.mean(1.0 - momentum_cdf(g_of_r[None, :] - shift, half_width, distribution), axis=1)


def transit_turns(
    inradius: np.ndarray, arm_length: np.ndarray, strength: float, relative_offset: np.ndarray
) -> np.ndarray:
    """Turns from just outside a separatrix vertex to the septum along the arm.

    Along a separatrix arm Kobayashi's flow is dλ/dn = (3S/4)(λ² − 3h²) (n in
    units of three turns, λ measured from the side's midpoint); a particle
    starting at λ₀ = √3 h (1 + η) reaches λ_sep after
    n = [ln((λ−a)/(λ+a))]_{λ₀}^{λ_sep} / (3S a/2), a = √3 h.
    """
    a = math.sqrt(3.0) * np.asarray(inradius, float)
    lam0 = a * (1.0 + relative_offset)
    lam = np.maximum(np.asarray(arm_length, float), lam0 * (1.0 + 1e-9))
    log_ratio = np.log((lam - a) / (lam + a)) - np.log((lam0 - a) / (lam0 + a))
    return 3.0 * log_ratio / (1.5 * strength * a)


def spiral_step(
    start: np.ndarray,
    *,
    strength: float,
    tune: float,
    phase_to_observation_rad: float,
    turns: int = 3,
) -> np.ndarray:
    """Normalised position (√m) after ``turns`` turns of the thin virtual-sextupole map.

    One turn, observed at a point ``phase_to_observation_rad`` downstream of
    the virtual sextupole: rotate by 2πQ − μ to the sextupole, kick
    X' += S X², rotate by μ back to the observation point. Used for the spiral
    step at the septum, where the three-turn jump is too large for the averaged
    Hamiltonian.
    """
    x, p = float(start[0]), float(start[1])
    mu = phase_to_observation_rad
    to_kick = 2.0 * math.pi * tune - mu
    c0, s0 = math.cos(to_kick), math.sin(to_kick)
    c1, s1 = math.cos(mu), math.sin(mu)
    for _ in range(turns):
        x, p = c0 * x + s0 * p, -s0 * x + c0 * p  # observation point -> sextupole
        p = p + strength * x * x
        x, p = c1 * x + s1 * p, -s1 * x + c1 * p  # sextupole -> observation point
    return np.array([x, p])
