"""RF knock-out extraction with a spill-feedback loop (thin virtual-sextupole tracking).

RF knock-out (KO) keeps the optics constant: the tune sits a fixed distance
δQ from the third-integer resonance, the stable triangle does not move, and
a transverse exciter heats the beam with a band-limited noise (or a chirp)
around the betatron frequency until particles cross the separatrix and
spiral out to the septum (K. Hiramoto et al., Nucl. Instrum. Methods A 322
(1992) 154; used at HIT, CNAO and MedAustron). The extraction rate grows
with the excitation power, so a feedback loop that measures the extracted
intensity and adjusts the exciter's amplitude makes the spill flat, and
switching the exciter off stops the extraction within turns (the beam can
be paused, which the delivery's ``extraction="rfko"`` uses).

ionbeam tracks this turn by turn with the ring's thin virtual-sextupole map
at the septum (:mod:`._rfko_kernels`: S, the phase to the septum and the
tune from :func:`.spill.extraction_setup`), the kick as a normalised
X'-kick at the sextupole, each particle at the tune its momentum gives
through the chromaticity (constant optics: the beam's tune spread is what
lets the excitation reach particles one after another; a swept chirp does
so more evenly than band-limited noise, whose power fluctuates over the
feedback's blocks). The loop: after each block of turns it
compares the particles extracted with the target and multiplies the
amplitude by exp(g·(target − n)/target). Macro-particle counts are Poisson:
a flat spill shows a block-to-block rms of about 1/√n, which is the
floor the tests compare with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ionbeam.errors import OutOfRangeError, UnknownNameError
from ionbeam.machine.kinematics import lorentz_beta, lorentz_gamma
from ionbeam.machine.synchrotron import _rfko_kernels as kernels
from ionbeam.machine.synchrotron.ring import Synchrotron
from ionbeam.machine.synchrotron.spill import extraction_setup
from ionbeam.physics.particles import Particle, get_particle

__all__ = ["RfkoSpill", "excitation", "track_rfko_spill"]

_WAVEFORMS = ("noise", "chirp")
#: Largest change of the exciter amplitude per feedback block (slew-rate limits: the
#: extraction answers an amplitude change only after the particles diffuse to the
#: separatrix, so a fast loop winds up and bursts).
_FASTEST_UP, _FASTEST_DOWN = 1.05, 0.7


@dataclass(frozen=True, eq=False)
class RfkoSpill:
    """A tracked RF-KO spill: per block of ``block_turns`` turns, the particles extracted and
    lost on the septum and the exciter amplitude (√m per turn, normalised kick rms); per
    particle the turn it left (−1: still circulating)."""

    block_turns: int
    extracted: np.ndarray
    septum_losses: np.ndarray
    amplitude: np.ndarray
    exit_turn: np.ndarray
    revolution_frequency_hz: float
    target_per_block: float

    @property
    def block_time_s(self) -> np.ndarray:
        """Start of each block, s."""
        return np.arange(self.extracted.size) * self.block_turns / self.revolution_frequency_hz

    @property
    def intensity_pps(self) -> np.ndarray:
        """Extracted macro-particles per second in each block."""
        return self.extracted * self.revolution_frequency_hz / self.block_turns

    def relative_ripple(self, settle_fraction: float = 0.2) -> float:
        """Block-to-block rms / mean of the extracted counts after the first
        ``settle_fraction`` of the spill."""
        counts = self.extracted[int(settle_fraction * self.extracted.size) :].astype(float)
        return float(np.std(counts) / np.mean(counts)) if counts.mean() > 0 else math.inf

    @property
    def extraction_efficiency(self) -> float:
        """Extracted / (extracted + lost on the septum wires)."""
        total = self.extracted.sum() + self.septum_losses.sum()
        return float(self.extracted.sum() / total) if total else 0.0


def excitation(
    n_turns: int, band: tuple[float, float], *, waveform: str, rng: np.random.Generator
) -> np.ndarray:
    """Unit-rms exciter samples, one per turn, over the fractional-tune ``band``: ``noise``
    (400 lines of random phase spread uniformly over the band) or ``chirp`` (a linear sweep
    across it, repeated every 500 turns)."""
    t = np.arange(n_turns)
    low, high = min(band), max(band)
    if waveform == "noise":
        lines = rng.uniform(low, high, 400)
        phases = rng.uniform(0.0, 2 * np.pi, 400)
        s = np.sum(np.cos(2 * np.pi * lines[:, None] * t + phases[:, None]), axis=0)
    elif waveform == "chirp":
        period = 500
        freq = low + (high - low) * (t % period) / period
        s = np.cos(2 * np.pi * np.cumsum(freq))
    else:
        raise UnknownNameError("RF-KO waveform", waveform, _WAVEFORMS)
    return s / np.std(s)


def track_rfko_spill(
    synchrotron: Synchrotron,
    particle: str | Particle,
    energy_mev_u: float,
    *,
    tune_distance: float = 0.005,
    normalised_emittance_x_m: float = 0.5e-6,
    momentum_half_width: float = 1.0e-3,
    n_particles: int = 3000,
    n_turns: int = 40000,
    block_turns: int = 1000,
    extract_fraction: float = 0.8,
    feedback_gain: float = 0.1,
    feedback: bool = True,
    waveform: str = "chirp",
    initial_amplitude: float | None = None,
    seed: int = 1,
) -> RfkoSpill:
    """Track an RF-KO spill of ``n_turns`` turns with (or without) the spill feedback.

    The feedback aims at extracting ``extract_fraction`` of the beam at a
    constant rate over the spill, starting from ``initial_amplitude``
    (normalised kick rms per turn, √m; default h/600 with h the stable
    triangle's inradius) and never exceeding h/20 per turn. Without feedback
    the amplitude stays at its initial value. The excitation covers the
    fractional tunes from the resonance to the bare tune and 0.002 beyond
    (the tune of a particle falls towards the resonance as its amplitude
    grows towards the separatrix).
    """
    if not (0 < tune_distance < 0.05):
        raise OutOfRangeError("RF-KO tune distance", tune_distance, 0.0, 0.05)
    if n_particles < 10 or n_turns < 2 * block_turns or block_turns < 10:
        raise OutOfRangeError("RF-KO particles / turns (need ≥ 10 and two blocks)",
                              n_particles, 10, math.inf)  # fmt: skip
    ion = get_particle(particle)
    setup = extraction_setup(synchrotron)
    septum = synchrotron.layout.septum
    root_beta = math.sqrt(setup.septum.betx_m)
    tune = setup.resonance_tune + math.copysign(tune_distance, setup.approach_sign)
    rng = np.random.default_rng(seed)
    beta_gamma = float(lorentz_beta(ion, energy_mev_u) * lorentz_gamma(ion, energy_mev_u))
    sigma = math.sqrt(normalised_emittance_x_m / beta_gamma)
    x, p = rng.normal(size=n_particles) * sigma, rng.normal(size=n_particles) * sigma
    delta = rng.uniform(-momentum_half_width, momentum_half_width, n_particles)
    tunes = tune + setup.chromaticity * delta
    exit_turn = np.full(n_particles, -1, np.int64)
    exit_code = np.zeros(n_particles, np.int64)
    q = tune % 1.0
    spread = abs(setup.chromaticity) * momentum_half_width
    side = math.copysign(1.0, q - setup.resonance_tune % 1.0)
    band = (setup.resonance_tune % 1.0, q + side * (spread + 0.001))
    samples = excitation(n_turns, band, waveform=waveform, rng=rng)
    inradius = 4 * math.pi * tune_distance / setup.strength
    amplitude = inradius / 600 if initial_amplitude is None else initial_amplitude
    ceiling = inradius / 20
    n_blocks = n_turns // block_turns
    target = extract_fraction * n_particles / n_blocks
    out = np.zeros((3, n_blocks))
    for b in range(n_blocks):
        kicks = amplitude * samples[b * block_turns : (b + 1) * block_turns]
        n_ext, n_lost = kernels.track_rfko_block(
            x, p, exit_turn, exit_code, np.ascontiguousarray(kicks), b * block_turns,
            setup.strength, tunes, setup.phase_to_septum_rad, septum.x_m / root_beta,
            septum.wire_thickness_m / root_beta,
        )  # fmt: skip
        out[:, b] = (n_ext, n_lost, amplitude)
        if feedback:
            error = (target - n_ext) / target
            step = math.exp(feedback_gain * error)
            amplitude *= min(max(step, _FASTEST_DOWN), _FASTEST_UP)
            amplitude = min(amplitude, ceiling)
    f_rev = float(synchrotron.revolution_frequency_hz(ion, energy_mev_u))
    return RfkoSpill(
        block_turns=block_turns,
        extracted=out[0].astype(np.int64),
        septum_losses=out[1].astype(np.int64),
        amplitude=out[2],
        exit_turn=exit_turn,
        revolution_frequency_hz=f_rev,
        target_per_block=float(target),
    )
