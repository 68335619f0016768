"""The reduced spill model: its bookkeeping, and its closed-form limits."""

import math

import numpy as np
import pytest
from scipy.special import erf

from ionbeam.errors import ConfigError, OutOfRangeError, UnknownNameError
from ionbeam.machine.synchrotron import _spill_kernels as kernels
from ionbeam.machine.synchrotron.ring import pimms_synchrotron
from ionbeam.machine.synchrotron.spill import (
    CirculatingBeam,
    extraction_setup,
    reduced_spill_model,
)


@pytest.fixture(scope="module")
def ring():
    return pimms_synchrotron()


@pytest.fixture(scope="module")
def servo(ring):
    return reduced_spill_model(ring, "carbon", 300.0, spill_length_s=2.0, extracted_particles=4e8)


def test_servo_spill_is_flat_and_carries_the_spill_particles(servo) -> None:
    assert servo.cumulative_particles(servo.time_s[-1]) == pytest.approx(4e8)
    assert servo.extracted_between(0.0, 10.0) == pytest.approx(4e8)
    middle = servo.intensity_pps(np.linspace(0.2, 1.8, 9))
    np.testing.assert_allclose(middle, 4e8 / 2.0, rtol=0.01)
    assert servo.intensity_pps(-1.0) == 0.0 and servo.intensity_pps(5.0) == 0.0


def test_time_of_particles_inverts_the_cumulative(servo) -> None:
    t = servo.time_of_particles([1e8, 2e8, 3e8])
    np.testing.assert_allclose(servo.cumulative_particles(t), [1e8, 2e8, 3e8], rtol=1e-3)
    assert np.isinf(servo.time_of_particles(5e8))
    assert servo.remaining_particles(1.0) == pytest.approx(4e8 - servo.cumulative_particles(1.0))
    assert servo.remaining_particles(0.0) == pytest.approx(4e8)
    assert servo.circulating_particles > 4e8  # septum losses and the 0.1 % tails


def test_linear_ramp_follows_uniform_convolved_with_rayleigh(ring) -> None:
    """No transit: F(s) = P(δ + κr ≥ c − s) in closed form for a uniform δ band.

    With Δδ* = c − κr − δ, y = c − s and G the CDF of κr (Rayleigh),
    F = 1 − [I(y + a) − I(y − a)] / 2a where I(z) = ∫₀^z G(u) du.
    """
    beam = CirculatingBeam(momentum_half_width=1.5e-3)
    setup = extraction_setup(ring)
    sigma = math.sqrt(beam.emittance_x_m("proton", 200.0))
    kappa = setup.kobayashi_c / abs(setup.chromaticity)
    r = kernels.rayleigh_nodes(sigma, 4000)
    g = (setup.kobayashi_c * r - setup.tune_distance) / setup.chromaticity
    shifts = np.linspace(g.min() - 2e-3, g.max() + 2e-3, 50)
    numeric = kernels.shift_cdf(shifts, g, half_width=1.5e-3, distribution="uniform")
    a, c, s_k = 1.5e-3, -setup.tune_distance / setup.chromaticity, kappa * sigma

    def integral(z):  # ∫_0^z P(κ r ≤ u) du for the Rayleigh CDF 1 − exp(−u²/2s²)
        z = np.maximum(z, 0.0)
        return z - s_k * math.sqrt(math.pi / 2) * erf(z / (s_k * math.sqrt(2)))

    y = c - shifts
    exact = 1.0 - (integral(y + a) - integral(y - a)) / (2 * a)
    np.testing.assert_allclose(numeric, exact, atol=2e-3)


def test_momentum_spread_in_the_real_time_limit(ring) -> None:
    """In a 1 s spill the transit is negligible and δ_extracted = g(r): spread κ σ √((4−π)/2)."""
    beam = CirculatingBeam()
    model = reduced_spill_model(ring, "proton", 200.0, beam=beam, spill_length_s=1.0, ramp="linear")
    setup = extraction_setup(ring)
    sigma = math.sqrt(beam.emittance_x_m("proton", 200.0))
    expected = setup.kobayashi_c / abs(setup.chromaticity) * sigma * math.sqrt((4 - math.pi) / 2)
    assert model.extracted_momentum_spread == pytest.approx(expected, rel=0.02)
    assert model.mean_transit_turns / model.revolution_frequency_hz < 1e-3  # ≪ 1 ms


def test_linear_spill_is_a_rise_plateau_fall(ring) -> None:
    model = reduced_spill_model(ring, "proton", 200.0, spill_length_s=1.0, ramp="linear")
    t = np.linspace(0.0, 1.0, 11)
    rate = model.intensity_pps(t)
    assert rate[0] < rate[5] and rate[-1] < rate[5]
    assert np.all(np.diff(model.cumulative_fraction) >= 0)
    assert 0.99 < model.cumulative_fraction[-1] < 1.0


def test_quality_figures_are_physical(servo) -> None:
    assert 0.9 < servo.extraction_efficiency < 1.0
    assert 0.005 < servo.spiral_step_m < 0.02  # millimetres to centimetres per three turns
    assert 0 < servo.extracted_emittance_x_m < 2e-6
    assert servo.betatron_core_voltage_v > 0 and servo.betatron_core_sweep > 0


def test_bad_input(ring) -> None:
    with pytest.raises(UnknownNameError):
        reduced_spill_model(ring, "proton", 200.0, ramp="parabolic")
    with pytest.raises(OutOfRangeError):
        reduced_spill_model(ring, "proton", 200.0, spill_length_s=0.0)
    with pytest.raises(OutOfRangeError):
        reduced_spill_model(ring, "proton", 200.0, extracted_particles=float("nan"))
    with pytest.raises(OutOfRangeError):
        CirculatingBeam(normalised_emittance_x_m=-1.0)
    with pytest.raises(UnknownNameError):
        CirculatingBeam(momentum_distribution="flat")
    no_chroma = ring.layout.with_strengths(xcf=0.0, xcd=0.0)
    assert no_chroma is not ring.layout
    with pytest.raises(ConfigError):
        extraction_setup(
            type(ring)(
                ring.layout.with_strengths(xrr=0.0, xcf=0.0, xcd=0.0), 6.35, 1.1, {"default": 7.0}
            )
        )


def test_tracking_refuses_empty_runs(ring) -> None:
    from ionbeam.machine.synchrotron.tracking import track_spill

    with pytest.raises(OutOfRangeError, match="macro-particles"):
        track_spill(ring, "proton", 200.0, n_particles=0)
    with pytest.raises(OutOfRangeError, match="turns"):
        track_spill(ring, "proton", 200.0, n_turns=5)
