"""Reduced slow-extraction model vs Xsuite tracking at three septum geometries.

The reduced model (:mod:`ionbeam.machine.synchrotron.spill`) was first
validated on PIMMS only, where the septum sits where D ≈ 0.07 m and the
Hardt condition is far from met. Here the same comparison (a compressed
spill, 150 carbon ions at 400 MeV/u, 3000 turns, linear betatron-core
ramp; Xsuite tracking with the septum wires as an aperture aligned with
the arm) runs at three geometries:

1. PIMMS (septum D = 0.07 m; Hardt Q' = +0.04, ring −1.94);
2. CNAO, its public optics (septum D = 3.94 m, βx = 16.5 m; Hardt −2.02,
   ring −2.26: nearly met), wires 35 mm from the orbit;
3. CNAO with the wires at 25 mm (a smaller spiral step, more losses).

Compared: extraction efficiency (the septum-wire losses follow the angle
spread of the arms at the wires, which the Hardt condition removes) and
the spiral step. Tolerances: efficiency ±0.04 (a few percent of the
particles hit the wires; Poisson noise on 65–140 extracted: ±0.03); spiral
step 20 % (the thin virtual-sextupole map against the thick lattice, the
step of the median amplitude against the tracked band's full width). The
spill's time profile is compared with the transit-time model included:
the CDF distance stays within 0.25 (the transit time is ~30 % long in
all three geometries, which in a 3000-turn spill is up to ~0.2 of it; see
``test_spill_vs_tracking.py`` for the long, closer run on PIMMS).

Not compared here, because the model does not hold: the extracted
emittance and momentum spread at the CNAO septum, where the model's
transit-time error times the large dispersion dominates them (model
3–4× the tracked values; PIMMS within 20 %).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from ionbeam.machine.synchrotron.ring import cnao_synchrotron, pimms_synchrotron
from ionbeam.machine.synchrotron.spill import (
    extraction_setup,
    instability_shift,
    reduced_spill_model,
    transit_turns,
)
from ionbeam.machine.synchrotron.tracking import OUTCOMES, track_spill

N_TURNS = 3000
N_PARTICLES = 150

#: About a minute of tracking on two cores: part of the ``slow`` validation run.
pytestmark = pytest.mark.slow


def _cnao_wires_at(x_m: float):
    ring = cnao_synchrotron()
    return replace(ring, layout=replace(ring.layout, septum=replace(ring.layout.septum, x_m=x_m)))


GEOMETRIES = {
    "pimms": pimms_synchrotron,
    "cnao": cnao_synchrotron,
    "cnao-25mm": lambda: _cnao_wires_at(0.025),
}


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IONBEAM_CACHE_DIR", str(tmp_path_factory.mktemp("geometry-cache")))
        yield


@pytest.fixture(scope="module", params=list(GEOMETRIES), ids=list(GEOMETRIES))
def comparison(request) -> dict:
    ring = GEOMETRIES[request.param]()
    tracked = track_spill(ring, "carbon", 400.0, n_particles=N_PARTICLES, n_turns=N_TURNS)
    model = reduced_spill_model(
        ring, "carbon", 400.0, spill_length_s=tracked.spill_length_s, ramp="linear"
    )
    setup = extraction_setup(ring)
    rate = model.betatron_core_sweep / N_TURNS
    unstable = (instability_shift(setup, tracked.amplitude, tracked.delta_offset)
                - model.sweep_start) / rate  # fmt: skip
    predicted = unstable + transit_turns(setup, ring.layout.septum, tracked.amplitude, rate)
    at_septum = np.isin(tracked.outcome, [OUTCOMES["extracted"], OUTCOMES["septum"]])
    observed = np.where(at_septum, tracked.turn, np.iinfo(np.int64).max)
    grid = np.arange(N_TURNS + 1)

    def cdf(turns: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.sort(turns), grid, side="right") / turns.size

    return {
        "name": request.param,
        "tracked": tracked,
        "model": model,
        "distance": float(np.max(np.abs(cdf(observed) - cdf(predicted)))),
    }


def test_efficiency_matches_tracking(comparison) -> None:
    tracked, model = comparison["tracked"], comparison["model"]
    assert (tracked.outcome == OUTCOMES["extracted"]).sum() > 60
    assert tracked.extraction_efficiency == pytest.approx(model.extraction_efficiency, abs=0.04)


def test_spiral_step_matches_tracking(comparison) -> None:
    tracked, model = comparison["tracked"], comparison["model"]
    assert tracked.spiral_step_m == pytest.approx(model.spiral_step_m, rel=0.2)


def test_spill_profile_matches_tracking(comparison) -> None:
    assert comparison["distance"] <= 0.25
