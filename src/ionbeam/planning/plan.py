"""The treatment plan: beams, energy layers and spots, and the prescription.

A plan is Plan → Beam → spots, with the spots of a beam held as parallel
arrays (structure-of-arrays, never one object per spot: a carbon plan has
10⁴–10⁵ spots). Spot weights are numbers of particles per fraction. Within a
beam, spots are kept in delivery order: energy layers from the highest energy
to the lowest, and within a layer in scan order. Everything is immutable;
``with_weights`` returns a new plan.

matRad readers: the spot arrays of all beams together play the role of
``stf`` (steering information); the weights are matRad's ``w``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ionbeam.errors import ConfigError, GridMismatchError
from ionbeam.physics.particles import get_particle

if TYPE_CHECKING:
    from ionbeam.planning.geometry import BeamGeometry

__all__ = ["Beam", "Plan", "Prescription", "SpotMap"]


def _frozen_array(values: Any, name: str, dtype: type = np.float64) -> np.ndarray:
    array: np.ndarray = np.array(values, dtype=dtype, copy=True).reshape(-1)
    if not np.all(np.isfinite(array)):
        raise GridMismatchError(f"spot {name} must be finite; found NaN or infinity")
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class SpotMap:
    """The spots of one beam as parallel arrays.

    ``x_mm``, ``y_mm``: spot positions in the beam's-eye-view plane through the
    isocentre (mm); ``energy_mev_u``: the energy of each spot's layer;
    ``weight``: particles per fraction (≥ 0).
    """

    energy_mev_u: np.ndarray
    x_mm: np.ndarray
    y_mm: np.ndarray
    weight: np.ndarray

    def __post_init__(self) -> None:
        for name in ("energy_mev_u", "x_mm", "y_mm", "weight"):
            object.__setattr__(self, name, _frozen_array(getattr(self, name), name))
        n = self.energy_mev_u.size
        sizes = {a.size for a in (self.x_mm, self.y_mm, self.weight)}
        if sizes != {n}:
            raise GridMismatchError(
                "spot arrays energy_mev_u, x_mm, y_mm and weight must have the same length; "
                f"got {n} energies and sizes {sorted(sizes)}"
            )
        if np.any(self.weight < 0):
            raise ConfigError("spot weights are particles and must be ≥ 0; found negative ones")
        if np.any(self.energy_mev_u <= 0):
            raise ConfigError("spot energies must be positive (MeV/u)")

    @classmethod
    def empty(cls) -> SpotMap:
        """A spot map with no spots."""
        return cls(np.empty(0), np.empty(0), np.empty(0), np.empty(0))

    @property
    def n_spots(self) -> int:
        """Number of spots."""
        return int(self.energy_mev_u.size)

    @property
    def total_particles(self) -> float:
        """Sum of the spot weights (particles per fraction)."""
        return float(self.weight.sum())

    def layer_energies(self) -> np.ndarray:
        """The distinct layer energies in delivery order (highest first), MeV/u."""
        return np.unique(self.energy_mev_u)[::-1]

    def layer_indices(self) -> list[np.ndarray]:
        """For each layer (highest energy first), the indices of its spots in scan order."""
        return [np.flatnonzero(self.energy_mev_u == e) for e in self.layer_energies()]

    def with_weights(self, weight: np.ndarray) -> SpotMap:
        """A copy with new weights (particles per fraction)."""
        return replace(self, weight=np.asarray(weight, dtype=float))

    def select(self, index: np.ndarray) -> SpotMap:
        """The spots at ``index`` (an integer or boolean index array), in that order."""
        return SpotMap(
            self.energy_mev_u[index], self.x_mm[index], self.y_mm[index], self.weight[index]
        )


@dataclass(frozen=True, eq=False)
class Beam:
    """One treatment field: its geometry and spots, plus beam modifiers.

    ``range_shifter_wet_mm``: water-equivalent thickness of a range shifter in
    the nozzle (0 for none); ``ripple_filter``: whether a ripple filter
    (carbon) broadens the Bragg peaks.
    """

    name: str
    geometry: BeamGeometry
    spots: SpotMap
    range_shifter_wet_mm: float = 0.0
    ripple_filter: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.range_shifter_wet_mm) or self.range_shifter_wet_mm < 0:
            raise ConfigError(
                f"range shifter thickness must be ≥ 0 mm water-equivalent; "
                f"got {self.range_shifter_wet_mm}"
            )

    def with_spots(self, spots: SpotMap) -> Beam:
        """A copy of this beam with other spots."""
        return replace(self, spots=spots)


#: Largest total prescribed dose accepted, Gy or Gy(RBE): ten times the highest
#: curative prescriptions; anything above is a typo (or a fuzzed file), not a plan.
MAX_PRESCRIBED_DOSE_GY = 1000.0


@dataclass(frozen=True)
class Prescription:
    """What the target should receive: total dose over ``fractions`` fractions.

    ``total_dose_gy`` is RBE-weighted (Gy(RBE)) when the plan uses an RBE
    model and physical (Gy) otherwise.
    """

    target: str
    total_dose_gy: float
    fractions: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.total_dose_gy, (int, float)) and math.isfinite(self.total_dose_gy)):
            raise ConfigError(
                f"prescribed dose must be a finite number of Gy; got {self.total_dose_gy}"
            )
        if not 0 < self.total_dose_gy <= MAX_PRESCRIBED_DOSE_GY:
            raise ConfigError(
                f"prescribed dose must be > 0 Gy and ≤ {MAX_PRESCRIBED_DOSE_GY:g} Gy in total; "
                f"got {self.total_dose_gy}"
            )
        if int(self.fractions) != self.fractions or self.fractions < 1:
            raise ConfigError(
                f"number of fractions must be a positive integer; got {self.fractions}"
            )
        if not str(self.target).strip():
            raise ConfigError("the prescription needs the name of a target structure")

    @property
    def dose_per_fraction_gy(self) -> float:
        """Dose per fraction, Gy or Gy(RBE)."""
        return self.total_dose_gy / self.fractions


@dataclass(frozen=True, eq=False)
class Plan:
    """A treatment plan: one particle, one or more beams, a prescription.

    Spot weights of all beams, concatenated beam by beam, form the plan's
    weight vector (``weights``), which is what the dose-influence matrix
    multiplies (columns in the same order).
    """

    particle: str
    beams: tuple[Beam, ...]
    prescription: Prescription
    machine: str = "cnao"
    rbe_model: str = "none"
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "particle", get_particle(self.particle).name)
        object.__setattr__(self, "beams", tuple(self.beams))
        if not self.beams:
            raise ConfigError("a plan needs at least one beam")
        names = [b.name for b in self.beams]
        if len(set(names)) != len(names):
            raise ConfigError(f"beam names must be unique; got {names}")

    @property
    def n_spots(self) -> int:
        """Total number of spots over all beams."""
        return sum(b.spots.n_spots for b in self.beams)

    @property
    def beam_offsets(self) -> np.ndarray:
        """Index of each beam's first spot in the plan's weight vector; last entry = n_spots."""
        return np.concatenate([[0], np.cumsum([b.spots.n_spots for b in self.beams])]).astype(int)

    @property
    def weights(self) -> np.ndarray:
        """All spot weights (particles per fraction), beam by beam."""
        return np.concatenate([b.spots.weight for b in self.beams])

    def with_weights(self, weights: np.ndarray) -> Plan:
        """A copy with new spot weights (particles per fraction) for all beams."""
        weights = np.asarray(weights, dtype=float).reshape(-1)
        if weights.size != self.n_spots:
            raise GridMismatchError(
                f"the plan has {self.n_spots} spots but {weights.size} weights were given"
            )
        offsets = self.beam_offsets
        beams = tuple(
            beam.with_spots(beam.spots.with_weights(weights[offsets[i] : offsets[i + 1]]))
            for i, beam in enumerate(self.beams)
        )
        return replace(self, beams=beams)
