"""Settings of the delivery simulation: the dose delivery system (DDS) and its monitor chambers.

The DDS follows the architecture of CNAO's (Giordanengo et al., Med. Phys. 42
(2015) 263): two independent transmission monitor chambers read by two
independent control chains, a fast beam chopper in the extraction line, the
scanning magnets, and an interlock that stops the irradiation when the two
chains disagree. The numbers below (chopper switching time, minimum spot
duration, chamber signal spread, tolerances) are ionbeam defaults of the
order such systems quote, not a facility's settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ionbeam.delivery.ripple import SpillRipple
from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.machine.facility import EXTRACTIONS

__all__ = [
    "BELOW_MINIMUM_POLICIES",
    "EXTRACTIONS",
    "EXTRACTION_WHEN_OFF",
    "INTENSITY_MODULATIONS",
    "SCAN_MODES",
    "SCAN_PATHS",
    "DeliveryOptions",
    "MonitorChamber",
    "MonitorSystem",
]

#: ``spot``: beam off while the magnets move; ``raster``: beam on during moves.
SCAN_MODES = ("spot", "raster")
#: Scan path within a layer (see :mod:`ionbeam.delivery.scan_path`).
SCAN_PATHS = ("optimised", "serpentine", "plan")
#: What to do with a spot whose particle count is above 0 but below the machine's minimum.
BELOW_MINIMUM_POLICIES = ("refuse", "round", "round-up", "drop")
#: ``dump``: the betatron core keeps extracting while the chopper is closed and those
#: particles go to the chopper's dump (PIMMS/CNAO); ``pause``: extraction stops
#: while the beam is off (RF knock-out switched off, HIT-style), nothing is lost.
EXTRACTION_WHEN_OFF = ("dump", "pause")
_SPILL_RAMPS = ("servo", "linear")
#: ``spot``: the spill feedback lowers the intensity for a spot that would otherwise be
#: shorter than ``min_spot_time_ms`` (that spot only); ``layer``: the whole layer runs at
#: the intensity its smallest spot allows.
INTENSITY_MODULATIONS = ("spot", "layer")
#: Extraction methods (:data:`ionbeam.machine.facility.EXTRACTIONS`): ``betatron``
#: (betatron core; the chopper dumps what is extracted while the beam is off) or ``rfko``
#: (RF knock-out at constant optics; extraction stops within a few turns when the
#: excitation is switched off).


def _check_finite(name: str, value: float, *, low: float = 0.0, strict: bool = False) -> None:
    ok = value > low if strict else value >= low
    if not (isinstance(value, (int, float)) and math.isfinite(value) and ok):
        relation = ">" if strict else "≥"
        raise ConfigError(f"{name} must be a finite number {relation} {low:g}; got {value!r}")


@dataclass(frozen=True)
class MonitorChamber:
    """One transmission monitor chamber, its reading calibrated to particles.

    A spot of n particles reads ``gain`` · n + ε with ε Gaussian of standard
    deviation ``signal_spread`` · √n: each particle's ionisation signal
    fluctuates (energy-loss straggling in the gas) by ``signal_spread`` of
    the mean, independently. ``gain`` = 1 is a calibrated chamber; 0.9 reads
    10 % low.
    """

    gain: float = 1.0
    signal_spread: float = 0.5

    def __post_init__(self) -> None:
        _check_finite("monitor chamber gain", self.gain, strict=True)
        _check_finite("monitor chamber signal_spread", self.signal_spread)


@dataclass(frozen=True)
class MonitorSystem:
    """The DDS's two chambers and the interlock that compares them.

    The DDS stops each spot when the ``primary`` chamber reaches the spot's
    particle count; the ``secondary`` chamber is the redundant check. The
    interlock trips when, for a spot, |secondary − primary| exceeds
    ``spot_tolerance`` · primary, or, summed over the field so far, exceeds
    ``cumulative_tolerance`` · Σ primary; each threshold is widened by
    ``n_sigma`` standard deviations of the difference the chambers' signal
    spread alone explains, so that noise does not trip it.
    """

    primary: MonitorChamber = field(default_factory=MonitorChamber)
    secondary: MonitorChamber = field(default_factory=MonitorChamber)
    spot_tolerance: float = 0.03
    cumulative_tolerance: float = 0.01
    n_sigma: float = 5.0

    def __post_init__(self) -> None:
        _check_finite("monitor spot_tolerance", self.spot_tolerance, strict=True)
        _check_finite("monitor cumulative_tolerance", self.cumulative_tolerance, strict=True)
        _check_finite("monitor n_sigma", self.n_sigma)

    @property
    def noisy(self) -> bool:
        """Whether readings need random numbers."""
        return self.primary.signal_spread > 0 or self.secondary.signal_spread > 0


@dataclass(frozen=True)
class DeliveryOptions:
    """How the plan is delivered (all keyword options of :func:`deliver_plan`).

    - ``scan_mode``: ``spot`` (beam off during every move; settling waited
      for) or ``raster`` (beam stays on; the particles that arrive during a
      move count towards the next spot and are recorded as its transit
      particles; moves longer than ``raster_beam_off_distance_mm`` are done
      with the beam off).
    - ``scan_path``: ``optimised`` (shortest of serpentine, nearest-neighbour
      and 2-opt tours, never longer than the plan's order), ``serpentine`` or
      ``plan`` (keep the plan's order).
    - ``below_minimum``: spots above 0 but below the machine's minimum:
      ``refuse`` (error), ``round`` (to 0 or the minimum, whichever is
      nearer), ``round-up`` (to the minimum) or ``drop`` (to 0). The record
      counts what was changed.
    - ``extraction_when_off``: ``dump`` or ``pause`` (see module constants).
    - ``variable_flat_top``: end the flat top (dump the rest of the spill)
      as soon as nothing more can be delivered in it, instead of waiting
      for the nominal spill length.
    - ``multi_energy_extraction``: continue with the next (lower) layer in
      the same flat top; ``None`` takes the machine cycle's setting.
    - ``spill_ramp``: betatron-core ramp of the reduced spill model.
    - ``chopper_switch_ms``: time for the chopper to let the beam through
      after the DDS asks (each beam-on costs it; the beam-off is anticipated
      so that a spot ends on its count).
    - ``min_spot_time_ms``: shortest spot the DDS can terminate precisely;
      the intensity of a layer is lowered (fewer particles per spill) so
      that its smallest spot lasts at least this long.
    - ``raster_max_transit_fraction``: in raster mode, the intensity is
      lowered so that the particles arriving during a move are at most this
      fraction of the next spot's.
    - ``min_intensity_fraction``: the lowest intensity the machine can run,
      as a fraction of its nominal particles per spill.
    - ``field_change_s``: time between fields (couch or room change) beyond
      the synchrotron's ramp-down; ``None`` takes the machine's.
    - ``intensity_modulation``: ``spot`` or ``layer`` (see module constants).
    - ``stretch_spill``: a spill run below full intensity lasts longer (the
      feedback slows the extraction; up to the machine's longest flat top)
      instead of holding fewer particles.
    - ``extraction``: ``betatron`` or ``rfko`` (see module constants);
      ``None`` takes the machine's. ``rfko`` implies
      ``extraction_when_off="pause"``.
    - ``ripple``: the spill's intensity ripple (:mod:`.ripple`); each spot
      ends off its count by what the ripple adds or takes during the
      chopper's switching time. ``None``: a smooth spill.
    - ``monitors``: the chambers and the interlock.
    """

    scan_mode: str = "spot"
    scan_path: str = "optimised"
    below_minimum: str = "refuse"
    extraction_when_off: str = "dump"
    variable_flat_top: bool = True
    multi_energy_extraction: bool | None = None
    spill_ramp: str = "servo"
    chopper_switch_ms: float = 0.1
    min_spot_time_ms: float = 0.1
    raster_beam_off_distance_mm: float = 10.0
    raster_max_transit_fraction: float = 0.5
    min_intensity_fraction: float = 0.01
    field_change_s: float | None = None
    intensity_modulation: str = "spot"
    stretch_spill: bool = True
    extraction: str | None = None
    ripple: SpillRipple | None = None
    monitors: MonitorSystem = field(default_factory=MonitorSystem)

    def __post_init__(self) -> None:
        for name, known in (
            ("scan_mode", SCAN_MODES),
            ("scan_path", SCAN_PATHS),
            ("below_minimum", BELOW_MINIMUM_POLICIES),
            ("extraction_when_off", EXTRACTION_WHEN_OFF),
            ("spill_ramp", _SPILL_RAMPS),
            ("intensity_modulation", INTENSITY_MODULATIONS),
        ):
            if getattr(self, name) not in known:
                raise UnknownNameError(name.replace("_", " "), getattr(self, name), known)
        for name in ("chopper_switch_ms", "min_spot_time_ms"):
            _check_finite(name, getattr(self, name))
        if self.field_change_s is not None:
            _check_finite("field_change_s", self.field_change_s)
        if self.extraction is not None and self.extraction not in EXTRACTIONS:
            raise UnknownNameError("extraction", self.extraction, EXTRACTIONS)
        if self.ripple is not None and not isinstance(self.ripple, SpillRipple):
            raise ConfigError(f"ripple must be a SpillRipple; got {type(self.ripple).__name__}")
        if not isinstance(self.stretch_spill, bool):
            raise ConfigError(f"stretch_spill must be true or false; got {self.stretch_spill!r}")
        _check_finite("raster_beam_off_distance_mm", self.raster_beam_off_distance_mm, strict=True)
        _check_finite("raster_max_transit_fraction", self.raster_max_transit_fraction, strict=True)
        fraction = self.min_intensity_fraction
        if not (isinstance(fraction, (int, float)) and 0 < fraction <= 1):
            raise ConfigError(f"min_intensity_fraction must be within (0, 1]; got {fraction!r}")
        if not isinstance(self.monitors, MonitorSystem):
            raise ConfigError(
                f"monitors must be a MonitorSystem; got {type(self.monitors).__name__}"
            )
