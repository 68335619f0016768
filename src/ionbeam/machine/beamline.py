"""The beam at the patient: spot size in air, virtual sources, range shifter, ripple filter.

The beam's horizontal (= vertical, assumed round) phase space at the
isocentre in air is given per energy by a table: rms size σ₀ (mm),
divergence σ' (mrad) and correlation ρ, so that at a distance z along the
beam from the isocentre (z > 0 downstream)

    σ(z)² = σ₀² + 2 ρ σ₀ σ' z + σ'² z²        (σ' in mm/mm).

The default tables are CNAO-like: FWHM from about 10 mm (protons at
62 MeV) to 4 mm (carbon at 400 MeV/u), larger at low energy, with
divergences of a few mrad; they are ionbeam parameters of the order of
published CNAO commissioning values, not measured data. The virtual
source–axis distances of the two scanning magnets (x, y) are likewise
defaults of the order of CNAO's nozzle geometry.

A range shifter (a water-equivalent slab upstream of the patient) widens
the spot by multiple scattering; ionbeam uses Highland's formula
(V. L. Highland, Nucl. Instrum. Methods 129 (1975) 497, with Gottschalk's
14.1 MeV) for the slab's angular spread and the Fermi–Eyges moment of a
uniform slab for its effect downstream. A ripple filter (ions) spreads the
range over a few mm of water (its WET distribution) and so widens the Bragg
peak; the beam model folds that distribution into its depth tables
(:mod:`ionbeam.machine.beam_model`). The CNAO line carries one, which
carbon plans use by default (:func:`default_ripple_filter`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import ConfigError, MachineLimitError, UnknownNameError
from ionbeam.machine.beam_data import BeamEnergyData
from ionbeam.machine.kinematics import lorentz_beta, momentum_per_nucleon_mev_c
from ionbeam.physics.particles import Particle, get_particle

__all__ = [
    "FWHM_PER_SIGMA",
    "WATER_RADIATION_LENGTH_MM",
    "BeamLine",
    "RangeShifter",
    "RippleFilter",
    "SpotSizeTable",
    "cnao_beam_line",
    "default_ripple_filter",
]

#: FWHM of a Gaussian per σ, 2√(2 ln 2).
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
#: Radiation length of water (PDG), mm.
WATER_RADIATION_LENGTH_MM = 360.8
_HIGHLAND_MEV = 14.1


@dataclass(frozen=True, eq=False)
class SpotSizeTable:
    """Beam phase space at the isocentre in air against energy (MeV/u, ascending):
    ``sigma_mm`` σ₀, ``divergence_mrad`` σ', ``correlation`` ρ (−1 … 1)."""

    particle: str
    energies_mev_u: np.ndarray
    sigma_mm: np.ndarray
    divergence_mrad: np.ndarray
    correlation: np.ndarray

    def __post_init__(self) -> None:
        arrays = {
            name: np.array(getattr(self, name), dtype=float)
            for name in ("energies_mev_u", "sigma_mm", "divergence_mrad", "correlation")
        }
        shapes = {a.shape for a in arrays.values()}
        if len(shapes) != 1 or arrays["energies_mev_u"].ndim != 1:
            raise ConfigError(
                f"spot-size table columns must be equally long 1-D arrays; got {shapes}"
            )
        if not np.all(np.diff(arrays["energies_mev_u"]) > 0):
            raise ConfigError("spot-size table energies must be strictly ascending")
        if np.any(arrays["sigma_mm"] <= 0) or np.any(arrays["divergence_mrad"] < 0):
            raise ConfigError("spot sizes must be positive and divergences non-negative")
        if np.any(np.abs(arrays["correlation"]) >= 1):
            raise ConfigError("spot correlations must lie strictly between −1 and 1")
        for name, array in arrays.items():
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        object.__setattr__(self, "particle", get_particle(self.particle).name)

    def phase_space(self, energy_mev_u: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(σ₀ mm, σ' mrad, ρ) at ``energy_mev_u``, linear in energy within the table."""
        energy = np.asarray(energy_mev_u, dtype=float)
        e = self.energies_mev_u
        bad = ~np.isfinite(energy) | (energy < e[0] * (1 - 1e-9)) | (energy > e[-1] * (1 + 1e-9))
        if np.any(bad):
            value = energy[bad].flat[0] if energy.ndim else float(energy)
            raise MachineLimitError(
                f"{self.particle} energy of the spot-size table", value, e[0], e[-1], "MeV/u"
            )
        return tuple(
            np.interp(energy, e, column)
            for column in (self.sigma_mm, self.divergence_mrad, self.correlation)
        )


@dataclass(frozen=True)
class RangeShifter:
    """A water-equivalent slab of ``wet_mm`` whose downstream face is
    ``distance_to_isocentre_mm`` upstream of the isocentre."""

    wet_mm: float
    distance_to_isocentre_mm: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.wet_mm) and self.wet_mm > 0):
            raise ConfigError(f"range shifter WET must be positive; got {self.wet_mm} mm")
        if not (
            math.isfinite(self.distance_to_isocentre_mm) and self.distance_to_isocentre_mm >= 0
        ):
            raise ConfigError(
                f"range shifter distance must be ≥ 0; got {self.distance_to_isocentre_mm} mm"
            )

    def scattering_angle_rad(self, particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray:
        """Highland's rms projected angle after the slab, rad."""
        ion = get_particle(particle)
        p = np.asarray(momentum_per_nucleon_mev_c(ion, energy_mev_u)) * ion.a
        pv = p * np.asarray(lorentz_beta(ion, energy_mev_u))
        t = self.wet_mm / WATER_RADIATION_LENGTH_MM
        return _HIGHLAND_MEV * ion.z / pv * math.sqrt(t) * (1.0 + math.log10(t) / 9.0)

    def added_variance_mm2(
        self, particle: str | Particle, energy_mev_u: ArrayLike, z_mm: ArrayLike = 0.0
    ) -> np.ndarray:
        """Variance (mm²) the slab adds at ``z_mm`` from the isocentre."""
        theta = self.scattering_angle_rad(particle, energy_mev_u)
        gap = np.maximum(self.distance_to_isocentre_mm + np.asarray(z_mm, float), 0.0)
        t = self.wet_mm
        return theta**2 * (gap**2 + gap * t + t**2 / 3.0)


#: Nodes of the midpoint rule that samples a ripple filter's WET distribution.
_RIPPLE_NODES = 12


@dataclass(frozen=True)
class RippleFilter:
    """A ripple filter (mini ridge filter, ions): a plate with a fine periodic groove
    profile that spreads the beam's range over ``modulation_mm`` (water-equivalent,
    peak to valley) around a mean water-equivalent thickness ``wet_mm``; its downstream
    face is ``distance_to_isocentre_mm`` upstream of the isocentre.

    The default is the 3 mm PMMA filter of the GSI/HIT/CNAO type (Weber & Kraft 1999,
    Phys. Med. Biol. 44, 2765): 3 mm of PMMA at the ridges (3.5 mm WET, PMMA's
    water-equivalent ratio ≈ 1.16), 0.5 mm WET at the groove bottoms. Its straight
    flanks make every thickness between the two equally likely, i.e. a uniform WET
    distribution (:meth:`wet_distribution`), which widens a carbon Bragg peak to
    about the 3 mm spacing of the energy layers. The distance is an ionbeam default
    (a nozzle-mounted filter), like the range shifter's.
    """

    wet_mm: float = 2.0
    modulation_mm: float = 3.0
    distance_to_isocentre_mm: float = 500.0

    def __post_init__(self) -> None:
        values = (self.wet_mm, self.modulation_mm, self.distance_to_isocentre_mm)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ConfigError(
                f"ripple filter thickness, modulation and distance must be finite and ≥ 0 mm; "
                f"got {values}"
            )
        if self.modulation_mm > 2.0 * self.wet_mm:
            raise ConfigError(
                f"a ripple filter's modulation ({self.modulation_mm} mm) cannot exceed twice "
                f"its mean WET ({self.wet_mm} mm): the groove bottoms would be thinner than 0"
            )

    def wet_distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """Water-equivalent thicknesses (mm) and their probabilities: a midpoint rule of
        the uniform distribution over ``wet_mm`` ± ``modulation_mm``/2."""
        if self.modulation_mm == 0.0:
            return np.array([self.wet_mm]), np.array([1.0])
        fractions = (np.arange(_RIPPLE_NODES) + 0.5) / _RIPPLE_NODES - 0.5
        return self.wet_mm + self.modulation_mm * fractions, np.full(
            _RIPPLE_NODES, 1.0 / _RIPPLE_NODES
        )

    def added_variance_mm2(
        self, particle: str | Particle, energy_mev_u: ArrayLike, z_mm: ArrayLike = 0.0
    ) -> np.ndarray:
        """Variance (mm²) that scattering in the filter (a slab of its mean WET) adds to
        the spot at ``z_mm`` from the isocentre (Highland, as for a range shifter)."""
        if self.wet_mm <= 0.0:
            return np.zeros(np.broadcast(np.asarray(energy_mev_u), np.asarray(z_mm)).shape)
        slab = RangeShifter(self.wet_mm, self.distance_to_isocentre_mm)
        return slab.added_variance_mm2(particle, energy_mev_u, z_mm)


@dataclass(frozen=True)
class BeamLine:
    """The treatment-room beam line seen from the patient.

    ``spot_tables`` per particle name; ``sad_mm`` the virtual source–axis
    distances (x, y) of the scanning magnets; ``range_shifter`` and
    ``ripple_filter`` optional: the filter available on the line (whether a beam uses
    it is the beam's choice, :attr:`ionbeam.planning.plan.Beam.ripple_filter`).
    ``energy_data`` per particle name the
    commissioned mean energies, energy spreads and measured depth–dose curves
    (:mod:`ionbeam.machine.beam_data`; empty for the generic model, whose nominal
    energies are the mean energies).
    """

    name: str
    spot_tables: Mapping[str, SpotSizeTable]
    sad_mm: tuple[float, float]
    range_shifter: RangeShifter | None = None
    ripple_filter: RippleFilter | None = None
    energy_data: Mapping[str, BeamEnergyData] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sad = tuple(float(v) for v in self.sad_mm)
        if len(sad) != 2 or not all(math.isfinite(v) and v > 0 for v in sad):
            raise ConfigError(f"sad_mm must be two positive distances (x, y); got {self.sad_mm}")
        object.__setattr__(self, "sad_mm", sad)
        object.__setattr__(self, "spot_tables", MappingProxyType(dict(self.spot_tables)))
        object.__setattr__(self, "energy_data", MappingProxyType(dict(self.energy_data)))
        if self.ripple_filter is None:
            for particle, data in self.energy_data.items():
                if data.curves_include_filter:
                    raise ConfigError(
                        f"the {particle} depth-dose curves of beam line {self.name!r} were "
                        "measured with a ripple filter, but the line has none; mount the "
                        "filter they were measured with"
                    )

    def spot_table(self, particle: str | Particle) -> SpotSizeTable:
        """The spot-size table of ``particle``."""
        name = get_particle(particle).name
        if name not in self.spot_tables:
            raise UnknownNameError(f"particle of beam line {self.name}", name, self.spot_tables)
        return self.spot_tables[name]

    def energy_data_of(self, particle: str | Particle) -> BeamEnergyData | None:
        """The commissioned energy data of ``particle``, or None (generic model)."""
        return self.energy_data.get(get_particle(particle).name)

    def curves_include_filter(self, particle: str | Particle) -> bool:
        """Whether ``particle``'s commissioned depth–dose curves were measured with the
        line's ripple filter in the beam (its beams then always use the filter)."""
        data = self.energy_data_of(particle)
        return data is not None and data.curves_include_filter

    def sigma_air_mm(
        self, particle: str | Particle, energy_mev_u: ArrayLike, z_mm: ArrayLike = 0.0
    ) -> np.ndarray:
        """rms spot size in air (mm) at ``z_mm`` from the isocentre along the beam
        (z > 0 downstream), including the range shifter when present."""
        sigma0, divergence, rho = self.spot_table(particle).phase_space(energy_mev_u)
        z = np.asarray(z_mm, dtype=float)
        slope = divergence * 1e-3
        variance = sigma0**2 + 2.0 * rho * sigma0 * slope * z + slope**2 * z**2
        if self.range_shifter is not None:
            variance = variance + self.range_shifter.added_variance_mm2(particle, energy_mev_u, z)
        return np.sqrt(variance)

    def fwhm_air_mm(
        self, particle: str | Particle, energy_mev_u: ArrayLike, z_mm: ArrayLike = 0.0
    ) -> np.ndarray:
        """FWHM of the spot in air (mm) at ``z_mm`` from the isocentre."""
        return FWHM_PER_SIGMA * self.sigma_air_mm(particle, energy_mev_u, z_mm)

    def with_range_shifter(self, range_shifter: RangeShifter | None) -> BeamLine:
        """A copy with ``range_shifter`` mounted (None removes it)."""
        return replace(self, range_shifter=range_shifter)

    def with_ripple_filter(self, ripple_filter: RippleFilter | None) -> BeamLine:
        """A copy with ``ripple_filter`` mounted (None removes it). A line whose curves
        were measured with its filter keeps that filter (another one is refused)."""
        measured = [p for p, d in self.energy_data.items() if d.curves_include_filter]
        if measured and ripple_filter != self.ripple_filter:
            raise ConfigError(
                f"the {measured[0]} depth-dose curves of beam line {self.name!r} were measured "
                "with its ripple filter; keep that filter or commission curves with the new one"
            )
        return replace(self, ripple_filter=ripple_filter)


def _table(
    particle: str, energies: list[float], fwhm: list[float], div: list[float]
) -> SpotSizeTable:
    e = np.asarray(energies)
    return SpotSizeTable(
        particle, e, np.asarray(fwhm) / FWHM_PER_SIGMA, np.asarray(div), np.zeros_like(e)
    )


def cnao_beam_line() -> BeamLine:
    """CNAO-like treatment line: default spot tables (waist at the isocentre), scanning
    magnets' virtual sources 6.2 m (x) and 5.7 m (y) upstream of the isocentre, and the
    3 mm ripple filter (used by carbon beams by default)."""
    proton_e = [60.0, 100.0, 150.0, 200.0, 230.0]
    carbon_e = [110.0, 200.0, 300.0, 400.0]
    tables = {
        "proton": _table("proton", proton_e, [10.0, 8.5, 7.0, 6.0, 5.5], [3.0, 2.4, 1.9, 1.6, 1.5]),
        "helium": _table("helium", proton_e, [8.5, 7.5, 6.5, 5.5, 5.0], [2.4, 2.0, 1.6, 1.3, 1.2]),
        "carbon": _table("carbon", carbon_e, [8.0, 6.5, 5.0, 4.0], [1.6, 1.3, 1.0, 0.8]),
        "oxygen": _table("oxygen", carbon_e, [7.5, 6.0, 4.8, 4.0], [1.5, 1.2, 0.9, 0.8]),
    }
    return BeamLine(
        name="cnao", spot_tables=tables, sad_mm=(6200.0, 5700.0), ripple_filter=RippleFilter()
    )


def default_ripple_filter(particle: str | Particle) -> bool:
    """Whether beams of ``particle`` use the line's ripple filter unless told otherwise:
    yes for carbon and heavier ions (as at CNAO, GSI and HIT, whose narrow pristine
    peaks need it), no for protons and helium."""
    return get_particle(particle).z >= 6
