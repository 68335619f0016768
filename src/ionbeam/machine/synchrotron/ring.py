"""The synchrotron as a machine: its ring layout plus the rigidities and energies it can reach."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import ConfigError, MachineLimitError, UnknownNameError
from ionbeam.machine.kinematics import (
    energy_from_rigidity_mev_u,
    magnetic_rigidity_tm,
    revolution_frequency_hz,
)
from ionbeam.machine.synchrotron.layout import RingLayout, cnao_layout, pimms_layout
from ionbeam.machine.synchrotron.optics import RingOptics, compute_optics
from ionbeam.physics.particles import Particle, get_particle

__all__ = [
    "Synchrotron",
    "cnao_synchrotron",
    "get_synchrotron",
    "medaustron_synchrotron",
    "pimms_synchrotron",
]


@dataclass(frozen=True)
class Synchrotron:
    """A ring and its limits.

    ``max_brho_tm`` is the highest rigidity the dipoles reach;
    ``min_extraction_brho_tm`` the lowest at which slow extraction is set up;
    ``injection_energy_mev_u`` the linac energy per particle name (the
    ``default`` key applies to particles not listed);
    ``extraction_limits_mev_u`` the lowest and highest extraction energy the
    facility runs per particle (its published clinical and research range;
    particles not listed are limited by the rigidities alone). These are the
    one source of the energy limits that the planner, the delivery and the
    CLI check (through :meth:`check_energy`).
    """

    layout: RingLayout
    max_brho_tm: float
    min_extraction_brho_tm: float
    injection_energy_mev_u: Mapping[str, float]
    source: str = field(default="", compare=False)
    extraction_limits_mev_u: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (0 < self.min_extraction_brho_tm < self.max_brho_tm):
            raise ConfigError(
                "need 0 < min_extraction_brho_tm < max_brho_tm; got "
                f"{self.min_extraction_brho_tm} and {self.max_brho_tm} T·m"
            )
        if "default" not in self.injection_energy_mev_u:
            raise ConfigError("injection_energy_mev_u needs a 'default' entry (MeV/u)")
        object.__setattr__(
            self, "injection_energy_mev_u", MappingProxyType(dict(self.injection_energy_mev_u))
        )
        limits = {}
        for name, pair in self.extraction_limits_mev_u.items():
            low, high = (float(v) for v in pair)
            if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
                raise ConfigError(
                    f"extraction limits of {name} must be 0 < low < high MeV/u; got {pair}"
                )
            limits[get_particle(name).name] = (low, high)
        object.__setattr__(self, "extraction_limits_mev_u", MappingProxyType(limits))

    @property
    def name(self) -> str:
        """The machine's name (``pimms``, ``cnao``)."""
        return self.layout.name

    @property
    def circumference_m(self) -> float:
        """Ring circumference, m."""
        return self.layout.circumference_m

    @property
    def bending_radius_m(self) -> float:
        """Bending radius of the main dipoles, m."""
        return self.layout.bending_radius_m

    def optics(self) -> RingOptics:
        """Linear optics of the ring (Xsuite twiss, cached)."""
        return compute_optics(self.layout)

    def injection_energy(self, particle: str | Particle) -> float:
        """Linac (injection) energy of ``particle``, MeV/u."""
        name = get_particle(particle).name
        return float(self.injection_energy_mev_u.get(name, self.injection_energy_mev_u["default"]))

    def energy_range_mev_u(self, particle: str | Particle) -> tuple[float, float]:
        """Lowest and highest extraction energies of ``particle``, MeV/u: the rigidity
        limits, narrowed by the facility's per-particle limits where it has them."""
        ion = get_particle(particle)
        low = max(
            float(energy_from_rigidity_mev_u(ion, self.min_extraction_brho_tm)),
            self.injection_energy(ion),
        )
        high = float(energy_from_rigidity_mev_u(ion, self.max_brho_tm))
        if ion.name in self.extraction_limits_mev_u:
            design_low, design_high = self.extraction_limits_mev_u[ion.name]
            low, high = max(low, design_low), min(high, design_high)
        return low, high

    def check_energy(self, particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray:
        """``energy_mev_u`` as an array; :class:`MachineLimitError` if the ring cannot reach it."""
        ion = get_particle(particle)
        energy = np.asarray(energy_mev_u, dtype=float)
        low, high = self.energy_range_mev_u(ion)
        bad = ~np.isfinite(energy) | (energy < low * (1 - 1e-12)) | (energy > high * (1 + 1e-12))
        if np.any(bad):
            value = energy[bad].flat[0] if energy.ndim else float(energy)
            raise MachineLimitError(
                f"{ion.name} extraction energy on {self.name}", value, low, high, "MeV/u"
            )
        return energy

    def brho_tm(self, particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray | float:
        """Magnetic rigidity at an extraction energy, T·m (checked against the machine)."""
        return magnetic_rigidity_tm(particle, self.check_energy(particle, energy_mev_u))

    def dipole_field_t(
        self, particle: str | Particle, energy_mev_u: ArrayLike
    ) -> np.ndarray | float:
        """Main-dipole field B = Bρ/ρ at an extraction energy, T."""
        return np.asarray(self.brho_tm(particle, energy_mev_u)) / self.bending_radius_m

    def injection_field_t(self, particle: str | Particle) -> float:
        """Main-dipole field at injection, T."""
        brho = magnetic_rigidity_tm(particle, self.injection_energy(particle))
        return float(brho) / self.bending_radius_m

    @property
    def max_field_t(self) -> float:
        """Highest main-dipole field, T."""
        return self.max_brho_tm / self.bending_radius_m

    def revolution_frequency_hz(
        self, particle: str | Particle, energy_mev_u: ArrayLike
    ) -> np.ndarray | float:
        """Revolution frequency on the reference orbit, Hz."""
        energy = self.check_energy(particle, energy_mev_u)
        return revolution_frequency_hz(particle, energy, self.circumference_m)


#: Extraction energies of the PIMMS design and of CNAO (MeV/u): protons 60–250 MeV,
#: carbon-12 up to 400 MeV/u (PIMMS Part I, CERN/PS 99-010; S. Rossi, Eur. Phys. J.
#: Plus 126 (2011) 78 for CNAO). The designs quote 120 MeV/u as carbon's lowest energy;
#: CNAO's clinical library starts at 115.37 MeV/u (30 mm in water, Mirandola et al.,
#: Med. Phys. 42 (2015) 5287), hence 115 here. Helium takes the proton span per nucleon
#: and oxygen carbon's lower end up to the ring's rigidity (ionbeam assumptions).
CLINICAL_LIMITS_MEV_U = {
    "proton": (60.0, 250.0),
    "helium": (60.0, 250.0),
    "carbon": (115.0, 400.0),
    "oxygen": (115.0, 450.0),
}

#: MedAustron: clinical protons 60–250 MeV and up to 800 MeV for non-clinical
#: research, carbon-12 up to 400 MeV/u (MedAustron facility descriptions, e.g.
#: M. Stock et al., Z. Med. Phys. 28 (2018) 196; U. Dorda et al., IPAC 2016).
MEDAUSTRON_LIMITS_MEV_U = {**CLINICAL_LIMITS_MEV_U, "proton": (60.0, 800.0)}


def pimms_synchrotron() -> Synchrotron:
    """The PIMMS ring: up to 6.35 T·m (400 MeV/u carbon-12), injection 20 MeV protons and
    7 MeV/u ions, extraction of protons at 60–250 MeV and carbon to 400 MeV/u
    (PIMMS Part I, CERN/PS 99-010)."""
    return Synchrotron(
        layout=pimms_layout(),
        max_brho_tm=6.35,
        min_extraction_brho_tm=1.10,
        injection_energy_mev_u={"proton": 20.0, "default": 7.0},
        source="PIMMS, CERN/PS 99-010 (DI)",
        extraction_limits_mev_u=CLINICAL_LIMITS_MEV_U,
    )


def cnao_synchrotron() -> Synchrotron:
    """CNAO's ring (public optics): up to 6.35 T·m, LINAC injection at 7 MeV/u for all
    ions (H₂⁺ and C⁴⁺ from the LINAC, stripped at injection), protons 60–250 MeV and
    carbon 115–400 MeV/u."""
    return Synchrotron(
        layout=cnao_layout(),
        max_brho_tm=6.35,
        min_extraction_brho_tm=1.10,
        injection_energy_mev_u={"default": 7.0},
        source="CNAO (public MAD-X optics and design reports)",
        extraction_limits_mev_u=CLINICAL_LIMITS_MEV_U,
    )


def medaustron_synchrotron() -> Synchrotron:
    """MedAustron's ring: a copy of the CNAO design (its own sequence is not public, so
    ionbeam uses CNAO's optics under MedAustron's name), LINAC injection at 7 MeV/u,
    protons to 800 MeV for research, carbon to 400 MeV/u, up to 6.35 T·m."""
    return Synchrotron(
        layout=replace(cnao_layout(), name="medaustron"),
        max_brho_tm=6.35,
        min_extraction_brho_tm=1.10,
        injection_energy_mev_u={"default": 7.0},
        source="MedAustron (follows the CNAO design; CNAO's public optics)",
        extraction_limits_mev_u=MEDAUSTRON_LIMITS_MEV_U,
    )


_SYNCHROTRONS = {
    "pimms": pimms_synchrotron,
    "cnao": cnao_synchrotron,
    "medaustron": medaustron_synchrotron,
}


def get_synchrotron(name: str) -> Synchrotron:
    """The synchrotron called ``name`` (``pimms``, ``cnao`` or ``medaustron``)."""
    key = str(name).strip().lower()
    if key not in _SYNCHROTRONS:
        raise UnknownNameError("machine", name, _SYNCHROTRONS)
    return _SYNCHROTRONS[key]()
