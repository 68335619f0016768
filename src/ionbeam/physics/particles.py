"""Particles: the ions ionbeam transports, by name.

Masses are nuclear rest masses (bare nuclei), from the CODATA 2018 proton and
alpha-particle masses and the AME2020 atomic masses less the electrons' rest
masses (electron binding energies, a few keV, are neglected).
"""

from __future__ import annotations

from dataclasses import dataclass

from ionbeam.errors import UnknownNameError

__all__ = [
    "AMU_MEV",
    "ELECTRON_MASS_MEV",
    "PARTICLES",
    "Particle",
    "get_particle",
]

#: Atomic mass unit (CODATA 2018), MeV.
AMU_MEV = 931.49410242
#: Electron rest mass (CODATA 2018), MeV.
ELECTRON_MASS_MEV = 0.51099895000


@dataclass(frozen=True)
class Particle:
    """A bare nucleus.

    ``a`` is the mass number (nucleons); energies in ionbeam are kinetic
    energies per nucleon, ``energy_mev_u``, so that ions of the same
    ``energy_mev_u`` move at (nearly) the same speed.
    """

    name: str
    symbol: str
    z: int
    a: int
    mass_mev: float

    @property
    def mass_per_nucleon_mev(self) -> float:
        """Rest mass divided by the mass number, MeV/u."""
        return self.mass_mev / self.a

    @property
    def charge_to_mass(self) -> float:
        """Z/A, which sets the magnetic rigidity per nucleon."""
        return self.z / self.a

    def __str__(self) -> str:
        return self.name


def _nucleus_mass_mev(atomic_mass_u: float, z: int) -> float:
    return atomic_mass_u * AMU_MEV - z * ELECTRON_MASS_MEV


PARTICLES: dict[str, Particle] = {
    "proton": Particle("proton", "p", 1, 1, 938.27208816),
    "helium": Particle("helium", "4He", 2, 4, 3727.3794066),
    "carbon": Particle("carbon", "12C", 6, 12, _nucleus_mass_mev(12.0, 6)),
    "oxygen": Particle("oxygen", "16O", 8, 16, _nucleus_mass_mev(15.99491461957, 8)),
}

_ALIASES = {
    "p": "proton",
    "h": "proton",
    "h1": "proton",
    "1h": "proton",
    "he": "helium",
    "he4": "helium",
    "4he": "helium",
    "alpha": "helium",
    "c": "carbon",
    "c12": "carbon",
    "12c": "carbon",
    "o": "oxygen",
    "o16": "oxygen",
    "16o": "oxygen",
}


def get_particle(name: str | Particle) -> Particle:
    """The particle called ``name`` (``proton``, ``helium``, ``carbon``, ``oxygen``,
    or a symbol such as ``12C``); a ``Particle`` is returned unchanged."""
    if isinstance(name, Particle):
        return name
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return PARTICLES[key]
    except KeyError:
        raise UnknownNameError("particle", name, PARTICLES) from None
