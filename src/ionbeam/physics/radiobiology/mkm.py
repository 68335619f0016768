"""The modified microdosimetric kinetic model (mMKM) for single ions.

In the mMKM (Kase et al. 2006, Radiat Res 166:629; Kase et al. 2008, Phys Med Biol 53:37;
Inaniwa et al. 2010, Phys Med Biol 55:6721) the LQ parameters of a mono-energetic ion are

    α = α₀ + β z*_1D,   β = β₀,

with z*_1D the saturation-corrected dose-mean specific energy deposited by one ion in a
sub-nuclear domain of radius r_d, computed here from the Kiefer–Chatterjee amorphous
track model (see :mod:`ionbeam.physics.radiobiology._track_kernels` for the model, the
saturation correction with z₀ = R_n²/(r_d √(β (r_d² + R_n²))) and the quadrature).

Where the model stops being valid: the amorphous track has no δ-ray spectrum or
energy-loss straggling, so for sparsely ionising radiation (high-energy protons,
LET ≲ 2 keV/µm) z*_1D is far below the photon z_1D,x (~2.3 Gy for HSG) and the mMKM
predicts RBE < 1 — use the proton models of :mod:`~ionbeam.physics.radiobiology.proton_rbe`
for proton beams. Below ~1 MeV/u the track radii and the effective charge are rough.

Per species, z*_1D is tabulated once on a fixed log-spaced energy grid
(:data:`TABLE_ENERGIES_MEV_U`, 0.05–1000 MeV/u) and interpolated in log energy; the
tables depend on the ion and the MKM parameters only, never on the patient, and are
memoised per process.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import OutOfRangeError, UnknownNameError
from ionbeam.physics.fragmentation import fragment_particle
from ionbeam.physics.particles import (
    AMU_MEV,
    ELECTRON_MASS_MEV,
    PARTICLES,
    Particle,
    get_particle,
)
from ionbeam.physics.radiobiology._track_kernels import gauss_legendre_unit, single_ion_z1d
from ionbeam.physics.radiobiology.lq import _array
from ionbeam.physics.radiobiology.tissue import MKMParameters
from ionbeam.physics.stopping import checked_energies
from ionbeam.physics.stopping import let_kev_um as water_let_kev_um

__all__ = [
    "MKM_MAX_ENERGY_MEV_U",
    "MKM_MIN_ENERGY_MEV_U",
    "TABLE_ENERGIES_MEV_U",
    "ion_of",
    "single_ion_alpha_gy",
    "single_ion_z1d_star_gy",
    "z1d_star_table_gy",
]

#: Energy range (MeV/u) of the single-ion MKM functions and tables.
MKM_MIN_ENERGY_MEV_U = 0.05
MKM_MAX_ENERGY_MEV_U = 1000.0
#: Energies (MeV/u) on which z*_1D is tabulated per species (48 per decade).
TABLE_ENERGIES_MEV_U = np.geomspace(MKM_MIN_ENERGY_MEV_U, MKM_MAX_ENERGY_MEV_U, 207)
#: Gauss–Legendre points per quadrature segment (b and r); 24 keep z*_1D within 0.1 %.
QUADRATURE_POINTS = 24
_MAX_Z = 10


def ion_of(z: int, a: int) -> Particle:
    """The bare nucleus (Z, A) for stopping-power look-ups: a named particle when one
    matches, else a fragment isotope of :mod:`ionbeam.physics.fragmentation` (AME2020
    masses, as in the transport), else A u less Z electron masses (< 1 % off)."""
    for particle in PARTICLES.values():
        if (particle.z, particle.a) == (z, a):
            return particle
    try:
        return fragment_particle(z, a)
    except UnknownNameError:
        return Particle(f"Z{z}A{a}", f"{a}X", int(z), int(a), a * AMU_MEV - z * ELECTRON_MASS_MEV)


def _beta(energy_mev_u: np.ndarray) -> np.ndarray:
    gamma = 1.0 + energy_mev_u / AMU_MEV
    return np.sqrt(1.0 - 1.0 / (gamma * gamma))


def _checked_charge(z: ArrayLike) -> np.ndarray:
    charge = np.asarray(z, dtype=float)
    bad = ~np.isfinite(charge) | (charge < 1) | (charge > _MAX_Z) | (charge != np.round(charge))
    if bad.any():
        raise OutOfRangeError("ion charge Z", charge[bad].flat[0], 1, _MAX_Z)
    return charge


def single_ion_z1d_star_gy(
    z: ArrayLike,
    energy_mev_u: ArrayLike,
    let_kev_um: ArrayLike,
    mkm: MKMParameters,
    *,
    saturation: bool = True,
) -> np.ndarray:
    """z*_1D (Gy) of ions of charge ``z`` at ``energy_mev_u`` (0.05–1000 MeV/u) with
    unrestricted LET ``let_kev_um`` (keV/µm, in water) for the MKM parameters ``mkm``;
    ``saturation=False`` gives the uncorrected dose-mean specific energy z_1D.
    Arguments broadcast; the result has their broadcast shape."""
    charge = _checked_charge(z)
    energy = checked_energies(energy_mev_u, MKM_MIN_ENERGY_MEV_U, MKM_MAX_ENERGY_MEV_U)
    let = _array(let_kev_um, "LET", "keV/µm", low=np.finfo(float).tiny)
    charge, energy, let = np.broadcast_arrays(charge, energy, let)
    nodes, weights = gauss_legendre_unit(QUADRATURE_POINTS)
    z0 = mkm.saturation_z0_gy if saturation else 0.0
    z_star, _, _ = single_ion_z1d(
        charge.ravel().astype(float), _beta(energy.ravel()), energy.ravel().astype(float),
        let.ravel().astype(float), float(mkm.domain_radius_um), z0, nodes, weights,
    )  # fmt: skip
    return z_star.reshape(charge.shape)


@lru_cache(maxsize=128)
def _cached_table(z: int, a: int, mkm: MKMParameters) -> np.ndarray:
    energy = TABLE_ENERGIES_MEV_U
    table = single_ion_z1d_star_gy(z, energy, water_let_kev_um(ion_of(z, a), energy), mkm)
    table.setflags(write=False)
    return table


def z1d_star_table_gy(z: int, a: int, mkm: MKMParameters) -> np.ndarray:
    """z*_1D (Gy) of the ion (Z, A) on :data:`TABLE_ENERGIES_MEV_U` (memoised, read-only)."""
    _checked_charge(z)
    return _cached_table(int(z), int(a), mkm)


def single_ion_alpha_gy(
    particle: str | Particle | tuple[int, int],
    energy_mev_u: ArrayLike,
    mkm: MKMParameters,
) -> np.ndarray:
    """α = α₀ + β z*_1D (Gy⁻¹) of a mono-energetic ion (name, ``Particle`` or (Z, A)) at
    ``energy_mev_u``, its LET from :func:`ionbeam.physics.stopping.let_kev_um` in water
    (interpolated from the species table in log energy)."""
    if isinstance(particle, tuple):
        z, a = particle
    else:
        ion = get_particle(particle)
        z, a = ion.z, ion.a
    energy = checked_energies(energy_mev_u, MKM_MIN_ENERGY_MEV_U, MKM_MAX_ENERGY_MEV_U)
    table = z1d_star_table_gy(z, a, mkm)
    z_star = np.interp(np.log(energy), np.log(TABLE_ENERGIES_MEV_U), table)
    return mkm.alpha0_gy + mkm.beta0_gy2 * z_star
