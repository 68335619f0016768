"""Primary ions in depth: slowing down with range spread, nuclear attenuation, LET.

The primaries' ranges are Gaussian around the CSDA range R (σ from straggling
and the beam's energy spread, taken at the end of range as in Bortfeld 1997).
With E(t) the kinetic energy of an ion of residual range t (0 for t ≤ 0) and
g the Gaussian, the mean energy per primary at depth z is
Ē(z) = (E ⋆ g)(R − z); the electronic energy deposited between two depths is
the drop of Ē between them, so the integral of the depth–dose is exactly the
energy lost. Nuclear interactions remove primaries at the rate Σ(E(R − z))
(survival Φ); in a bin the primaries deposit Φ̄ ΔĒ and lose Ē ΔΦ to interactions,
which telescopes to the total energy. The dose-averaged LET is (S² ⋆ g)/(S ⋆ g).

For protons Σ is the non-elastic plus the elastic cross section (p–p on hydrogen,
p–nucleus at ICRU 63's angles, from 5° in the centre of mass): an elastically scattered proton
leaves the primaries (it no longer stops at their range) and is transported as a
secondary by the caller; the share of each channel among the removals of a bin is
returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

from ionbeam.physics._secondary_sources import LARGE_ANGLE_GROUPS
from ionbeam.physics.materials import Material
from ionbeam.physics.nuclear import (
    macroscopic_cross_section_per_mm,
    macroscopic_elastic_cross_sections_per_mm,
    nucleus_elastic_angle_shares,
)
from ionbeam.physics.particles import Particle
from ionbeam.physics.ranges import RangeTable

__all__ = ["PrimaryTransport", "primary_transport"]


@dataclass(frozen=True, eq=False)
class PrimaryTransport:
    """Per-bin results for the primaries (all per primary particle).

    ``deposit_mev`` electronic energy deposited, ``let_d_kev_um`` their dose-averaged
    LET, ``released_mev`` kinetic energy handed to non-elastic reactions, ``reactions``
    number of non-elastic reactions of primaries still moving, ``reacting_energy_mev_u``
    their mean energy per nucleon, ``elastic_reactions`` (2, n_bins) elastic scatterings
    of protons on hydrogen (row 0) and on nuclei (row 1), ``fluence`` primaries still
    present at the bin centre, and ``mean_energy_edges_mev``/``survival_edges`` at the
    bin edges.
    """

    deposit_mev: np.ndarray
    let_d_kev_um: np.ndarray
    released_mev: np.ndarray
    reactions: np.ndarray
    reacting_energy_mev_u: np.ndarray
    elastic_reactions: np.ndarray
    fluence: np.ndarray
    mean_energy_edges_mev: np.ndarray
    survival_edges: np.ndarray


def _convolved(
    table: RangeTable, csda_mm: float, sigma_mm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fine residual-range grid t and the Gaussian-smoothed E, S and S² there."""
    step = min(sigma_mm / 8.0, csda_mm / 4000.0)
    reach = 8.0 * sigma_mm
    t = np.arange(-reach - step, csda_mm + reach + 2 * step, step)
    positive = t > 0.0
    energy = np.zeros_like(t)
    energy[positive] = table.mass_number * table.energy_at(t[positive])
    midpoints = t + 0.5 * step  # cell averages of S and S² ([t, t + step])
    stopping = np.zeros_like(t)
    inside = midpoints > 0.0
    stopping[inside] = table.stopping_at(table.energy_at(midpoints[inside]))
    u = np.arange(-reach, reach + step / 2, step)
    kernel = np.exp(-0.5 * (u / sigma_mm) ** 2)
    kernel /= kernel.sum()
    from scipy.signal import fftconvolve  # here: scipy.signal (and scipy.stats) cost ~0.4 s

    smooth = [fftconvolve(f, kernel, mode="same") for f in (energy, stopping, stopping**2)]
    return t, smooth[0], smooth[1], smooth[2]


def _channel_cross_sections(ion: Particle, water: Material, energy_mev_u: np.ndarray) -> np.ndarray:
    """Macroscopic cross sections (3, n; 1/mm): non-elastic, elastic on hydrogen and
    elastic on nuclei (both zero for ions: their elastic scattering is part of the MCS
    and of the fragments' angles)."""
    nonelastic = macroscopic_cross_section_per_mm(ion, energy_mev_u, water)
    if ion.a != 1:
        zeros = np.zeros_like(nonelastic)
        return np.stack((nonelastic, zeros, zeros))
    hydrogen, nuclei = macroscopic_elastic_cross_sections_per_mm(energy_mev_u, water)
    large_angle = nucleus_elastic_angle_shares(energy_mev_u)[LARGE_ANGLE_GROUPS].sum(axis=0)
    return np.stack((nonelastic, hydrogen, nuclei * large_angle))


def primary_transport(
    ion: Particle,
    table: RangeTable,
    water: Material,
    edges: np.ndarray,
    csda_mm: float,
    sigma_mm: float,
) -> PrimaryTransport:
    """Transport the primaries through the depth bins ``edges`` (mm)."""
    t, mean_energy, s1, s2 = _convolved(table, csda_mm, sigma_mm)
    residual_edges = csda_mm - edges
    e_edges = np.interp(residual_edges, t, mean_energy, left=0.0, right=mean_energy[-1])
    # optical depth along the mean (CSDA) path
    e_path = table.energy_at(np.maximum(residual_edges, 0.0))
    channels = _channel_cross_sections(ion, water, np.maximum(e_path, 1e-3))
    channels = np.where(residual_edges > 0.0, channels, 0.0)
    per_bin = 0.5 * (channels[:, 1:] + channels[:, :-1])
    steps = per_bin.sum(axis=0) * np.diff(edges)
    survival = np.exp(-np.concatenate(([0.0], np.cumsum(steps))))
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(steps > 0.0, per_bin * np.diff(edges) / steps, 0.0)
    shares[0] = np.where(steps > 0.0, shares[0], 1.0)
    survival_mid = 0.5 * (survival[1:] + survival[:-1])
    energy_mid = 0.5 * (e_edges[1:] + e_edges[:-1])
    deposit = survival_mid * (e_edges[:-1] - e_edges[1:])
    removed = survival[:-1] - survival[1:]
    centres = 0.5 * (edges[1:] + edges[:-1])
    alive = 0.5 * erfc((centres - csda_mm) / (sigma_mm * np.sqrt(2.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        reacting_energy = np.where(alive > 1e-9, energy_mid / (alive * table.mass_number), 0.0)
        residual_mid = csda_mm - centres
        numerator = np.interp(residual_mid, t, s2, left=0.0, right=s2[-1])
        denominator = np.interp(residual_mid, t, s1, left=0.0, right=s1[-1])
        let_d = np.where(denominator > 0.0, numerator / denominator, 0.0)
    return PrimaryTransport(
        deposit_mev=deposit,
        let_d_kev_um=let_d,
        released_mev=energy_mid * removed * shares[0],
        reactions=removed * alive * shares[0],
        reacting_energy_mev_u=reacting_energy,
        elastic_reactions=removed * alive * shares[1:],
        fluence=survival_mid * alive,
        mean_energy_edges_mev=e_edges,
        survival_edges=survival,
    )
