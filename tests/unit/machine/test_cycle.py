"""Cycle timing: ramps at the dipole ramp rate, one spill per cycle, multi-energy option."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError, MachineLimitError
from ionbeam.machine.synchrotron.cycle import CycleTiming
from ionbeam.machine.synchrotron.ring import cnao_synchrotron


@pytest.fixture(scope="module")
def cycle() -> CycleTiming:
    return CycleTiming(cnao_synchrotron(), ramp_rate_t_per_s=3.0, spill_length_s=4.0)


def test_ramps_follow_the_field_swing(cycle) -> None:
    ring = cycle.synchrotron
    swing = ring.dipole_field_t("carbon", 399.06) - ring.injection_field_t("carbon")
    assert cycle.ramp_up_s("carbon", 399.06) == pytest.approx(2 * 0.05 + swing / 3.0)
    assert cycle.ramp_down_s("carbon", 399.06) == pytest.approx(cycle.ramp_up_s("carbon", 399.06))


def test_cycle_is_the_sum_of_its_parts(cycle) -> None:
    e = 250.0
    total = cycle.injection_s + cycle.ramp_up_s("carbon", e) + cycle.flat_top_setup_s
    total += cycle.spill_length_s + cycle.ramp_down_s("carbon", e)
    assert cycle.cycle_s("carbon", e) == pytest.approx(total)
    assert cycle.spill_start_s("carbon", e) == pytest.approx(
        total - 4.0 - cycle.ramp_down_s("carbon", e)
    )


def test_gap_between_spills_is_one_to_two_seconds_for_carbon(cycle) -> None:
    # MedAustron: 4–5 s spills with 1–2 s between them (issue 7).
    gap = cycle.gap_s("carbon", 399.06, 350.0)
    assert 1.0 <= gap <= 2.0
    assert cycle.cycle_s("carbon", 399.06) > cycle.cycle_s("carbon", 115.37)


def test_multi_energy_extraction_steps_down_on_the_flat_top(cycle) -> None:
    multi = CycleTiming(cycle.synchrotron, multi_energy_extraction=True, energy_step_s=0.1)
    down = multi.gap_s("carbon", 300.0, 290.0)
    ring = cycle.synchrotron
    step = (ring.dipole_field_t("carbon", 300.0) - ring.dipole_field_t("carbon", 290.0)) / 3.0
    assert down == pytest.approx(0.1 + step)
    assert multi.gap_s("carbon", 290.0, 300.0) == pytest.approx(cycle.gap_s("carbon", 290.0, 300.0))
    np.testing.assert_array_less(
        multi.gap_s("carbon", [300.0], [200.0]), cycle.gap_s("carbon", 300.0, 200.0)
    )


def test_reset_to_maximum_field_costs_time(cycle) -> None:
    reset = CycleTiming(cycle.synchrotron, reset_to_max_field=True)
    assert reset.ramp_down_s("proton", 100.0) > cycle.ramp_down_s("proton", 100.0) + 0.5


def test_bad_settings_and_energies(cycle) -> None:
    with pytest.raises(ConfigError):
        CycleTiming(cycle.synchrotron, ramp_rate_t_per_s=0.0)
    with pytest.raises(ConfigError):
        CycleTiming(cycle.synchrotron, injection_s=-1.0)
    with pytest.raises(MachineLimitError):
        cycle.cycle_s("carbon", 500.0)
