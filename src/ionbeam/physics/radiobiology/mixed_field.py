"""LQ parameters of a mixed radiation field from fluence spectra (mMKM).

At each depth the field is a mixture of primaries and fragments of many charges and
energies. With the fluence spectra Φ_s(E, z) of :func:`ionbeam.physics.depth_dose.depth_dose`
(``with_spectra=True``; particles per primary per energy bin, laterally integrated), the
dose of species s in energy bin E is proportional to Φ_s(E, z) · LET_s(E), and the mMKM
mixes as Inaniwa et al. 2010 (eqs 9–10) do:

    z*_1D,mix = Σ d_i z*_1D,i / Σ d_i,    α_mix = α₀ + β z*_1D,mix = Σ d_i α_i / Σ d_i,
    √β_mix = Σ d_i √β_i / Σ d_i = √β₀   (Zaider & Rossi 1980; β is the same for all ions).

Energies are taken at the geometric centres of the spectrum bins. The locally deposited
nuclear energy (target recoils, not in the spectra) is left out of the weights, as it
is of the physics library's LET_d. Where the spectra carry no dose (beyond the range),
α is set to max(α₀, 0): the dose there is zero, so α·D is too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ionbeam.errors import GridMismatchError
from ionbeam.physics.depth_dose import FluenceSpectra
from ionbeam.physics.radiobiology.mkm import (
    MKM_MAX_ENERGY_MEV_U,
    MKM_MIN_ENERGY_MEV_U,
    TABLE_ENERGIES_MEV_U,
    ion_of,
    z1d_star_table_gy,
)
from ionbeam.physics.radiobiology.tissue import MKMParameters
from ionbeam.physics.stopping import let_kev_um

__all__ = ["MixedFieldLQ", "mixed_field_lq"]


@dataclass(frozen=True, eq=False)
class MixedFieldLQ:
    """Mixed-field LQ parameters per depth bin: ``alpha_gy`` (Gy⁻¹), ``sqrt_beta_gy``
    (Gy⁻¹), ``z1d_star_gy`` (Gy) and ``dose_weight`` (Σ Φ·LET, MeV/mm per primary)."""

    alpha_gy: np.ndarray
    sqrt_beta_gy: np.ndarray
    z1d_star_gy: np.ndarray
    dose_weight: np.ndarray


def _species_weights(spectra: FluenceSpectra, mkm: MKMParameters) -> tuple[np.ndarray, ...]:
    """Per species: dose weights Φ·LET [n_e, n_depth] summed, and Σ Φ·LET·z*_1D."""
    edges = np.asarray(spectra.energy_edges_mev_u, dtype=float)
    centres = np.sqrt(edges[1:] * edges[:-1])
    usable = (centres >= MKM_MIN_ENERGY_MEV_U) & (centres <= MKM_MAX_ENERGY_MEV_U)
    energy = centres[usable]
    log_grid = np.log(TABLE_ENERGIES_MEV_U)
    n_depth = spectra.fluence.shape[2]
    weight = np.zeros(n_depth)
    weighted_z = np.zeros(n_depth)
    for s, (z, a) in enumerate(spectra.species):
        let = let_kev_um(ion_of(z, a), energy)
        z_star = np.interp(np.log(energy), log_grid, z1d_star_table_gy(z, a, mkm))
        dose = spectra.fluence[s][usable] * let[:, None]  # [n_e, n_depth]
        weight += dose.sum(axis=0)
        weighted_z += (dose * z_star[:, None]).sum(axis=0)
    return weight, weighted_z


def mixed_field_lq(spectra: FluenceSpectra, mkm: MKMParameters) -> MixedFieldLQ:
    """Dose-weighted α, √β and z*_1D of the field described by ``spectra`` (see module)."""
    fluence = np.asarray(spectra.fluence)
    if fluence.ndim != 3 or fluence.shape[:2] != (
        len(spectra.species),
        np.asarray(spectra.energy_edges_mev_u).size - 1,
    ):
        raise GridMismatchError(
            "fluence spectra must be [n_species, n_energy, n_depth] matching species and "
            f"energy edges; got {fluence.shape} for {len(spectra.species)} species"
        )
    weight, weighted_z = _species_weights(spectra, mkm)
    has_dose = weight > 0
    z_mix = np.divide(weighted_z, weight, out=np.zeros_like(weight), where=has_dose)
    alpha = np.where(has_dose, mkm.alpha0_gy + mkm.beta0_gy2 * z_mix, max(mkm.alpha0_gy, 0.0))
    return MixedFieldLQ(
        alpha_gy=np.maximum(alpha, 0.0),
        sqrt_beta_gy=np.full_like(weight, np.sqrt(mkm.beta0_gy2)),
        z1d_star_gy=z_mix,
        dose_weight=weight,
    )
