"""The lattice of scattering moments that fine sampling's edge factor reads
(:mod:`._edge_kernels`).

Along each ray of a beam's WEPL lattice (isocentre-plane nodes one voxel apart, depths
w), the geometric second moment of the relative scattering power,
S(w) = ∫ ρ_s(z) (w − z)² dz = 2 ∫∫ P(z) dz dz with P(w) = ∫ ρ_s dz (ρ_s: scattering
power per geometric mm relative to water's, :mod:`.scattering_power`): the Fermi–Eyges
variance of the ray's protons up to the energy factor of water's scattering power, which
the kernel takes from a traced ray (σ²_MCS / S there). Two neighbouring rays with the
same S scatter alike; ``clear`` holds, per depth node, the chessboard distance (in lattice
cells) from each ray to the nearest ray that differs from a neighbour by more than
:data:`._edge_kernels.SAME_MOMENT`, so the kernel skips laterally uniform regions.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_cdt

from ionbeam.planning._edge_kernels import MAX_CELLS, SAME_MOMENT
from ionbeam.planning.raytrace import WeplLattice

__all__ = ["scattering_moments"]


def scattering_moments(power: WeplLattice) -> tuple[np.ndarray, np.ndarray]:
    """(S [nu, nv, nw] float32 (mm³ of water-equivalent scattering), clear [nu, nv, nw]
    int32) from ``power``, the lattice of ∫ ρ_s dz along the beam's rays (the WEPL lattice
    traced through the relative scattering power instead of the SPR)."""
    cumulative = np.asarray(power.table, dtype=np.float64)
    h = float(power.step[2])
    first = np.zeros_like(cumulative)
    first[..., 1:] = np.cumsum(0.5 * h * (cumulative[..., 1:] + cumulative[..., :-1]), axis=-1)
    moment = np.zeros_like(cumulative)
    # ∫ Q over a node interval, exact for P linear in it: trapezoid − h² ΔP / 12
    pieces = 0.5 * h * (first[..., 1:] + first[..., :-1])
    pieces -= h * h / 12.0 * np.diff(cumulative, axis=-1)
    moment[..., 1:] = 2.0 * np.cumsum(pieces, axis=-1)
    return moment.astype(np.float32), _clear_distance(moment)


def _clear_distance(moment: np.ndarray) -> np.ndarray:
    """Per depth node, the chessboard distance from each ray to the nearest ray whose
    moment differs from one of its 4 neighbours by more than SAME_MOMENT (relative), capped
    above MAX_CELLS."""
    nu, nv, _ = moment.shape
    far = MAX_CELLS + 2
    clear = np.full(moment.shape, far, dtype=np.int32)
    if nu < 2 or nv < 2:
        return clear
    tolerance = SAME_MOMENT * np.maximum(np.abs(moment), 1e-30)
    marked = np.zeros(moment.shape, dtype=bool)
    for axis in (0, 1):
        a = np.take(moment, range(moment.shape[axis] - 1), axis=axis)
        b = np.take(moment, range(1, moment.shape[axis]), axis=axis)
        ta = np.take(tolerance, range(moment.shape[axis] - 1), axis=axis)
        differs = np.abs(a - b) > ta
        lead = [slice(None)] * 3
        lead[axis] = slice(0, -1)
        trail = [slice(None)] * 3
        trail[axis] = slice(1, None)
        marked[tuple(lead)] |= differs
        marked[tuple(trail)] |= differs
    for n in np.flatnonzero(marked.any(axis=(0, 1))):
        distance = distance_transform_cdt(~marked[:, :, n], metric="chessboard")
        clear[:, :, n] = np.minimum(distance, far)
    return clear
