"""How fine sampling splits a spot's Gaussian into n × n sub-beams (pure numpy/scipy).

A spot whose lateral variance in air is σ² is split into sub-beams at offsets x_i
(per axis) with weights w_i, each carrying the residual variance σ² − s², where
s² = Σ w_i x_i² is the share of the variance that the offsets take (the split). The
sub-beams' sum (the *mixture*) then has the spot's second moment exactly; its shape is
the spot's Gaussian only if the residual Gaussians overlap enough to fill the gaps
between the offsets. The worst case is the spot's narrowest spread (in air, before any
multiple scattering), σ² = σ²_min, for which the split is set: s² = f σ²_min with f the
``fine_sampling_fraction``. Deeper, σ² grows and the mixture only gets smoother.

A product Gauss–Hermite rule (3 nodes, weights 1/6, 2/3, 1/6) is exact for the moments
but not for the shape: with f = 0.5 its mixture's peak is 9.8 % above the Gaussian's
(the centre sub-beam holds 4/9 of the weight at half the variance). The rule here is
the area-weighted split of Soukup, Fippel & Alber (Phys. Med. Biol. 50 (2005) 5089):
n equally spaced offsets, each weighted by the integral of a Gaussian over its cell
(the outer cells open), that Gaussian's width solved so that the split's variance is
exactly s², and the spacing chosen to minimise the mixture's largest deviation from
the spot's 2-D Gaussian at σ_min (relative to the Gaussian's peak). For n = 3 every
symmetric 3-point rule of variance s² has one free parameter, so this is the best
3-point rule. Where a Gauss–Hermite rule deviates less (even n at small f), it is
taken instead. The rule depends on n and f alone, not on any patient or beam.

Largest deviation (% of the peak) of the n × n mixture at σ_min:

====  ========  ========  ========  ========
n     f = 0.25  f = 0.4   f = 0.5   f = 0.6
====  ========  ========  ========  ========
3     0.15      0.85      2.1       5.1
5     0.01      0.15      0.40      1.0
====  ========  ========  ========  ========

(Gauss–Hermite, 3 nodes: 0.65, 3.8, 9.8, 23 %.) ``bench/fine_sampling.py --rules``
prints the table. The default split of each n is the largest within 1 % of the peak
(3 × 3: f = 0.42; 5 × 5: 0.59; 9 × 9: 0.84); a split beyond 2 % is refused.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import ndtr

from ionbeam.errors import ConfigError

__all__ = [
    "DEFAULT_DEVIATION",
    "DEFAULT_FRACTION",
    "LARGEST_FRACTION",
    "MAX_DEVIATION",
    "SplitRule",
    "check_split",
    "default_fraction",
    "largest_fraction",
    "mixture_deviation",
    "split_rule",
]

#: The default split of n × n sub-beams is the largest whose mixture stays within this
#: fraction of the peak of the spot's Gaussian (1 %) …
DEFAULT_DEVIATION = 0.01
#: … namely (``largest_fraction(n, DEFAULT_DEVIATION)``, to 0.01; a test checks it):
DEFAULT_FRACTION = {2: 0.12, 3: 0.42, 4: 0.40, 5: 0.59, 6: 0.62, 7: 0.75, 8: 0.78, 9: 0.84}
#: A split whose mixture deviates more than this (2 % of the peak) is refused …
MAX_DEVIATION = 0.02
#: … i.e. one larger than (``largest_fraction(n, MAX_DEVIATION)``; a test checks it):
LARGEST_FRACTION = {2: 0.17, 3: 0.49, 4: 0.45, 5: 0.67, 6: 0.70, 7: 0.80, 8: 0.83, 9: 0.87}

#: Lateral positions (units of σ_min) where the mixture is compared with the Gaussian.
_X = np.linspace(-6.0, 6.0, 241)
#: Spacings scanned (units of the split's σ) before the local refinement.
_SCAN = 48


class SplitRule(NamedTuple):
    """Sub-beam offsets per axis (units of σ_min, ascending), their weights (sum 1),
    the split's variance f (units of σ²_min) and the n × n mixture's largest deviation
    from the spot's 2-D Gaussian at σ_min (fraction of its peak)."""

    nodes: np.ndarray
    weights: np.ndarray
    fraction: float
    deviation: float


def mixture_deviation(nodes: np.ndarray, weights: np.ndarray, variance: float = 1.0) -> float:
    """Largest |mixture − Gaussian| over the plane, as a fraction of the Gaussian's peak,
    for the n × n product of the 1-D rule (``nodes`` in units of σ_min, ``weights``)
    whose sub-beams carry the rest of a spot variance ``variance`` (units of σ²_min; 1:
    the narrowest spot)."""
    nodes = np.asarray(nodes, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    residual = variance - float(np.sum(weights * nodes**2))
    if residual <= 0.0:
        return math.inf
    x = _X * math.sqrt(variance)
    sub = np.exp(-((x[None, :] - nodes[:, None]) ** 2) / (2.0 * residual))
    mixture = weights @ sub / math.sqrt(2.0 * math.pi * residual)
    gauss = np.exp(-(x**2) / (2.0 * variance)) / math.sqrt(2.0 * math.pi * variance)
    peak = gauss.max() ** 2
    return float(np.abs(np.outer(mixture, mixture) - np.outer(gauss, gauss)).max() / peak)


def split_rule(n: int, fraction: float) -> SplitRule:
    """The split of a spot into n × n sub-beams taking ``fraction`` (0–1) of its
    narrowest variance (see the module's docstring); n ≥ 2."""
    if n < 2 or not 0.0 < fraction < 1.0:
        raise ValueError(f"a split needs n ≥ 2 and 0 < fraction < 1; got {n}, {fraction}")
    hermite = _gauss_hermite(n, fraction)
    if n == 2:
        return hermite
    root = math.sqrt(fraction)
    low = 2.0 * root / (n - 1) * 1.001  # narrower cannot hold the variance
    high = 4.0 * root
    spacings = np.linspace(low, high, _SCAN)
    scores = [_area_rule(n, fraction, h).deviation for h in spacings]
    i = int(np.argmin(scores))
    bracket = (spacings[max(i - 1, 0)], spacings[min(i + 1, _SCAN - 1)])
    best = minimize_scalar(
        lambda h: _area_rule(n, fraction, h).deviation,
        bounds=bracket,
        method="bounded",
        options={"xatol": 1e-4 * root},
    )
    area = _area_rule(n, fraction, float(best.x))
    if scores[i] < area.deviation:
        area = _area_rule(n, fraction, float(spacings[i]))
    return area if area.deviation <= hermite.deviation else hermite


def default_fraction(n: int) -> float:
    """The split fraction of n × n sub-beams when none is given (:data:`DEFAULT_FRACTION`)."""
    return DEFAULT_FRACTION[n]


def check_split(n: int, fraction: float) -> None:
    """Refuse a split of n × n sub-beams taking ``fraction`` whose mixture deviates from
    the spot's Gaussian by more than :data:`MAX_DEVIATION` of its peak."""
    if n < 2:
        return
    deviation = split_rule(n, fraction).deviation
    if deviation > MAX_DEVIATION:
        raise ConfigError(
            f"fine_sampling_fraction {fraction} is too large for {n} × {n} sub-beams: their "
            f"sum departs from the spot's Gaussian by {100 * deviation:.1f} % of its peak "
            f"(at most {100 * MAX_DEVIATION:.0f} %); use at most {LARGEST_FRACTION[n]}"
            f"{', more sub-beams' if n < 9 else ''} or leave it unset "
            f"({DEFAULT_FRACTION[n]} for {n} × {n})"
        )


def largest_fraction(n: int, deviation: float) -> float:
    """The largest split fraction (to 0.01) whose n × n rule deviates from the spot's
    Gaussian by at most ``deviation`` (fraction of the peak); 0 when none does."""
    best = 0.0
    for f in np.arange(0.05, 0.951, 0.05):
        if split_rule(n, float(f)).deviation <= deviation:
            best = float(f)
    for f in np.arange(best + 0.01, min(best + 0.05, 0.96), 0.01):
        if split_rule(n, float(f)).deviation <= deviation:
            best = float(f)
    return round(best, 2)


def _gauss_hermite(n: int, fraction: float) -> SplitRule:
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    nodes = nodes * math.sqrt(fraction)
    weights = weights / weights.sum()
    return SplitRule(nodes, weights, fraction, mixture_deviation(nodes, weights))


def _area_rule(n: int, fraction: float, spacing: float) -> SplitRule:
    """n offsets ``spacing`` apart, weighted by the areas of N(0, t²) over their cells,
    t such that the split's variance is ``fraction``."""
    nodes = spacing * (np.arange(n) - 0.5 * (n - 1))
    edges = np.concatenate([[-np.inf], 0.5 * (nodes[1:] + nodes[:-1]), [np.inf]])

    def weights(t: float) -> np.ndarray:
        return np.diff(ndtr(edges / t))

    def excess(t: float) -> float:
        return float(np.sum(weights(t) * nodes**2)) - fraction

    t_low, t_high = 1e-3 * spacing, 10.0 * spacing * n
    if excess(t_high) <= 0.0 or excess(t_low) >= 0.0:  # (even n: the centre pair's h²/4)
        return SplitRule(nodes, weights(t_high), fraction, math.inf)
    t = brentq(excess, t_low, t_high, xtol=1e-12)
    w = weights(t)
    w = w / w.sum()
    return SplitRule(nodes, w, fraction, mixture_deviation(nodes, w))
