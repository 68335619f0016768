"""Secondary particles born from the primaries' nuclear reactions, as transport packets.

Builds, from the per-bin reactions of the primaries
(:mod:`ionbeam.physics._primary_transport`), the packet arrays that
:func:`ionbeam.physics._transport_kernels.transport_secondaries` moves through
the depth bins:

* ion beams: the projectile fragments of :mod:`ionbeam.physics.fragmentation`,
  spectators born at the primary's velocity, with Goldhaber's momentum spread
  represented by Gauss–Hermite nodes (:func:`_goldhaber_nodes`: 7 for Li and heavier,
  3 for H and He) and their projected angular variance (σ_p / p)²; participants in four equally
  weighted energy groups (1/8 … 7/8 of the primary's energy per nucleon), each on
  its own cone (:func:`~ionbeam.physics.fragmentation.participant_nodes`);
* proton beams: secondary protons in three energy groups (10 %, 35 % and 70 %
  of the reacting proton's energy, carrying 20 %, 35 % and 45 % of the
  secondary-proton energy) emitted at mean polar angles of 60°, 45° and 25°
  (direction cosines 0.5, 0.7, 0.9): a coarse representation of the
  evaporation, pre-equilibrium and knock-out components (Seltzer 1993,
  NISTIR 5221), enough for the depth profile and the width of the nuclear halo;
* elastically scattered protons (:func:`proton_elastic_packets`): p–p scattering,
  isotropic in the centre of mass (so each of the two outgoing protons carries a
  fraction f of the energy, uniform in [0, 1], at cos²θ = f(1 + τ)/(1 + fτ),
  τ = T/2m), in five groups of f; p–nucleus scattering in the four angular groups
  of the ICRU 63 distribution (1 − cos θ ≈ 0.0033, 0.02, 0.05, 0.13), the proton
  keeping its energy less the recoil's (deposited locally) and the primaries' range
  spread. The ≈ 5° group (MODEL_VERSION ≤ 6 kept it with the primaries: it shortens
  their residual range by only 0.3 %) is transported too since MODEL_VERSION 7: its
  deflection (rms 4.7°, projected 3.3°) is not in the primaries' Highland MCS, which
  is Coulomb scattering only, and over the last few centimetres it widens the 4–8 %
  of the primaries that scattered so (see :mod:`._halo_split`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import ndtr

from ionbeam.physics import _icru63_data as icru63
from ionbeam.physics._elements import get_element
from ionbeam.physics.fragmentation import (
    GOLDHABER_SIGMA0_MEV_C,
    PARTICIPANT_MEAN_FRACTION,
    FragmentationModel,
    fragment_particle,
    participant_nodes,
    secondary_fragmentation_model,
)
from ionbeam.physics.materials import Material
from ionbeam.physics.nuclear import (
    ProtonReactionEnergySplit,
    macroscopic_cross_section_per_mm,
    nucleus_elastic_angle_shares,
)
from ionbeam.physics.particles import Particle
from ionbeam.physics.ranges import RangeTable, range_table

__all__ = [
    "LARGE_ANGLE_GROUPS",
    "SecondaryPackets",
    "fragment_packets",
    "proton_elastic_packets",
    "proton_secondary_packets",
    "residue_fraction",
    "tertiary_packets",
]

_TABLE_POINTS = 1024
#: Gauss–Hermite nodes of the spectators' Goldhaber range spread, for Li and heavier
#: fragments and for H and He (see :func:`_goldhaber_nodes`).
GOLDHABER_NODES_HEAVY = 7
GOLDHABER_NODES_LIGHT = 3


def _goldhaber_nodes(charge: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (in σ) and weights of the Goldhaber range spread of a spectator of ``charge``.

    Where a heavy fragment (Li–B; A/Z² 0.4–0.67, so its track ends 1.2–2 × the projectile's
    residual range ahead) stops behind the Bragg peak, what a forward detector counts is
    the tail of that spread (Haettner's B at 34.9 cm: 1–2 σ beyond the mean range of 11B
    born at the entrance). Three nodes (one at +√3 σ, weight 1/6) overstated that yield
    by 4.5 points (+32.1 % against +27.4 … +28.3 % with 9, 15 and 25 nodes); seven are
    within 0.5 point. H and He (A/Z² ≥ 0.75) stop ≥ 2.25 × the residual range ahead,
    mostly beyond the depths computed, and keep three (seven moves their yields < 1
    point and would double the cost of an ion depth–dose; seven for Li–C: +30 % CPU
    time for a carbon depth–dose, none with spectra, which no longer hold a copy per
    packet)."""
    n = GOLDHABER_NODES_HEAVY if charge >= 3 else GOLDHABER_NODES_LIGHT
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return nodes, weights / weights.sum()


_PROTON_GROUP_ENERGY = np.array([0.10, 0.35, 0.70])  # fraction of the reacting proton's energy
_PROTON_GROUP_SHARE = np.array([0.20, 0.35, 0.45])  # share of the secondary-proton energy
_PROTON_GROUP_COSINE = np.array([0.5, 0.7, 0.9])
_PROTON_GROUP_RANGE_SPREAD = np.array([0.25, 0.20, 0.12])  # relative range spread per group
_HYDROGEN_REACTION_LOCAL = 0.6
#: Share of a reacting heavy residue's energy (Z ≥ 3, last generation transported)
#: deposited locally: half the H/He share, as its own light products carry much on.
_RESIDUE_REACTION_LOCAL = 0.3


@dataclass(frozen=True, eq=False)
class SecondaryPackets:
    """Kernel inputs: per-species tables and per-packet birth arrays (see the kernel).
    ``birth_angle_var`` (n_packets, n_births): the projected angular variance (rad²) of
    each packet at birth, ``inf`` for the wide-angle participants; ``None``: not known
    (proton beams' secondaries)."""

    species: tuple[Particle, ...]
    energy_tables: np.ndarray
    let_tables: np.ndarray
    alive_tables: np.ndarray
    table_du: np.ndarray
    table_n: np.ndarray
    birth_z0: np.ndarray
    birth_r0: np.ndarray
    birth_weight: np.ndarray
    packet_species: np.ndarray
    packet_c: np.ndarray
    packet_tan2: np.ndarray
    packet_sigma: np.ndarray
    packet_local: np.ndarray
    participant: tuple[bool, ...] = ()
    birth_angle_var: np.ndarray | None = None

    def is_participant(self, species: int) -> bool:
        """Whether species ``species`` holds wide-angle participants (not spectators)."""
        return bool(self.participant) and self.participant[species]

    def cone_weights(self, half_angle_rad: float) -> np.ndarray:
        """``birth_weight`` times the share of each packet's particles within a cone of
        ``half_angle_rad`` around the beam (2-D Gaussian angles: 1 − exp(−θ²/2σ²)); the
        wide-angle participants (on cones beyond 19°) count none."""
        if self.birth_angle_var is None:
            raise ValueError("these packets carry no birth angles")
        with np.errstate(divide="ignore"):
            inside = -np.expm1(-(half_angle_rad**2) / (2.0 * self.birth_angle_var))
        return self.birth_weight * inside

    def initial_energy_mev(self) -> float:
        """Total kinetic energy (MeV per primary) of all packets at birth."""
        total = 0.0
        for p, species in enumerate(self.packet_species):
            u = np.arange(self.table_n[species]) * self.table_du[species]
            energy = np.interp(np.sqrt(self.birth_r0[p]), u, self.energy_tables[species])
            total += float(np.sum(self.birth_weight[p] * energy))
        return total


class _SpeciesTables(NamedTuple):
    """The per-species tables of ``SecondaryPackets``, in its field order."""

    energy: np.ndarray
    let_integral: np.ndarray
    alive: np.ndarray
    du: np.ndarray
    n_points: np.ndarray


def _species_tables(
    species: list[Particle], water: Material, max_energy_mev_u: float, smoothing_mm: np.ndarray
) -> tuple[_SpeciesTables, np.ndarray]:
    """Energy, LET-integral and still-moving-fraction tables of each species on
    u = √(r + shift), smoothed by a Gaussian range spread ``smoothing_mm[i]`` (shift = 4 ×
    that spread, so that the smoothed energy reaches zero at r_shifted = 0). Returns the
    tables, du, the number of points and the shifts (mm)."""
    n = len(species)
    energy = np.zeros((n, _TABLE_POINTS))
    let_integral = np.zeros((n, _TABLE_POINTS))
    alive = np.zeros((n, _TABLE_POINTS))
    du = np.zeros(n)
    shifts = 4.0 * np.asarray(smoothing_mm, dtype=float)
    for i, particle in enumerate(species):
        table = range_table(particle, water)
        r_max = float(table.range_at(np.array(max_energy_mev_u)))
        u = np.linspace(0.0, np.sqrt(r_max + shifts[i]), _TABLE_POINTS)
        r = u**2 - shifts[i]
        log_e, q = _let_integral(table)
        e_u = table.energy_at(np.maximum(r, 0.0))
        energy[i] = np.where(r > 0.0, particle.a * e_u, 0.0)
        alive[i] = np.where(r > 0.0, 1.0, 0.0)
        let_integral[i] = np.where(
            r > 0.0, np.interp(np.log(np.maximum(e_u, 1e-12)), log_e, q), 0.0
        )
        if shifts[i] > 0.0:  # smooth the track end (beyond 20 σ smoothing changes < 0.1 %)
            r_local, e_local, q_local = _smoothed_end(table, log_e, q, smoothing_mm[i])
            near = r < r_local[-1]
            energy[i, near] = np.interp(r[near], r_local, e_local)
            let_integral[i, near] = np.interp(r[near], r_local, q_local)
            alive[i, near] = ndtr(r[near] / smoothing_mm[i])
        du[i] = u[1]
    n_points = np.full(n, _TABLE_POINTS, dtype=np.int64)
    return _SpeciesTables(energy, let_integral, alive, du, n_points), shifts


def _smoothed_end(
    table: RangeTable, log_e: np.ndarray, q: np.ndarray, sigma_mm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residual ranges r ∈ [−4σ, 20σ] and the energy and LET integral there, averaged
    over a Gaussian spread σ of ranges (both zero for r ≤ 0 before averaging)."""
    step = sigma_mm / 8.0
    kernel_offsets = np.arange(-32, 33) * step
    r = np.arange(-4.0 * sigma_mm - 33 * step, 24.0 * sigma_mm + 33 * step, step)
    positive = r > 0.0
    e_u = np.zeros_like(r)
    e_u[positive] = table.energy_at(r[positive])
    q_total = np.where(positive, np.interp(np.log(np.maximum(e_u, 1e-12)), log_e, q), 0.0)
    kernel = np.exp(-0.5 * (kernel_offsets / sigma_mm) ** 2)
    kernel /= kernel.sum()
    e_smooth = np.convolve(table.mass_number * e_u, kernel, mode="same")
    q_smooth = np.convolve(q_total, kernel, mode="same")
    keep = (r >= -4.0 * sigma_mm) & (r <= 20.0 * sigma_mm)
    return r[keep], e_smooth[keep], q_smooth[keep]


def _let_integral(table: RangeTable) -> tuple[np.ndarray, np.ndarray]:
    """ln E (per nucleon) and Q(E) = ∫₀^E S dE_total = ∫₀^R S² dr (MeV²/mm)."""
    e = table.energy_mev_u
    integrand = table.stopping_mev_mm * table.mass_number * e  # per d(ln E)
    steps = 0.5 * (integrand[1:] + integrand[:-1]) * np.diff(np.log(e))
    start = table.stopping_mev_mm[0] * table.mass_number * e[0]  # S roughly flat below
    return np.log(e), start + np.concatenate(([0.0], np.cumsum(steps)))


def _range_ratio(
    species: list[Particle], projectile: Particle, water: Material, energy_mev_u: float
) -> np.ndarray:
    """Range of each species relative to the projectile's at the same speed."""
    reference = np.array(energy_mev_u)
    projectile_range = float(range_table(projectile, water).range_at(reference))
    return np.array([float(range_table(f, water).range_at(reference)) for f in species]) / (
        projectile_range
    )


def residue_fraction(particle: Particle) -> float:
    """Energy share kept on-track by a reacting fragment's heavy residue: such reactions
    only remove (1 − share) of the packets (see ``FragmentationModel.residue_fraction``)."""
    model = secondary_fragmentation_model(particle.z, particle.a)
    return 0.0 if model is None else model.residue_fraction


def _momentum_per_nucleon(energy_mev_u: np.ndarray, mass_u: float) -> np.ndarray:
    return np.sqrt(energy_mev_u * (energy_mev_u + 2.0 * mass_u))


def fragment_packets(
    projectile: Particle,
    model: FragmentationModel,
    water: Material,
    birth_z0: np.ndarray,
    reactions: np.ndarray,
    reacting_energy_mev_u: np.ndarray,
    initial_energy_mev_u: float,
    primary_range_sigma_mm: float,
) -> SecondaryPackets:
    """Packets of projectile fragments born at depths ``birth_z0`` (mm) from ``reactions``
    of primaries of mean energy ``reacting_energy_mev_u`` there. The fragments' ranges
    spread by Goldhaber's momentum width (:func:`_goldhaber_nodes`) and by the
    primaries' own range
    spread (``primary_range_sigma_mm`` scaled by the fragment-to-primary range ratio;
    smoothed into the energy tables, so that track ends do not alias onto the bins)."""
    species = [fragment_particle(c.z, c.a) for c in model.channels]
    max_energy = min(1.3 * initial_energy_mev_u + 5.0, 1000.0)
    ratio = _range_ratio(species, projectile, water, initial_energy_mev_u)
    tables, shifts = _species_tables(species, water, max_energy, ratio * primary_range_sigma_mm)
    e_u = np.maximum(reacting_energy_mev_u, 1e-6)
    p_u = _momentum_per_nucleon(e_u, projectile.mass_per_nucleon_mev)
    p_reference = float(
        _momentum_per_nucleon(np.array(initial_energy_mev_u), projectile.mass_per_nucleon_mev)
    )
    fractions, cosines = participant_nodes(initial_energy_mev_u, projectile.mass_per_nucleon_mev)
    rows: list[tuple[int, np.ndarray, np.ndarray, float, float, float, float, np.ndarray]] = []
    wide_angle = np.full(e_u.shape, np.inf)
    for s, (channel, fragment) in enumerate(zip(model.channels, species, strict=True)):
        sigma = float(
            macroscopic_cross_section_per_mm(fragment, 0.7 * initial_energy_mev_u, water)
        ) * (1.0 - residue_fraction(fragment))
        # hydrogen fragments leave 60 % of a reaction's energy locally (as protons,
        # Bortfeld 1997); heavier ones feed the next generation (tertiary_packets)
        local = _HYDROGEN_REACTION_LOCAL if fragment.z == 1 else 0.0
        if channel.participant:  # knocked out: energy uniform on [0, E], angle with it
            table = range_table(fragment, water)
            for f, c in zip(fractions, cosines, strict=True):
                r0 = table.range_at(np.minimum(f * e_u, max_energy)) + shifts[s]
                weight = np.where(reactions > 0, channel.multiplicity * reactions, 0.0)
                weight = weight / fractions.size
                tan2 = (1.0 - c**2) / c**2 / 2.0  # projected tan²θ/2 of a cone
                rows.append((s, r0, weight, float(c), float(tan2), sigma, local, wide_angle))
            continue
        spread = model.momentum_spread_mev_c(channel)  # spectators: Goldhaber's spread
        momentum = channel.a * p_u
        mean_range = _fragment_range(fragment, water, momentum, max_energy)
        range_sigma = 0.5 * (
            _fragment_range(fragment, water, momentum + spread, max_energy)
            - _fragment_range(fragment, water, np.maximum(momentum - spread, 1e-3), max_energy)
        )
        tan2 = (spread / (channel.a * p_reference)) ** 2
        birth_var = (spread / (channel.a * p_u)) ** 2  # at the reacting primary's speed
        # Goldhaber's range spread, for every spectator: σ_R/R ≈ 3 σ_p/p at 400 MeV/u,
        # 9 mm for 11B and 26 mm for 7Be born at the entrance, against the 1.7 mm
        # inherited from the primaries' range spread and smoothed into the tables. As
        # nodes, not table smoothing: smoothing would give the survivors at a depth one
        # mean energy (Haettner's B behind the peak, counted above a threshold, came out
        # +64 % that way against +32 % with three nodes and +28 % with seven)
        for node, w_node in zip(*_goldhaber_nodes(fragment.z), strict=True):
            r0 = np.maximum(mean_range + node * range_sigma, 0.0) + shifts[s]
            weight = np.where(reactions > 0, channel.multiplicity * w_node * reactions, 0.0)
            rows.append((s, r0, weight, 1.0, tan2, sigma, local, birth_var))
    species_index, r0s, weights, cosines, tan2s, sigmas, locals_, variances = zip(
        *rows, strict=True
    )
    return SecondaryPackets(
        tuple(species),
        *tables,
        birth_z0,
        np.array(r0s),
        np.array(weights),
        np.array(species_index, dtype=np.int64),
        np.array(cosines),
        np.array(tan2s),
        np.array(sigmas),
        np.array(locals_),
        participant=tuple(c.participant for c in model.channels),
        birth_angle_var=np.array(variances),
    )


def _fragment_range(
    fragment: Particle, water: Material, momentum: np.ndarray, max_energy: float
) -> np.ndarray:
    kinetic = np.sqrt(momentum**2 + fragment.mass_mev**2) - fragment.mass_mev
    energy = np.minimum(np.maximum(kinetic, 0.0) / fragment.a, max_energy)
    return range_table(fragment, water).range_at(energy)


def proton_secondary_packets(
    proton: Particle,
    split: ProtonReactionEnergySplit,
    water: Material,
    birth_z0: np.ndarray,
    reactions: np.ndarray,
    reacting_energy_mev_u: np.ndarray,
    initial_energy_mev_u: float,
) -> SecondaryPackets:
    """Packets of secondary protons born at depths ``birth_z0`` (mm) from non-elastic
    reactions of primary protons: one table per energy group, its ranges spread by
    25, 20 and 12 % (the groups stand for a continuous spectrum; the fastest group is
    the narrowest, knock-out protons near the primary's energy)."""
    table = range_table(proton, water)
    group_ranges = table.range_at(_PROTON_GROUP_ENERGY * initial_energy_mev_u)
    n_groups = _PROTON_GROUP_ENERGY.size
    tables, shifts = _species_tables(
        [proton] * n_groups, water, initial_energy_mev_u * 1.05 + 1.0,
        _PROTON_GROUP_RANGE_SPREAD * group_ranges,
    )  # fmt: skip
    r0 = np.zeros((n_groups, reactions.shape[0]))
    weight = np.zeros_like(r0)
    sigma = np.zeros(n_groups)
    for g in range(n_groups):
        energy = _PROTON_GROUP_ENERGY[g] * reacting_energy_mev_u
        r0[g] = table.range_at(energy) + shifts[g]
        count = split.secondary_protons * _PROTON_GROUP_SHARE[g] / _PROTON_GROUP_ENERGY[g]
        weight[g] = np.where(energy > 0, count * reactions, 0.0)
        sigma[g] = float(
            macroscopic_cross_section_per_mm(
                proton, 0.7 * _PROTON_GROUP_ENERGY[g] * initial_energy_mev_u, water
            )
        )
    cosine = _PROTON_GROUP_COSINE
    tan2 = (1.0 - cosine**2) / cosine**2 / 2.0  # projected: tan²θ / 2
    return SecondaryPackets(
        (proton,) * n_groups,
        *tables,
        birth_z0,
        r0,
        weight,
        np.arange(n_groups, dtype=np.int64),
        cosine.copy(),
        tan2,
        sigma,
        np.full(n_groups, _HYDROGEN_REACTION_LOCAL),
    )


def tertiary_packets(
    projectile: Particle,
    parents: tuple[Particle, ...],
    reaction_count: np.ndarray,
    reaction_energy: np.ndarray,
    centres: np.ndarray,
    water: Material,
    initial_energy_mev_u: float,
    primary_range_sigma_mm: float,
) -> SecondaryPackets:
    """Fragments (H, He, heavy residues) made by reactions of the fragments ``parents`` (tallied per
    bin by the first transport pass), born at the bin centres with the reacting
    fragment's velocity; one packet per species (parents pooled, Goldhaber spread
    folded into the range smoothing). Participant (wide-angle) products are kept apart:
    half the parent's energy per nucleon, at the mean angle of :func:`participant_nodes`."""
    pooled: dict[tuple[int, int, bool], list[np.ndarray]] = {}
    for s, parent in enumerate(parents):
        model = secondary_fragmentation_model(parent.z, parent.a)
        if model is None:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            e_u = np.where(
                reaction_count[s] > 0, reaction_energy[s] / (reaction_count[s] * parent.a), 0.0
            )
        for channel in model.channels:
            count = reaction_count[s] * channel.multiplicity / (1.0 - model.residue_fraction)
            entry = pooled.setdefault(
                (channel.z, channel.a, channel.participant),
                [np.zeros(centres.size), np.zeros(centres.size)],
            )
            share = PARTICIPANT_MEAN_FRACTION if channel.participant else 1.0
            entry[0] += count
            entry[1] += count * share * e_u
    keys = sorted(pooled)
    species = [fragment_particle(z, a) for z, a, _ in keys]
    wide = np.array([key[2] for key in keys])
    _, node_cosines = participant_nodes(0.7 * initial_energy_mev_u, projectile.mass_per_nucleon_mev)
    cosine = np.where(wide, float(np.mean(node_cosines)), 1.0)
    max_energy = min(1.3 * initial_energy_mev_u + 5.0, 1000.0)
    ratio = _range_ratio(species, projectile, water, initial_energy_mev_u)
    tables, shifts = _species_tables(species, water, max_energy, ratio * primary_range_sigma_mm)
    # light products travel far: pairs of bins share one birth (halves the cost)
    starts = np.arange(0, centres.size, 2)
    birth_z0 = np.add.reduceat(centres, starts) / np.add.reduceat(np.ones_like(centres), starts)
    r0 = np.zeros((len(species), starts.size))
    weight = np.zeros_like(r0)
    birth_var = np.full_like(r0, np.inf)
    for k, (key, particle) in enumerate(zip(keys, species, strict=True)):
        count = np.add.reduceat(pooled[key][0], starts)
        energy_sum = np.add.reduceat(pooled[key][1], starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            e_u = np.where(count > 0, energy_sum / count, 0.0)
        weight[k] = count
        if not wide[k]:  # Goldhaber angle at the reacting parent's speed
            p_birth = _momentum_per_nucleon(np.maximum(e_u, 1e-3), projectile.mass_per_nucleon_mev)
            birth_var[k] = (GOLDHABER_SIGMA0_MEV_C / (np.sqrt(particle.a) * p_birth)) ** 2
        r0[k] = range_table(particle, water).range_at(np.minimum(e_u, max_energy)) + shifts[k]
    n = len(species)
    # projected Goldhaber angle of a light fragment from a heavier parent: σ₀/(√A p_u)
    p_u = float(
        _momentum_per_nucleon(np.array(0.7 * initial_energy_mev_u), projectile.mass_per_nucleon_mev)
    )
    tan2 = np.array([(GOLDHABER_SIGMA0_MEV_C / (np.sqrt(p.a) * p_u)) ** 2 for p in species])
    tan2 = np.where(wide, (1.0 - cosine**2) / cosine**2 / 2.0, tan2)
    return SecondaryPackets(
        tuple(species),
        *tables,
        birth_z0,
        r0,
        weight,
        np.arange(n),
        cosine,
        tan2,
        np.array(
            [
                float(macroscopic_cross_section_per_mm(p, 0.5 * initial_energy_mev_u, water))
                for p in species
            ]
        ),
        np.array(
            [_HYDROGEN_REACTION_LOCAL if p.z <= 2 else _RESIDUE_REACTION_LOCAL for p in species]
        ),
        participant=tuple(bool(w) for w in wide),
        birth_angle_var=birth_var,
    )


_PP_GROUPS = 5
#: The angular groups of p–nucleus elastic scattering transported as scattered protons:
#: all of ICRU 63's (from 5° in the centre of mass), as Monte Carlo codes do; until
#: MODEL_VERSION 6 the first (≈ 5°) stayed with the primaries without its deflection.
LARGE_ANGLE_GROUPS = slice(0, None)
#: Relative range straggling (σ/R) of a proton of therapeutic energy in water (~1.1 %,
#: Janni 1982), applied to the p–p products' ranges.
_RELATIVE_STRAGGLING = 0.011


def _pp_groups(initial_energy_mev: float, table: RangeTable) -> tuple[np.ndarray, ...]:
    """Energy fractions f, counts per scattering, direction cosines and range spreads
    (mm, at the initial energy) of the p–p groups (midpoints of equal bins of f)."""
    f = (np.arange(_PP_GROUPS) + 0.5) / _PP_GROUPS
    tau = 0.7 * initial_energy_mev / (2.0 * 938.272)
    cosine = np.sqrt(f * (1.0 + tau) / (1.0 + f * tau))
    ranges = table.range_at(f * initial_energy_mev)
    bin_edges = table.range_at(np.arange(_PP_GROUPS + 1) / _PP_GROUPS * initial_energy_mev)
    spread = np.hypot(_RELATIVE_STRAGGLING * ranges, np.diff(bin_edges) / np.sqrt(12.0))
    # no product outranges the scattering proton: the top group's spread stays 3σ short
    spread = np.minimum(spread, (bin_edges[-1] - ranges) / 3.0)
    return f, np.full(_PP_GROUPS, 2.0 / _PP_GROUPS), cosine, spread


def proton_elastic_packets(
    proton: Particle,
    water: Material,
    birth_z0: np.ndarray,
    elastic_reactions: np.ndarray,
    reacting_energy_mev: np.ndarray,
    initial_energy_mev: float,
    primary_range_sigma_mm: float,
) -> tuple[SecondaryPackets, np.ndarray]:
    """Packets of elastically scattered protons born at ``birth_z0`` from
    ``elastic_reactions`` (2, n_births: on hydrogen, on nuclei) of primaries of mean
    energy ``reacting_energy_mev``, and the energy of the nuclear recoils (MeV per
    birth, deposited locally)."""
    table = range_table(proton, water)
    f, counts, pp_cosine, pp_spread = _pp_groups(initial_energy_mev, table)
    one_minus_cos = icru63.OXYGEN_ELASTIC_ONE_MINUS_COS[LARGE_ANGLE_GROUPS]
    recoil_share = 2.0 * proton.mass_mev / (get_element(8).atomic_weight * 931.494) * one_minus_cos
    smoothing = np.concatenate((pp_spread, np.full(one_minus_cos.size, primary_range_sigma_mm)))
    n = smoothing.size
    tables, shifts = _species_tables(
        [proton] * n, water, initial_energy_mev * 1.05 + 1.0, smoothing
    )
    energy = np.maximum(reacting_energy_mev, 0.0)
    shares = nucleus_elastic_angle_shares(energy)[LARGE_ANGLE_GROUPS]
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(shares.sum(axis=0) > 0, shares / shares.sum(axis=0), 0.0)
    r0 = np.zeros((n, energy.size))
    weight = np.zeros_like(r0)
    for g in range(_PP_GROUPS):
        r0[g] = table.range_at(f[g] * energy) + shifts[g]
        weight[g] = counts[g] * elastic_reactions[0]
    for k in range(one_minus_cos.size):
        g = _PP_GROUPS + k
        r0[g] = table.range_at(energy * (1.0 - recoil_share[k])) + shifts[g]
        weight[g] = shares[k] * elastic_reactions[1]
    weight = np.where(energy > 0.0, weight, 0.0)
    cosine = np.concatenate((pp_cosine, 1.0 - one_minus_cos))
    group_energy = np.concatenate((f, np.ones(one_minus_cos.size))) * 0.7 * initial_energy_mev
    sigma = np.array(
        [float(macroscopic_cross_section_per_mm(proton, e, water)) for e in group_energy]
    )
    recoil = elastic_reactions[1] * energy * (shares * recoil_share[:, None]).sum(axis=0)
    packets = SecondaryPackets(
        (proton,) * n,
        *tables,
        birth_z0,
        r0,
        weight,
        np.arange(n, dtype=np.int64),
        cosine,
        (1.0 - cosine**2) / cosine**2 / 2.0,
        sigma,
        np.full(n, _HYDROGEN_REACTION_LOCAL),
    )
    return packets, recoil
