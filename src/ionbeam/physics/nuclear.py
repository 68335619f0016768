"""Nuclear interactions: non-elastic and elastic cross sections, primary attenuation.

* Protons on nuclei (A > 1), non-elastic: the ICRU 63 evaluation for C, N, O and
  Ca (10–250 MeV, :mod:`ionbeam.physics._icru63_data`; constant above 250 MeV,
  with the Letaw shape below 10 MeV); for other elements the semi-empirical
  formula of Letaw, Silberberg & Tsao (1983, Astrophys. J. Suppl. 51, 271),
  ``σ = 45 A^0.7 [1 + 0.016 sin(5.3 − 2.63 ln A)] [1 − 0.62 e^(−E/200) sin(10.9 E^−0.28)] mb``,
  closed below the Coulomb barrier (it lies 5–20 % below ICRU 63 for O).
  Protons on hydrogen have no non-elastic channel below the pion threshold
  (~290 MeV); above it the small inelastic p–p cross section is neglected.
* Protons, elastic: on hydrogen the p–p nuclear elastic cross section (Fippel &
  Soukup 2004, above 10 MeV); on nuclei the ICRU 63 nuclear-elastic cross section
  above 5° (centre of mass), from 20 MeV (below, the shortening of the residual
  range by the deflection is < 0.1 mm); elements without ICRU 63 data scale
  oxygen's as A^(2/3). Monte Carlo codes (Geant4, FLUKA, MCsquare) transport
  these scattered protons; the depth–dose model removes them from the primaries
  and transports them as secondaries (:mod:`ionbeam.physics._secondary_sources`).
* Ions (and light fragments) on nuclei: the energy-independent parametrisation of
  Sihver et al. (1993, Phys. Rev. C 47, 1225), σ = π r₀² [A_p^⅓ + A_t^⅓ − b₀(A_p^−⅓ + A_t^−⅓)]²,
  r₀ = 1.36 fm, b₀ = 1.581 − 0.876 (A_p^−⅓ + A_t^−⅓) (A_t > 1) or
  b₀ = 2.247 − 0.915 (1 + A_p^−⅓) (A_t = 1). Valid above ~100 MeV/u; it
  underestimates by ~10–20 % at tens of MeV/u, where little range is left.

In water this gives a proton mean free path of about 1 m and a carbon mean
free path of about 21 cm; the fraction of primary protons that interact before
stopping agrees with Janni (1982) within 2.5 percentage points (see
``tests/validation``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ionbeam.physics import _icru63_data as icru63
from ionbeam.physics._elements import get_element
from ionbeam.physics.materials import AVOGADRO, Material, resolve_material
from ionbeam.physics.particles import Particle, get_particle
from ionbeam.physics.ranges import range_table

__all__ = [
    "ProtonReactionEnergySplit",
    "letaw_cross_section_mb",
    "macroscopic_cross_section_per_mm",
    "macroscopic_elastic_cross_sections_per_mm",
    "nonelastic_cross_section_mb",
    "nucleus_elastic_angle_shares",
    "primary_survival",
    "proton_elastic_cross_section_mb",
    "proton_nucleus_cross_section_mb",
    "sihver_cross_section_mb",
]

#: Lowest proton energy (MeV) at which elastic scattering on nuclei is transported.
ELASTIC_NUCLEUS_MIN_MEV = 20.0

_R0_FM = 1.36
_FM2_TO_MB = 10.0
_MB_TO_CM2 = 1e-27


@dataclass(frozen=True)
class ProtonReactionEnergySplit:
    """Where the kinetic energy of a proton that undergoes a non-elastic reaction goes.

    ``secondary_protons``: carried by secondary protons (transported, they form the
    nuclear halo); ``local``: deposited at the reaction site by short-range
    secondaries (alphas, deuterons, recoils); ``neutral``: carried away by neutrons
    and gamma rays or spent on binding energy. The defaults follow Bortfeld (1997,
    Med. Phys. 24, 2024), who takes 60 % of the released energy as deposited by
    charged secondaries (from ICRU 63 / Seltzer 1993), with the split between
    secondary protons and heavier charged secondaries after Seltzer (1993, NISTIR 5221).
    """

    secondary_protons: float = 0.50
    local: float = 0.10
    neutral: float = 0.40

    def __post_init__(self) -> None:
        total = self.secondary_protons + self.local + self.neutral
        if (
            not math.isclose(total, 1.0, abs_tol=1e-9)
            or min(self.secondary_protons, self.local, self.neutral) < 0
        ):
            from ionbeam.errors import ConfigError

            raise ConfigError(
                f"proton reaction energy fractions must be >= 0 and sum to 1; got {total:g}"
            )


def proton_nucleus_cross_section_mb(
    energy_mev: np.ndarray, target_a: float, target_z: int
) -> np.ndarray:
    """Non-elastic cross section (mb) of protons of kinetic energy ``energy_mev`` on a
    nucleus: ICRU 63 where tabulated (C, N, O, Ca), else Letaw et al. (1983); 0 for
    hydrogen."""
    energy = np.maximum(np.asarray(energy_mev, dtype=float), 1e-6)
    if target_z == 1:
        return np.zeros_like(energy)
    table = icru63.NONELASTIC_MB.get(target_z)
    if table is None:
        return letaw_cross_section_mb(energy, target_a, target_z)
    grid = icru63.ENERGY_MEV
    low = letaw_cross_section_mb(energy, target_a, target_z) * (
        table[0] / float(letaw_cross_section_mb(np.array(grid[0]), target_a, target_z))
    )
    return np.where(energy < grid[0], low, np.interp(energy, grid, table))


def letaw_cross_section_mb(energy_mev: np.ndarray, target_a: float, target_z: int) -> np.ndarray:
    """Non-elastic p–nucleus cross section (mb) of Letaw et al. (1983), for A > 1."""
    energy = np.maximum(np.asarray(energy_mev, dtype=float), 1e-6)
    a = float(target_a)
    high = 45.0 * a**0.7 * (1.0 + 0.016 * math.sin(5.3 - 2.63 * math.log(a)))
    shape = 1.0 - 0.62 * np.exp(-energy / 200.0) * np.sin(10.9 * energy**-0.28)
    barrier_mev = 1.44 * target_z / (1.3 * (a ** (1.0 / 3.0) + 1.0))
    return high * shape * np.clip(1.0 - barrier_mev / energy, 0.0, 1.0)


def sihver_cross_section_mb(projectile_a: float, target_a: float) -> float:
    """Total reaction cross section (mb) of two nuclei (Sihver et al. 1993)."""
    ap, at = float(projectile_a), float(target_a)
    inverse = ap ** (-1.0 / 3.0) + at ** (-1.0 / 3.0)
    hydrogen = round(at) == 1
    b0 = 2.247 - 0.915 * (1.0 + ap ** (-1.0 / 3.0)) if hydrogen else 1.581 - 0.876 * inverse
    radius = ap ** (1.0 / 3.0) + at ** (1.0 / 3.0) - b0 * inverse
    return math.pi * _R0_FM**2 * radius**2 * _FM2_TO_MB


def nonelastic_cross_section_mb(
    particle: str | Particle, energy_mev_u: float | np.ndarray, target_z: int
) -> np.ndarray:
    """Non-elastic cross section (mb) of ``particle`` on the (natural) element ``target_z``."""
    ion = get_particle(particle)
    energies = np.asarray(energy_mev_u, dtype=float)
    target_a = get_element(target_z).atomic_weight
    if ion.a == 1:
        return proton_nucleus_cross_section_mb(energies, target_a, target_z)
    return np.full(energies.shape, sihver_cross_section_mb(ion.a, target_a))


def macroscopic_cross_section_per_mm(
    particle: str | Particle,
    energy_mev_u: float | np.ndarray,
    material: str | Material = "water",
) -> np.ndarray:
    """Macroscopic non-elastic cross section Σ (1/mm) of ``particle`` in ``material``."""
    medium = resolve_material(material)
    energies = np.asarray(energy_mev_u, dtype=float)
    total = np.zeros(energies.shape)
    for z, w in medium.mass_fractions.items():
        atoms_per_cm3 = medium.density_g_cm3 * AVOGADRO * w / get_element(z).atomic_weight
        total = total + atoms_per_cm3 * nonelastic_cross_section_mb(particle, energies, z)
    return total * _MB_TO_CM2 * 0.1


def proton_elastic_cross_section_mb(energy_mev: np.ndarray, target_z: int) -> np.ndarray:
    """Elastic cross section (mb) of protons on the (natural) element ``target_z``: p–p
    nuclear elastic on hydrogen (> 10 MeV), ICRU 63 nuclear elastic above 5° (c.m.) on
    nuclei (≥ 20 MeV; see the module docstring)."""
    energy = np.maximum(np.asarray(energy_mev, dtype=float), 1e-6)
    if target_z == 1:
        per_gram = icru63.PP_ELASTIC_A * energy**icru63.PP_ELASTIC_B + icru63.PP_ELASTIC_C * energy
        atoms_per_gram = AVOGADRO / get_element(1).atomic_weight
        sigma = per_gram / icru63.PP_WATER_HYDROGEN_FRACTION / atoms_per_gram / _MB_TO_CM2
        return np.where(energy > icru63.PP_ELASTIC_THRESHOLD_MEV, sigma, 0.0)
    table = icru63.ELASTIC_MB.get(target_z)
    scale = 1.0
    if table is None:
        table = icru63.ELASTIC_MB[8]
        scale = (get_element(target_z).atomic_weight / get_element(8).atomic_weight) ** (2 / 3)
    sigma = scale * np.interp(energy, icru63.ENERGY_MEV, table)
    return np.where(energy >= ELASTIC_NUCLEUS_MIN_MEV, sigma, 0.0)


def nucleus_elastic_angle_shares(energy_mev: np.ndarray) -> np.ndarray:
    """Share of p–nucleus elastic scattering (ICRU 63, oxygen) in the angular groups of
    ``_icru63_data.OXYGEN_ELASTIC_ONE_MINUS_COS`` (4, n) at ``energy_mev``; zero below
    ``ELASTIC_NUCLEUS_MIN_MEV``."""
    energy = np.asarray(energy_mev, dtype=float)
    grid = icru63.ENERGY_MEV[1:]
    table = icru63.OXYGEN_ELASTIC_ANGLE_FRACTIONS
    shares = np.array([np.interp(energy, grid, table[:, k]) for k in range(table.shape[1])])
    return shares * (energy >= ELASTIC_NUCLEUS_MIN_MEV)


def macroscopic_elastic_cross_sections_per_mm(
    energy_mev: float | np.ndarray, material: str | Material = "water"
) -> tuple[np.ndarray, np.ndarray]:
    """Macroscopic elastic cross sections (1/mm) of protons in ``material``: on its
    hydrogen and on its heavier nuclei."""
    medium = resolve_material(material)
    energies = np.asarray(energy_mev, dtype=float)
    hydrogen = np.zeros(energies.shape)
    nuclei = np.zeros(energies.shape)
    for z, w in medium.mass_fractions.items():
        atoms_per_cm3 = medium.density_g_cm3 * AVOGADRO * w / get_element(z).atomic_weight
        sigma = atoms_per_cm3 * proton_elastic_cross_section_mb(energies, z) * _MB_TO_CM2 * 0.1
        if z == 1:
            hydrogen = hydrogen + sigma
        else:
            nuclei = nuclei + sigma
    return hydrogen, nuclei


def primary_survival(
    particle: str | Particle,
    energy_mev_u: float,
    depth_mm: float | np.ndarray,
    material: str | Material = "water",
) -> np.ndarray:
    """Fraction of primaries that have had no non-elastic reaction after ``depth_mm``
    (evaluated along the CSDA path; constant beyond the range)."""
    ion = get_particle(particle)
    medium = resolve_material(material)
    table = range_table(ion, medium)
    csda = float(table.range_at(np.array(float(energy_mev_u))))
    depth = np.linspace(0.0, csda, 2001)
    energy = table.energy_at(np.maximum(csda - depth, 0.0))
    sigma = macroscopic_cross_section_per_mm(ion, energy, medium)
    steps = 0.5 * (sigma[1:] + sigma[:-1]) * np.diff(depth)
    optical_depth = np.concatenate(([0.0], np.cumsum(steps)))
    return np.exp(-np.interp(np.asarray(depth_mm, dtype=float), depth, optical_depth))
