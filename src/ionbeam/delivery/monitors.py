"""The two monitor chambers: what they read, what the beam really delivers, the interlock.

The DDS stops a spot when the primary chamber's reading reaches the spot's
count. A primary reading g₁·n + s₁√n·ξ₁ (see :class:`MonitorChamber`) that
reaches the target T means the spot really received the n (rounded to a
whole particle) that solves g₁·n + s₁√n·ξ₁ = T: a calibrated, noise-free
primary delivers exactly T; a miscalibrated one T/g₁, which the secondary
chamber (reading g₂·n + s₂√n·ξ₂) reveals. The interlock compares the two
readings spot by spot and cumulatively over the field (see
:class:`MonitorSystem`); the first spot that trips it is the last one
delivered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ionbeam.delivery.options import MonitorSystem
from ionbeam.errors import ConfigError

__all__ = ["InterlockTrip", "MonitorReadings", "find_interlock", "read_monitors"]


@dataclass(frozen=True, eq=False)
class MonitorReadings:
    """Per spot (in delivery order): particles really delivered and both chambers' readings."""

    delivered: np.ndarray
    primary: np.ndarray
    secondary: np.ndarray


@dataclass(frozen=True)
class InterlockTrip:
    """The spot (position in delivery order) at which the interlock stopped the beam, and why."""

    position: int
    reason: str


def read_monitors(
    target: np.ndarray, monitors: MonitorSystem, *, rng: np.random.Generator | None
) -> MonitorReadings:
    """Readings for spots of ``target`` particles (≥ 1 each, delivery order)."""
    target = np.asarray(target, dtype=np.int64)
    if monitors.noisy:
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(
                "monitor chambers with signal spread need an explicit random generator; pass "
                f"rng=numpy.random.default_rng(seed) (got {type(rng).__name__})"
            )
        xi = rng.standard_normal((2, target.size))
    else:
        xi = np.zeros((2, target.size))
    p, s = monitors.primary, monitors.secondary
    t = target.astype(float)
    # The primary reads g·n + s·√n·ξ; the DDS stops when that reaches T: solve for √n.
    b = p.signal_spread * xi[0]
    root_n = (-b + np.sqrt(b * b + 4.0 * p.gain * t)) / (2.0 * p.gain)
    n = np.rint(root_n * root_n)
    delivered = np.maximum(n, 1.0).astype(np.int64)
    root = np.sqrt(delivered.astype(float))
    primary = p.gain * delivered + p.signal_spread * root * xi[0]
    secondary = s.gain * delivered + s.signal_spread * root * xi[1]
    for array in (delivered, primary, secondary):
        array.setflags(write=False)
    return MonitorReadings(delivered, primary, secondary)


def _first(mask: np.ndarray) -> int:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else -1


def find_interlock(
    readings: MonitorReadings, field: np.ndarray, monitors: MonitorSystem
) -> InterlockTrip | None:
    """The first spot whose chambers disagree beyond the tolerances; None if none does.

    ``field``: the field (beam) index of each spot, non-decreasing; the
    cumulative check restarts with every field.
    """
    if readings.delivered.size == 0:
        return None
    spread = math.hypot(monitors.primary.signal_spread, monitors.secondary.signal_spread)
    n = readings.delivered.astype(float)
    r1, r2 = readings.primary, readings.secondary
    difference = r2 - r1
    spot_bad = np.abs(difference) > monitors.spot_tolerance * r1 + monitors.n_sigma * spread * (
        np.sqrt(n)
    )
    starts = np.flatnonzero(np.r_[True, np.diff(field) != 0])
    cum_d = _cumsum_by_field(difference, starts)
    cum_r = _cumsum_by_field(r1, starts)
    cum_n = _cumsum_by_field(n, starts)
    cum_bad = np.abs(cum_d) > monitors.cumulative_tolerance * cum_r + monitors.n_sigma * spread * (
        np.sqrt(cum_n)
    )
    i_spot, i_cum = _first(spot_bad), _first(cum_bad)
    if i_spot < 0 and i_cum < 0:
        return None
    if i_spot >= 0 and (i_cum < 0 or i_spot <= i_cum):
        ratio = r2[i_spot] / r1[i_spot]
        return InterlockTrip(
            i_spot,
            f"spot check: secondary/primary = {ratio:.4f} beyond ±{monitors.spot_tolerance:g} "
            f"(+{monitors.n_sigma:g}σ)",
        )
    ratio = 1.0 + cum_d[i_cum] / cum_r[i_cum]
    return InterlockTrip(
        i_cum,
        f"cumulative check: Σsecondary/Σprimary = {ratio:.4f} beyond "
        f"±{monitors.cumulative_tolerance:g} (+{monitors.n_sigma:g}σ)",
    )


def _cumsum_by_field(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Running sums that restart at each index in ``starts``."""
    total = np.cumsum(values)
    before = np.r_[0.0, total][starts]
    lengths = np.diff(np.r_[starts, values.size])
    offset = np.repeat(before, lengths)
    return total - offset
