"""Depth–dose libraries for a whole energy set: the base data of the dose engine.

:func:`compute_depth_dose_library` runs :func:`ionbeam.physics.depth_dose.depth_dose`
for every energy of a synchrotron's energy set (a rich progress bar shows the
work) and stacks the results into arrays ``[n_energy, n_depth]`` — each energy on
its own depth grid (``DEFAULT_BINS`` bins, refined around its Bragg peak). The
dose engine interpolates these tables in depth (water-equivalent path length) and
energy. Libraries are cached on disk with :mod:`ionbeam._cache` under a key made of
every parameter and the package version, and so is each energy's row on its own, so that
a new set of energies (a plan's, a stride of the machine's) costs only the energies never
computed before; the cache is never required.

Speed (one core): ~10–25 ms per proton energy (the elastically scattered protons add
eight packets) and ~20–60 ms per ion energy, i.e. about 6 s (protons) to 15 s (carbon)
cold for 250 energies and ~0.1 s warm, before MODEL_VERSION 6; sorting the secondaries
by lateral width and splitting the halo (:mod:`._halo_split`) made each energy 1.5–1.8×
slower (protons 22 → 39 ms, carbon 87 → 134 ms on a loaded 2-core machine).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ionbeam._cache import cache_key, load_arrays, save_arrays
from ionbeam._progress import track
from ionbeam.errors import ConfigError
from ionbeam.physics.depth_dose import DEFAULT_ENERGY_SPREAD_REL, depth_dose
from ionbeam.physics.materials import WATER_I_VALUE_EV
from ionbeam.physics.particles import Particle, get_particle
from ionbeam.physics.ranges import MAX_ENERGY_MEV_U, MIN_ENERGY_MEV_U
from ionbeam.physics.stopping import checked_energies

__all__ = ["MODEL_VERSION", "DepthDoseLibrary", "compute_depth_dose_library"]

#: Bumped whenever the physics of the depth–dose model changes (part of the cache key;
#: 5 was a reverted attempt, so 6 follows 4: the halo split by lateral width; 7: the
#: ≈ 5° p–nucleus elastic group transported with its deflection; 8: seven Gauss–Hermite
#: nodes for the ion fragments' Goldhaber range spread instead of three).
MODEL_VERSION = 8

_TABLE_FIELDS = (
    "depth_mm",
    "depth_edges_mm",
    "idd_mev_mm",
    "let_d_kev_um",
    "sigma_mcs_mm",
    "halo_weight",
    "halo_sigma_mm",
    "halo_narrow_weight",
    "halo_narrow_sigma_mm",
)
_SCALAR_FIELDS = ("bragg_peak_mm", "r80_mm", "csda_range_mm")
_FIELDS = _TABLE_FIELDS + _SCALAR_FIELDS


@dataclass(frozen=True, eq=False)
class DepthDoseLibrary:
    """Depth–dose tables of one particle for a set of energies (per primary particle).

    ``energies_mev_u`` [n_energy]; ``depth_mm`` (bin centres) and the tables ``idd_mev_mm``,
    ``let_d_kev_um``, ``sigma_mcs_mm``, ``halo_weight``, ``halo_sigma_mm``,
    ``halo_narrow_weight``, ``halo_narrow_sigma_mm`` [n_energy, n_depth];
    ``depth_edges_mm`` [n_energy, n_depth + 1]; ``bragg_peak_mm``, ``r80_mm``,
    ``csda_range_mm`` [n_energy]. The meaning of each table is that of the
    same field of :class:`ionbeam.physics.depth_dose.DepthDose`.
    """

    particle: str
    energy_spread_rel: float
    water_i_value_ev: float
    energies_mev_u: np.ndarray
    depth_mm: np.ndarray
    depth_edges_mm: np.ndarray
    idd_mev_mm: np.ndarray
    let_d_kev_um: np.ndarray
    sigma_mcs_mm: np.ndarray
    halo_weight: np.ndarray
    halo_sigma_mm: np.ndarray
    halo_narrow_weight: np.ndarray
    halo_narrow_sigma_mm: np.ndarray
    bragg_peak_mm: np.ndarray
    r80_mm: np.ndarray
    csda_range_mm: np.ndarray

    def index_of(self, energy_mev_u: float) -> int:
        """Index of the library energy closest to ``energy_mev_u``."""
        return int(np.argmin(np.abs(self.energies_mev_u - float(energy_mev_u))))


def _checked_energy_set(energies_mev_u: np.ndarray) -> np.ndarray:
    energies = np.atleast_1d(np.asarray(energies_mev_u, dtype=float))
    if energies.ndim != 1 or energies.size == 0:
        raise ConfigError(
            f"energies must be a non-empty 1-D list of MeV/u values; got shape {energies.shape}"
        )
    return checked_energies(energies, MIN_ENERGY_MEV_U, MAX_ENERGY_MEV_U, "beam energy")


def _compute(
    particle: Particle, energies: np.ndarray, spread: float, i_value: float
) -> dict[str, np.ndarray]:
    """The library's arrays, each energy's row from the disk cache when present (computed
    and stored otherwise), stacked [n_energy, ...]."""
    columns: dict[str, list[np.ndarray]] = {name: [] for name in _FIELDS}
    many = energies.size > 1  # no progress bar for one curve
    for energy in track(energies, f"{particle.name} depth–dose library") if many else energies:
        row = _cached_row(particle, float(energy), spread, i_value)
        for name in columns:
            columns[name].append(row[name])
    return {name: np.stack(values) for name, values in columns.items()}


def _row_key(particle: Particle, energy: float, spread: float, i_value: float) -> str:
    return cache_key(
        "depth-dose-row",
        particle=particle.name,
        energy=energy,
        energy_spread_rel=spread,
        water_i_value_ev=i_value,
        model=MODEL_VERSION,
    )


def _cached_row(
    particle: Particle, energy: float, spread: float, i_value: float
) -> dict[str, np.ndarray]:
    """One energy's tables and scalars (``_FIELDS``), from the disk cache when present."""
    key = _row_key(particle, energy, spread, i_value)
    row = load_arrays(key)
    if row is None or set(row) != set(_FIELDS):
        result = depth_dose(particle, energy, energy_spread_rel=spread, water_i_value_ev=i_value)
        row = {name: np.asarray(getattr(result, name)) for name in _FIELDS}
        save_arrays(key, row)
    return row


def compute_depth_dose_library(
    particle: str | Particle,
    energies_mev_u: np.ndarray,
    *,
    energy_spread_rel: float = DEFAULT_ENERGY_SPREAD_REL,
    water_i_value_ev: float | None = None,
) -> DepthDoseLibrary:
    """The depth–dose library of ``particle`` at ``energies_mev_u`` (each 1–450 MeV/u), from
    the disk cache when present. ``energy_spread_rel`` and ``water_i_value_ev`` as for
    :func:`ionbeam.physics.depth_dose.depth_dose`."""
    ion = get_particle(particle)
    energies = _checked_energy_set(energies_mev_u)
    i_value = WATER_I_VALUE_EV if water_i_value_ev is None else float(water_i_value_ev)
    spread = float(energy_spread_rel)
    key = cache_key(
        "depth-dose-library",
        particle=ion.name,
        energies=[float(e) for e in energies],
        energy_spread_rel=spread,
        water_i_value_ev=i_value,
        model=MODEL_VERSION,
    )
    single = energies.size == 1  # its row is the whole library: no second file
    arrays = None if single else load_arrays(key)
    if arrays is None or set(arrays) != set(_FIELDS):
        arrays = _compute(ion, energies, spread, i_value)
        if not single:
            save_arrays(key, arrays)
    for array in arrays.values():
        array.setflags(write=False)
    energies.setflags(write=False)
    return DepthDoseLibrary(
        particle=ion.name,
        energy_spread_rel=spread,
        water_i_value_ev=i_value,
        energies_mev_u=energies,
        **arrays,
    )
