"""CSDA range, its inverse and residual energy after a given depth.

For each (particle, material) pair — the material carrying its I-value — the
range is integrated once from the stopping power (:mod:`ionbeam.physics.stopping`)
on a logarithmic energy grid from 1 keV/u to 1000 MeV/u and interpolated in
log–log afterwards (cached with ``functools.lru_cache``; about 10 ms per pair).
Below 1 keV/u the stopping power is taken proportional to velocity.

Initial beam energies must lie within ``MIN_ENERGY_MEV_U``–``MAX_ENERGY_MEV_U``
(1–450 MeV/u); residual energies and the range–energy inverse go down to zero
for the end of range.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ionbeam.errors import OutOfRangeError
from ionbeam.physics.materials import Material, resolve_material
from ionbeam.physics.particles import Particle, get_particle
from ionbeam.physics.stopping import (
    STOPPING_MIN_MEV_U,
    checked_energies,
    stopping_table,
)

__all__ = [
    "MAX_ENERGY_MEV_U",
    "MIN_ENERGY_MEV_U",
    "RangeTable",
    "csda_range_mm",
    "energy_from_range_mev_u",
    "range_table",
    "residual_energy_mev_u",
]

#: Beam energies accepted by the range and depth–dose functions, MeV/u.
MIN_ENERGY_MEV_U = 1.0
MAX_ENERGY_MEV_U = 450.0

_TABLE_MIN_MEV_U = STOPPING_MIN_MEV_U


@dataclass(frozen=True, eq=False)
class RangeTable:
    """Tabulated range–energy relation of one particle in one material.

    ``energy_mev_u`` (ascending, 1 keV/u – 1000 MeV/u), ``range_mm`` (CSDA range at
    each energy) and ``stopping_mev_mm`` (linear stopping power of the whole ion,
    MeV/mm), with ``mass_number`` to convert per-nucleon to total energies.
    """

    energy_mev_u: np.ndarray
    range_mm: np.ndarray
    stopping_mev_mm: np.ndarray
    mass_number: int

    def range_at(self, energy_mev_u: np.ndarray) -> np.ndarray:
        """CSDA range (mm) at energies per nucleon (0 at 0; no range checks)."""
        energies = np.asarray(energy_mev_u, dtype=float)
        safe = np.maximum(energies, _TABLE_MIN_MEV_U * 1e-3)
        logr = np.interp(np.log(safe), np.log(self.energy_mev_u), np.log(self.range_mm))
        below = energies < _TABLE_MIN_MEV_U
        r = np.exp(logr)
        if np.any(below):  # S ∝ √E below the table: R ∝ √E
            r = np.where(
                below, self.range_mm[0] * np.sqrt(np.maximum(energies, 0.0) / _TABLE_MIN_MEV_U), r
            )
        return r

    def energy_at(self, range_mm: np.ndarray) -> np.ndarray:
        """Energy per nucleon (MeV/u) whose CSDA range is ``range_mm`` (0 for ≤ 0)."""
        ranges = np.asarray(range_mm, dtype=float)
        safe = np.maximum(ranges, self.range_mm[0] * 1e-6)
        loge = np.interp(np.log(safe), np.log(self.range_mm), np.log(self.energy_mev_u))
        e = np.exp(loge)
        below = ranges < self.range_mm[0]
        if np.any(below):
            e = np.where(
                below, _TABLE_MIN_MEV_U * (np.maximum(ranges, 0.0) / self.range_mm[0]) ** 2, e
            )
        return e

    def stopping_at(self, energy_mev_u: np.ndarray) -> np.ndarray:
        """Linear stopping power of the ion (MeV/mm) at energies per nucleon."""
        energies = np.maximum(np.asarray(energy_mev_u, dtype=float), _TABLE_MIN_MEV_U)
        return np.exp(
            np.interp(np.log(energies), np.log(self.energy_mev_u), np.log(self.stopping_mev_mm))
        )


@lru_cache(maxsize=128)
def range_table(particle: Particle, material: Material) -> RangeTable:
    """The range table of ``particle`` in ``material`` (computed once, then cached)."""
    stopping = stopping_table(particle, material)
    energies = np.array(stopping.energy_mev_u)
    linear = stopping.mass_stopping_mev_cm2_g * material.density_g_cm3 * 0.1  # MeV/mm
    # dR/d(ln E) = A·E / S(E); integrate with the trapezoid rule in ln E
    integrand = particle.a * energies / linear
    steps = 0.5 * (integrand[1:] + integrand[:-1]) * np.diff(np.log(energies))
    start = 2.0 * particle.a * energies[0] / linear[0]  # S ∝ √E below the table
    ranges = start + np.concatenate(([0.0], np.cumsum(steps)))
    for array in (energies, ranges, linear):
        array.setflags(write=False)
    return RangeTable(energies, ranges, linear, particle.a)


def _table(particle: str | Particle, material: str | Material) -> RangeTable:
    return range_table(get_particle(particle), resolve_material(material))


def csda_range_mm(
    particle: str | Particle,
    energy_mev_u: float | np.ndarray,
    material: str | Material = "water",
) -> np.ndarray:
    """CSDA range (mm) of ions of initial energy ``energy_mev_u`` (1–450 MeV/u)."""
    energies = checked_energies(
        energy_mev_u, MIN_ENERGY_MEV_U, MAX_ENERGY_MEV_U, "beam energy per nucleon"
    )
    return _table(particle, material).range_at(energies)


def energy_from_range_mev_u(
    particle: str | Particle,
    range_mm: float | np.ndarray,
    material: str | Material = "water",
) -> np.ndarray:
    """Energy per nucleon (MeV/u) whose CSDA range is ``range_mm`` (0 up to the range
    at 450 MeV/u)."""
    table = _table(particle, material)
    ranges = np.asarray(range_mm, dtype=float)
    high = float(table.range_at(np.array(MAX_ENERGY_MEV_U)))
    bad = ~np.isfinite(ranges) | (ranges < 0.0) | (ranges > high * (1 + 1e-9))
    if bad.any():
        raise OutOfRangeError("range", ranges[bad].flat[0], 0.0, high, "mm")
    return table.energy_at(ranges)


def residual_energy_mev_u(
    particle: str | Particle,
    energy_mev_u: float | np.ndarray,
    depth_mm: float | np.ndarray,
    material: str | Material = "water",
) -> np.ndarray:
    """Energy per nucleon (MeV/u) left after ``depth_mm`` (≥ 0) of material; 0 beyond
    the range. ``energy_mev_u`` and ``depth_mm`` broadcast."""
    table = _table(particle, material)
    energies = checked_energies(
        energy_mev_u, MIN_ENERGY_MEV_U, MAX_ENERGY_MEV_U, "beam energy per nucleon"
    )
    depths = np.asarray(depth_mm, dtype=float)
    if not np.all(np.isfinite(depths)) or np.any(depths < 0.0):
        bad = depths[~np.isfinite(depths) | (depths < 0.0)].flat[0]
        raise OutOfRangeError("depth", bad, 0.0, float("inf"), "mm")
    residual = table.range_at(energies) - depths
    return np.where(residual > 0.0, table.energy_at(np.maximum(residual, 0.0)), 0.0)
