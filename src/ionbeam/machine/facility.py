"""The whole machine as the planning and delivery code see it.

:class:`Machine` ties together the synchrotron (ring, limits, cycle timing,
spill model), the energy library of each particle, the treatment beam line,
the intensity per spill, the dose-delivery limits per spot and the scanning
magnets. Intensities follow the PIMMS/MedAustron design (about 1×10¹⁰
protons and 4×10⁸ carbon ions extracted per spill); helium and oxygen are
scaled with the space-charge-like 1/Z² rule of thumb (ionbeam default).
Scanning speeds (mm/ms at the isocentre), settling time and per-spot
limits are of the order of CNAO's dose delivery system and are ionbeam
defaults.

Beam directions: CNAO treats from fixed lines — horizontal beams (gantry 90°,
or 270° with the couch turned half a turn) and, in its central room, a vertical
one (gantry 0°) — and turns the patient with the couch about the vertical axis
(``fixed_lines``); the PIMMS study also designed gantries (a proton gantry and
the "Riesenrad" ion gantry), so ``pimms`` accepts any gantry angle.
:meth:`Machine.check_beam_direction` refuses a direction the machine cannot give.

Extraction energies: the ring reaches every energy its rigidity range allows,
but the facility is built and commissioned for a narrower span per particle (the
ring's ``extraction_limits_mev_u``, see :mod:`.synchrotron.ring`);
:meth:`Machine.check_energy` is the one place that checks them.
``range_shifter_wet_mm``: the removable range shifter of the nozzle (an ionbeam
default of 30 mm water-equivalent thickness, of the order of CNAO's), inserted
by the planner for targets shallower than the lowest energy reaches.

What differs between the machines (and so reaches delivery): the ring (its
optics, hence the spill model), the injection energies and the per-particle
extraction limits (:mod:`.synchrotron.ring`), the cycle (spill length; the
beam-off time between spills follows from the ramps), the longest flat top
a stretched spill may last, the field-change time and the extraction
method. MedAustron runs long spills (up to 10 s, typically 5 s for
carbon) with 1–2 s between spills (the CycleTiming defaults give 1.1–1.7 s
there); PIMMS and CNAO run 1 s spills. The field-change time (couch
rotation and set-up check between the fields of a fraction, fixed beam
lines at all three) is an ionbeam assumption, the same for the three.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ionbeam.errors import ConfigError, GeometryError, UnknownNameError
from ionbeam.machine.beamline import BeamLine, cnao_beam_line
from ionbeam.machine.energy_library import EnergyLibrary, cnao_energy_library
from ionbeam.machine.synchrotron.cycle import CycleTiming
from ionbeam.machine.synchrotron.ring import (
    Synchrotron,
    cnao_synchrotron,
    medaustron_synchrotron,
    pimms_synchrotron,
)
from ionbeam.machine.synchrotron.spill import CirculatingBeam, SpillModel, reduced_spill_model
from ionbeam.physics.particles import Particle, get_particle

#: Extraction methods a machine can run (see :mod:`ionbeam.delivery.options`).
EXTRACTIONS = ("betatron", "rfko")

__all__ = [
    "Machine",
    "ScanningSystem",
    "SpotLimits",
    "cnao_machine",
    "medaustron_machine",
    "pimms_machine",
]

#: Extracted particles per spill (PIMMS/MedAustron design values; He, O scaled by 1/Z²).
DEFAULT_PARTICLES_PER_SPILL = {"proton": 1.0e10, "helium": 2.5e9, "carbon": 4.0e8, "oxygen": 2.25e8}
#: Extraction energies the facility is designed for, MeV/u (PIMMS report CERN-2000-006 and
#: CNAO: protons 60–250 MeV, carbon ions 120–400 MeV/u).
#: CNAO's fixed beam lines: gantry angles (IEC 61217) each line gives, degrees.
CNAO_FIXED_LINES = {"horizontal": (90.0, 270.0), "vertical": (0.0,)}
#: Range shifter of the nozzle, mm water-equivalent thickness (ionbeam default).
DEFAULT_RANGE_SHIFTER_WET_MM = 30.0
#: How far (degrees) a gantry angle may be from a fixed line's.
_ANGLE_TOLERANCE_DEG = 1e-6


@dataclass(frozen=True)
class ScanningSystem:
    """Scanning magnets: speeds at the isocentre (mm/ms) and the settling time after a move (ms)."""

    speed_x_mm_per_ms: float = 20.0
    speed_y_mm_per_ms: float = 5.0
    settling_time_ms: float = 0.1

    def __post_init__(self) -> None:
        for name in ("speed_x_mm_per_ms", "speed_y_mm_per_ms"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be positive; got {value}")
        if not (math.isfinite(self.settling_time_ms) and self.settling_time_ms >= 0):
            raise ConfigError(f"settling_time_ms must be ≥ 0; got {self.settling_time_ms}")

    def move_time_ms(self, dx_mm: float, dy_mm: float) -> float:
        """Time to move the spot by (dx, dy) mm: both magnets at once, plus settling, ms."""
        travel = max(abs(dx_mm) / self.speed_x_mm_per_ms, abs(dy_mm) / self.speed_y_mm_per_ms)
        return travel + (self.settling_time_ms if travel > 0 else 0.0)


@dataclass(frozen=True)
class SpotLimits:
    """Fewest and most particles the dose delivery system can give one spot."""

    min_particles: float
    max_particles: float

    def __post_init__(self) -> None:
        if not (0 < self.min_particles < self.max_particles):
            raise ConfigError(
                "need 0 < min_particles < max_particles per spot; got "
                f"{self.min_particles} and {self.max_particles}"
            )


@dataclass(frozen=True)
class Machine:
    """A treatment facility: synchrotron, cycle, energy libraries, beam line, intensities."""

    name: str
    synchrotron: Synchrotron
    cycle: CycleTiming
    energy_libraries: Mapping[str, EnergyLibrary]
    beam_line: BeamLine
    particles_per_spill: Mapping[str, float]
    spot_limits: Mapping[str, SpotLimits]
    scanning: ScanningSystem = field(default_factory=ScanningSystem)
    circulating_beam: CirculatingBeam = field(default_factory=CirculatingBeam)
    fixed_lines: Mapping[str, tuple[float, ...]] | None = None
    range_shifter_wet_mm: float | None = DEFAULT_RANGE_SHIFTER_WET_MM
    field_change_s: float = 30.0
    max_spill_length_s: float = 5.0
    extraction: str = "betatron"

    def __post_init__(self) -> None:
        for name in ("energy_libraries", "particles_per_spill", "spot_limits"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        if self.fixed_lines is not None:
            lines = {str(k): tuple(float(a) for a in v) for k, v in self.fixed_lines.items()}
            object.__setattr__(self, "fixed_lines", MappingProxyType(lines))
        shifter = self.range_shifter_wet_mm
        if shifter is not None and not (math.isfinite(shifter) and shifter > 0):
            raise ConfigError(f"range_shifter_wet_mm must be > 0 mm or None; got {shifter}")

        if not (math.isfinite(self.field_change_s) and self.field_change_s >= 0):
            raise ConfigError(f"field_change_s must be ≥ 0 s; got {self.field_change_s}")
        if not (
            math.isfinite(self.max_spill_length_s)
            and self.max_spill_length_s >= self.cycle.spill_length_s
        ):
            raise ConfigError(
                f"max_spill_length_s must be at least the spill length "
                f"({self.cycle.spill_length_s} s); got {self.max_spill_length_s}"
            )
        if self.extraction not in EXTRACTIONS:
            raise UnknownNameError("extraction", self.extraction, EXTRACTIONS)

    def energy_range_mev_u(self, particle: str | Particle) -> tuple[float, float]:
        """Lowest and highest extraction energy of ``particle`` on this machine, MeV/u
        (the ring's rigidity range narrowed by the facility's per-particle limits)."""
        return self.synchrotron.energy_range_mev_u(self._key(particle))

    def check_energy(self, particle: str | Particle, energy_mev_u: object) -> None:
        """Refuse (:class:`MachineLimitError`, one line) an energy this machine does not
        extract for ``particle``: the ring's per-particle limits, then the energy library."""
        self.synchrotron.check_energy(particle, energy_mev_u)  # type: ignore[arg-type]
        self.energy_library(particle).check(energy_mev_u)  # type: ignore[arg-type]

    def check_beam_direction(self, gantry_deg: float, *, beam: str = "beam") -> None:
        """Refuse a gantry angle this machine cannot give (a fixed-line machine gives only
        its lines' angles; the couch turns the patient about the vertical axis)."""
        if self.fixed_lines is None:
            return
        for angles in self.fixed_lines.values():
            if any(abs((gantry_deg - a + 180.0) % 360.0 - 180.0) < _ANGLE_TOLERANCE_DEG
                   for a in angles):  # fmt: skip
                return
        lines = "; ".join(
            f"{name}: gantry {' or '.join(f'{a:g}°' for a in angles)}"
            for name, angles in self.fixed_lines.items()
        )
        raise GeometryError(
            f"{beam}: gantry {gantry_deg:g}° cannot be given by {self.name}, which has fixed "
            f"beam lines ({lines}) and turns the patient with the couch; use one of these "
            "gantry angles with a couch angle, or a machine with a gantry (pimms)"
        )

    @property
    def particles(self) -> tuple[str, ...]:
        """Particles this machine delivers."""
        return tuple(self.energy_libraries)

    def _key(self, particle: str | Particle) -> str:
        name = get_particle(particle).name
        if name not in self.energy_libraries:
            raise UnknownNameError(f"particle of machine {self.name}", name, self.energy_libraries)
        return name

    def energy_library(self, particle: str | Particle) -> EnergyLibrary:
        """The energy library of ``particle``."""
        return self.energy_libraries[self._key(particle)]

    def spill_particles(self, particle: str | Particle) -> float:
        """Particles extracted per spill."""
        return float(self.particles_per_spill[self._key(particle)])

    def spot_limit(self, particle: str | Particle) -> SpotLimits:
        """Per-spot particle limits of ``particle``."""
        return self.spot_limits[self._key(particle)]

    def spill_model(
        self, particle: str | Particle, energy_mev_u: float, *, ramp: str = "servo"
    ) -> SpillModel:
        """The reduced spill model at a library energy (checked), with the cycle's spill length."""
        self.energy_library(particle).check(energy_mev_u)
        return reduced_spill_model(
            self.synchrotron,
            particle,
            energy_mev_u,
            beam=self.circulating_beam,
            spill_length_s=self.cycle.spill_length_s,
            extracted_particles=self.spill_particles(particle),
            ramp=ramp,
        )

    def with_cycle(self, **changes: Any) -> Machine:
        """A copy whose cycle timing has ``changes`` (e.g. ``spill_length_s=4.0``); the
        longest flat top grows with the spill when needed."""
        cycle = replace(self.cycle, **changes)
        longest = max(self.max_spill_length_s, cycle.spill_length_s)
        return replace(self, cycle=cycle, max_spill_length_s=longest)


def _spot_limits() -> dict[str, SpotLimits]:
    return {
        "proton": SpotLimits(1.0e5, 1.0e9),
        "helium": SpotLimits(3.0e4, 3.0e8),
        "carbon": SpotLimits(5.0e3, 5.0e7),
        "oxygen": SpotLimits(3.0e3, 3.0e7),
    }


def _machine(
    name: str,
    synchrotron: Synchrotron,
    spill_length_s: float,
    fixed_lines: Mapping[str, tuple[float, ...]] | None,
    **settings: object,
) -> Machine:
    particles = ("proton", "helium", "carbon", "oxygen")
    return Machine(
        name=name,
        synchrotron=synchrotron,
        cycle=CycleTiming(synchrotron, spill_length_s=spill_length_s),
        energy_libraries={p: cnao_energy_library(p) for p in particles},
        beam_line=cnao_beam_line(),
        particles_per_spill=DEFAULT_PARTICLES_PER_SPILL,
        spot_limits=_spot_limits(),
        fixed_lines=fixed_lines,
        **settings,  # type: ignore[arg-type]
    )


def cnao_machine() -> Machine:
    """CNAO: its ring (public optics), energy tables and beam line, 1 s spills, flat tops
    stretched up to 5 s, betatron-core extraction;
    fixed horizontal and vertical beam lines."""
    return _machine("cnao", cnao_synchrotron(), 1.0, CNAO_FIXED_LINES)


def pimms_machine() -> Machine:
    """The PIMMS design on CNAO's energy tables and beam line, 1 s spills (PIMMS's design
    spill), with a gantry (any gantry angle)."""
    return _machine("pimms", pimms_synchrotron(), 1.0, None)


def medaustron_machine() -> Machine:
    """MedAustron: the CNAO-design ring with protons to 800 MeV, 5 s spills (flat tops up
    to 10 s), 1–2 s between spills, CNAO's energy tables and beam line (MedAustron's own
    are not public)."""
    return _machine(
        "medaustron", medaustron_synchrotron(), 5.0, CNAO_FIXED_LINES, max_spill_length_s=10.0
    )
