"""Relativistic kinematics of an ion in a ring: rigidity, speed, revolution frequency.

Energies are kinetic energies per nucleon (``energy_mev_u``); rigidities are
``Bρ = p / (Z e)`` in T·m. Functions accept scalars or arrays and return the
same shape. They check nothing about the machine (see :class:`Synchrotron`
for the energies a ring can reach).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import OutOfRangeError
from ionbeam.physics.particles import Particle, get_particle

__all__ = [
    "SPEED_OF_LIGHT_M_S",
    "energy_from_rigidity_mev_u",
    "lorentz_beta",
    "lorentz_gamma",
    "magnetic_rigidity_tm",
    "momentum_per_nucleon_mev_c",
    "revolution_frequency_hz",
]

#: Speed of light in vacuum (exact, SI), m/s.
SPEED_OF_LIGHT_M_S = 299_792_458.0
#: Converts p/Z in MeV/c per elementary charge to T·m (1e6 / c).
_MEV_C_TO_TM = 1.0e6 / SPEED_OF_LIGHT_M_S


def _energies(energy_mev_u: ArrayLike) -> np.ndarray:
    energy = np.asarray(energy_mev_u, dtype=float)
    if not np.all(np.isfinite(energy)) or np.any(energy <= 0):
        raise OutOfRangeError("kinetic energy", energy_mev_u, 0.0, np.inf, "MeV/u")
    return energy


def lorentz_gamma(particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray | float:
    """Lorentz factor γ = 1 + T/(m c²) for a kinetic energy per nucleon T."""
    ion = get_particle(particle)
    gamma = 1.0 + _energies(energy_mev_u) / ion.mass_per_nucleon_mev
    return gamma[()] if gamma.ndim == 0 else gamma


def lorentz_beta(particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray | float:
    """Speed over the speed of light, β = sqrt(1 - 1/γ²)."""
    gamma = np.asarray(lorentz_gamma(particle, energy_mev_u))
    beta = np.sqrt(1.0 - 1.0 / gamma**2)
    return beta[()] if beta.ndim == 0 else beta


def momentum_per_nucleon_mev_c(
    particle: str | Particle, energy_mev_u: ArrayLike
) -> np.ndarray | float:
    """Momentum per nucleon p/A = sqrt(T² + 2 T m c²)/c, MeV/c."""
    ion = get_particle(particle)
    energy = _energies(energy_mev_u)
    p = np.sqrt(energy * (energy + 2.0 * ion.mass_per_nucleon_mev))
    return p[()] if p.ndim == 0 else p


def magnetic_rigidity_tm(particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray | float:
    """Magnetic rigidity Bρ = p/(Z e) of a fully stripped ion, T·m.

    250 MeV protons: 2.43 T·m; 400 MeV/u carbon-12: 6.35 T·m.
    """
    ion = get_particle(particle)
    p_total = np.asarray(momentum_per_nucleon_mev_c(ion, energy_mev_u)) * ion.a
    brho = p_total / ion.z * _MEV_C_TO_TM
    return brho[()] if brho.ndim == 0 else brho


def energy_from_rigidity_mev_u(particle: str | Particle, brho_tm: ArrayLike) -> np.ndarray | float:
    """Kinetic energy per nucleon (MeV/u) of an ion with magnetic rigidity ``brho_tm``."""
    ion = get_particle(particle)
    brho = np.asarray(brho_tm, dtype=float)
    if not np.all(np.isfinite(brho)) or np.any(brho <= 0):
        raise OutOfRangeError("magnetic rigidity", brho_tm, 0.0, np.inf, "T·m")
    p_per_u = brho * ion.z / _MEV_C_TO_TM / ion.a
    m = ion.mass_per_nucleon_mev
    energy = np.sqrt(p_per_u**2 + m**2) - m
    return energy[()] if energy.ndim == 0 else energy


def revolution_frequency_hz(
    particle: str | Particle, energy_mev_u: ArrayLike, circumference_m: float
) -> np.ndarray | float:
    """Revolution frequency f = β c / C on the reference orbit of a ring of circumference C, Hz."""
    if not np.isfinite(circumference_m) or circumference_m <= 0:
        raise OutOfRangeError("circumference", circumference_m, 0.0, np.inf, "m")
    beta = np.asarray(lorentz_beta(particle, energy_mev_u))
    f = beta * SPEED_OF_LIGHT_M_S / circumference_m
    return f[()] if f.ndim == 0 else f
