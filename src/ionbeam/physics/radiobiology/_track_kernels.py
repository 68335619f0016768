"""Amorphous track structure and MKM specific energies (numba kernels, pure functions).

Radial dose of the Kiefer–Chatterjee track model, as used for the mMKM by Kase et al.
2008 (Phys Med Biol 53:37) and Inaniwa et al. 2010 (Phys Med Biol 55:6721, eqs 5–8), for
an ion of charge Z and speed β = v/c (from its kinetic energy per nucleon E) in water:

* core radius R_c = 0.0116 β µm; penumbra radius R_p = 0.0616 (E / MeV/u)^1.7 µm;
* penumbra D(r) = K_p / r² for R_c < r ≤ R_p, K_p = 1.25·10⁻⁴ (Z*/β)² Gy µm², with the
  Barkas effective charge Z* = Z (1 − exp(−125 β Z^(−2/3)));
* core D(r) = [L/ρ − 2π K_p ln(R_p/R_c)] / (π R_c²) for r ≤ R_c, so that the radial
  integral equals the unrestricted LET: ∫ D 2πr dr = L/ρ (L/ρ = 0.1602 LET Gy µm² for
  LET in keV/µm in water). Should the penumbra formula exceed the LET (it does not for
  ions above ~0.1 MeV/u) the core is set to zero and K_p scaled down to conserve energy.

The specific energy z(b) (Gy) of a cylindrical domain of radius r_d whose axis lies at
distance b from the (parallel) ion path is the mean of D over the domain's cross-section:
z(b) = [D_core · A(R_c, r_d, b) + 2 K_p ∫ φ(r, b)/r dr] / (π r_d²), with A the
overlap area of two discs and 2rφ(r, b) the length of the circle of radius r about the
track inside the domain. The saturation correction of the mMKM (Kase et al. 2006,
Radiat Res 166:629) is z'(b) = z₀ √(1 − exp(−(z/z₀)²)), and the single-ion
saturation-corrected dose-mean specific energy is

    z*_1D = ∫ z'(b)² 2πb db / ∫ z(b) 2πb db

(the denominator equals L/ρ, which tests use as a check on the quadrature).

Why our own code: pymkm 1.0.0 computes the same quantities but with Python loops per
impact parameter (~0.1 s per ion and energy), imports pandas/matplotlib/tqdm, and its
default integration calls ``numpy.trapz``, removed in NumPy 2.4; a table of 13 species ×
120 energies costs here ~0.1 s. pymkm serves as the cross-check in the validation tests.

Quadrature: Gauss–Legendre in both b and r on segments that follow the kinks of the
integrands: |b − r_d| log-spaced between R_c and min(r_d, R_p) on both sides of the domain
edge (where z(b) varies logarithmically), the core crossing |b − r_d| < R_c, and the far
tail up to r_d + R_p; in r, the partial-overlap region is mapped by r = exp(t) with a
cosine substitution that removes the square-root end-point behaviour of φ.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ionbeam._kernel_cache import refresh_kernel_cache

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = [
    "BARKAS_COEFFICIENT",
    "CORE_RADIUS_UM_PER_BETA",
    "KEV_UM_TO_GY_UM2",
    "PENUMBRA_COEFFICIENT_UM",
    "PENUMBRA_EXPONENT",
    "PENUMBRA_K_GY_UM2",
    "domain_specific_energy",
    "gauss_legendre_unit",
    "single_ion_z1d",
    "track_parameters",
]

CORE_RADIUS_UM_PER_BETA = 0.0116
PENUMBRA_COEFFICIENT_UM = 0.0616
PENUMBRA_EXPONENT = 1.7
PENUMBRA_K_GY_UM2 = 1.25e-4
BARKAS_COEFFICIENT = 125.0
#: 1 keV/µm in water (1 g/cm³) deposits 0.1602 Gy µm² per unit fluence (1/µm²).
KEV_UM_TO_GY_UM2 = 0.1602176634


def gauss_legendre_unit(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [0, 1]."""
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


@njit(cache=True)
def track_parameters(
    z: float, beta: float, energy_mev_u: float, let_kev_um: float
) -> tuple[float, float, float, float]:
    """Kiefer–Chatterjee (R_c µm, R_p µm, K_p Gy µm², core dose Gy) of one ion."""
    z_eff = z * (1.0 - math.exp(-BARKAS_COEFFICIENT * beta * z ** (-2.0 / 3.0)))
    rc = CORE_RADIUS_UM_PER_BETA * beta
    rp = max(PENUMBRA_COEFFICIENT_UM * energy_mev_u**PENUMBRA_EXPONENT, rc * (1.0 + 1e-9))
    k = PENUMBRA_K_GY_UM2 * (z_eff / beta) ** 2
    total = KEV_UM_TO_GY_UM2 * let_kev_um
    penumbra = 2.0 * math.pi * k * math.log(rp / rc)
    if penumbra > total:
        k *= total / penumbra
        penumbra = total
    return rc, rp, k, (total - penumbra) / (math.pi * rc * rc)


@njit(cache=True)
def _disc_overlap(r1: float, r2: float, d: float) -> float:
    """Area common to two discs of radii r1, r2 whose centres are d apart."""
    if d >= r1 + r2:
        return 0.0
    small, large = min(r1, r2), max(r1, r2)
    if d <= large - small:
        return math.pi * small * small
    c1 = min(1.0, max(-1.0, (d * d + r1 * r1 - r2 * r2) / (2.0 * d * r1)))
    c2 = min(1.0, max(-1.0, (d * d + r2 * r2 - r1 * r1) / (2.0 * d * r2)))
    kite = 0.5 * math.sqrt(max(0.0, (-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2)))
    return r1 * r1 * math.acos(c1) + r2 * r2 * math.acos(c2) - kite


@njit(cache=True)
def _penumbra_angle_integral(
    b: float, r_d: float, rc: float, rp: float, nodes: np.ndarray, weights: np.ndarray
) -> float:
    """∫_{R_c}^{R_p} φ(r, b) / r dr, φ the half-angle of the circle r inside the domain."""
    total = 0.0
    full = min(r_d - b, rp)  # circles r < r_d − b lie wholly inside the domain
    if full > rc:
        total += math.pi * math.log(full / rc)
    lo = max(abs(b - r_d), rc)
    hi = min(b + r_d, rp)
    if hi <= lo or b <= 0.0:
        return total
    t0, t1 = math.log(lo), math.log(hi)
    for i in range(nodes.shape[0]):
        u = math.pi * nodes[i]
        r = math.exp(t0 + (t1 - t0) * 0.5 * (1.0 - math.cos(u)))
        c = (r * r + b * b - r_d * r_d) / (2.0 * r * b)
        phi = math.acos(min(1.0, max(-1.0, c)))
        total += weights[i] * math.pi * phi * (t1 - t0) * 0.5 * math.sin(u)
    return total


@njit(cache=True)
def domain_specific_energy(
    b: float,
    r_d: float,
    rc: float,
    rp: float,
    k: float,
    core_dose: float,
    nodes: np.ndarray,
    weights: np.ndarray,
) -> float:
    """Specific energy z(b), Gy, of a domain of radius r_d at impact parameter b (µm)."""
    core = core_dose * _disc_overlap(rc, r_d, b)
    penumbra = 2.0 * k * _penumbra_angle_integral(b, r_d, rc, rp, nodes, weights)
    return (core + penumbra) / (math.pi * r_d * r_d)


@njit(cache=True)
def _segment_points(
    r_d: float, rc: float, rp: float, nodes: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Impact parameters b (µm) and quadrature weights of ∫ f(b) db over [0, r_d + R_p]."""
    n = nodes.shape[0]
    width = min(r_d, rp)
    edge = min(rc, 0.5 * width)
    b = np.zeros(5 * n)
    w = np.zeros(5 * n)
    m = 0
    if rp < r_d:  # domain centres farther than R_p inside the edge: whole track inside
        for i in range(n):
            b[m], w[m] = nodes[i] * (r_d - rp), weights[i] * (r_d - rp)
            m += 1
    log_lo, log_hi = math.log(edge), math.log(width)
    for side in (-1.0, 1.0):  # |b − r_d| log-spaced in [edge, width], both sides
        for i in range(n):
            s = math.exp(log_lo + (log_hi - log_lo) * nodes[i])
            b[m], w[m] = r_d + side * s, weights[i] * (log_hi - log_lo) * s
            m += 1
    for i in range(n):  # the core crossing |b − r_d| < edge
        b[m], w[m] = r_d - edge + 2.0 * edge * nodes[i], 2.0 * edge * weights[i]
        m += 1
    if rp > r_d:  # far tail b ∈ [2 r_d, r_d + R_p]
        t0, t1 = math.log(2.0 * r_d), math.log(r_d + rp)
        for i in range(n):
            bb = math.exp(t0 + (t1 - t0) * nodes[i])
            b[m], w[m] = bb, weights[i] * (t1 - t0) * bb
            m += 1
    return b[:m], w[:m]


@njit(cache=True)
def single_ion_z1d(
    z: np.ndarray,
    beta: np.ndarray,
    energy_mev_u: np.ndarray,
    let_kev_um: np.ndarray,
    r_d: float,
    z0: float,
    nodes: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ion: (z*_1D Gy, z_1D Gy without saturation, ∫ z 2πb db in Gy µm²).

    ``z0`` ≤ 0 switches the saturation correction off (then z*_1D = z_1D)."""
    n_ion = z.shape[0]
    z_star = np.empty(n_ion)
    z_plain = np.empty(n_ion)
    norm = np.empty(n_ion)
    for j in range(n_ion):
        rc, rp, k, core = track_parameters(z[j], beta[j], energy_mev_u[j], let_kev_um[j])
        bs, ws = _segment_points(r_d, rc, rp, nodes, weights)
        first = 0.0
        second = 0.0
        saturated = 0.0
        for i in range(bs.shape[0]):
            zb = domain_specific_energy(bs[i], r_d, rc, rp, k, core, nodes, weights)
            area = ws[i] * 2.0 * math.pi * bs[i]
            first += zb * area
            second += zb * zb * area
            if z0 > 0.0:
                saturated += -z0 * z0 * math.expm1(-((zb / z0) ** 2)) * area
            else:
                saturated += zb * zb * area
        z_star[j] = saturated / first
        z_plain[j] = second / first
        norm[j] = first
    return z_star, z_plain, norm
