"""The search table of the gamma index: lattice offsets sorted by length.

Pure numpy, built once per comparison; the numba search loop that walks it is
in :mod:`ionbeam.evaluation._gamma_kernels`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["SearchTable", "search_table"]


class SearchTable(NamedTuple):
    """Search offsets sorted by length, with what the kernel needs about each.

    ``offsets_mm`` (m, 3); ``radius_mm`` (m,), ascending; ``pitch_mm`` (m,):
    the lattice pitch where the offset lies; ``earlier_neighbours`` (m, 3):
    per axis, the table index of the lattice neighbour one pitch closer to
    zero (shorter, hence earlier in the table), −1 where none; ``stop_radius_mm`` (m,):
    a lower bound of the distance of every lattice point or edge from this
    entry onwards (non-decreasing).
    """

    offsets_mm: np.ndarray
    radius_mm: np.ndarray
    pitch_mm: np.ndarray
    earlier_neighbours: np.ndarray
    stop_radius_mm: np.ndarray


def search_table(
    step_mm: float,
    fine_radius_mm: float,
    max_radius_mm: float,
    active_axes: tuple[bool, bool, bool],
) -> SearchTable:
    """The lattice of search offsets up to ``max_radius_mm``.

    Up to ``fine_radius_mm`` the lattice pitch is ``step_mm``; beyond, in
    shells of doubling outer radius, the pitch doubles too (the table grows
    with log(max radius) and the sampling error stays a fixed fraction of the
    distance). Components along inactive axes (a single-slice dose) are zero.
    Ties in length are ordered by the components, so the table is deterministic.
    """
    steps, pitches, bands = [], [], []
    inner, outer, pitch, band = -1.0, min(fine_radius_mm, max_radius_mm), step_mm, 0
    while True:
        lattice = _lattice_shell(pitch, inner, outer, active_axes)
        steps.append(lattice)
        pitches.append(np.full(len(lattice), pitch))
        bands.append(np.full(len(lattice), band))
        if outer >= max_radius_mm:
            break
        inner, outer, pitch, band = outer, min(2.0 * outer, max_radius_mm), 2.0 * pitch, band + 1
    steps_all = np.concatenate(steps)
    pitch_all = np.concatenate(pitches)
    band_all = np.concatenate(bands)
    offsets = steps_all * pitch_all[:, None]
    radius = np.sqrt(np.sum(offsets * offsets, axis=1))
    order = np.lexsort((offsets[:, 2], offsets[:, 1], offsets[:, 0], radius))
    steps_all, pitch_all, band_all = steps_all[order], pitch_all[order], band_all[order]
    offsets, radius = offsets[order], radius[order]
    stop = np.minimum.accumulate(np.maximum(radius - pitch_all, 0.0)[::-1])[::-1]
    return SearchTable(
        offsets_mm=offsets,
        radius_mm=radius,
        pitch_mm=pitch_all,
        earlier_neighbours=_earlier_neighbours(steps_all, band_all),
        stop_radius_mm=stop,
    )


def _lattice_shell(
    pitch_mm: float, inner_mm: float, outer_mm: float, active_axes: tuple[bool, bool, bool]
) -> np.ndarray:
    """Integer lattice steps (k, 3) with ``inner < pitch·|k| ≤ outer`` (mm)."""
    n = math.floor(outer_mm / pitch_mm + 1e-9)
    axes = [np.arange(-n, n + 1) if active else np.zeros(1, dtype=int) for active in active_axes]
    steps = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    radius = pitch_mm * np.sqrt(np.sum(steps * steps, axis=1))
    keep = (radius > inner_mm) & (radius <= outer_mm * (1.0 + 1e-12))
    return steps[keep]


def _earlier_neighbours(steps: np.ndarray, band: np.ndarray) -> np.ndarray:
    """For each entry and axis, the table index of its lattice neighbour one step
    closer to zero along that axis (so earlier in the table: shorter), in the same
    band; −1 where the component is zero or the neighbour lies in another band."""
    span = int(np.abs(steps).max()) + 2
    width = 2 * span
    stride = np.array([width * width, width, 1])
    keys = band * width**3 + (steps + span) @ stride
    by_key = np.argsort(keys, kind="stable")
    sorted_keys = keys[by_key]
    out = np.full((len(steps), 3), -1, dtype=np.int64)
    for axis in range(3):
        toward_zero = -np.sign(steps[:, axis])
        wanted = keys + toward_zero * stride[axis]
        pos = np.minimum(np.searchsorted(sorted_keys, wanted), len(keys) - 1)
        found = (sorted_keys[pos] == wanted) & (toward_zero != 0)
        out[:, axis] = np.where(found, by_key[pos], -1)
    return out
