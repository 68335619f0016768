"""Xsuite tracking of compressed slow-extraction spills and of the stable region.

A real spill lasts ~10⁶ turns; here the betatron core sweeps the same
momentum band in ``n_turns`` (a few thousand), which keeps the physics of
each particle's exit (it takes ~10²–10³ turns, see :mod:`.spill`) but
compresses the time axis. Particles leave through the septum aperture:
``extracted`` beyond the wires, ``septum`` on the wires (at the entrance,
or on the inner side before the exit), ``ring`` on the model chamber.
Results are cached on disk (:mod:`ionbeam._cache`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ionbeam._cache import cache_key, load_arrays, save_arrays
from ionbeam._progress import track as progress
from ionbeam.errors import OutOfRangeError
from ionbeam.machine.kinematics import lorentz_beta
from ionbeam.machine.synchrotron.layout import RingLayout
from ionbeam.machine.synchrotron.optics import PointOptics
from ionbeam.machine.synchrotron.ring import Synchrotron
from ionbeam.machine.synchrotron.spill import (
    CirculatingBeam,
    SpillModel,
    extraction_setup,
    reduced_spill_model,
)
from ionbeam.physics.particles import Particle, get_particle

__all__ = [
    "OUTCOMES",
    "TrackedSpill",
    "septum_angle_rad",
    "track_spill",
    "tracked_arm_angles",
    "tracked_stable_radius",
]

#: Outcome codes of :class:`TrackedSpill`.
OUTCOMES = {"circulating": 0, "extracted": 1, "septum": 2, "ring": 3}
_CHUNK_TURNS = 250


@dataclass(frozen=True, eq=False)
class TrackedSpill:
    """A tracked compressed spill, one entry per macro-particle (structure of arrays).

    ``amplitude`` r = √ε and ``delta_offset`` (δ before the betatron core) are
    the initial conditions; ``turn`` is when the particle left (−1: still
    circulating); ``outcome`` is an :data:`OUTCOMES` code; ``x_m``, ``px``,
    ``delta`` are the coordinates where it left (at the septum entrance for
    extracted ones).
    """

    amplitude: np.ndarray
    delta_offset: np.ndarray
    turn: np.ndarray
    outcome: np.ndarray
    x_m: np.ndarray
    px: np.ndarray
    delta: np.ndarray
    n_turns: int
    revolution_frequency_hz: float
    septum: PointOptics

    @property
    def spill_length_s(self) -> float:
        """Real-time length of the compressed spill, s."""
        return self.n_turns / self.revolution_frequency_hz

    def _is(self, name: str) -> np.ndarray:
        return self.outcome == OUTCOMES[name]

    @property
    def extraction_efficiency(self) -> float:
        """Extracted / (extracted + lost on the septum or in the ring)."""
        left = self.outcome > 0
        return float(self._is("extracted").sum() / max(left.sum(), 1))

    def cumulative_fraction(self, t_s: np.ndarray) -> np.ndarray:
        """Fraction of all macro-particles that reached the septum by time t (extracted or
        lost on it), comparable with :attr:`SpillModel.cumulative_fraction`."""
        at_septum = self._is("extracted") | self._is("septum")
        times = np.sort(self.turn[at_septum] / self.revolution_frequency_hz)
        return np.searchsorted(times, np.asarray(t_s, float), side="right") / self.outcome.size

    @property
    def extracted_momentum_spread(self) -> float:
        """rms δ of the extracted particles at extraction."""
        return float(np.std(self.delta[self._is("extracted")]))

    @property
    def extracted_emittance_x_m(self) -> float:
        """rms emittance of the extracted particles at the septum entrance, m·rad."""
        ok = self._is("extracted")
        p = self.septum
        root = math.sqrt(p.betx_m)
        x = self.x_m[ok] - p.dx_m * self.delta[ok]
        px = self.px[ok] - p.dpx * self.delta[ok]
        cov = np.cov(np.stack([x / root, (p.alfx * x + p.betx_m * px) / root]))
        return float(math.sqrt(max(np.linalg.det(cov), 0.0)))

    @property
    def spiral_step_m(self) -> float:
        """Width of the extracted band at the septum entrance (max − min |x|), m."""
        x = np.abs(self.x_m[self._is("extracted")])
        return float(x.max() - x.min()) if x.size else 0.0


def septum_angle_rad(synchrotron: Synchrotron) -> float:
    """Angle of the extracting separatrix arm where it crosses the septum wires, rad."""
    setup = extraction_setup(synchrotron)
    p, d = setup.septum, setup.arm_direction
    return synchrotron.layout.septum.x_m * (d[1] / d[0] - p.alfx) / p.betx_m


def _initial_coordinates(
    line: object, model: SpillModel, beam: CirculatingBeam, n: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    tw = line.twiss4d()  # type: ignore[attr-defined]
    eps = beam.emittance_x_m(model.particle, model.energy_mev_u)
    xn, pn, yn, qn = (rng.normal(size=n) * math.sqrt(eps) for _ in range(4))
    hw = beam.momentum_half_width
    if beam.momentum_distribution == "uniform":
        offset = rng.uniform(-hw, hw, n)
    else:
        offset = rng.normal(size=n) * hw / 2
    delta = offset + model.sweep_start
    bx, ax, by, ay = tw.betx[0], tw.alfx[0], tw.bety[0], tw.alfy[0]
    return {
        "x": math.sqrt(bx) * xn + tw.dx[0] * delta,
        "px": (pn - ax * xn) / math.sqrt(bx) + tw.dpx[0] * delta,
        "y": math.sqrt(by) * yn,
        "py": (qn - ay * yn) / math.sqrt(by),
        "delta": delta,
        "amplitude": np.hypot(xn, pn),
        "offset": offset,
    }


def _classify(line: object, p: object, layout: RingLayout) -> np.ndarray:
    names = np.asarray(line.element_names)  # type: ignore[attr-defined]
    at = names[p.at_element]  # type: ignore[attr-defined]
    lost = p.state <= 0  # type: ignore[attr-defined]
    septum = layout.septum
    beyond = np.abs(p.x) >= abs(septum.x_m) + septum.wire_thickness_m  # type: ignore[attr-defined]
    outcome = np.zeros(lost.size, dtype=np.int64)
    outcome[lost & (at == "es_entry") & beyond] = OUTCOMES["extracted"]
    outcome[lost & (at == "es_entry") & ~beyond] = OUTCOMES["septum"]
    outcome[lost & (at == "es_exit")] = OUTCOMES["septum"]
    outcome[lost & (outcome == 0)] = OUTCOMES["ring"]
    return outcome


def track_spill(
    synchrotron: Synchrotron,
    particle: str | Particle,
    energy_mev_u: float,
    *,
    beam: CirculatingBeam | None = None,
    n_particles: int = 300,
    n_turns: int = 3000,
    seed: int = 1,
) -> TrackedSpill:
    """Track a compressed spill with Xsuite: ``n_particles`` macro-particles, the betatron
    core sweeping the reduced model's momentum band (linear ramp) in ``n_turns``."""
    if n_particles < 1:
        raise OutOfRangeError("number of macro-particles", n_particles, 1, math.inf)
    if n_turns < 10:
        raise OutOfRangeError("number of turns", n_turns, 10, math.inf)
    ion = get_particle(particle)
    beam = beam or CirculatingBeam()
    f_rev = float(synchrotron.revolution_frequency_hz(ion, energy_mev_u))
    model = reduced_spill_model(
        synchrotron, ion, energy_mev_u, beam=beam, spill_length_s=n_turns / f_rev, ramp="linear"
    )
    key = cache_key(
        "tracked-spill",
        layout=synchrotron.layout.fingerprint(),
        particle=ion.name,
        energy=float(energy_mev_u),
        beam=vars(beam),
        n=n_particles,
        turns=n_turns,
        seed=seed,
    )
    arrays = load_arrays(key)
    if arrays is None:
        arrays = _track(synchrotron, ion, energy_mev_u, model, beam, n_particles, n_turns, seed)
        save_arrays(key, arrays)
    return TrackedSpill(
        **{
            k: arrays[k]
            for k in ("amplitude", "delta_offset", "turn", "outcome", "x_m", "px", "delta")
        },
        n_turns=n_turns,
        revolution_frequency_hz=f_rev,
        septum=synchrotron.optics().septum,
    )


def _track(
    synchrotron: Synchrotron,
    ion: Particle,
    energy_mev_u: float,
    model: SpillModel,
    beam: CirculatingBeam,
    n_particles: int,
    n_turns: int,
    seed: int,
) -> dict[str, np.ndarray]:
    from ionbeam.machine.synchrotron.lattice_xsuite import build_line

    line = build_line(
        synchrotron.layout,
        particle=ion,
        energy_mev_u=energy_mev_u,
        septum_aperture=True,
        ring_aperture=True,
        betatron_core_voltage_v=model.betatron_core_voltage_v,
        septum_angle_rad=septum_angle_rad(synchrotron),
    )
    rng = np.random.default_rng(seed)
    init = _initial_coordinates(line, model, beam, n_particles, rng)
    beta = float(lorentz_beta(ion, energy_mev_u))
    zeta = rng.uniform(-0.5, 0.5, n_particles) * synchrotron.circumference_m * beta
    p = line.build_particles(
        x=init["x"], px=init["px"], y=init["y"], py=init["py"], delta=init["delta"], zeta=zeta
    )
    chunks = [_CHUNK_TURNS] * (n_turns // _CHUNK_TURNS) + [n_turns % _CHUNK_TURNS]
    for chunk in progress([c for c in chunks if c], "tracking spill (chunks)"):
        line.track(p, num_turns=chunk)
    p.sort(interleave_lost_particles=True)  # Xsuite moves lost particles to the end
    outcome = _classify(line, p, synchrotron.layout)
    return {
        "amplitude": init["amplitude"],
        "delta_offset": init["offset"],
        "turn": np.where(outcome > 0, p.at_turn, -1).astype(np.int64),
        "outcome": outcome,
        "x_m": np.asarray(p.x, float),
        "px": np.asarray(p.px, float),
        "delta": np.asarray(p.delta, float),
    }


def tracked_stable_radius(
    layout: RingLayout,
    directions_rad: np.ndarray,
    *,
    r_max: float,
    n_turns: int = 1500,
    n_bisections: int = 8,
) -> np.ndarray:
    """Largest stable normalised amplitude (√m) along each direction at s = 0, on momentum.

    Bisection on the amplitude for all directions at once; a particle is
    unstable when it leaves the model chamber within ``n_turns``.
    """
    from ionbeam.machine.synchrotron.lattice_xsuite import build_line

    line = build_line(layout, ring_aperture=True)
    tw = line.twiss4d()
    bx, ax = float(tw.betx[0]), float(tw.alfx[0])
    c, s = np.cos(directions_rad), np.sin(directions_rad)
    lo = np.zeros_like(c)
    hi = np.full_like(c, r_max)
    for _ in range(n_bisections):
        mid = 0.5 * (lo + hi)
        x_n, p_n = mid * c, mid * s
        p = line.build_particles(
            x=math.sqrt(bx) * x_n, px=(p_n - ax * x_n) / math.sqrt(bx), delta=0.0
        )
        p.particle_id[:] = np.arange(mid.size)
        line.track(p, num_turns=n_turns)
        p.sort(interleave_lost_particles=True)
        stable = p.state > 0
        lo = np.where(stable, mid, lo)
        hi = np.where(stable, hi, mid)
    return 0.5 * (lo + hi)


def tracked_arm_angles(
    synchrotron: Synchrotron,
    tune_distances: np.ndarray,
    *,
    n_particles: int = 16,
    n_turns: int = 600,
    window_m: float = 0.006,
) -> tuple[np.ndarray, np.ndarray]:
    """The extracting arm's angle at the septum wires, tracked, for several momenta.

    For each tune distance δQ (on the side being extracted) the momentum is
    δ = (σδQ − δQ₀)/Q'; ``n_particles`` of that momentum start just outside
    the stable triangle (amplitude 2.1 h, all phases) and are tracked without
    the septum; the turn-by-turn points at the septum entrance within
    ``window_m`` of the wires and near the arm are fitted with a line, read
    at the wires. Returns (δ, x' in rad). The Hardt condition holds when x'
    does not depend on δ (see :func:`.spill.arm_angle_slope`).
    """
    from ionbeam.machine.synchrotron.lattice_xsuite import build_line

    setup = extraction_setup(synchrotron)
    x_wire = synchrotron.layout.septum.x_m
    guess = septum_angle_rad(synchrotron)
    line = build_line(synchrotron.layout, ring_aperture=True)
    line.cycle(name_first_element="es_entry", inplace=True)
    tw = line.twiss4d()
    b, a = float(tw.betx[0]), float(tw.alfx[0])
    phases = np.linspace(0.0, 2.0 * np.pi, n_particles, endpoint=False)
    deltas, angles = [], []
    for dq in np.asarray(tune_distances, float):
        delta = (setup.approach_sign * dq - setup.tune_distance) / setup.chromaticity
        r = 2.1 * 4.0 * math.pi * dq / setup.strength
        xn, pn = r * np.cos(phases), r * np.sin(phases)
        p = line.build_particles(
            x=float(tw.dx[0]) * delta + math.sqrt(b) * xn,
            px=float(tw.dpx[0]) * delta + (pn - a * xn) / math.sqrt(b),
            delta=delta,
        )
        line.track(p, num_turns=n_turns, turn_by_turn_monitor=True)
        rec = line.record_last_track
        x, px, alive = rec.x.ravel(), rec.px.ravel(), rec.state.ravel() > 0
        near = alive & (np.abs(x - x_wire) < window_m) & (np.abs(px - guess) < 0.003)
        if near.sum() < 5:
            raise OutOfRangeError("tracked points on the arm near the septum", int(near.sum()),
                                  5, math.inf)  # fmt: skip
        fit = np.polyfit(x[near], px[near], 1)
        deltas.append(delta)
        angles.append(float(np.polyval(fit, x_wire)))
    return np.asarray(deltas), np.asarray(angles)
