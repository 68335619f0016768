"""Spill ripple: the extracted intensity modulated at the power supplies' frequencies.

The tune of a slowly extracted beam moves with every ripple of the
quadrupole, sextupole and dipole currents, and the extraction rate follows
(amplified by the small tune distance); spill intensities of synchrotrons
therefore carry lines at the mains frequency and its harmonics (50, 100,
150 Hz; 300 and 600 Hz from six- and twelve-pulse rectifiers), the
"spill ripple" that feedback loops and RF knock-out reduce. ionbeam models
the relative intensity as

    I(t)/Ī = 1 + Σ_k a_k sin(2π f_k t + φ_k),

with the phases φ_k drawn per spill. The duty factor ⟨I⟩²/⟨I²⟩ =
1/(1 + Σ a_k²/2) is the usual figure of merit.

What it does to the dose: the dose delivery system (DDS) ends a spot by
anticipating the chopper's switching time t_ch at the spot's nominal
intensity; the particles that really arrive in that window are
I(t_end)·t_ch, so each spot is off by Ī·t_ch·(I(t_end)/Ī − 1) particles, a
relative error that is largest for small, short spots
(:func:`spot_count_errors`). The harmonic weights of :func:`mains_ripple`
are an ionbeam assumption, not a measured spectrum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import ConfigError

__all__ = ["MAINS_HARMONICS_HZ", "SpillRipple", "mains_ripple", "spot_count_errors"]

#: Mains (50 Hz) harmonics that dominate spill ripple, Hz, and their relative weights.
MAINS_HARMONICS_HZ = (50.0, 100.0, 150.0, 300.0, 600.0)
_MAINS_WEIGHTS = (1.0, 0.7, 0.5, 0.5, 0.3)


@dataclass(frozen=True)
class SpillRipple:
    """Relative amplitudes ``amplitudes`` (fractions of the mean intensity) of intensity
    lines at ``frequencies_hz``."""

    frequencies_hz: tuple[float, ...]
    amplitudes: tuple[float, ...]

    def __post_init__(self) -> None:
        f = np.asarray(self.frequencies_hz, float)
        a = np.asarray(self.amplitudes, float)
        if f.shape != a.shape or f.ndim != 1:
            raise ConfigError("spill ripple: give one amplitude per frequency")
        if not (np.all(np.isfinite(f)) and np.all(f > 0)):
            raise ConfigError(f"spill ripple frequencies must be positive Hz; got {f.tolist()}")
        if not (np.all(np.isfinite(a)) and np.all(a >= 0)) or a.sum() >= 1.0:
            raise ConfigError(
                "spill ripple amplitudes must be ≥ 0 and sum to less than 1 (the intensity "
                f"must stay positive); got {a.tolist()}"
            )

    @property
    def rms(self) -> float:
        """rms of the relative intensity modulation, √(Σ a²/2)."""
        return float(math.sqrt(np.sum(np.square(self.amplitudes)) / 2.0))

    @property
    def duty_factor(self) -> float:
        """⟨I⟩²/⟨I²⟩ = 1/(1 + rms²)."""
        return 1.0 / (1.0 + self.rms**2)

    def relative_intensity(self, t_s: ArrayLike, phases_rad: ArrayLike) -> np.ndarray:
        """I(t)/Ī at times ``t_s`` (s from the spill's start) for per-line ``phases_rad``
        (shape (..., n_lines), broadcast against ``t_s``)."""
        t = np.asarray(t_s, float)[..., None]
        f = np.asarray(self.frequencies_hz, float)
        a = np.asarray(self.amplitudes, float)
        return 1.0 + np.sum(a * np.sin(2 * np.pi * f * t + np.asarray(phases_rad)), axis=-1)


def mains_ripple(rms_fraction: float) -> SpillRipple:
    """A ripple of total rms ``rms_fraction`` spread over the mains harmonics."""
    if not (math.isfinite(rms_fraction) and 0 <= rms_fraction < 0.5):
        raise ConfigError(f"spill ripple rms must be within [0, 0.5); got {rms_fraction}")
    w = np.asarray(_MAINS_WEIGHTS)
    scale = rms_fraction / math.sqrt(np.sum(w**2) / 2.0)
    return SpillRipple(MAINS_HARMONICS_HZ, tuple(float(v) for v in w * scale))


def spot_count_errors(
    ripple: SpillRipple,
    spot_rate_pps: np.ndarray,
    end_in_spill_s: np.ndarray,
    spill_phases_rad: np.ndarray,
    chopper_s: float,
) -> np.ndarray:
    """Particles each spot gets beyond (or short of) its count under ripple.

    ``spot_rate_pps``: the spot's nominal intensity (its count over its beam-on time);
    ``end_in_spill_s``: when it ends, from its spill's start; ``spill_phases_rad``: the
    ripple phases of its spill (n_spots × n_lines). Rounded to whole particles.
    """
    excess = ripple.relative_intensity(end_in_spill_s, spill_phases_rad) - 1.0
    return np.rint(spot_rate_pps * chopper_s * excess).astype(np.int64)
