"""The synchrotron as a machine: its ring layout plus the rigidities and energies it can reach."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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

__all__ = ["Synchrotron", "cnao_synchrotron", "get_synchrotron", "pimms_synchrotron"]


@dataclass(frozen=True)
class Synchrotron:
    """A ring and its limits.

    ``max_brho_tm`` is the highest rigidity the dipoles reach;
    ``min_extraction_brho_tm`` the lowest at which slow extraction is set up;
    ``injection_energy_mev_u`` the linac energy per particle name (the
    ``default`` key applies to particles not listed).
    """

    layout: RingLayout
    max_brho_tm: float
    min_extraction_brho_tm: float
    injection_energy_mev_u: Mapping[str, float]
    source: str = field(default="", compare=False)

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
        """Lowest and highest extraction energies of ``particle``, MeV/u."""
        ion = get_particle(particle)
        low = float(energy_from_rigidity_mev_u(ion, self.min_extraction_brho_tm))
        high = float(energy_from_rigidity_mev_u(ion, self.max_brho_tm))
        return max(low, self.injection_energy(ion)), high

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


def pimms_synchrotron() -> Synchrotron:
    """The PIMMS ring: up to 6.35 T·m (400 MeV/u carbon-12), injection 20 MeV protons and
    7 MeV/u ions, extraction down to 60 MeV protons (PIMMS Part I, CERN/PS 99-010)."""
    return Synchrotron(
        layout=pimms_layout(),
        max_brho_tm=6.35,
        min_extraction_brho_tm=1.10,
        injection_energy_mev_u={"proton": 20.0, "default": 7.0},
        source="PIMMS, CERN/PS 99-010 (DI)",
    )


def cnao_synchrotron() -> Synchrotron:
    """The CNAO-like ring: up to 6.35 T·m, LINAC injection at 7 MeV/u for all ions
    (CNAO design: H₂⁺ and C⁴⁺ from the LINAC, stripped at injection)."""
    return Synchrotron(
        layout=cnao_layout(),
        max_brho_tm=6.35,
        min_extraction_brho_tm=1.10,
        injection_energy_mev_u={"default": 7.0},
        source="CNAO (public optics and design reports)",
    )


_SYNCHROTRONS = {"pimms": pimms_synchrotron, "cnao": cnao_synchrotron}


def get_synchrotron(name: str) -> Synchrotron:
    """The synchrotron called ``name`` (``pimms`` or ``cnao``)."""
    key = str(name).strip().lower()
    if key not in _SYNCHROTRONS:
        raise UnknownNameError("machine", name, _SYNCHROTRONS)
    return _SYNCHROTRONS[key]()
