"""The interlock in a delivery: a miscalibrated chamber stops the beam, and the record says
where, when and why; calibrated chambers deliver the whole plan."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.delivery import DeliveryOptions, MonitorChamber, MonitorSystem, deliver_plan


def _options(primary_gain: float = 1.0, secondary_gain: float = 1.0) -> DeliveryOptions:
    return DeliveryOptions(
        monitors=MonitorSystem(
            primary=MonitorChamber(gain=primary_gain), secondary=MonitorChamber(gain=secondary_gain)
        )
    )


def test_calibrated_chambers_agree_over_a_large_plan(machine, make_plan) -> None:
    plan = make_plan("carbon", [(k, 2.0e5) for k in range(0, 40, 4)], n=20, beams=2)
    record = deliver_plan(plan, machine, options=_options(), rng=np.random.default_rng(1))
    assert record.completed and record.interlock is None
    spots = record.spots
    relative = (spots.secondary_reading - spots.primary_reading) / spots.primary_reading
    assert np.max(np.abs(relative)) < MonitorSystem().spot_tolerance


def test_a_miscalibrated_secondary_stops_the_beam_at_once(machine, make_plan) -> None:
    plan = make_plan("carbon", [(0, 1.0e6), (3, 1.0e6)], beams=2)
    record = deliver_plan(plan, machine, options=_options(secondary_gain=0.9),
                          rng=np.random.default_rng(2))  # fmt: skip
    assert not record.completed
    first = int(np.flatnonzero(record.spots.scan_position == 0)[0])
    assert record.interlock.spot == first and record.interlock.beam == 0
    assert "spot check" in record.interlock.reason
    delivered = record.spots.delivered > 0
    np.testing.assert_array_equal(np.flatnonzero(delivered), [first])
    assert np.all(record.spots.scan_position[~delivered] == -1)
    assert np.all(np.isnan(record.spots.start_s[~delivered]))
    assert len(record.spills) == 1
    assert record.spills.end_s[0] == pytest.approx(record.interlock.time_s)
    assert record.interlock.time_s == pytest.approx(record.spots.end_s[first])
    assert record.fields[1].delivered_particles == 0 and record.fields[1].n_spots == 0


def test_a_primary_reading_high_underdoses_until_the_interlock(machine, make_plan) -> None:
    """A primary chamber reading 2.5 % high stops every spot 2.5 % early; the spot check
    (3 % + 5σ of the noise) lets that through, the cumulative check (1 % + 5σ, 0.35 % for
    10⁶ ions) does not, from the first spot on."""
    plan = make_plan("carbon", [(0, 1.0e6)], n=6)
    record = deliver_plan(plan, machine, options=_options(primary_gain=1.025),
                          rng=np.random.default_rng(3))  # fmt: skip
    assert not record.completed and "cumulative" in record.interlock.reason
    done = record.spots.scan_position >= 0
    assert done.sum() == 1 + np.max(record.spots.scan_position)
    ratio = record.spots.delivered[done] / record.spots.target[done]
    np.testing.assert_allclose(ratio, 1 / 1.025, rtol=2e-3)
