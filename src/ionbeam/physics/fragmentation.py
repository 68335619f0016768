"""Projectile fragmentation of ions: which fragments a reaction makes and how they move.

Each non-elastic reaction of a primary ion (cross section σ_R from
:mod:`ionbeam.physics.nuclear`) makes, in the participant–spectator picture
(Westfall et al. 1976, Phys. Rev. Lett. 37, 1202), with mean multiplicities per
reaction (``FragmentChannel.multiplicity``):

* forward projectile fragments (spectators) at the projectile's velocity, with the
  momentum spread and angles of Goldhaber's (1974, Phys. Lett. B 53, 306)
  statistical model, σ_p = σ₀ √(A_f (A_p − A_f)/(A_p − 1)), σ₀ = 90 MeV/c (Greiner
  et al. 1975, Phys. Rev. Lett. 35, 152), longitudinally and in each transverse
  direction; among them the projectile itself in the reactions that leave it intact
  (``PROJECTILE_SURVIVAL``, ``HELIUM_SURVIVAL``: 1 − σ_I/σ_R);
* wide-angle light particles knocked out of the overlap zone (participants), from the
  projectile and from the target (``from_target``), with energies uniform up to the
  projectile's energy per nucleon and the matching angles (:func:`participant_nodes`);
* the target's evaporation products, deposited where the reaction happens
  (``target_local_mev``).

Nucleons of the projectile not bound in a listed fragment leave as neutrons (their
energy escapes). A fragment that reacts in turn makes light fragments and lighter
heavy fragments (:func:`secondary_fragmentation_model`).

The multiplicities are representative values for 12C, 16O and 4He on water at
100–400 MeV/u, chosen to respect charge and nucleon conservation and to agree
with the measured partial charge-changing cross sections of Golovchenko et al.
(2002, Phys. Rev. C 66, 014609), Toshito et al. (2007, Phys. Rev. C 75,
054606) and Zeitlin et al. (2007, Phys. Rev. C 76, 014911), and with the forward
fragment yields of Haettner et al. (2013, Phys. Med. Biol. 58, 8265), counted as the
measurement counts them (within 10°, above the threshold of the tank wall and the air):
H and He within ~20 %, Li–B within ~30 % (``tests/validation``). They are energy
independent. They are a calibration handle, not a fit; ``FragmentationModel`` takes any
other set.

Proton beams have no projectile fragments; their nuclear secondaries are
described by :class:`ionbeam.physics.nuclear.ProtonReactionEnergySplit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.physics.particles import AMU_MEV, ELECTRON_MASS_MEV, Particle, get_particle

__all__ = [
    "GOLDHABER_SIGMA0_MEV_C",
    "HELIUM_SURVIVAL",
    "PARTICIPANT_ENERGY_FRACTIONS",
    "PARTICIPANT_MEAN_FRACTION",
    "PROJECTILE_SURVIVAL",
    "TARGET_LOCAL_MEV",
    "WIDE_ANGLE_COSINE",
    "FragmentChannel",
    "FragmentationModel",
    "fragment_particle",
    "fragmentation_model",
    "participant_nodes",
    "secondary_fragmentation_model",
]

#: Goldhaber's reduced momentum width σ₀, MeV/c.
GOLDHABER_SIGMA0_MEV_C = 90.0

# AME2020 atomic masses (u) of the fragment isotopes.
_ATOMIC_MASS_U = {
    (1, 1): 1.00782503223, (1, 2): 2.01410177812, (1, 3): 3.0160492779,
    (2, 3): 3.0160293201, (2, 4): 4.00260325413, (3, 6): 6.0151228874,
    (3, 7): 7.0160034366, (4, 7): 7.016928717, (4, 9): 9.012183065,
    (5, 10): 10.01293695, (5, 11): 11.00930536, (6, 11): 11.0114336,
    (6, 12): 12.0, (6, 13): 13.00335483507, (7, 14): 14.00307400443,
    (7, 15): 15.00010889888, (8, 15): 15.0030656, (8, 16): 15.99491461957,
}  # fmt: skip
_NAMES = {1: "H", 2: "He", 3: "Li", 4: "Be", 5: "B", 6: "C", 7: "N", 8: "O"}


@dataclass(frozen=True)
class FragmentChannel:
    """A fragment species (charge ``z``, mass number ``a``), its mean number per reaction
    and the mean cosine of its direction to the beam (1: forward projectile spectators at
    the projectile's velocity, Goldhaber angles; < 1: the wide-angle light particles of
    the participant zone, knocked out with a spread of energies and angles, see
    :func:`participant_nodes`). ``from_target``: made of target nucleons (the
    target's participants), so not counted against the projectile's charge and mass."""

    z: int
    a: int
    multiplicity: float
    cosine: float = 1.0
    from_target: bool = False

    @property
    def participant(self) -> bool:
        """Whether the channel is a wide-angle participant (knocked-out) particle."""
        return self.cosine < 1.0


@dataclass(frozen=True)
class FragmentationModel:
    """The forward fragments of one projectile (``projectile_z``, ``projectile_a``).

    ``residue_fraction`` is the share of the nucleus' kinetic energy that stays, after a
    reaction, with a heavy residue on nearly the same track (same speed, similar A/Z²):
    used for fragments that react in turn, whose heavy products are not listed.
    ``target_local_mev``: energy per reaction deposited at the reaction site by the
    target's evaporation products (slow protons, alphas, recoils).
    """

    projectile_z: int
    projectile_a: int
    channels: tuple[FragmentChannel, ...]
    residue_fraction: float = 0.0
    target_local_mev: float = 0.0

    def __post_init__(self) -> None:
        own = [c for c in self.channels if not c.from_target]
        charge = sum(c.z * c.multiplicity for c in own)
        nucleons = sum(c.a * c.multiplicity for c in own)
        bad = [c for c in self.channels if c.multiplicity < 0 or (c.z, c.a) not in _ATOMIC_MASS_U]
        nucleons += self.residue_fraction * self.projectile_a
        if bad or charge > self.projectile_z + 1e-9 or nucleons > self.projectile_a + 1e-9:
            raise ConfigError(
                f"fragmentation of Z={self.projectile_z}, A={self.projectile_a} must conserve "
                f"charge and nucleons with known isotopes; got charge {charge:g}, "
                f"nucleons {nucleons:g}, invalid channels {bad}"
            )

    @property
    def nucleon_fraction_in_fragments(self) -> float:
        """Fraction of the projectile's kinetic energy carried by its listed fragments
        (spectators at its velocity: their share of its mass; participants: half that,
        their mean energy); the rest escapes with neutrons or goes to the target."""
        own = [c for c in self.channels if not c.from_target]
        shares = [PARTICIPANT_MEAN_FRACTION if c.participant else 1.0 for c in own]
        listed = sum(c.a * c.multiplicity * f for c, f in zip(own, shares, strict=True))
        return listed / self.projectile_a + self.residue_fraction

    def momentum_spread_mev_c(self, channel: FragmentChannel) -> float:
        """Goldhaber momentum width (MeV/c, per Cartesian component) of a fragment."""
        a_p, a_f = self.projectile_a, channel.a
        if a_p <= 1 or a_f >= a_p:
            return 0.0
        return GOLDHABER_SIGMA0_MEV_C * math.sqrt(a_f * (a_p - a_f) / (a_p - 1))


def _channels(*rows: tuple[float, ...]) -> tuple[FragmentChannel, ...]:
    return tuple(FragmentChannel(int(r[0]), int(r[1]), *r[2:]) for r in rows)  # type: ignore[arg-type]


#: Share of reactions (σ_R) after which the projectile goes on unchanged (the target
#: alone breaks up, or the projectile is only excited): 1 − σ_I/σ_R, σ_I the
#: interaction (nucleon-removal) cross section of 12C on C, about 9 % below σ_R
#: (Ozawa et al. 2001, Nucl. Phys. A 693, 32: σ_I = 853 mb at 950 MeV/u; Takechi et al.
#: 2009, Phys. Rev. C 79, 061601: ≈ 790 mb at 250–400 MeV/u; Sihver's σ_R: 868 mb).
PROJECTILE_SURVIVAL = 0.09
#: The same for 4He, whose tight binding leaves it intact more often: σ_I(4He + C) =
#: 503 mb at 790 MeV/u (Tanihata et al. 1985, Phys. Lett. B 160, 380) against Sihver's
#: σ_R = 590 mb; its break-up multiplicities are per break-up, scaled by 1 − this.
HELIUM_SURVIVAL = 0.15
#: Energy per reaction (MeV) that the target's evaporation products (protons and alphas
#: of a few MeV, recoils) deposit at the reaction site: half the excitation of a target
#: that lost ~3 nucleons at 13 MeV each (Gaimard & Schmidt 1991, Nucl. Phys. A 531, 709).
TARGET_LOCAL_MEV = 18.0
#: Marks a participant channel (its angles come from :func:`participant_nodes`).
WIDE_ANGLE_COSINE = 0.75
_TARGET = True


#: Energies of the participant light particles as fractions of the projectile's kinetic
#: energy per nucleon: a midpoint rule of the uniform distribution on [0, 1] (see
#: :func:`participant_nodes`).
PARTICIPANT_ENERGY_FRACTIONS = (0.125, 0.375, 0.625, 0.875)
#: Their mean, 1/2.
PARTICIPANT_MEAN_FRACTION = 0.5


def participant_nodes(energy_mev_u: float, mass_u_mev: float) -> tuple[np.ndarray, np.ndarray]:
    """Energy fractions and direction cosines of the participant light particles of a
    projectile of ``energy_mev_u``. A nucleon knocked out by a quasi-free nucleon–nucleon
    collision, isotropic in their centre of mass, has a kinetic energy T uniform on
    [0, T_b] in the laboratory and, from elastic kinematics of equal masses,
    cos²θ = f (1 + T_b/2m) / (1 + f T_b/2m) with f = T/T_b (the participant–spectator
    picture of Westfall et al. 1976, Phys. Rev. Lett. 37, 1202, with Serber's 1947
    single-collision kinematics): on average half the projectile's energy per nucleon,
    at 20°–70° (the energetic ones forward)."""
    fractions = np.array(PARTICIPANT_ENERGY_FRACTIONS)
    k = max(float(energy_mev_u), 0.0) / (2.0 * mass_u_mev)
    cosines = np.sqrt(fractions * (1.0 + k) / (1.0 + fractions * k))
    return fractions, cosines


# Multiplicities per reaction (σ_R). Participants knocked out of the target (from_target):
# the overlap of the two nuclei averaged over impact parameters, A_t A_p^⅔ / (A_p^⅓ +
# A_t^⅓)² nucleons (2.4, 3.6, 4.0 from O for 4He, 12C, 16O; 1 from H), weighted over
# water's O and H by their cross sections, half of them protons, ~10 % of those bound in
# deuterons; the target's evaporation energy scales with the same count.
# fmt: off
_MODELS = {
    "helium": FragmentationModel(
        2, 4, _channels(*((z, a, m * (1.0 - HELIUM_SURVIVAL), *rest) for z, a, m, *rest in (
            (1, 1, 0.45), (1, 2, 0.25), (1, 3, 0.15), (2, 3, 0.15),
            (1, 1, 0.30, WIDE_ANGLE_COSINE))), (2, 4, HELIUM_SURVIVAL),
            (1, 1, 0.95, WIDE_ANGLE_COSINE, _TARGET), (1, 2, 0.10, WIDE_ANGLE_COSINE, _TARGET)),
        target_local_mev=TARGET_LOCAL_MEV * 2.4 / 3.6,
    ),
    "carbon": FragmentationModel(
        6,
        12,
        _channels(
            (1, 1, 0.70), (1, 2, 0.30), (1, 3, 0.12), (2, 3, 0.16), (2, 4, 0.74),
            (3, 6, 0.07), (3, 7, 0.06), (4, 7, 0.04), (4, 9, 0.02), (5, 10, 0.05),
            (5, 11, 0.10), (6, 11, 0.06), (6, 12, PROJECTILE_SURVIVAL),
            (1, 1, 0.70, WIDE_ANGLE_COSINE), (1, 2, 0.10, WIDE_ANGLE_COSINE),
            (1, 1, 1.40, WIDE_ANGLE_COSINE, _TARGET), (1, 2, 0.15, WIDE_ANGLE_COSINE, _TARGET),
        ),
        target_local_mev=TARGET_LOCAL_MEV,
    ),
    "oxygen": FragmentationModel(
        8,
        16,
        _channels(
            (1, 1, 0.80), (1, 2, 0.35), (1, 3, 0.14), (2, 3, 0.20), (2, 4, 0.95),
            (3, 6, 0.06), (3, 7, 0.05), (4, 7, 0.05), (4, 9, 0.03), (5, 10, 0.04),
            (5, 11, 0.06), (6, 12, 0.09), (6, 13, 0.03), (7, 14, 0.05), (7, 15, 0.09),
            (8, 15, 0.06),
            (1, 1, 0.80, WIDE_ANGLE_COSINE), (1, 2, 0.15, WIDE_ANGLE_COSINE),
            (1, 1, 1.55, WIDE_ANGLE_COSINE, _TARGET), (1, 2, 0.15, WIDE_ANGLE_COSINE, _TARGET),
        ),
        target_local_mev=TARGET_LOCAL_MEV * 4.0 / 3.6,
    ),
}
# fmt: on


def fragmentation_model(particle: str | Particle) -> FragmentationModel:
    """The default fragmentation model of an ion beam (helium, carbon, oxygen)."""
    ion = get_particle(particle)
    if ion.name not in _MODELS:
        raise UnknownNameError("fragmenting ion", ion.name, _MODELS)
    return _MODELS[ion.name]


def _heavy_products(z: int, a: int) -> list[FragmentChannel]:
    """Heavy products (charge ≥ 3) of a reacting fragment (Z, A): for each charge change
    ΔZ = 0 … 3, the 12C multiplicity of that change (11C; B; Be; Li), as the isotope of
    charge Z − ΔZ lighter than A that 12C makes most (11B, 7Be, 6Li; the heaviest one
    where 12C makes none)."""
    carbon = _MODELS["carbon"].channels
    made = {(c.z, c.a): c.multiplicity for c in carbon if not c.participant}
    products = []
    for dz in range(4):
        charge = z - dz
        multiplicity = sum(c.multiplicity for c in carbon if c.z == 6 - dz and c.a < 12)
        lighter = [m for (q, m) in _ATOMIC_MASS_U if q == charge and m < a]
        if charge >= 3 and lighter and multiplicity > 0:
            isotope = max(lighter, key=lambda m: (made.get((charge, m), 0.0), m))
            products.append(FragmentChannel(charge, isotope, multiplicity))
    return products


def secondary_fragmentation_model(z: int, a: int) -> FragmentationModel | None:
    """The fragments made when a fragment (Z, A) itself reacts: the 4He model for 4He,
    p and d for 3He; for heavier fragments, the 12C light-fragment (H, He: spectators
    and participants) multiplicities scaled by A/12 and heavy products with the 12C charge-change
    multiplicities (:func:`_heavy_products`), all at the fragment's velocity (so that a
    reacting boron becomes, now and then, a beryllium, and is no longer counted as a
    boron); ``None`` for hydrogen isotopes (their products are not transported)."""
    if z == 1:
        return None
    if (z, a) == (2, 4):
        return _MODELS["helium"]
    if (z, a) == (2, 3):
        return FragmentationModel(2, 3, _channels((1, 1, 0.50), (1, 2, 0.25)))
    light = [c for c in _MODELS["carbon"].channels if c.z <= 2]
    channels = [replace(c, multiplicity=c.multiplicity * a / 12) for c in light]
    return FragmentationModel(z, a, tuple(channels + _heavy_products(z, a)))


def fragment_particle(z: int, a: int) -> Particle:
    """The bare nucleus (Z, A) as a :class:`Particle` (AME2020 mass less electrons)."""
    if (z, a) not in _ATOMIC_MASS_U:
        known = [f"{z_}-{a_}" for z_, a_ in _ATOMIC_MASS_U]
        raise UnknownNameError("fragment isotope (Z-A)", f"{z}-{a}", known)
    mass = _ATOMIC_MASS_U[(z, a)] * AMU_MEV - z * ELECTRON_MASS_MEV
    return Particle(f"{a}{_NAMES[z]}", f"{a}{_NAMES[z]}", z, a, mass)
