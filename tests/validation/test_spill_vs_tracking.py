"""Reduced slow-extraction model vs Xsuite tracking of compressed spills (PIMMS ring).

What is compared: for the same macro-particles (same amplitudes and momentum
offsets), the turn at which each reaches the electrostatic septum in an
Xsuite tracking of the PIMMS ring (thick lattice, betatron core as a
zero-frequency cavity, septum wires as an aperture aligned with the
separatrix arm), against the reduced model's prediction (Kobayashi's
stability condition through the chromaticity, plus the transit time along
the separatrix arm; :mod:`ionbeam.machine.synchrotron.spill`). Also the
extraction efficiency, the extracted emittance and momentum spread, the
spiral step, and the arm offsets behind the Hardt condition.

References for the physics: Y. Kobayashi, Nucl. Instrum. Methods 83 (1970)
77; PIMMS Part I, CERN/PS 99-010 (DI), ch. 2–3 (Steinbach diagram, Hardt
condition, betatron-core extraction).

Tolerances. The compressed spills last 2000 (default suite) or 8000
(``slow``) turns, while particles take ~200–450 turns from the resonance
to the septum; the model's transit time is good to about ±40 %, i.e. ~5 %
(2000 turns) or ~1.5 % (8000 turns) of the spill, to which the discrete
sampling of n particles adds ~1/n steps: hence a per-particle CDF
distance of 0.15 and 0.06. Efficiency: the septum intercepts 1–3 % of the
particles, counted with Poisson noise on a few hundred particles: ±0.04.
In a compressed spill the betatron core keeps accelerating during the
transit, which widens the extracted momentum spread; the tracked spread
must lie between the model's transit-free limit (that of a real spill,
−10 %) and the model with its transit estimate (+10 %).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from ionbeam.machine.synchrotron.ring import pimms_synchrotron
from ionbeam.machine.synchrotron.spill import (
    extraction_setup,
    instability_shift,
    reduced_spill_model,
    transit_turns,
)
from ionbeam.machine.synchrotron.tracking import OUTCOMES, track_spill

CASES = [("proton", 200.0), ("carbon", 400.0)]


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IONBEAM_CACHE_DIR", str(tmp_path_factory.mktemp("spill-cache")))
        yield


def _compare(particle: str, energy: float, n_particles: int, n_turns: int) -> dict:
    ring = pimms_synchrotron()
    tracked = track_spill(ring, particle, energy, n_particles=n_particles, n_turns=n_turns)
    model = reduced_spill_model(
        ring, particle, energy, spill_length_s=tracked.spill_length_s, ramp="linear"
    )
    real_time = reduced_spill_model(ring, particle, energy, spill_length_s=1.0, ramp="linear")
    setup = extraction_setup(ring)
    rate = model.betatron_core_sweep / n_turns
    shift = instability_shift(setup, tracked.amplitude, tracked.delta_offset)
    unstable = (shift - model.sweep_start) / rate
    predicted = unstable + transit_turns(setup, ring.layout.septum, tracked.amplitude, rate)
    at_septum = np.isin(tracked.outcome, [OUTCOMES["extracted"], OUTCOMES["septum"]])
    observed = np.where(at_septum, tracked.turn, np.iinfo(np.int64).max)
    grid = np.arange(n_turns + 1)

    def cdf(turns: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.sort(turns), grid, side="right") / turns.size

    return {
        "ring": ring,
        "setup": setup,
        "tracked": tracked,
        "model": model,
        "real_time": real_time,
        "distance": float(np.max(np.abs(cdf(observed) - cdf(predicted)))),
        "distance_without_transit": float(np.max(np.abs(cdf(observed) - cdf(unstable)))),
    }


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def short_spill(request) -> dict:
    return _compare(*request.param, n_particles=100, n_turns=2000)


def test_spill_shape_matches_tracking(short_spill) -> None:
    assert short_spill["distance"] <= 0.15
    # The transit time matters in so short a spill: without it the model is much worse.
    assert short_spill["distance_without_transit"] > 2 * short_spill["distance"]


def test_extraction_efficiency_matches_tracking(short_spill) -> None:
    tracked, model = short_spill["tracked"], short_spill["model"]
    assert (tracked.outcome == OUTCOMES["extracted"]).sum() > 50
    assert tracked.extraction_efficiency == pytest.approx(model.extraction_efficiency, abs=0.04)


def test_arm_offsets_follow_amplitude_and_dispersion(short_spill) -> None:
    """The Hardt condition's ingredient: each particle leaves on the arm n·P = n·D_n δ + h(r)."""
    tracked, setup = short_spill["tracked"], short_spill["setup"]
    ok = tracked.outcome == OUTCOMES["extracted"]
    p = setup.septum
    root = math.sqrt(p.betx_m)
    x, px = tracked.x_m[ok], tracked.px[ok]
    measured = setup.arm_normal @ np.stack([x / root, (p.alfx * x + p.betx_m * px) / root])
    h = 4 * math.pi * setup.kobayashi_c * tracked.amplitude[ok] / setup.strength
    predicted = (setup.arm_normal @ np.array(p.normalised_dispersion)) * tracked.delta[ok] + h
    assert np.corrcoef(measured, predicted)[0, 1] > 0.6
    assert 0.6 < np.std(measured) / np.std(predicted) < 1.6


@pytest.mark.slow
@pytest.mark.parametrize(("particle", "energy"), CASES, ids=[c[0] for c in CASES])
def test_long_compressed_spill_matches_closely(particle: str, energy: float) -> None:
    result = _compare(particle, energy, n_particles=300, n_turns=8000)
    tracked, model, real_time = result["tracked"], result["model"], result["real_time"]
    assert result["distance"] <= 0.06
    assert tracked.extraction_efficiency == pytest.approx(model.extraction_efficiency, abs=0.03)
    assert tracked.extracted_emittance_x_m == pytest.approx(model.extracted_emittance_x_m, rel=0.2)
    assert tracked.spiral_step_m == pytest.approx(model.spiral_step_m, rel=0.15)
    spread = tracked.extracted_momentum_spread
    assert 0.9 * real_time.extracted_momentum_spread <= spread
    assert spread <= 1.1 * model.extracted_momentum_spread
