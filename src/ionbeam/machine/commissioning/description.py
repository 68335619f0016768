"""The in-memory description of a commissioned beam: what a beam-model file says.

Both readers (ionbeam's TOML format and MCsquare's BDL) produce a
:class:`Commissioning`; :mod:`.build` turns it into a beam line, a machine and a
beam model. Everything here is checked when made, so a description that exists
is usable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import ConfigError
from ionbeam.machine.beam_data import BeamEnergyData
from ionbeam.machine.beam_model import MEV_PER_MM_TO_GY_MM2
from ionbeam.machine.beamline import BeamLine, RangeShifter, RippleFilter, SpotSizeTable
from ionbeam.physics.particles import get_particle

__all__ = [
    "MAX_SPOT_ASYMMETRY",
    "Commissioning",
    "SpotPhaseSpace",
    "drift_phase_space",
]

#: The dose engine models round spots: x and y sizes at the isocentre may differ by at
#: most this fraction of their mean (the variances are then averaged).
MAX_SPOT_ASYMMETRY = 0.2
#: A depth–dose curve per particle must hold this fraction of the beam's kinetic energy
#: (a curve in other units, or normalised to its maximum, falls outside).
_ENERGY_BALANCE = (0.5, 1.02)


@dataclass(frozen=True, eq=False)
class SpotPhaseSpace:
    """One transverse plane's beam at the isocentre in air, per energy: rms size
    ``sigma_mm`` σ₀, divergence ``divergence_mrad`` σ' and correlation ρ, so that
    σ(z)² = σ₀² + 2ρσ₀σ'z + σ'²z² at z mm downstream of the isocentre."""

    sigma_mm: np.ndarray
    divergence_mrad: np.ndarray
    correlation: np.ndarray

    def __post_init__(self) -> None:
        arrays = [np.array(getattr(self, n), dtype=float, ndmin=1) for n in _PHASE]
        if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
            raise ConfigError("spot phase-space columns must be equally long lists")
        sigma, divergence, rho = arrays
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise ConfigError("spot sizes, divergences and correlations must be finite (no NaN)")
        if np.any(sigma <= 0) or np.any(divergence < 0) or np.any(np.abs(rho) >= 1):
            raise ConfigError(
                "spot sizes must be > 0 mm, divergences ≥ 0 mrad and correlations within "
                f"(−1, 1); got σ {sigma.min():g} mm, σ' {divergence.min():g} mrad, "
                f"|ρ| {np.abs(rho).max():g}"
            )
        for name, array in zip(_PHASE, arrays, strict=True):
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    def variance_coefficients(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(a, b, c) of σ(z)² = a + b z + c z² (mm², mm, 1)."""
        slope = self.divergence_mrad * 1e-3
        return self.sigma_mm**2, 2.0 * self.correlation * self.sigma_mm * slope, slope**2


_PHASE = ("sigma_mm", "divergence_mrad", "correlation")


def drift_phase_space(
    sigma_mm: ArrayLike, divergence_mrad: ArrayLike, correlation: ArrayLike, distance_mm: float
) -> SpotPhaseSpace:
    """The phase space ``distance_mm`` downstream of where (σ, σ', ρ) are given, after a
    drift in vacuum (σ' unchanged, the covariance grows by σ'² z)."""
    sigma = np.asarray(sigma_mm, dtype=float)
    slope = np.asarray(divergence_mrad, dtype=float) * 1e-3
    rho = np.asarray(correlation, dtype=float)
    z = float(distance_mm)
    covariance = rho * sigma * slope + slope**2 * z
    new_sigma = np.sqrt(sigma**2 + 2.0 * rho * sigma * slope * z + slope**2 * z**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        new_rho = np.where(slope > 0, covariance / (new_sigma * slope), 0.0)
    return SpotPhaseSpace(new_sigma, slope * 1e3, new_rho)


@dataclass(frozen=True, eq=False)
class Commissioning:
    """A commissioned beam of one particle on one beam line.

    ``energies``: nominal and mean energies, spreads and depth–dose curves;
    ``spot_x`` / ``spot_y``: the phase space at the isocentre in air per energy;
    ``sad_mm``: virtual source–axis distances (x, y) of the scanning magnets;
    ``nozzle_to_isocentre_mm``: where the nozzle exit is (record; None if not given);
    ``range_shifter`` / ``ripple_filter``: mounted devices (optional);
    ``protons_per_mu``: MCsquare's monitor calibration per energy (BDL only, recorded);
    ``source`` / ``sha256``: the file it was read from and the digest of its contents.
    """

    name: str
    energies: BeamEnergyData
    spot_x: SpotPhaseSpace
    spot_y: SpotPhaseSpace
    sad_mm: tuple[float, float]
    nozzle_to_isocentre_mm: float | None = None
    range_shifter: RangeShifter | None = None
    ripple_filter: RippleFilter | None = None
    protons_per_mu: np.ndarray | None = None
    description: str = ""
    source: str = ""
    sha256: str = ""

    def __post_init__(self) -> None:
        if not str(self.name).strip():
            raise ConfigError("a commissioned beam needs a name (e.g. the room and particle)")
        n = self.energies.n_energies
        for plane, spot in (("x", self.spot_x), ("y", self.spot_y)):
            if spot.sigma_mm.size != n:
                raise ConfigError(
                    f"spot phase space ({plane}) has {spot.sigma_mm.size} rows for {n} energies"
                )
        sad = tuple(float(v) for v in self.sad_mm)
        if len(sad) != 2 or not all(math.isfinite(v) and v > 0 for v in sad):
            raise ConfigError(f"sad_mm must be two positive distances (x, y); got {self.sad_mm}")
        object.__setattr__(self, "sad_mm", sad)
        distance = self.nozzle_to_isocentre_mm
        if distance is not None and not (math.isfinite(distance) and distance >= 0):
            raise ConfigError(f"nozzle_to_isocentre_mm must be ≥ 0; got {distance}")
        if self.energies.curves_include_filter and self.ripple_filter is None:
            raise ConfigError(
                "the depth-dose curves were measured with a ripple filter "
                "(curves_include_filter), but none is given; describe it in [ripple_filter]"
            )
        _check_round(self)
        _check_energy_balance(self.energies)

    @property
    def particle(self) -> str:
        """The particle's name."""
        return self.energies.particle

    def spot_table(self) -> SpotSizeTable:
        """The round spot the dose engine models: σ(z)² the mean of x's and y's."""
        ax, bx, cx = self.spot_x.variance_coefficients()
        ay, by, cy = self.spot_y.variance_coefficients()
        a, b, c = 0.5 * (ax + ay), 0.5 * (bx + by), 0.5 * (cx + cy)
        sigma, slope = np.sqrt(a), np.sqrt(c)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.where(slope > 0, b / (2.0 * sigma * slope), 0.0)
        return SpotSizeTable(
            self.particle,
            self.energies.nominal_energies_mev_u,
            sigma,
            slope * 1e3,
            np.clip(rho, -0.999999, 0.999999),
        )

    def beam_line(self) -> BeamLine:
        """The beam line of this commissioned beam (this particle only)."""
        return BeamLine(
            name=self.name,
            spot_tables={self.particle: self.spot_table()},
            sad_mm=self.sad_mm,
            range_shifter=self.range_shifter,
            ripple_filter=self.ripple_filter,
            energy_data={self.particle: self.energies},
        )


def _check_round(commissioning: Commissioning) -> None:
    sx, sy = commissioning.spot_x.sigma_mm, commissioning.spot_y.sigma_mm
    asymmetry = np.abs(sx - sy) / (0.5 * (sx + sy))
    worst = int(np.argmax(asymmetry))
    if asymmetry[worst] > MAX_SPOT_ASYMMETRY:
        energy = commissioning.energies.nominal_energies_mev_u[worst]
        raise ConfigError(
            f"spot sizes at {energy:g} MeV/u differ between x ({sx[worst]:.3g} mm) and y "
            f"({sy[worst]:.3g} mm) by more than {MAX_SPOT_ASYMMETRY:.0%}; ionbeam models round "
            "spots: check the values (σ in mm, not FWHM) or give their mean in both"
        )


def _check_energy_balance(energies: BeamEnergyData) -> None:
    """A curve per particle holds most of the beam's energy, never more than all of it."""
    nucleons = get_particle(energies.particle).a
    for i, curve in enumerate(energies.depth_doses):
        if curve is None:
            continue
        edges = np.concatenate(([0.0], 0.5 * (curve.depth_mm[1:] + curve.depth_mm[:-1]),
                                [curve.depth_mm[-1]]))  # fmt: skip
        deposited = float(np.sum(curve.idd_gy_mm2 * np.diff(edges))) / MEV_PER_MM_TO_GY_MM2
        kinetic = nucleons * float(energies.mean_energies_mev_u[i])
        low, high = _ENERGY_BALANCE
        if not low * kinetic <= deposited <= high * kinetic:
            raise ConfigError(
                f"{curve.label}: the curve holds {deposited:.4g} MeV per particle, "
                f"{deposited / kinetic:.3g} × the beam's {kinetic:.4g} MeV; give it per "
                "primary particle in Gy·mm² (idd_gy_mm2) or MeV/mm (idd_mev_mm), not "
                "normalised or per MU"
            )
