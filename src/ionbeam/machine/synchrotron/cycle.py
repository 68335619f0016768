"""Synchrotron cycle timing: injection, acceleration, flat top with the spill, ramp down.

A cycle at one extraction energy: flat bottom for injection and capture,
the dipole ramp up (at ``ramp_rate_t_per_s``, with rounded starts and
stops), a flat-top set-up (debunching, betatron core to its start), the
spill, the ramp down (optionally via the maximum field to reset the
magnets' hysteresis), back to injection. The energy changes only between
cycles; with ``multi_energy_extraction`` the flat top can instead step down
in energy while particles remain (HIT/MedAustron-style multiple-energy
operation).

Defaults are of the order quoted for PIMMS/CNAO/MedAustron (main-dipole
ramps of about 3 T/s; MedAustron runs 4–5 s spills with 1–2 s between them
for carbon) and are ionbeam parameters, not a facility's settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import ConfigError
from ionbeam.machine.synchrotron.ring import Synchrotron
from ionbeam.physics.particles import Particle

__all__ = ["CycleTiming"]


def _positive(name: str, value: float, *, allow_zero: bool = True) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and ok):
        raise ConfigError(
            f"cycle timing: {name} must be {'≥' if allow_zero else '>'} 0; got {value}"
        )


@dataclass(frozen=True)
class CycleTiming:
    """Durations of the synchrotron cycle (s) for any particle and extraction energy.

    ``transition_s`` is added at each start and stop of a ramp (the rounding
    of the field's time profile); ``energy_step_s`` is the set-up time of one
    downward energy step on the flat top (multi-energy extraction only).
    """

    synchrotron: Synchrotron
    ramp_rate_t_per_s: float = 3.0
    injection_s: float = 0.05
    transition_s: float = 0.05
    flat_top_setup_s: float = 0.10
    spill_length_s: float = 1.0
    reset_to_max_field: bool = False
    multi_energy_extraction: bool = False
    energy_step_s: float = 0.10

    def __post_init__(self) -> None:
        _positive("ramp_rate_t_per_s", self.ramp_rate_t_per_s, allow_zero=False)
        _positive("spill_length_s", self.spill_length_s, allow_zero=False)
        for name in ("injection_s", "transition_s", "flat_top_setup_s", "energy_step_s"):
            _positive(name, getattr(self, name))

    def _field(self, particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray:
        return np.asarray(self.synchrotron.dipole_field_t(particle, energy_mev_u), float)

    def ramp_up_s(self, particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray:
        """From injection to the flat top at ``energy_mev_u``, s."""
        swing = self._field(particle, energy_mev_u) - self.synchrotron.injection_field_t(particle)
        return 2 * self.transition_s + swing / self.ramp_rate_t_per_s

    def ramp_down_s(self, particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray:
        """From the flat top back to injection (via the maximum field when resetting), s."""
        b_top = self._field(particle, energy_mev_u)
        b_inj = self.synchrotron.injection_field_t(particle)
        if self.reset_to_max_field:
            b_max = self.synchrotron.max_field_t
            swing = (b_max - b_top) + (b_max - b_inj)
            return 4 * self.transition_s + swing / self.ramp_rate_t_per_s
        return 2 * self.transition_s + (b_top - b_inj) / self.ramp_rate_t_per_s

    def spill_start_s(self, particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray:
        """From the start of the cycle to the start of the spill, s."""
        return self.injection_s + self.ramp_up_s(particle, energy_mev_u) + self.flat_top_setup_s

    def cycle_s(self, particle: str | Particle, energy_mev_u: ArrayLike) -> np.ndarray:
        """Length of one full cycle with one spill at ``energy_mev_u``, s."""
        return (
            self.spill_start_s(particle, energy_mev_u)
            + self.spill_length_s
            + self.ramp_down_s(particle, energy_mev_u)
        )

    def gap_s(
        self,
        particle: str | Particle,
        from_energy_mev_u: ArrayLike,
        to_energy_mev_u: ArrayLike,
    ) -> np.ndarray:
        """Beam-off time from the end of a spill at one energy to the next spill at another.

        A new cycle (ramp down, inject, ramp up) unless multi-energy extraction
        is on and the next energy is lower, in which case the flat top steps
        down (set-up plus the field change at the ramp rate).
        """
        e_from = np.asarray(from_energy_mev_u, float)
        e_to = np.asarray(to_energy_mev_u, float)
        new_cycle = self.ramp_down_s(particle, e_from) + self.spill_start_s(particle, e_to)
        if not self.multi_energy_extraction:
            return new_cycle
        step = (
            self.energy_step_s
            + (self._field(particle, e_from) - self._field(particle, e_to)) / self.ramp_rate_t_per_s
        )
        return np.where(e_to < e_from, step, new_cycle)
