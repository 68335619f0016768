"""The depth–dose recipe: grid, primaries, secondaries, LET, lateral model, bookkeeping.

Called by :func:`ionbeam.physics.depth_dose.depth_dose`, which checks the input
and wraps the arrays returned here into a ``DepthDose``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
from scipy.special import ndtr

from ionbeam.physics._halo_split import SPREAD_CLASS_LOG_EDGES, split_halo
from ionbeam.physics._primary_transport import PrimaryTransport, primary_transport
from ionbeam.physics._secondary_sources import (
    SecondaryPackets,
    fragment_packets,
    proton_elastic_packets,
    proton_secondary_packets,
    residue_fraction,
    tertiary_packets,
)
from ionbeam.physics._transport_kernels import SecondaryTransport, transport_secondaries
from ionbeam.physics.fragmentation import fragmentation_model
from ionbeam.physics.materials import Material, get_material
from ionbeam.physics.nuclear import ProtonReactionEnergySplit
from ionbeam.physics.particles import Particle
from ionbeam.physics.ranges import RangeTable, range_table
from ionbeam.physics.scattering import mcs_sigma_profile
from ionbeam.physics.straggling import range_spread_sigma_mm

__all__ = ["DEFAULT_BINS", "assemble_depth_dose", "default_edges"]

#: Number of depth bins of the default grid.
DEFAULT_BINS = 450

#: Share of the kinetic energy of a reacting fragment (Z ≥ 2) deposited locally by target
#: fragments and recoils; H and He products are transported, a heavy residue stays on the
#: track, the rest (neutrons, binding) escapes.
FRAGMENT_REACTION_LOCAL_FRACTION = 0.05
_SPECTRUM_BINS = 200
_SPECTRUM_MIN_MEV_U = 0.1


def default_edges(ion: Particle, csda_mm: float, sigma_mm: float) -> np.ndarray:
    """``DEFAULT_BINS`` depth bins: 200 to the peak region, 150 across it (R − 6σ − 3 % R to
    R + 6σ + 0.5 mm), 100 beyond, to 1.2 R + 10 mm for protons and 2 R + 20 mm for ions
    (fragment tail)."""
    z1 = max(csda_mm - 6.0 * sigma_mm - 0.03 * csda_mm, 0.25 * csda_mm)
    z2 = csda_mm + 6.0 * sigma_mm + 0.5
    z_end = max(1.2 * csda_mm + 10.0 if ion.a == 1 else 2.0 * csda_mm + 20.0, z2 + 5.0)
    return np.concatenate(
        (np.linspace(0.0, z1, 201)[:-1], np.linspace(z1, z2, 151), np.linspace(z2, z_end, 101)[1:])
    )


def _births(
    centres: np.ndarray, primary: PrimaryTransport, plateau_end_mm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Birth depths, reactions and mean reacting energies (MeV/u) of the secondaries:
    one birth per bin, except in the plateau (before ``plateau_end_mm``), where pairs of
    bins are merged (reaction-weighted means; the secondaries' energy is unchanged)."""
    index = np.arange(centres.size)
    plateau = centres < plateau_end_mm
    n_plateau = int(plateau.sum())
    group = np.where(plateau, index // 2, (n_plateau + 1) // 2 + index - n_plateau)
    starts = np.concatenate(([0], np.nonzero(np.diff(group))[0] + 1))
    reactions = np.add.reduceat(primary.reactions, starts)
    weighted_z = np.add.reduceat(primary.reactions * centres, starts)
    weighted_e = np.add.reduceat(primary.reactions * primary.reacting_energy_mev_u, starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = np.where(reactions > 0, weighted_z / reactions, centres[starts])
        energy = np.where(reactions > 0, weighted_e / reactions, 0.0)
    return z0, reactions, energy


def _packets(
    ion: Particle,
    water: Material,
    primary: PrimaryTransport,
    energy: float,
    births: tuple[np.ndarray, np.ndarray, np.ndarray],
    sigma_range_mm: float,
) -> tuple[SecondaryPackets, np.ndarray, float]:
    """Secondary packets, the directly local nuclear deposit per bin and the energy that
    the reactions give to neither (neutrons, γ, binding energy; MeV): the released energy
    less the local deposit and the secondaries' initial energy, so the books close."""
    released = primary.released_mev
    if ion.a == 1:
        split = ProtonReactionEnergySplit()
        packets = proton_secondary_packets(ion, split, water, *births, energy)
        local = split.local * released
    else:
        model = fragmentation_model(ion)
        packets = fragment_packets(ion, model, water, *births, energy, sigma_range_mm)
        # the target's evaporation products stop where the reaction happens
        local = np.minimum(model.target_local_mev * primary.reactions, released)
    neutral = float(released.sum() - local.sum()) - packets.initial_energy_mev()
    return packets, local, neutral


@dataclass(frozen=True, eq=False)
class _Secondaries:
    """Everything the secondaries (all generations) contribute, per primary."""

    species: tuple[Particle, ...]
    deposit: np.ndarray  # (n_species, n_bins), MeV
    moment: np.ndarray  # (n_species, n_bins), MeV mm²
    let_weighted: np.ndarray  # (n_bins,), MeV²/mm
    local: np.ndarray  # (n_bins,), MeV deposited locally by nuclear reactions
    spectra: np.ndarray  # (n_keys, n_energy, n_bins) or a dummy
    neutral_mev: float
    beyond_mev: float
    classes: np.ndarray  # (2, n_classes, n_bins): deposit (MeV) and its lateral variance sum
    cone: np.ndarray | None = None  # like ``spectra``, within the cone; or None


def _spectrum_index(keys: list[tuple[int, int, bool]], packets: SecondaryPackets) -> np.ndarray:
    """Row of each species in the spectra: one per (Z, A), participants apart."""
    wanted = [(p.z, p.a, packets.is_participant(s)) for s, p in enumerate(packets.species)]
    for key in wanted:
        if key not in keys:
            keys.append(key)
    return np.array([keys.index(key) for key in wanted], dtype=np.int64)


class _Spread(NamedTuple):
    """What the lateral classes of the secondaries need: the projectile's Z/A and the
    primaries' MCS variance at the bin centres (mm²)."""

    z_over_a: float
    sigma_mcs2: np.ndarray

    def base_variance(self, species: tuple[Particle, ...]) -> np.ndarray:
        """(n_species, n_bins): each species' share of the primaries' MCS variance,
        scaled by ((Z/A) / (Z/A)_projectile)² as MCS scales at equal velocity."""
        ratio = np.array([((p.z / p.a) / self.z_over_a) ** 2 for p in species])
        return ratio[:, None] * self.sigma_mcs2[None, :]


def _transport(
    packets: SecondaryPackets,
    edges: np.ndarray,
    keys: list[tuple[int, int, bool]],
    log_edges: np.ndarray,
    with_spectra: bool,
    spread: _Spread,
) -> SecondaryTransport:
    return transport_secondaries(
        edges, packets.birth_z0, packets.birth_r0, packets.birth_weight,
        packets.packet_species, packets.packet_c, packets.packet_tan2, packets.packet_sigma,
        packets.packet_local, packets.energy_tables, packets.let_tables, packets.alive_tables,
        packets.table_du, packets.table_n, _spectrum_index(keys, packets), log_edges,
        np.array([float(p.a) for p in packets.species]), with_spectra,
        spread.base_variance(packets.species), SPREAD_CLASS_LOG_EDGES,
    )  # fmt: skip


def _cone_fluence(
    packets: SecondaryPackets,
    edges: np.ndarray,
    keys: list[tuple[int, int, bool]],
    log_edges: np.ndarray,
    cone_rad: float | None,
    spread: _Spread,
) -> np.ndarray | None:
    """Track-length fluence spectra (n_keys, n_energy, n_bins) of the packets' particles
    within a cone of half-angle ``cone_rad`` around the beam (their Goldhaber angles at
    birth), or None."""
    if cone_rad is None:
        return None
    inside = replace(packets, birth_weight=packets.cone_weights(cone_rad))
    return _transport(inside, edges, keys, log_edges, True, spread).spectra


def _secondaries(
    ion: Particle,
    water: Material,
    primary: PrimaryTransport,
    energy: float,
    sigma_r: float,
    edges: np.ndarray,
    keys: list[tuple[int, int, bool]],
    log_edges: np.ndarray,
    with_spectra: bool,
    spread: _Spread,
    cone_rad: float | None = None,
) -> _Secondaries:
    """Transport the secondaries: one generation for protons; for ions the projectile
    fragments, then the H and He made when heavier fragments react in turn (and, given
    ``cone_rad``, their fluence within that cone)."""
    centres = 0.5 * (edges[1:] + edges[:-1])
    csda = float(range_table(ion, water).range_at(np.array(energy)))
    # merging plateau births halves the cost for ions, whose fragments all travel far;
    # proton secondaries include short-range ones, which would alias onto the births
    plateau_end = csda - 6.0 * sigma_r - 0.03 * csda if ion.a > 1 else -1.0
    births = _births(centres, primary, plateau_end)
    packets, local, neutral = _packets(ion, water, primary, energy, births, sigma_r)
    moved = _transport(packets, edges, keys, log_edges, with_spectra, spread)
    dep, loc, let_w = moved.deposit, moved.local, moved.let_weighted
    mom, spec = moved.moment, moved.spectra
    counts, energies = moved.reactions, moved.reacting_energy
    escaped, beyond = moved.escaped_mev, moved.beyond_mev
    first = _Secondaries(
        packets.species, dep, mom, let_w, local + loc, spec, neutral + escaped, beyond,
        moved.spread_classes,
        None if ion.a == 1 else _cone_fluence(packets, edges, keys, log_edges, cone_rad, spread),
    )  # fmt: skip
    if ion.a == 1:
        return _with_elastic(
            first, ion, water, primary, energy, sigma_r, edges, keys, log_edges, with_spectra,
            spread,
        )  # fmt: skip
    heavy = np.array([p.z >= 2 for p in packets.species])
    # removed energy of Z >= 2 fragments is wholly in `escaped` (packet_local = 0); per
    # removal, the local share of a real reaction is scaled by 1/(1 - residue fraction)
    tertiary = tertiary_packets(
        ion, packets.species, counts, energies, centres, water, energy, sigma_r
    )
    keep = np.array([residue_fraction(p) for p in packets.species])[heavy]
    heavy_local = FRAGMENT_REACTION_LOCAL_FRACTION * (energies[heavy] / (1.0 - keep)[:, None]).sum(
        axis=0
    )
    moved = _transport(tertiary, edges, keys, log_edges, with_spectra, spread)
    dep, loc, let_w = moved.deposit, moved.local, moved.let_weighted
    mom, spec = moved.moment, moved.spectra
    escaped, beyond = moved.escaped_mev, moved.beyond_mev
    cone = _cone_fluence(tertiary, edges, keys, log_edges, cone_rad, spread)
    return _Secondaries(
        species=first.species + tertiary.species,
        deposit=np.vstack((first.deposit, dep)),
        moment=np.vstack((first.moment, mom)),
        let_weighted=first.let_weighted + let_w,
        local=first.local + heavy_local + loc,
        spectra=_padded_sum(first.spectra, spec) if with_spectra else first.spectra,
        neutral_mev=first.neutral_mev - heavy_local.sum() - tertiary.initial_energy_mev() + escaped,
        beyond_mev=first.beyond_mev + beyond,
        classes=first.classes + moved.spread_classes,
        cone=None if cone is None or first.cone is None else _padded_sum(first.cone, cone),
    )


def _with_elastic(
    first: _Secondaries,
    proton: Particle,
    water: Material,
    primary: PrimaryTransport,
    energy: float,
    sigma_r: float,
    edges: np.ndarray,
    keys: list[tuple[int, int, bool]],
    log_edges: np.ndarray,
    with_spectra: bool,
    spread: _Spread,
) -> _Secondaries:
    """Add the elastically scattered protons (p–p and p–nucleus) to ``first``; the
    nuclear recoils deposit locally and energy books stay closed (the table-sampled
    birth energy differs from the removed energy by < 0.1 %: booked as escaped)."""
    centres = 0.5 * (edges[1:] + edges[:-1])
    packets, recoil = proton_elastic_packets(
        proton, water, centres, primary.elastic_reactions, primary.reacting_energy_mev_u,
        energy, sigma_r,
    )  # fmt: skip
    moved = _transport(packets, edges, keys, log_edges, with_spectra, spread)
    dep, loc, let_w = moved.deposit, moved.local, moved.let_weighted
    mom, spec = moved.moment, moved.spectra
    escaped, beyond = moved.escaped_mev, moved.beyond_mev
    removed = float((primary.elastic_reactions.sum(axis=0) * primary.reacting_energy_mev_u).sum())
    mismatch = removed - float(recoil.sum()) - packets.initial_energy_mev()
    return _Secondaries(
        species=first.species + packets.species,
        deposit=np.vstack((first.deposit, dep)),
        moment=np.vstack((first.moment, mom)),
        let_weighted=first.let_weighted + let_w,
        local=first.local + recoil + loc,
        spectra=first.spectra + spec if with_spectra else first.spectra,
        neutral_mev=first.neutral_mev + escaped + mismatch,
        beyond_mev=first.beyond_mev + beyond,
        classes=first.classes + moved.spread_classes,
    )


def _padded_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((max(a.shape[0], b.shape[0]), *a.shape[1:]))
    out[: a.shape[0]] += a
    out[: b.shape[0]] += b
    return out


def _primary_spectrum(
    table: RangeTable,
    edges: np.ndarray,
    log_edges: np.ndarray,
    csda_mm: float,
    sigma_mm: float,
    primary: PrimaryTransport,
) -> np.ndarray:
    """Fluence of primaries per energy bin at each bin centre (Gaussian range spread)."""
    residual_edges = table.range_at(np.exp(log_edges))  # residual range of energy edges
    centres = 0.5 * (edges[1:] + edges[:-1])
    cdf = ndtr((centres[None, :] + residual_edges[:, None] - csda_mm) / sigma_mm)
    survival_mid = 0.5 * (primary.survival_edges[1:] + primary.survival_edges[:-1])
    return np.diff(cdf, axis=0) * survival_mid[None, :]


def _dose_arrays(
    ion: Particle, primary: PrimaryTransport, secondaries: _Secondaries, widths: np.ndarray
) -> dict[str, np.ndarray]:
    """IDD, its components and LET_d from the per-bin energies."""
    deposit = secondaries.deposit
    charged = primary.deposit_mev + deposit.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        let_d = np.where(
            charged > 0,
            (primary.deposit_mev * primary.let_d_kev_um + secondaries.let_weighted) / charged,
            0.0,
        )
    by_charge = np.zeros((ion.z, widths.size))
    for s, particle in enumerate(secondaries.species):
        by_charge[particle.z - 1] += deposit[s] / widths
    return {
        "idd_mev_mm": (charged + secondaries.local) / widths,
        "primary_idd_mev_mm": primary.deposit_mev / widths,
        "secondary_idd_mev_mm": by_charge,
        "nuclear_local_idd_mev_mm": secondaries.local / widths,
        "let_d_kev_um": let_d,
    }


def assemble_depth_dose(
    ion: Particle,
    energy: float,
    energy_spread_rel: float,
    water_i_value_ev: float,
    edges: np.ndarray | None,
    with_spectra: bool,
    cone_half_angle_deg: float | None = None,
) -> dict[str, Any]:
    """All arrays of a ``DepthDose`` (see :mod:`ionbeam.physics.depth_dose`); with
    ``cone_half_angle_deg`` (ions, with spectra) the fluence within that cone too."""
    water = get_material("water", i_value_ev=water_i_value_ev)
    table = range_table(ion, water)
    csda = float(table.range_at(np.array(energy)))
    sigma_r = float(
        range_spread_sigma_mm(ion, energy, energy_spread_rel=energy_spread_rel, material=water)
    )
    edges = default_edges(ion, csda, sigma_r) if edges is None else edges
    widths = np.diff(edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    primary = primary_transport(ion, table, water, edges, csda, sigma_r)
    keys = [(ion.z, ion.a, False)]
    log_edges = np.log(np.geomspace(_SPECTRUM_MIN_MEV_U, 1.3 * energy + 5.0, _SPECTRUM_BINS + 1))
    cone_rad = None
    if with_spectra and ion.a > 1 and cone_half_angle_deg is not None:
        cone_rad = float(np.radians(cone_half_angle_deg))
    profile_depth, profile_sigma = mcs_sigma_profile(ion, energy, water)
    sigma_mcs = np.interp(centres, profile_depth, profile_sigma)
    spread = _Spread(ion.z / ion.a, sigma_mcs**2)
    secondaries = _secondaries(
        ion, water, primary, energy, sigma_r, edges, keys, log_edges, with_spectra, spread,
        cone_rad,
    )  # fmt: skip
    doses = _dose_arrays(ion, primary, secondaries, widths)
    halo = split_halo(secondaries.classes, sigma_mcs, doses["idd_mev_mm"] * widths)
    spectra: dict[str, Any] | None = None
    if with_spectra:
        fluence = np.array(secondaries.spectra)
        primaries = _primary_spectrum(table, edges, log_edges, csda, sigma_r, primary)
        fluence[0] += primaries
        spectra = {
            "species": tuple((z, a) for z, a, _ in keys),
            "participant": tuple(wide for _, _, wide in keys),
            "energy_edges_mev_u": np.exp(log_edges),
            "fluence": fluence,
        }
        if secondaries.cone is not None and cone_rad is not None:  # primaries: all inside
            cone = _padded_sum(secondaries.cone, np.zeros_like(fluence))
            cone[0] += primaries
            spectra["cone_fluence"] = cone
            spectra["cone_half_angle_deg"] = float(np.degrees(cone_rad))
    primary_beyond = primary.survival_edges[-1] * primary.mean_energy_edges_mev[-1]
    return {
        "depth_mm": centres,
        "depth_edges_mm": edges,
        **doses,
        "sigma_mcs_mm": sigma_mcs,
        "halo_weight": halo.weight,
        "halo_sigma_mm": halo.sigma_mm,
        "halo_narrow_weight": halo.narrow_weight,
        "halo_narrow_sigma_mm": halo.narrow_sigma_mm,
        "primary_fluence": primary.fluence,
        "csda_range_mm": csda,
        "energy_neutral_mev": secondaries.neutral_mev,
        "energy_beyond_mev": secondaries.beyond_mev + primary_beyond,
        "spectra": spectra,
    }
