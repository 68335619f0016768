"""Monitor chambers: what the beam really delivers when the primary stops a spot, the
statistics of the readings, and the interlock that compares the two chambers."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.delivery import MonitorChamber, MonitorSystem, find_interlock, read_monitors
from ionbeam.errors import ConfigError


def _system(g1: float = 1.0, g2: float = 1.0, spread: float = 0.5, **tolerances) -> MonitorSystem:
    return MonitorSystem(
        primary=MonitorChamber(gain=g1, signal_spread=spread),
        secondary=MonitorChamber(gain=g2, signal_spread=spread),
        **tolerances,
    )


def test_ideal_chambers_deliver_the_count_exactly() -> None:
    target = np.array([1, 5000, 123457, 10**9])
    readings = read_monitors(target, _system(spread=0.0), rng=None)
    np.testing.assert_array_equal(readings.delivered, target)
    np.testing.assert_array_equal(readings.primary, target)
    np.testing.assert_array_equal(readings.secondary, target)
    assert find_interlock(readings, np.zeros(4, int), _system(spread=0.0)) is None


def test_a_miscalibrated_primary_delivers_the_wrong_count() -> None:
    target = np.full(3, 100_000)
    readings = read_monitors(target, _system(g1=1.25, spread=0.0), rng=None)
    np.testing.assert_array_equal(readings.delivered, 80_000)  # reads 25 % high: stops early
    np.testing.assert_allclose(readings.primary, target)  # ... while its reading looks right
    np.testing.assert_allclose(readings.secondary, 80_000)
    trip = find_interlock(readings, np.zeros(3, int), _system(g1=1.25, spread=0.0))
    assert trip is not None and trip.position == 0 and "spot check" in trip.reason


def test_noisy_readings_have_the_configured_spread() -> None:
    """Reading noise is s·√n per chamber, so (r2 − r1)/√n has σ = √(s1² + s2²)."""
    rng = np.random.default_rng(11)
    target = rng.integers(5_000, 5_000_000, 20_000)
    readings = read_monitors(target, _system(spread=0.5), rng=rng)
    n = readings.delivered.astype(float)
    pull = (readings.secondary - readings.primary) / np.sqrt(n)
    assert np.std(pull) == pytest.approx(np.sqrt(0.5), rel=0.03)
    assert abs(np.mean(pull)) < 5 * np.sqrt(0.5 / pull.size)
    # the DDS stops on the primary, so the true count scatters around the target by s·√n
    error = (readings.delivered - target) / np.sqrt(target)
    assert np.std(error) == pytest.approx(0.5, rel=0.03)
    np.testing.assert_allclose(readings.primary, target, atol=0.6)
    # calibrated chambers agree within the tolerance: no interlock over 20 000 spots
    assert find_interlock(readings, np.zeros(target.size, int), _system()) is None


def test_noise_needs_an_explicit_generator() -> None:
    with pytest.raises(ConfigError, match="default_rng"):
        read_monitors(np.array([1000]), _system(), rng=None)


def test_small_secondary_drift_trips_the_cumulative_check_when_expected() -> None:
    """A secondary reading 2 % low passes the 3 % spot check, but over the field the sum
    departs by 0.02 N against a threshold 0.01 N + 5·0.707·√N: it trips once
    √N > 353.6, i.e. N > 1.25·10⁵ particles, the second spot of 10⁵."""
    target = np.full(50, 100_000)
    system = _system(g2=0.98, spread=0.5)
    readings = read_monitors(target, system, rng=np.random.default_rng(0))
    trip = find_interlock(readings, np.zeros(50, int), system)
    assert trip is not None and "cumulative" in trip.reason
    assert trip.position in (1, 2)  # the noise (~0.3 % per spot) may shift it by one
    ratio = float(trip.reason.split("=")[1].split()[0])
    assert ratio == pytest.approx(0.98, abs=0.005)


def test_cumulative_check_restarts_with_each_field() -> None:
    """A 2.5 % disagreement on the last of four equal spots passes the 3 % spot check; summed
    over one field it is 0.625 % (below 0.8 %), but alone in a new field it is 2.5 %."""
    n = np.full(4, 1_000_000)
    base = read_monitors(n, _system(spread=0.0), rng=None)
    readings = type(base)(base.delivered, base.primary, base.primary * [1.0, 1.0, 1.0, 1.025])
    system = _system(spread=0.0, cumulative_tolerance=0.008, spot_tolerance=0.03)
    assert find_interlock(readings, np.array([0, 0, 0, 0]), system) is None
    trip = find_interlock(readings, np.array([0, 0, 0, 1]), system)
    assert trip is not None and trip.position == 3 and "cumulative" in trip.reason


def test_bad_settings() -> None:
    with pytest.raises(ConfigError):
        MonitorChamber(gain=0.0)
    with pytest.raises(ConfigError):
        MonitorChamber(signal_spread=-1.0)
    with pytest.raises(ConfigError):
        MonitorSystem(spot_tolerance=float("nan"))
