"""Numba kernel: the dose delivery system working through spots within one spill.

A spill is tabulated as its cumulative extracted particles C(τ) against
the spill clock τ (s from the start of extraction), piecewise linear, with
C(τ_end) = the spill's content. The kernel walks the spots in scan order:
beam off for moves (the spill clock runs on and the chopper dumps what is
extracted, unless extraction pauses), beam on until the spot's count is
reached (the DDS anticipates the chopper so that a spot ends on its count),
and stops when the segment is done or the spill is empty. A spot that the
spill would deliver faster than ``min_spot_s`` is stretched to that time:
the spill feedback lowers the extraction rate for that spot only (the spill
clock runs at the spot's particle count, the wall clock at least
``min_spot_s``), as CNAO's and HIT's intensity control do, instead of
lowering the whole layer's intensity. Pure: it returns new arrays and the
new state.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ionbeam._kernel_cache import refresh_kernel_cache

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = ["SpillDelivery", "cumulative_at", "deliver_in_spill", "time_of_count"]


class SpillDelivery(NamedTuple):
    """What :func:`deliver_in_spill` did: the spots touched (``n_touched``; the last one
    only partly when ``empty``), the new spill and wall clocks (s), the particles dumped
    by the chopper, whether the spill ran out, and per spot (valid up to ``n_touched``)
    its start and end (s; NaN when not finished), the particles delivered in this spill,
    those that arrived while the magnets were still moving, and the beam-on time (s)."""

    n_touched: int
    tau_s: float
    wall_s: float
    chopped: float
    empty: bool
    start_s: np.ndarray
    end_s: np.ndarray
    delivered: np.ndarray
    transit: np.ndarray
    beam_on_s: np.ndarray


@njit(cache=True)
def cumulative_at(time_s: np.ndarray, cumulative: np.ndarray, tau: float) -> float:
    """C(τ): particles extracted by spill time τ (linear between table points, clamped)."""
    if tau <= time_s[0]:
        return cumulative[0]
    n = time_s.size
    if tau >= time_s[n - 1]:
        return cumulative[n - 1]
    k = np.searchsorted(time_s, tau, side="right")
    t0, t1 = time_s[k - 1], time_s[k]
    c0, c1 = cumulative[k - 1], cumulative[k]
    return c0 + (c1 - c0) * (tau - t0) / (t1 - t0)


@njit(cache=True)
def time_of_count(time_s: np.ndarray, cumulative: np.ndarray, count: float) -> float:
    """The first spill time τ with C(τ) ≥ ``count`` (the table's end beyond its content)."""
    n = cumulative.size
    if count <= cumulative[0]:
        return time_s[0]
    if count >= cumulative[n - 1]:
        k = np.searchsorted(cumulative, cumulative[n - 1], side="left")
        return time_s[k]
    k = np.searchsorted(cumulative, count, side="left")
    c0, c1 = cumulative[k - 1], cumulative[k]
    t0, t1 = time_s[k - 1], time_s[k]
    return t0 + (t1 - t0) * (count - c0) / (c1 - c0)


@njit(cache=True)
def deliver_in_spill(
    time_s: np.ndarray,
    cumulative: np.ndarray,
    tau: float,
    wall_s: float,
    need: np.ndarray,
    off_s: np.ndarray,
    on_move_s: np.ndarray,
    first_off_s: float,
    pause_when_off: bool,
    min_spot_s: float,
) -> SpillDelivery:
    """Deliver the spots of ``need`` (particles still owed, in scan order) from spill time ``tau``.

    ``off_s[k]``: beam-off time before spot k (move, settling, chopper);
    ``on_move_s[k]``: move time with the beam on (raster) before spot k; the
    first spot waits ``first_off_s`` only (the magnets are already there).
    Returns a :class:`SpillDelivery`. A raster
    spot whose count is reached before the magnets arrive is complete at once
    (all its particles were transit particles), and the next move is timed
    from that spot's position: an approximation (the real path is shorter)
    that the raster intensity limit keeps rare.
    """
    n = need.size
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    delivered = np.zeros(n, dtype=np.int64)
    transit = np.zeros(n, dtype=np.int64)
    beam_on = np.zeros(n)
    content = cumulative[cumulative.size - 1]
    t_last = time_s[time_s.size - 1]
    c = cumulative_at(time_s, cumulative, tau)
    chopped = 0.0
    empty = False
    k = 0
    while k < n:
        off = first_off_s if k == 0 else off_s[k]
        move_on = 0.0 if k == 0 else on_move_s[k]
        if off > 0.0:
            wall_s += off
            if not pause_when_off:
                tau = min(tau + off, t_last)
                c_new = cumulative_at(time_s, cumulative, tau)
                chopped += c_new - c
                c = c_new
        available = np.floor(content - c + 1e-6)
        if available < 1.0:
            empty = True
            break
        take = min(need[k], np.int64(available))
        start[k] = wall_s
        c_done = c + take
        tau_done = max(time_of_count(time_s, cumulative, c_done), tau)
        if move_on > 0.0:
            arrive = tau + move_on
            if arrive >= tau_done:
                transit[k] = take
            else:
                counted = np.floor(cumulative_at(time_s, cumulative, arrive) - c)
                transit[k] = min(take, max(np.int64(counted), 0))
        dt = tau_done - tau
        dt_wall = min_spot_s if take == need[k] and dt < min_spot_s else dt
        wall_s += dt_wall
        beam_on[k] = dt_wall
        tau = tau_done
        c = c_done
        delivered[k] = take
        k += 1
        if take < need[k - 1]:
            empty = True
            break
        end[k - 1] = wall_s
    return SpillDelivery(k, tau, wall_s, chopped, empty, start, end, delivered, transit, beam_on)
