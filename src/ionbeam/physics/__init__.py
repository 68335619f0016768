"""Physics of protons and ions in matter (depends on numpy, scipy and numba only).

Modules: ``particles``, ``materials``, ``stopping``, ``ranges``, ``straggling``,
``scattering``, ``nuclear``, ``fragmentation``, ``depth_dose``, ``wet`` and
``beam_model_tables``. Energies are kinetic energies per nucleon (``energy_mev_u``),
depths in mm; water's I-value is a parameter (default ``WATER_I_VALUE_EV``).
"""

from ionbeam.physics.materials import (
    MATERIALS,
    WATER_I_VALUE_EV,
    Material,
    bragg_additivity_i_value,
    get_material,
)
from ionbeam.physics.particles import PARTICLES, Particle, get_particle
from ionbeam.physics.ranges import (
    csda_range_mm,
    energy_from_range_mev_u,
    residual_energy_mev_u,
)
from ionbeam.physics.stopping import let_kev_um, linear_stopping_power, mass_stopping_power

__all__ = [
    "MATERIALS",
    "PARTICLES",
    "WATER_I_VALUE_EV",
    "Material",
    "Particle",
    "bragg_additivity_i_value",
    "csda_range_mm",
    "energy_from_range_mev_u",
    "get_material",
    "get_particle",
    "let_kev_um",
    "linear_stopping_power",
    "mass_stopping_power",
    "residual_energy_mev_u",
]
