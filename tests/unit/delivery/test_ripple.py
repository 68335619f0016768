"""Spill ripple: duty factor, and the spot count errors it causes through the chopper's delay."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ionbeam.delivery import SpillRipple, deliver_plan, mains_ripple
from ionbeam.errors import ConfigError


def test_duty_factor_of_one_line() -> None:
    """I = Ī(1 + a sin ωt): ⟨I⟩²/⟨I²⟩ = 1/(1 + a²/2), checked by sampling one period."""
    ripple = SpillRipple((50.0,), (0.4,))
    t = np.linspace(0.0, 0.02, 20001)[:-1]
    i = ripple.relative_intensity(t, np.zeros((1,)))
    assert ripple.duty_factor == pytest.approx(np.mean(i) ** 2 / np.mean(i**2), rel=1e-6)
    assert ripple.duty_factor == pytest.approx(1 / 1.08)
    assert mains_ripple(0.2).rms == pytest.approx(0.2)


def test_bad_ripple() -> None:
    with pytest.raises(ConfigError):
        SpillRipple((50.0, 100.0), (0.6, 0.5))  # the intensity would go negative
    with pytest.raises(ConfigError):
        SpillRipple((0.0,), (0.1,))
    with pytest.raises(ConfigError):
        mains_ripple(0.7)


def test_spot_error_grows_with_ripple_and_hits_small_spots(machine, make_plan, ideal) -> None:
    """A spot is off by Ī·t_ch·ε with ε the relative ripple at its end: a relative error of
    ε·t_ch/t_spot, bounded by 3√2·rms·t_ch/t_spot (plus rounding) for the 5000-ion spot
    (t_spot = 0.1 ms, the chopper's t_ch = 0.1 ms). No ripple, no error; with the same
    phases the error is linear in the ripple (3× the rms, 3× the error, 30 % for rounding)."""
    weight = np.full(25, 2.0e6)
    weight[12] = 5000.0
    plan = make_plan("carbon", [(0, 2.0e6), (3, weight)])
    smooth = deliver_plan(plan, machine, options=ideal())
    assert smooth.summary()["spot_error_max"] == 0.0
    errors = {}
    for rms in (0.1, 0.3):
        record = deliver_plan(plan, machine, options=ideal(ripple=mains_ripple(rms)),
                              rng=np.random.default_rng(4))  # fmt: skip
        errors[rms] = record.summary()
        small = record.spots.target == 5000
        rel = (record.spots.delivered[small] - 5000) / 5000
        t_spot = record.spots.beam_on_s[small][0]
        assert abs(rel[0]) <= 3 * math.sqrt(2) * rms * 1e-4 / t_spot + 2 / 5000
    ratio = errors[0.3]["spot_error_rms"] / errors[0.1]["spot_error_rms"]
    assert ratio == pytest.approx(3.0, rel=0.3)
    assert errors[0.3]["spot_error_max"] > errors[0.3]["spot_error_rms"]
    assert errors[0.3]["ripple_rms"] == pytest.approx(0.3)
