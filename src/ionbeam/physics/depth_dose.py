"""Integrated depth–dose (IDD), LET and lateral model of a pencil beam in water.

:func:`depth_dose` transports, deterministically and per primary particle:

1. the primaries, with a Gaussian range spread (range straggling and the beam's
   energy spread) and attenuation by non-elastic reactions
   (:mod:`ionbeam.physics._primary_transport`);
2. the secondaries of those reactions, slowed down bin by bin and attenuated in
   turn (:mod:`ionbeam.physics._transport_kernels`): projectile fragments
   Z = 1 … Z−1 (and same-Z isotopes) for ions, secondary protons for protons;
3. locally deposited nuclear energy (recoils, target fragments, a share of the
   energy of attenuated secondaries); neutrons and gamma rays escape.

Data model of the result (:class:`DepthDose`), all per primary particle:

* ``depth_mm`` — centres of the depth bins (mm of water), ``depth_edges_mm`` their
  edges; every dose-like array holds the *average over its bin*;
* ``idd_mev_mm`` — laterally integrated energy deposited per mm (MeV/mm); the sum of
  ``primary_idd_mev_mm``, ``secondary_idd_mev_mm`` (one row per secondary charge
  z = 1 … Z: row ``z-1``; for protons row 0 holds the secondary protons) and
  ``nuclear_local_idd_mev_mm``;
* ``let_d_kev_um`` — dose-averaged unrestricted LET in water of all charged
  particles that are transported (the local nuclear deposit is not included);
* lateral model: the dose at depth z and radius r is
  ``idd(z) · [(1 − w) G(r; σ₁) + w G(r; σ₂)]`` with G the normalised 2-D Gaussian
  ``exp(−r²/2σ²)/(2πσ²)``, ``w = halo_weight``, σ₁² = ``sigma_mcs_mm``² + σ_beam² and
  σ₂² = ``halo_sigma_mm``² + σ_beam² (σ_beam: the initial spot size, added by the
  machine/dose engine). ``sigma_mcs_mm`` is the primaries' MCS sigma; the halo is
  the secondaries (secondary and scattered protons; fragments) whose lateral variance
  exceeds the primaries' MCS variance (the narrower ones are in the core), σ₂
  the rms width of all of them. The halo is itself two Gaussians
  (:mod:`ionbeam.physics._halo_split`): a narrow one, ``halo_narrow_weight`` (a share
  of the whole energy, ≤ ``halo_weight``) and ``halo_narrow_sigma_mm``, and a wide one
  that holds the rest of the halo's weight and second moment;
* ``bragg_peak_mm``, ``r80_mm`` (distal 80 % of the maximum), ``csda_range_mm``;
* energy bookkeeping: ``energy_neutral_mev`` (escaped with neutrons/γ) and
  ``energy_beyond_mev`` (carried past the last bin); with the deposited energy they
  add up to the beam energy;
* ``spectra`` (``with_spectra=True``): :class:`FluenceSpectra` — laterally
  integrated track-length fluence per primary (mm of track per mm of depth, i.e.
  particles crossing the depth plane, divided by their direction cosine) per
  energy bin of each charged species (Z, A), shape [n_species, n_energy, n_depth],
  on 200 log-spaced energy edges from 0.1 MeV/u to 1.3 E + 5 MeV/u. The
  transported-particle IDD is Σ fluence × S(E) (S in MeV/mm; within ~2 % given the
  binning), so the MKM can form dose-weighted α and √β per depth. Primaries are
  species 0. With ``cone_half_angle_deg`` (ions) also ``cone_fluence``: the same
  spectra for the particles within that cone around the beam, as a forward detector
  counts them (:meth:`FluenceSpectra.forward_fluence`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ionbeam.errors import ConfigError, OutOfRangeError
from ionbeam.physics._depth_dose_assembly import assemble_depth_dose
from ionbeam.physics._halo_split import wide_halo
from ionbeam.physics.fragmentation import fragment_particle
from ionbeam.physics.materials import WATER_I_VALUE_EV, get_material
from ionbeam.physics.particles import Particle, get_particle
from ionbeam.physics.ranges import MAX_ENERGY_MEV_U, MIN_ENERGY_MEV_U, range_table
from ionbeam.physics.stopping import checked_energies

__all__ = [
    "DEFAULT_ENERGY_SPREAD_REL",
    "DepthDose",
    "FluenceSpectra",
    "depth_dose",
    "wide_halo",
]

#: Default relative energy spread σ_E/E of the beam: 0.2 %, typical of a synchrotron
#: (momentum spread Δp/p ≈ 0.1 %, i.e. σ_E/E ≈ 1.9 Δp/p at therapeutic energies).
DEFAULT_ENERGY_SPREAD_REL = 0.002


@dataclass(frozen=True, eq=False)
class FluenceSpectra:
    """Track-length fluence spectra per primary and per mm of depth: ``species`` ((Z, A)
    pairs, primaries first), ``energy_edges_mev_u`` (n_energy + 1) and ``fluence``
    [n_species, n_energy, n_depth] (see the module docstring). ``participant`` flags the
    rows of wide-angle participant particles (knocked-out nucleons, 20°–70°), kept apart
    from the forward spectator fragments of the same (Z, A); empty: none.
    ``cone_fluence`` (like ``fluence``; ion beams, when asked for): the fluence of the
    particles within ``cone_half_angle_deg`` of the beam axis (as a
    detector far downstream that accepts that cone counts them; each fragment with the
    Goldhaber angle of its birth, the participants on their cones beyond 19°, the
    primaries all in; the fragments' own multiple scattering, ≲ 1.5° for protons over
    30 cm of water, is left out)."""

    species: tuple[tuple[int, int], ...]
    energy_edges_mev_u: np.ndarray
    fluence: np.ndarray
    participant: tuple[bool, ...] = ()
    cone_fluence: np.ndarray | None = None
    cone_half_angle_deg: float | None = None

    def forward_rows(self, charge: int) -> list[int]:
        """Rows of the forward (spectator) particles of ``charge``."""
        flags = self.participant or (False,) * len(self.species)
        return [
            i
            for i, ((z, _), wide) in enumerate(zip(self.species, flags, strict=True))
            if z == charge and not wide
        ]

    def forward_fluence(
        self, charge: int, *, within_cone: bool = False, min_residual_range_mm: float = 0.0
    ) -> np.ndarray:
        """Fluence per depth of the forward particles of ``charge``: all of them, or
        (``within_cone``) those within ``cone_half_angle_deg``; only those whose residual
        range in water exceeds ``min_residual_range_mm`` (what still crosses that much
        water-equivalent material, e.g. a tank wall and air before a detector; the energy
        bin that holds the threshold counts in proportion to its log-energy share)."""
        if not (np.isfinite(min_residual_range_mm) and min_residual_range_mm >= 0.0):
            raise OutOfRangeError("minimum residual range (mm)", min_residual_range_mm, 0.0, np.inf)
        table = self.fluence
        if within_cone:
            if self.cone_fluence is None:
                raise ConfigError(
                    "these spectra have no cone fluence; compute them with depth_dose(..., "
                    "with_spectra=True, cone_half_angle_deg=...) for an ion beam"
                )
            table = self.cone_fluence
        log_lo = np.log(self.energy_edges_mev_u[:-1])
        log_hi = np.log(self.energy_edges_mev_u[1:])
        total = np.zeros(table.shape[2])
        for row in self.forward_rows(charge):
            share = np.ones_like(log_lo)
            if min_residual_range_mm > 0.0:
                z, a = self.species[row]
                water = get_material("water")
                e_min = range_table(fragment_particle(z, a), water).energy_at(
                    np.array(float(min_residual_range_mm))
                )
                share = np.clip((log_hi - np.log(float(e_min))) / (log_hi - log_lo), 0.0, 1.0)
            total += (table[row] * share[:, None]).sum(axis=0)
        return total


@dataclass(frozen=True, eq=False)
class DepthDose:
    """Depth–dose of one pencil beam in water (see the module docstring for the model)."""

    particle: str
    energy_mev_u: float
    energy_spread_rel: float
    water_i_value_ev: float
    depth_mm: np.ndarray
    depth_edges_mm: np.ndarray
    idd_mev_mm: np.ndarray
    primary_idd_mev_mm: np.ndarray
    secondary_idd_mev_mm: np.ndarray
    nuclear_local_idd_mev_mm: np.ndarray
    let_d_kev_um: np.ndarray
    sigma_mcs_mm: np.ndarray
    halo_weight: np.ndarray
    halo_sigma_mm: np.ndarray
    halo_narrow_weight: np.ndarray
    halo_narrow_sigma_mm: np.ndarray
    primary_fluence: np.ndarray
    csda_range_mm: float
    bragg_peak_mm: float
    r80_mm: float
    energy_neutral_mev: float
    energy_beyond_mev: float
    spectra: FluenceSpectra | None = field(default=None)

    @property
    def deposited_energy_mev(self) -> float:
        """Energy deposited in the depth range, MeV per primary."""
        return float(np.sum(self.idd_mev_mm * np.diff(self.depth_edges_mm)))

    def distal_depth_mm(self, fraction: float) -> float:
        """Depth (mm) beyond the peak where the IDD falls to ``fraction`` of its maximum."""
        return distal_depth(self.depth_mm, self.idd_mev_mm, fraction)


def distal_depth(depth: np.ndarray, dose: np.ndarray, fraction: float) -> float:
    """Depth beyond the maximum of ``dose`` where it first falls to ``fraction`` × max."""
    peak = int(np.argmax(dose))
    level = fraction * dose[peak]
    below = np.nonzero(dose[peak:] < level)[0]
    if below.size == 0:
        return float(depth[-1])
    i = peak + int(below[0])
    d0, d1 = dose[i - 1], dose[i]
    return float(depth[i - 1] + (level - d0) * (depth[i] - depth[i - 1]) / (d1 - d0))


def peak_depth(depth: np.ndarray, dose: np.ndarray) -> float:
    """Depth of the maximum, refined by a parabola through the three highest bins."""
    i = int(np.argmax(dose))
    if i == 0 or i == dose.size - 1:
        return float(depth[i])
    x, y = depth[i - 1 : i + 2], dose[i - 1 : i + 2]
    a, b, _ = np.polyfit(x - x[1], y, 2)
    return float(x[1] - b / (2 * a)) if a < 0 else float(x[1])


def _checked_depths(depth_mm: np.ndarray) -> np.ndarray:
    depths = np.asarray(depth_mm, dtype=float)
    if depths.ndim != 1 or depths.size < 2:
        raise ConfigError(f"depth_mm must be a 1-D array of >= 2 depths; got shape {depths.shape}")
    if not np.all(np.isfinite(depths)) or depths[0] < 0:
        raise OutOfRangeError("depth", depths.min(), 0.0, float("inf"), "mm")
    if np.any(np.diff(depths) <= 0):
        raise ConfigError("depth_mm must be strictly increasing; sort it and remove duplicates")
    return depths


def edges_from_centres(centres: np.ndarray) -> np.ndarray:
    """Bin edges half-way between given depths (first edge ≥ 0)."""
    inner = 0.5 * (centres[1:] + centres[:-1])
    first = max(0.0, centres[0] - (inner[0] - centres[0]))
    last = centres[-1] + (centres[-1] - inner[-1])
    return np.concatenate(([first], inner, [last]))


def _check_cone(ion: Particle, with_spectra: bool, cone_half_angle_deg: float | None) -> None:
    if cone_half_angle_deg is None:
        return
    if not with_spectra or ion.a == 1:
        raise ConfigError(
            "cone_half_angle_deg needs an ion beam (helium, carbon, oxygen) and "
            f"with_spectra=True; got {ion.name} with with_spectra={with_spectra}"
        )
    angle = float(cone_half_angle_deg)
    if not (np.isfinite(angle) and 0.0 < angle <= 90.0):
        raise OutOfRangeError("cone half-angle (degrees)", cone_half_angle_deg, 0.0, 90.0)


def depth_dose(
    particle: str | Particle,
    energy_mev_u: float,
    *,
    energy_spread_rel: float = DEFAULT_ENERGY_SPREAD_REL,
    depth_mm: np.ndarray | None = None,
    water_i_value_ev: float | None = None,
    with_spectra: bool = False,
    cone_half_angle_deg: float | None = None,
) -> DepthDose:
    """Depth–dose, LET and lateral parameters of a ``particle`` beam of ``energy_mev_u``
    (1–450 MeV/u) in water.

    ``energy_spread_rel`` is σ_E/E of the beam (default 0.2 %); ``depth_mm`` the depths
    wanted (bin centres; default: ~450 bins refined around the Bragg peak, to 1.2 × the
    range for protons and 2 × for ions); ``water_i_value_ev`` water's I-value (default
    ``WATER_I_VALUE_EV``); ``with_spectra`` adds fluence spectra per species, and
    ``cone_half_angle_deg`` (ion beams, with spectra; 0–90°) their fluence within that
    cone around the beam (``FluenceSpectra.cone_fluence``: what a forward detector of
    that acceptance counts, e.g. 10° for Haettner et al. 2013).
    """
    ion = get_particle(particle)
    energy = float(
        checked_energies(
            energy_mev_u, MIN_ENERGY_MEV_U, MAX_ENERGY_MEV_U, "beam energy per nucleon"
        )
    )
    spread = float(energy_spread_rel)
    if not (np.isfinite(spread) and 0.0 <= spread <= 0.05):
        raise OutOfRangeError("relative energy spread", energy_spread_rel, 0.0, 0.05)
    i_value = WATER_I_VALUE_EV if water_i_value_ev is None else float(water_i_value_ev)
    edges = None if depth_mm is None else edges_from_centres(_checked_depths(depth_mm))
    _check_cone(ion, with_spectra, cone_half_angle_deg)
    fields = assemble_depth_dose(
        ion, energy, spread, i_value, edges, with_spectra, cone_half_angle_deg
    )
    spectra = fields.pop("spectra")
    depth = fields["depth_mm"]
    idd = fields["idd_mev_mm"]
    return DepthDose(
        particle=ion.name,
        energy_mev_u=energy,
        energy_spread_rel=spread,
        water_i_value_ev=i_value,
        bragg_peak_mm=peak_depth(depth, idd),
        r80_mm=distal_depth(depth, idd, 0.8),
        spectra=None if spectra is None else FluenceSpectra(**spectra),
        **fields,
    )
