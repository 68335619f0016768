"""Electronic stopping power and unrestricted LET of ions in matter.

The model (Bethe with density-effect, shell, Barkas and Bloch corrections
above 8 MeV/u; ZBL fits below 0.8 MeV/u; effective charge for ions) is
described in :mod:`ionbeam.physics._stopping_kernels`. Functions here accept
a particle (name or :class:`~ionbeam.physics.particles.Particle`), energies per
nucleon (scalar or array, MeV/u, valid 0.001–1000 MeV/u) and a material
(name or :class:`~ionbeam.physics.materials.Material`; ``"water"`` uses the
default water I-value ``WATER_I_VALUE_EV``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import OutOfRangeError
from ionbeam.physics._elements import get_element
from ionbeam.physics._stopping_kernels import MaterialArrays, mass_stopping_power_kernel
from ionbeam.physics.materials import Material, resolve_material
from ionbeam.physics.particles import Particle, get_particle

__all__ = [
    "STOPPING_MAX_MEV_U",
    "STOPPING_MIN_MEV_U",
    "StoppingTable",
    "let_kev_um",
    "linear_stopping_power",
    "mass_stopping_power",
    "material_arrays",
    "stopping_table",
]

#: Validity range of the stopping-power model, MeV/u.
STOPPING_MIN_MEV_U = 1e-3
STOPPING_MAX_MEV_U = 1000.0
_TABLE_POINTS = 2400


@dataclass(frozen=True, eq=False)
class StoppingTable:
    """The model evaluated once on a logarithmic grid (``energy_mev_u``, 1 keV/u –
    1000 MeV/u, and ``mass_stopping_mev_cm2_g``); log–log interpolation between the
    2400 points reproduces the model to ~1e-5."""

    energy_mev_u: np.ndarray
    mass_stopping_mev_cm2_g: np.ndarray

    def at(self, energy_mev_u: np.ndarray) -> np.ndarray:
        """Mass stopping power (MeV cm²/g) at energies inside the table."""
        return np.exp(
            np.interp(
                np.log(energy_mev_u),
                np.log(self.energy_mev_u),
                np.log(self.mass_stopping_mev_cm2_g),
            )
        )


@lru_cache(maxsize=256)
def material_arrays(material: Material) -> MaterialArrays:
    """Per-element arrays of ``material`` for the stopping kernels (cached)."""
    zs = sorted(material.mass_fractions)
    elements = [get_element(z) for z in zs]
    return MaterialArrays(
        np.array(zs, dtype=float),
        np.array([e.atomic_weight for e in elements]),
        np.array([material.mass_fractions[z] for z in zs]),
        np.array([e.i_value_in_compound_ev for e in elements]),
        np.array([e.zbl_proton for e in elements]),
        i_value_ev=material.i_value_ev,
        density_g_cm3=material.density_g_cm3,
    )


@lru_cache(maxsize=256)
def stopping_table(particle: Particle, material: Material) -> StoppingTable:
    """The stopping-power table of ``particle`` in ``material`` (computed once, cached)."""
    energies = np.geomspace(STOPPING_MIN_MEV_U, STOPPING_MAX_MEV_U, _TABLE_POINTS)
    values = mass_stopping_power_kernel(
        energies, particle.z, particle.a, particle.mass_mev, material_arrays(material)
    )
    for array in (energies, values):
        array.setflags(write=False)
    return StoppingTable(energies, values)


def checked_energies(
    energy_mev_u: ArrayLike,
    low: float = STOPPING_MIN_MEV_U,
    high: float = STOPPING_MAX_MEV_U,
    quantity: str = "energy per nucleon",
) -> np.ndarray:
    """``energy_mev_u`` as a float array, or ``OutOfRangeError`` if any value is
    outside ``[low, high]`` MeV/u or not finite."""
    try:
        energies = np.asarray(energy_mev_u, dtype=float)
    except (TypeError, ValueError):
        raise OutOfRangeError(quantity, energy_mev_u, low, high, "MeV/u") from None
    bad = ~np.isfinite(energies) | (energies < low) | (energies > high)
    if bad.any():
        raise OutOfRangeError(quantity, energies[bad].flat[0], low, high, "MeV/u")
    return energies


def mass_stopping_power(
    particle: str | Particle,
    energy_mev_u: float | np.ndarray,
    material: str | Material = "water",
) -> np.ndarray:
    """Electronic mass stopping power of the ion, MeV cm²/g (shape of ``energy_mev_u``)."""
    energies = checked_energies(energy_mev_u)
    return stopping_table(get_particle(particle), resolve_material(material)).at(energies)


def linear_stopping_power(
    particle: str | Particle,
    energy_mev_u: float | np.ndarray,
    material: str | Material = "water",
) -> np.ndarray:
    """Electronic linear stopping power, MeV/mm."""
    medium = resolve_material(material)
    return mass_stopping_power(particle, energy_mev_u, medium) * medium.density_g_cm3 * 0.1


def let_kev_um(
    particle: str | Particle,
    energy_mev_u: float | np.ndarray,
    material: str | Material = "water",
) -> np.ndarray:
    """Unrestricted linear energy transfer, keV/µm (numerically equal to MeV/mm)."""
    return linear_stopping_power(particle, energy_mev_u, material)
