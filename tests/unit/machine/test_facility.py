"""The Machine that planning and delivery use."""

import pytest

from ionbeam.errors import ConfigError, MachineLimitError, UnknownNameError
from ionbeam.machine import ScanningSystem, SpotLimits, cnao_machine, get_machine, pimms_machine


@pytest.fixture(scope="module")
def machine():
    return cnao_machine()


def test_machine_parts(machine) -> None:
    assert machine.particles == ("proton", "helium", "carbon", "oxygen")
    assert len(machine.energy_library("carbon")) == 121
    assert machine.spill_particles("proton") == 1e10 and machine.spill_particles("carbon") == 4e8
    limits = machine.spot_limit("carbon")
    assert limits.max_particles < machine.spill_particles("carbon")
    assert pimms_machine().synchrotron.name == "pimms"


def test_spill_model_uses_the_cycle_and_intensity(machine) -> None:
    longer = machine.with_cycle(spill_length_s=4.0)
    spill = longer.spill_model("carbon", 399.06)
    assert spill.spill_length_s == 4.0
    assert spill.cumulative_particles(10.0) == pytest.approx(4e8)
    with pytest.raises(MachineLimitError):
        machine.spill_model("carbon", 420.0)


def test_scanning_move_time() -> None:
    scan = ScanningSystem(speed_x_mm_per_ms=20.0, speed_y_mm_per_ms=5.0, settling_time_ms=0.2)
    assert scan.move_time_ms(40.0, 5.0) == pytest.approx(2.0 + 0.2)  # x is the slower move
    assert scan.move_time_ms(0.0, 10.0) == pytest.approx(2.0 + 0.2)
    assert scan.move_time_ms(0.0, 0.0) == 0.0


def test_bad_machine_input(machine) -> None:
    with pytest.raises(UnknownNameError):
        get_machine("hit")
    with pytest.raises(UnknownNameError):
        machine.energy_library("neon")
    with pytest.raises(ConfigError):
        SpotLimits(10.0, 1.0)
    with pytest.raises(ConfigError):
        ScanningSystem(speed_x_mm_per_ms=0.0)
