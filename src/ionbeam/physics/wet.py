"""Water equivalence of materials: relative stopping power and water-equivalent thickness.

``relative_stopping_power`` is the ratio of linear electronic stopping powers,
material over water, at the same energy; it depends weakly on energy (for
tissues by < 1 % over 50–250 MeV) and on the I-values of both media. Water's
I-value is a parameter (default ``WATER_I_VALUE_EV``) so that a stoichiometric
CT calibration (Schneider et al. 1996) follows a change of it.

``water_equivalent_thickness_mm`` integrates exactly: WET = R_w(E_in) − R_w(E_out),
where E_out is the energy left after the slab (Zhang & Newhauser 2009, Phys.
Med. Biol. 54, 1383); for thin slabs it tends to RSP × thickness.
"""

from __future__ import annotations

import numpy as np

from ionbeam.errors import OutOfRangeError
from ionbeam.physics.materials import WATER_I_VALUE_EV, Material, get_material, resolve_material
from ionbeam.physics.particles import Particle, get_particle
from ionbeam.physics.ranges import csda_range_mm, range_table, residual_energy_mev_u
from ionbeam.physics.stopping import linear_stopping_power

__all__ = ["relative_stopping_power", "water", "water_equivalent_thickness_mm"]


def water(water_i_value_ev: float | None = None) -> Material:
    """Liquid water with the given I-value (default ``WATER_I_VALUE_EV``)."""
    i_value = WATER_I_VALUE_EV if water_i_value_ev is None else water_i_value_ev
    return get_material("water", i_value_ev=i_value)


def relative_stopping_power(
    material: str | Material,
    *,
    energy_mev_u: float | np.ndarray = 100.0,
    particle: str | Particle = "proton",
    water_i_value_ev: float | None = None,
) -> float | np.ndarray:
    """Linear stopping power of ``material`` relative to water at ``energy_mev_u``
    (a float for a scalar energy, else an array)."""
    medium = resolve_material(material)
    ratio = linear_stopping_power(particle, energy_mev_u, medium) / linear_stopping_power(
        particle, energy_mev_u, water(water_i_value_ev)
    )
    return float(ratio) if np.ndim(ratio) == 0 else ratio


def water_equivalent_thickness_mm(
    material: str | Material,
    thickness_mm: float | np.ndarray,
    *,
    energy_mev_u: float = 200.0,
    particle: str | Particle = "proton",
    water_i_value_ev: float | None = None,
) -> float | np.ndarray:
    """Water-equivalent thickness (mm) of a slab of ``material`` for a beam entering it
    with ``energy_mev_u`` (1–450 MeV/u). A slab thick enough to stop the beam has the
    water range of the beam as its WET."""
    medium = resolve_material(material)
    thickness = np.asarray(thickness_mm, dtype=float)
    if not np.all(np.isfinite(thickness)) or np.any(thickness < 0):
        bad = thickness[~np.isfinite(thickness) | (thickness < 0)].flat[0]
        raise OutOfRangeError("slab thickness", bad, 0.0, float("inf"), "mm")
    reference = water(water_i_value_ev)
    e_out = residual_energy_mev_u(particle, energy_mev_u, thickness, medium)
    table = range_table(get_particle(particle), reference)
    wet = csda_range_mm(particle, energy_mev_u, reference) - table.range_at(e_out)
    return float(wet) if np.ndim(wet) == 0 else wet
