"""Energy libraries: the extraction energies a machine offers, with their ranges in water.

A synchrotron extracts a discrete set of energies (the "energy library" of
the accelerator's control system), chosen at fixed steps of range in water.
``ranges_mm`` are ranges in water at the isocentre: ionbeam's CSDA range
(:func:`ionbeam.physics.ranges.csda_range_mm`) less ``range_offset_mm``, the
water-equivalent thickness that the beam crosses upstream (vacuum window,
dose monitors, air) plus the difference between the facility's range
definition and the CSDA range.

CNAO (published energy tables, e.g. Mirandola et al., Med. Phys. 42 (2015)
5287, and the CNAO treatment-planning commissioning): protons 62.58–227.54
MeV, 162 energies, water ranges 30–320 mm in 1 mm steps up to 62 mm then
2 mm steps; carbon-12 115.37–399.06 MeV/u, 121 energies, 30–270 mm in 2 mm
steps. For these tables ionbeam lets the offset vary linearly with range
between the two published endpoints (3.56 → 5.0 mm for protons, 3.51 →
4.57 mm for carbon with ionbeam's ranges), so that both endpoints are the
published energies; a constant offset calibrated on the lowest energy alone
reproduces the highest to about 0.3 % (tested), i.e. the correction is
mostly the beam line's few millimetres of water-equivalent material.
Helium uses the proton table's correction, oxygen carbon's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import ConfigError, MachineLimitError
from ionbeam.machine.kinematics import energy_from_rigidity_mev_u
from ionbeam.physics.particles import Particle, get_particle
from ionbeam.physics.ranges import csda_range_mm, energy_from_range_mev_u

__all__ = [
    "CNAO_ENDPOINTS",
    "EnergyLibrary",
    "cnao_energy_library",
    "cnao_range_offsets_mm",
    "cnao_range_steps_mm",
    "energy_library_from_ranges",
]

#: CNAO's published library endpoints per particle: (water range mm, energy MeV/u).
CNAO_ENDPOINTS = {
    "proton": ((30.0, 62.58), (320.0, 227.54)),
    "carbon": ((30.0, 115.37), (270.0, 399.06)),
}
#: Highest rigidity of the CNAO ring (carbon-12 at 400 MeV/u), T·m.
_CNAO_MAX_BRHO_TM = 6.35
_TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class EnergyLibrary:
    """The energies (MeV/u, ascending) a machine extracts for one particle, with their
    ranges in water (mm)."""

    particle: str
    energies_mev_u: np.ndarray
    ranges_mm: np.ndarray
    machine: str

    def __post_init__(self) -> None:
        energies = np.array(self.energies_mev_u, dtype=float)
        ranges = np.array(self.ranges_mm, dtype=float)
        if energies.ndim != 1 or energies.size == 0 or energies.shape != ranges.shape:
            raise ConfigError(
                "an energy library needs equally long 1-D energies and ranges; got shapes "
                f"{energies.shape} and {ranges.shape}"
            )
        if not (np.all(np.isfinite(energies)) and np.all(np.diff(energies) > 0)):
            raise ConfigError("library energies must be finite and strictly ascending")
        for array in (energies, ranges):
            array.setflags(write=False)
        object.__setattr__(self, "energies_mev_u", energies)
        object.__setattr__(self, "ranges_mm", ranges)
        object.__setattr__(self, "particle", get_particle(self.particle).name)

    def __len__(self) -> int:
        return int(self.energies_mev_u.size)

    @property
    def min_energy_mev_u(self) -> float:
        """Lowest library energy, MeV/u."""
        return float(self.energies_mev_u[0])

    @property
    def max_energy_mev_u(self) -> float:
        """Highest library energy, MeV/u."""
        return float(self.energies_mev_u[-1])

    def check(self, energy_mev_u: ArrayLike) -> np.ndarray:
        """``energy_mev_u`` as an array; :class:`MachineLimitError` outside the library's span."""
        energy = np.asarray(energy_mev_u, dtype=float)
        low, high = self.min_energy_mev_u, self.max_energy_mev_u
        bad = (
            ~np.isfinite(energy)
            | (energy < low * (1 - _TOLERANCE))
            | (energy > high * (1 + _TOLERANCE))
        )
        if np.any(bad):
            value = energy[bad].flat[0] if energy.ndim else float(energy)
            raise MachineLimitError(
                f"{self.particle} energy in the {self.machine} library", value, low, high, "MeV/u"
            )
        return energy

    def index_of(self, energy_mev_u: ArrayLike) -> np.ndarray | int:
        """Index of the library energy nearest to ``energy_mev_u`` (checked against the span)."""
        energy = self.check(energy_mev_u)
        e = self.energies_mev_u
        i = (
            np.clip(np.searchsorted(e, energy), 1, e.size - 1)
            if e.size > 1
            else np.zeros_like(energy)
        )
        if e.size > 1:
            i = np.where(np.abs(e[i - 1] - energy) <= np.abs(e[i] - energy), i - 1, i)
        i = np.asarray(i, dtype=np.int64)
        return int(i) if i.ndim == 0 else i

    def nearest(self, energy_mev_u: ArrayLike) -> np.ndarray | float:
        """The library energy nearest to ``energy_mev_u``, MeV/u."""
        out = self.energies_mev_u[self.index_of(energy_mev_u)]
        return float(out) if np.ndim(out) == 0 else out

    def index_for_range(self, range_mm: ArrayLike) -> np.ndarray | int:
        """Index of the library energy whose water range is nearest to ``range_mm``."""
        r = np.asarray(range_mm, dtype=float)
        low, high = float(self.ranges_mm[0]), float(self.ranges_mm[-1])
        bad = ~np.isfinite(r) | (r < low - 0.5) | (r > high + 0.5)
        if np.any(bad):
            value = r[bad].flat[0] if r.ndim else float(r)
            raise MachineLimitError(
                f"{self.particle} range in the {self.machine} library", value, low, high, "mm"
            )
        i = np.argmin(np.abs(self.ranges_mm[None, :] - np.atleast_1d(r)[:, None]), axis=1)
        return int(i[0]) if r.ndim == 0 else i.astype(np.int64)


def energy_library_from_ranges(
    particle: str | Particle,
    ranges_mm: ArrayLike,
    *,
    machine: str,
    range_offset_mm: float | tuple[float, float] = 0.0,
    max_brho_tm: float | None = None,
) -> EnergyLibrary:
    """A library with one energy per water range in ``ranges_mm`` (mm, ascending).

    Energies solve CSDA range = range + offset. ``range_offset_mm`` is a
    constant (mm) or a pair (offset at the first range, offset at the last),
    interpolated linearly in range; with ``max_brho_tm``, ranges beyond the
    machine's rigidity are dropped.
    """
    ion = get_particle(particle)
    ranges = np.asarray(ranges_mm, dtype=float)
    if ranges.ndim != 1 or ranges.size == 0 or not np.all(np.diff(ranges) > 0):
        raise ConfigError("ranges_mm must be a non-empty, strictly ascending 1-D array (mm)")
    first, last = np.broadcast_to(np.asarray(range_offset_mm, dtype=float), (2,))
    if not (math.isfinite(first) and math.isfinite(last)):
        raise ConfigError(f"range_offset_mm must be finite; got {range_offset_mm}")
    span = ranges[-1] - ranges[0]
    offsets = first + (last - first) * ((ranges - ranges[0]) / span if span > 0 else 0.0)
    if max_brho_tm is not None:
        top = float(energy_from_rigidity_mev_u(ion, max_brho_tm))
        reach = float(csda_range_mm(ion, min(top, 450.0)))
        keep = ranges + offsets <= reach + 1e-9
        if not keep.any():
            raise MachineLimitError(f"{ion.name} water range", float(ranges[0]), 0.0, reach, "mm")
        ranges, offsets = ranges[keep], offsets[keep]
    energies = energy_from_range_mev_u(ion, ranges + offsets)
    return EnergyLibrary(ion.name, energies, ranges, machine)


def cnao_range_steps_mm(particle: str | Particle) -> np.ndarray:
    """CNAO's water-range steps: 1 mm from 30 to 62 mm then 2 mm to 320 mm (protons,
    helium), or 2 mm from 30 to 270 mm (carbon, oxygen)."""
    ion = get_particle(particle)
    if ion.z <= 2:
        return np.concatenate([np.arange(30.0, 62.5, 1.0), np.arange(64.0, 320.5, 2.0)])
    return np.arange(30.0, 270.5, 2.0)


def cnao_range_offsets_mm(particle: str | Particle) -> tuple[float, float]:
    """CSDA range minus published water range at CNAO's lowest and highest energies, mm
    (of the proton table for Z ≤ 2, of the carbon table otherwise)."""
    reference = "proton" if get_particle(particle).z <= 2 else "carbon"
    (r_low, e_low), (r_high, e_high) = CNAO_ENDPOINTS[reference]
    low = float(csda_range_mm(reference, e_low)) - r_low
    high = float(csda_range_mm(reference, e_high)) - r_high
    return low, high


def cnao_energy_library(particle: str | Particle) -> EnergyLibrary:
    """The CNAO energy library of ``particle`` (protons and carbon as published; helium
    and oxygen on the proton and carbon range steps, within the ring's rigidity)."""
    ion = get_particle(particle)
    return energy_library_from_ranges(
        ion,
        cnao_range_steps_mm(ion),
        machine="cnao",
        range_offset_mm=cnao_range_offsets_mm(ion),
        max_brho_tm=_CNAO_MAX_BRHO_TM,
    )
