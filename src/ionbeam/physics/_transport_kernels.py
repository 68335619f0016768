"""Numba kernel: 1-D transport of secondary particles (fragments, secondary protons) in depth.

Each secondary "packet" is born at a depth ``z0`` with a residual path length
``r0`` (mm, its CSDA range at birth), a weight (particles per primary), a
direction cosine ``c`` (depth advanced per unit path) and a lateral factor
``tan2`` (projected angular variance). It slows down along the CSDA path,
losing packets to non-elastic reactions at the constant rate ``sigma`` (1/mm
of path). In each depth bin it deposits the energy it loses there (the drop of
the energy–range table between the bin edges); the energy of packets removed
by reactions in the bin is split between a local deposit (share
``packet_local``) and the rest, and the reactions are tallied so that the
caller can start a further generation from them. With survival s and energy E
at the bin edges, the deposit s̄ ΔE and the removal Δs Ē add up to Δ(sE):
energy is conserved exactly.

Tables are sampled uniformly in u = √r, where the energy (∝ r^0.57) is nearly
linear. Everything is per primary particle; no state is kept between calls.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ionbeam._kernel_cache import refresh_kernel_cache

refresh_kernel_cache()  # stale numba cache entries of other kernel sources

__all__ = ["SecondaryTransport", "transport_secondaries"]


class SecondaryTransport(NamedTuple):
    """What :func:`transport_secondaries` returns (see there for units and shapes)."""

    deposit: np.ndarray
    local: np.ndarray
    let_weighted: np.ndarray
    moment: np.ndarray
    spectra: np.ndarray
    reactions: np.ndarray
    reacting_energy: np.ndarray
    escaped_mev: float
    beyond_mev: float
    spread_classes: np.ndarray


#: Where, as a fraction of the residual range, the stopping power equals the mean
#: stopping power of the last segment of a track (E ∝ r^0.57: r = 0.57^(1/0.43) r_a).
_END_FRACTION = 0.27


@njit(cache=True)
def _lookup_u(table: np.ndarray, du: float, n: int, u: float) -> float:
    if u <= 0.0:
        return 0.0
    f = u / du
    i = int(f)
    if i >= n - 1:
        return table[n - 1]
    t = f - i
    return table[i] * (1.0 - t) + table[i + 1] * t


@njit(cache=True)
def _transport_packet(
    p: int,
    edges: np.ndarray,
    widths: np.ndarray,
    start_bin: np.ndarray,
    birth_z0: np.ndarray,
    birth_r0: np.ndarray,
    birth_weight: np.ndarray,
    species: int,
    c: float,
    tan2: float,
    sigma: float,
    local_fraction: float,
    etab: np.ndarray,
    qtab: np.ndarray,
    atab: np.ndarray,
    du: float,
    nt: int,
    mass_number: float,
    log_lo: float,
    log_step: float,
    spectrum_row: np.ndarray,
    rows: np.ndarray,
    with_spectra: bool,
    base_var: np.ndarray,
    class_var_edges: np.ndarray,
    classes: np.ndarray,
) -> tuple[float, float]:
    """Transport all births of packet ``p``; accumulate into ``rows`` (7, n_bins): deposit,
    moment, LET-weighted deposit, local deposit, reaction count, reaction energy and (row 6)
    unused, and into ``classes`` (2, n_classes, n_bins) the deposit and its lateral
    variance (``tan2`` Δz² + ``base_var``) by the class of its lateral σ; returns
    (escaped, beyond) energies."""
    n_bins = widths.shape[0]
    n_e = spectrum_row.shape[0]
    n_classes = classes.shape[1]
    bin_survival = np.empty(n_bins)
    for i in range(n_bins):
        bin_survival[i] = math.exp(-sigma * widths[i] / c)
    escaped = 0.0
    beyond = 0.0
    for b in range(birth_z0.shape[0]):
        w = birth_weight[p, b]
        if w <= 0.0:
            continue
        z0 = birth_z0[b]
        r0 = birth_r0[p, b]
        u_a = math.sqrt(r0) if r0 > 0.0 else 0.0
        e_a = _lookup_u(etab, du, nt, u_a)
        q_a = _lookup_u(qtab, du, nt, u_a)
        s_a = 1.0
        path_done = 0.0
        moving = True
        cls = 0  # lateral class; the variance grows with depth, so it mostly steps up
        for i in range(max(start_bin[b], 0), n_bins):
            start = max(edges[i], z0)
            stop = edges[i + 1]
            path = (stop - start) / c
            r_a = r0 - path_done
            r_b = r_a - path
            u_b = math.sqrt(r_b) if r_b > 0.0 else 0.0
            e_b = _lookup_u(etab, du, nt, u_b)
            q_b = _lookup_u(qtab, du, nt, u_b)
            s_b = s_a * (bin_survival[i] if start == edges[i] else math.exp(-sigma * path))
            s_mid = 0.5 * (s_a + s_b)
            lost = w * s_mid * (e_a - e_b)
            dz = 0.5 * (start + stop) - z0
            removed = w * (s_a - s_b) * 0.5 * (e_a + e_b)
            rows[0, i] += lost
            rows[1, i] += lost * tan2 * dz * dz
            if lost > 0.0:
                var = tan2 * dz * dz + base_var[i]
                while cls < n_classes - 1 and var >= class_var_edges[cls + 1]:
                    cls += 1
                while cls > 0 and var < class_var_edges[cls]:
                    cls -= 1
                classes[0, cls, i] += lost
                classes[1, cls, i] += lost * var
            rows[2, i] += w * s_mid * (q_a - q_b)
            rows[3, i] += removed * local_fraction
            rows[4, i] += w * (s_a - s_b)
            rows[5, i] += removed
            escaped += removed * (1.0 - local_fraction)
            if with_spectra:  # track length per mm of depth, at a representative energy
                r_rep = 0.5 * (r_a + r_b) if r_b > 0.0 else _END_FRACTION * r_a
                u_rep = math.sqrt(r_rep) if r_rep > 0.0 else 0.0
                still = _lookup_u(atab, du, nt, u_rep)
                if still > 1e-6:
                    e_u = _lookup_u(etab, du, nt, u_rep) / (still * mass_number)
                    k = int((math.log(e_u) - log_lo) / log_step) if e_u > 0.0 else -1
                    if 0 <= k < n_e:
                        spectrum_row[k, i] += w * s_mid * still * path / widths[i]
            path_done += path
            e_a = e_b
            q_a = q_b
            s_a = s_b
            if r_b <= 0.0:
                moving = False
                break
        if moving:
            beyond += w * s_a * e_a
    return escaped, beyond


@njit(cache=True)
def transport_secondaries(
    edges: np.ndarray,
    birth_z0: np.ndarray,
    birth_r0: np.ndarray,
    birth_weight: np.ndarray,
    packet_species: np.ndarray,
    packet_c: np.ndarray,
    packet_tan2: np.ndarray,
    packet_sigma: np.ndarray,
    packet_local: np.ndarray,
    energy_tables: np.ndarray,
    let_tables: np.ndarray,
    alive_tables: np.ndarray,
    table_du: np.ndarray,
    table_n: np.ndarray,
    spectrum_species: np.ndarray,
    log_e_edges: np.ndarray,
    mass_numbers: np.ndarray,
    with_spectra: bool,
    base_var: np.ndarray,
    class_log_edges: np.ndarray,
) -> SecondaryTransport:
    """Transport packets p born at depths ``birth_z0[b]`` through the depth bins ``edges``
    (each packet into its own rows, summed afterwards in packet order). Serial on purpose:
    numba's parallel loop (tried) was 10× slower on a loaded 2-core machine.

    ``birth_r0``/``birth_weight`` have shape (n_packets, n_births): residual path r0 (mm)
    and weight (particles per primary; 0: none). Tables are (n_species, n_u): energy
    (MeV, whole particle), Q(r) = ∫₀ʳ S² dr' (MeV²/mm, S the stopping power) and the
    fraction of the (range-smeared) packet still moving, at r = (i du)². Returns (a
    :class:`SecondaryTransport`) per-species deposits (n_species, n_bins), the local
    nuclear deposit (n_bins), the
    LET-weighted deposit Σ ∫S dE (n_bins; exact within a bin, where the LET of a stopping
    particle varies fastest), the lateral second moment Σ dE·tan2·Δz² (n_species, n_bins),
    the track-length fluence spectra (n_spectrum_species, n_e, n_bins; per mm of depth),
    the deposit and its summed lateral variance by class of lateral σ (2, n_classes,
    n_bins; a deposit's variance is ``tan2`` Δz² plus ``base_var`` (n_species, n_bins),
    its class the interval of ``class_log_edges`` (ln σ/mm, increasing; clamped) that
    holds ln σ),
    the number of reactions and the kinetic energy of the reacting particles per species
    and bin (n_species, n_bins each), the energy not deposited locally by those reactions
    (share ``1 − packet_local``; MeV) and the energy carried past the last edge (MeV).
    """
    n_bins = edges.shape[0] - 1
    n_packets = birth_r0.shape[0]
    n_e = log_e_edges.shape[0] - 1
    log_lo = log_e_edges[0]
    log_step = (log_e_edges[-1] - log_e_edges[0]) / max(n_e, 1)
    start_bin = np.searchsorted(edges, birth_z0, side="right") - 1
    widths = edges[1:] - edges[:-1]
    rows = np.zeros((n_packets, 7, n_bins))
    # spectra accumulate straight into each species' row (packets in order, serially):
    # one (n_packets, n_e, n_bins) array per call would be ~80 MB for a carbon beam
    n_spec = int(spectrum_species.max()) + 1 if with_spectra else 1
    spectra = np.zeros((n_spec, max(n_e, 1), n_bins if with_spectra else 1))
    energies = np.zeros((n_packets, 2))
    n_classes = class_log_edges.shape[0] - 1
    class_var_edges = np.exp(2.0 * class_log_edges)  # variance at the class edges, mm²
    classes = np.zeros((2, max(n_classes, 1), n_bins))
    for p in range(n_packets):  # serial: the classes are summed in packet order
        s = packet_species[p]
        escaped, beyond = _transport_packet(
            p, edges, widths, start_bin, birth_z0, birth_r0, birth_weight, s, packet_c[p],
            packet_tan2[p], packet_sigma[p], packet_local[p], energy_tables[s], let_tables[s],
            alive_tables[s], table_du[s], table_n[s], mass_numbers[s], log_lo, log_step,
            spectra[spectrum_species[s] if with_spectra else 0], rows[p], with_spectra,
            base_var[s], class_var_edges, classes,
        )  # fmt: skip
        energies[p, 0] = escaped
        energies[p, 1] = beyond
    n_species = energy_tables.shape[0]
    deposit = np.zeros((n_species, n_bins))
    moment = np.zeros((n_species, n_bins))
    count = np.zeros((n_species, n_bins))
    reacted = np.zeros((n_species, n_bins))
    let_weighted = np.zeros(n_bins)
    local = np.zeros(n_bins)
    for p in range(n_packets):  # serial reduction in packet order: reproducible sums
        s = packet_species[p]
        deposit[s] += rows[p, 0]
        moment[s] += rows[p, 1]
        let_weighted += rows[p, 2]
        local += rows[p, 3]
        count[s] += rows[p, 4]
        reacted[s] += rows[p, 5]
    return SecondaryTransport(
        deposit,
        local,
        let_weighted,
        moment,
        spectra,
        count,
        reacted,
        float(energies[:, 0].sum()),
        float(energies[:, 1].sum()),
        classes,
    )
