"""Reduced model of a slow-extraction spill driven by a betatron core (instant to evaluate).

The circulating beam is a debunched "bar of charge": Gaussian in the
horizontal plane (so the amplitude r = √ε is Rayleigh-distributed) with a
uniform (or Gaussian) momentum spread. The betatron core accelerates all
particles alike, Δδ(t); through the chromaticity their tunes walk onto the
third-integer resonance, and each particle leaves when Kobayashi's stable
triangle shrinks to its amplitude (see :mod:`.resonance`,
:mod:`._spill_kernels`). From that follow, without tracking:

- the spill: the fraction of the beam extracted by time t (a linear
  betatron-core ramp, or the "servo" ramp that a spill-feedback system
  shapes to make the intensity flat);
- the momentum of each extracted particle, which depends on its amplitude
  only (so the extracted momentum spread is set by the beam's emittance and
  the chromaticity), and the offsets of the separatrix arms at the septum
  (zero when the Hardt condition holds), hence the extracted emittance;
- the spiral step at the septum (from the thin virtual-sextupole map) and
  the extraction efficiency (particles landing on the septum wires);
- the transit time from the resonance to the septum (Kobayashi's flow along
  the separatrix arm), negligible in a real spill (≪ 1 ms) but not in the
  compressed spills that :mod:`.tracking` simulates.

:mod:`tests.validation` compares this model with Xsuite tracking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import ConfigError, OutOfRangeError, UnknownNameError
from ionbeam.machine.kinematics import lorentz_beta, lorentz_gamma
from ionbeam.machine.synchrotron import _spill_kernels as kernels
from ionbeam.machine.synchrotron.layout import SeptumGeometry
from ionbeam.machine.synchrotron.optics import PointOptics
from ionbeam.machine.synchrotron.resonance import (
    KOBAYASHI_AREA_FACTOR,
    hardt_chromaticity,
    resonance_tune,
    separatrix_at,
    virtual_sextupole,
)
from ionbeam.machine.synchrotron.ring import Synchrotron
from ionbeam.physics.particles import Particle, get_particle

__all__ = [
    "CirculatingBeam",
    "ExtractionSetup",
    "SpillModel",
    "arm_angle_slope",
    "extraction_setup",
    "instability_shift",
    "reduced_spill_model",
    "transit_turns",
]

_RAMPS = ("servo", "linear")
_MOMENTUM_DISTRIBUTIONS = ("uniform", "gaussian")
#: Fractions of the Δδ* distribution at which the betatron core starts and stops.
SPILL_QUANTILES = (1.0e-3, 1.0 - 1.0e-3)


@dataclass(frozen=True)
class CirculatingBeam:
    """The debunched beam on the flat top, before extraction.

    ``normalised_emittance_x_m``: rms normalised horizontal emittance βγε (m·rad);
    ``momentum_half_width``: half-width of the uniform momentum band (for a
    Gaussian distribution, 2σ). Defaults are of the order PIMMS assumes for
    the circulating beam (PIMMS Part I, ch. 3: a few π mm·mrad, Δp/p of a few
    10⁻³); they are ionbeam parameters, not measured values.
    """

    normalised_emittance_x_m: float = 0.5e-6
    momentum_half_width: float = 1.5e-3
    momentum_distribution: str = "uniform"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.normalised_emittance_x_m) and self.normalised_emittance_x_m > 0):
            raise OutOfRangeError(
                "normalised emittance", self.normalised_emittance_x_m, 0.0, math.inf, "m·rad"
            )
        if not (0 < self.momentum_half_width < 0.05):
            raise OutOfRangeError("momentum half-width", self.momentum_half_width, 0.0, 0.05)
        if self.momentum_distribution not in _MOMENTUM_DISTRIBUTIONS:
            raise UnknownNameError(
                "momentum distribution", self.momentum_distribution, _MOMENTUM_DISTRIBUTIONS
            )

    def emittance_x_m(self, particle: str | Particle, energy_mev_u: float) -> float:
        """Geometric rms horizontal emittance at ``energy_mev_u`` (adiabatic damping), m·rad."""
        beta = float(lorentz_beta(particle, energy_mev_u))
        gamma = float(lorentz_gamma(particle, energy_mev_u))
        return self.normalised_emittance_x_m / (beta * gamma)


@dataclass(frozen=True, eq=False)
class ExtractionSetup:
    """What a ring's optics fix about its resonant extraction (same for every energy).

    ``tune_distance`` δQ₀ = Qx − p/3 on momentum; ``chromaticity`` dQx/dδ;
    ``strength`` S of the virtual sextupole (m^-1/2) and ``kobayashi_c``
    c_K = S √(π/(48√3π²)) so that a particle of amplitude r is unstable when
    |δQ| ≤ c_K r; ``approach_sign`` σ = sign of δQ of the particles being
    extracted; ``septum_side`` = sign of the septum position; ``arm_normal`` and
    ``arm_direction`` describe the extracting arm at the septum (normalised
    coordinates); ``hardt_chromaticity`` the dQ/dδ that would satisfy the
    Hardt condition.
    """

    resonance_tune: float
    tune_distance: float
    chromaticity: float
    strength: float
    kobayashi_c: float
    phase_to_septum_rad: float
    approach_sign: float
    septum_side: float
    septum: PointOptics
    arm_normal: np.ndarray
    arm_direction: np.ndarray
    hardt_chromaticity: float


def extraction_setup(synchrotron: Synchrotron) -> ExtractionSetup:
    """The extraction geometry of ``synchrotron`` from its optics (betatron core accelerating)."""
    optics = synchrotron.optics()
    if optics.dqx == 0.0:
        raise ConfigError(
            f"{synchrotron.name}: zero horizontal chromaticity; a betatron core cannot "
            "move the tunes onto the resonance; set the chromaticity sextupoles"
        )
    sextupole = virtual_sextupole(optics)
    approach = -math.copysign(1.0, optics.dqx)  # Δδ grows, so δQ moves by dqx·Δδ
    side = math.copysign(1.0, synchrotron.layout.septum.x_m)
    sep = separatrix_at(optics.septum, sextupole, approach * 1e-3, septum_side=side)
    return ExtractionSetup(
        resonance_tune=resonance_tune(optics.qx),
        tune_distance=optics.qx - resonance_tune(optics.qx),
        chromaticity=optics.dqx,
        strength=sextupole.strength,
        kobayashi_c=sextupole.strength * math.sqrt(math.pi / KOBAYASHI_AREA_FACTOR),
        phase_to_septum_rad=optics.septum.phase_x_rad - sextupole.phase_rad,
        approach_sign=approach,
        septum_side=side,
        septum=optics.septum,
        arm_normal=sep.arm_normal,
        arm_direction=sep.arm_direction,
        hardt_chromaticity=hardt_chromaticity(
            optics.septum, sextupole, approach_sign=approach, septum_side=side
        ),
    )


def arm_angle_slope(setup: ExtractionSetup) -> float:
    """d x'/dδ (rad per unit δ) of the extracting arm where it crosses the septum wires.

    The arm of momentum δ sits at n·P = n·D_n δ + h(δ) with h = 4π|δQ(δ)|/S
    (:mod:`.resonance`), so its normal offset moves by (4πσ/S)(Q' − Q'_Hardt)
    per unit δ; at fixed x that is an angle change of offset/(n_X' √β). Zero
    when the Hardt condition holds. First order in the sextupoles
    (validated against tracking in ``tests/validation``).
    """
    rate = 4.0 * math.pi * setup.approach_sign / setup.strength
    offset = rate * (setup.chromaticity - setup.hardt_chromaticity)
    return float(offset / (setup.arm_normal[1] * math.sqrt(setup.septum.betx_m)))


def instability_shift(
    setup: ExtractionSetup, amplitude: ArrayLike, delta_offset: ArrayLike
) -> np.ndarray:
    """Betatron-core momentum shift Δδ* at which a particle of normalised amplitude r (√m)
    and momentum offset δ turns unstable: g(r) − δ with g(r) = (σ c_K r − δQ₀)/Q'."""
    r = np.asarray(amplitude, float)
    g = (setup.approach_sign * setup.kobayashi_c * r - setup.tune_distance) / setup.chromaticity
    return g - np.asarray(delta_offset, float)


def transit_turns(
    setup: ExtractionSetup, septum: SeptumGeometry, amplitude: ArrayLike, rate_per_turn: float
) -> np.ndarray:
    """Turns from turning unstable to reaching the septum, per amplitude r (√m).

    Kobayashi's flow along the separatrix arm from a start η·√3h beyond the
    vertex, with η the relative shrink of the triangle in three turns (the
    distance the particle can be outside the separatrix when it is first
    released). Good to ~±40 % in compressed spills (validated against
    tracking); in a real spill it is ≪ 1 ms and irrelevant.
    """
    r = np.asarray(amplitude, float)
    w = setup.kobayashi_c * r
    h = 4.0 * math.pi * w / setup.strength
    n, d = setup.arm_normal, setup.arm_direction
    if abs(d[0]) < 1e-6:
        raise ConfigError("the separatrix arm never reaches the septum; check the septum side")
    lam_sep = (septum.x_m / math.sqrt(setup.septum.betx_m) - h * n[0]) / d[0]
    eta = np.maximum(3.0 * abs(setup.chromaticity) * rate_per_turn / w, 1e-9)
    return kernels.transit_turns(h, lam_sep, setup.strength, eta)


@dataclass(frozen=True, eq=False)
class SpillModel:
    """One spill: the extracted beam against time, and its quality.

    ``time_s`` and ``cumulative_fraction`` tabulate the fraction of the
    circulating beam extracted by time t from the start of the spill (0 at
    t = 0, ``cumulative_fraction[-1]`` at the end); ``extracted_particles``
    is the number reaching the extraction line in the whole spill (septum
    losses removed). Times run from the start of the betatron-core ramp.
    """

    particle: str
    energy_mev_u: float
    ramp: str
    spill_length_s: float
    time_s: np.ndarray
    cumulative_fraction: np.ndarray
    extracted_particles: float
    extraction_efficiency: float
    extracted_emittance_x_m: float
    extracted_momentum_spread: float
    spiral_step_m: float
    mean_transit_turns: float
    betatron_core_sweep: float
    betatron_core_voltage_v: float
    sweep_start: float
    revolution_frequency_hz: float

    @property
    def circulating_particles(self) -> float:
        """Particles that must circulate to extract ``extracted_particles`` in this spill."""
        total = self.cumulative_fraction[-1] * self.extraction_efficiency
        return self.extracted_particles / total

    def cumulative_particles(self, t_s: ArrayLike) -> np.ndarray:
        """Particles extracted (through the septum) from the spill's start to time t."""
        frac = np.interp(
            np.asarray(t_s, dtype=float), self.time_s, self.cumulative_fraction, left=0.0
        )
        return frac / self.cumulative_fraction[-1] * self.extracted_particles

    def remaining_particles(self, t_s: ArrayLike) -> np.ndarray:
        """Particles this spill can still deliver after time t (s from the spill's start)."""
        return self.extracted_particles - self.cumulative_particles(t_s)

    def extracted_between(self, t0_s: ArrayLike, t1_s: ArrayLike) -> np.ndarray:
        """Particles extracted between t0 and t1 (s from the spill's start)."""
        return self.cumulative_particles(t1_s) - self.cumulative_particles(t0_s)

    def intensity_pps(self, t_s: ArrayLike) -> np.ndarray:
        """Extracted intensity (particles per second) at time t, piecewise constant on the grid."""
        t = np.asarray(t_s, float)
        counts = np.diff(self.cumulative_fraction) / self.cumulative_fraction[-1]
        rate = counts * self.extracted_particles / np.diff(self.time_s)
        idx = np.searchsorted(self.time_s, t, side="right") - 1
        inside = (idx >= 0) & (idx < rate.size)
        return np.where(inside, rate[np.clip(idx, 0, rate.size - 1)], 0.0)

    def time_of_particles(self, n: ArrayLike) -> np.ndarray:
        """When (s from the spill's start) the n-th extracted particle leaves; inf beyond."""
        n = np.asarray(n, float)
        cum = self.cumulative_fraction / self.cumulative_fraction[-1] * self.extracted_particles
        t = np.interp(n, cum, self.time_s)
        return np.where(n > self.extracted_particles, np.inf, t)


def _landing_fraction(x0: float, step: float, width: np.ndarray) -> np.ndarray:
    """Fraction of particles landing within ``width`` beyond the septum wire when jumps grow
    like the Kobayashi flow (density ∝ 1/x² across the last step)."""
    return (1 / x0 - 1 / (x0 + width)) / (1 / x0 - 1 / (x0 + step))


def _arm_bend(
    setup: ExtractionSetup, base: np.ndarray, lam_sep: float, step_n: float, tune: float
) -> float:
    """rms normal distance (√m) of the thin map's landing points beyond the wires from
    their straight-line fit: points one step before the wires, mapped three turns on."""
    d, n = setup.arm_direction, setup.arm_normal
    starts = lam_sep - step_n * np.linspace(0.0, 1.0, 41)[1:]
    ends = np.array([
        kernels.spiral_step(base + s * d, strength=setup.strength, tune=tune,
                            phase_to_observation_rad=setup.phase_to_septum_rad)
        for s in starts
    ])  # fmt: skip
    along, across = ends @ d, ends @ n
    fit = np.polyfit(along, across, 1)
    return float(np.std(across - np.polyval(fit, along)))


def _spill_times(n_times: int, spill_length_s: float, delay_s: np.ndarray) -> np.ndarray:
    return np.linspace(0.0, spill_length_s + float(np.max(delay_s)), n_times)


def reduced_spill_model(
    synchrotron: Synchrotron,
    particle: str | Particle,
    energy_mev_u: float,
    *,
    beam: CirculatingBeam | None = None,
    spill_length_s: float = 1.0,
    extracted_particles: float = 1.0e10,
    ramp: str = "servo",
    n_amplitudes: int = 400,
    n_times: int = 801,
) -> SpillModel:
    """The reduced spill model of ``particle`` at ``energy_mev_u`` on ``synchrotron``.

    ``ramp="servo"`` shapes the betatron-core ramp so that the intensity is
    flat (what a spill feedback does); ``"linear"`` ramps at constant speed,
    and the spill takes the shape of the beam's distribution across the
    Steinbach boundary.
    """
    if ramp not in _RAMPS:
        raise UnknownNameError("betatron-core ramp", ramp, _RAMPS)
    if not (math.isfinite(spill_length_s) and spill_length_s > 0):
        raise OutOfRangeError("spill length", spill_length_s, 0.0, math.inf, "s")
    if not (math.isfinite(extracted_particles) and extracted_particles > 0):
        raise OutOfRangeError("extracted particles per spill", extracted_particles, 0.0, math.inf)
    ion = get_particle(particle)
    beam = beam or CirculatingBeam()
    f_rev = float(synchrotron.revolution_frequency_hz(ion, energy_mev_u))
    setup = extraction_setup(synchrotron)
    sigma_r = math.sqrt(beam.emittance_x_m(ion, energy_mev_u))
    r = kernels.rayleigh_nodes(sigma_r, n_amplitudes)
    g = instability_shift(setup, r, 0.0)

    shift_grid = np.linspace(g.min() - 3 * beam.momentum_half_width,
                             g.max() + 3 * beam.momentum_half_width, 4001)  # fmt: skip
    cdf = kernels.shift_cdf(
        shift_grid, g, half_width=beam.momentum_half_width, distribution=beam.momentum_distribution
    )
    start, end = np.interp(SPILL_QUANTILES, cdf, shift_grid)
    sweep = float(end - start)
    turns = spill_length_s * f_rev
    rate_per_turn = sweep / turns

    geometry = _septum_geometry(synchrotron, setup, r, rate_per_turn)
    delay_s = geometry["transit_turns"] / f_rev
    t = _spill_times(n_times, spill_length_s, delay_s)
    if ramp == "linear":
        shift = start + np.clip((t[:, None] - delay_s[None, :]) / spill_length_s, 0.0, 1.0) * sweep
        cumulative = kernels.shift_cdf(
            shift, g, half_width=beam.momentum_half_width, distribution=beam.momentum_distribution
        )
    else:
        mean_delay = float(np.mean(delay_s))
        progress = np.clip((t - mean_delay) / spill_length_s, 0.0, 1.0)
        cumulative = SPILL_QUANTILES[0] + (SPILL_QUANTILES[1] - SPILL_QUANTILES[0]) * progress
    cumulative = np.maximum.accumulate(cumulative - cumulative[0])

    beta = float(lorentz_beta(ion, energy_mev_u))
    total_energy_ev = float(lorentz_gamma(ion, energy_mev_u)) * ion.mass_mev * 1e6
    voltage = rate_per_turn * beta**2 * total_energy_ev / ion.z
    return SpillModel(
        particle=ion.name,
        energy_mev_u=float(energy_mev_u),
        ramp=ramp,
        spill_length_s=float(spill_length_s),
        time_s=t,
        cumulative_fraction=cumulative,
        extracted_particles=float(extracted_particles),
        extraction_efficiency=geometry["efficiency"],
        extracted_emittance_x_m=geometry["emittance"],
        extracted_momentum_spread=geometry["momentum_spread"],
        spiral_step_m=geometry["step"],
        mean_transit_turns=float(np.mean(geometry["transit_turns"])),
        betatron_core_sweep=sweep,
        betatron_core_voltage_v=float(voltage),
        sweep_start=float(start),
        revolution_frequency_hz=f_rev,
    )


def _septum_geometry(
    synchrotron: Synchrotron,
    setup: ExtractionSetup,
    r: np.ndarray,
    rate_per_turn: float,
) -> dict:
    """Transit times, spiral step, efficiency and extracted emittance at the septum."""
    septum = synchrotron.layout.septum
    point = setup.septum
    root_beta = math.sqrt(point.betx_m)
    n, d = setup.arm_normal, setup.arm_direction
    w = setup.kobayashi_c * r  # |δQ| at which each amplitude turns unstable
    h = 4.0 * math.pi * w / setup.strength
    lam_sep = (septum.x_m / root_beta - h * n[0]) / d[0]
    transit = transit_turns(setup, septum, r, rate_per_turn)

    # Spiral step of the median amplitude, from the thin three-turn map.
    k = r.size // 2
    start = h[k] * n + lam_sep[k] * d
    tune = setup.resonance_tune + setup.approach_sign * w[k]
    end = kernels.spiral_step(
        start,
        strength=setup.strength,
        tune=tune,
        phase_to_observation_rad=setup.phase_to_septum_rad,
    )
    step_n = float((end - start) @ d)
    step_m = abs(step_n * d[0]) * root_beta

    # Offsets of each amplitude's arm (normal distance from the mean line) in the lab frame,
    # n·D_n δ + h with δ and h where the particle turned unstable (the Hardt condition
    # makes them independent of δ): they set the angles at the wires, hence the losses.
    # The extracted emittance is the betatron one (dispersion D·δ removed, at the momentum
    # on arrival, as the tracked one is): offsets h − n·D_n (δ_arrival − δ_unstable).
    delta_unstable = instability_shift(setup, r, 0.0)
    delta_ext = delta_unstable + rate_per_turn * transit
    d_n = np.asarray(point.normalised_dispersion)
    offsets = (n @ d_n) * delta_unstable + h
    betatron_offsets = h - (n @ d_n) * (delta_ext - delta_unstable)
    angle_spread = (offsets - offsets.mean()) / (abs(n[1]) * root_beta)
    width = septum.wire_thickness_m + septum.length_m * np.abs(angle_spread)
    x0 = abs(septum.x_m)
    loss = float(np.mean(np.clip(_landing_fraction(x0, step_m, width), 0.0, 1.0)))

    # Along the arm: landing spread over one step (density ∝ 1/λ²); across: the arm
    # offsets and the arm's own bend over that step (the thin map's landing points are
    # not on a straight line), added in quadrature.
    lam0 = float(np.mean(lam_sep))
    u = np.linspace(0.0, 1.0, 201)
    lam = 1.0 / (1.0 / lam0 - u * (1.0 / lam0 - 1.0 / (lam0 + step_n)))
    bend = _arm_bend(setup, h[k] * n, lam_sep[k], step_n, tune)
    emittance = float(np.std(lam) * math.hypot(np.std(betatron_offsets), bend))
    return {
        "transit_turns": transit,
        "step": step_m,
        "efficiency": 1.0 - loss,
        "emittance": emittance,
        "momentum_spread": float(np.std(delta_ext)),
    }
