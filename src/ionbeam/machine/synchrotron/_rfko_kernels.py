"""Numba kernel: turn-by-turn tracking of the thin virtual-sextupole ring with RF knock-out.

Normalised horizontal coordinates (X, X') at the electrostatic septum; one
turn is: rotate to the virtual sextupole, kick X' += S X² plus the RF
knock-out kick of this turn, rotate back to the septum (the map of
:func:`._spill_kernels.spiral_step`). A particle leaves when X reaches the
septum wires (extracted beyond them, lost on them within the wire
thickness). Pure: works on the arrays it is given and returns counts.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ionbeam._kernel_cache import refresh_kernel_cache

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = ["track_rfko_block"]


@njit(cache=True)
def track_rfko_block(
    x: np.ndarray,
    p: np.ndarray,
    exit_turn: np.ndarray,
    exit_code: np.ndarray,
    kicks: np.ndarray,
    first_turn: int,
    strength: float,
    tune: np.ndarray,
    phase_to_septum_rad: float,
    wire_n: float,
    wire_thickness_n: float,
) -> tuple[int, int]:
    """Track every circulating particle (``exit_turn < 0``) through ``kicks.size`` turns.

    ``kicks``: normalised kick per turn (√m); ``tune``: each particle's tune (the
    chromatic spread of a beam with a momentum spread); ``wire_n``: the wires' position
    X = x/√β (positive side); ``wire_thickness_n`` likewise. Updates x, p,
    ``exit_turn`` (turn of exit) and ``exit_code`` (1 extracted, 2 on the
    wires) in place; returns (extracted, lost on the wires) in this block.
    """
    mu = phase_to_septum_rad
    c1, s1 = math.cos(mu), math.sin(mu)
    extracted = 0
    lost = 0
    for i in range(x.size):
        if exit_turn[i] >= 0:
            continue
        xi, pi = x[i], p[i]
        to_kick = 2.0 * math.pi * tune[i] - mu
        c0, s0 = math.cos(to_kick), math.sin(to_kick)
        for t in range(kicks.size):
            xi, pi = c0 * xi + s0 * pi, -s0 * xi + c0 * pi
            pi = pi + strength * xi * xi + kicks[t]
            xi, pi = c1 * xi + s1 * pi, -s1 * xi + c1 * pi
            if xi >= wire_n:
                exit_turn[i] = first_turn + t
                if xi >= wire_n + wire_thickness_n:
                    exit_code[i] = 1
                    extracted += 1
                else:
                    exit_code[i] = 2
                    lost += 1
                break
        x[i], p[i] = xi, pi
    return extracted, lost
