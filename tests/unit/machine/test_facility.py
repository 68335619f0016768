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


def test_machine_check_energy_uses_the_ring_and_the_library() -> None:
    """One source of energy limits for planner, delivery and CLI: the ring's per-particle
    limits (carbon at 14.5 MeV/u refused) and then the library's span."""
    machine = cnao_machine()
    with pytest.raises(MachineLimitError, match="carbon extraction energy on cnao"):
        machine.check_energy("carbon", 14.5)
    with pytest.raises(MachineLimitError, match="library"):
        machine.check_energy("proton", 240.0)  # inside 60–250 MeV, above CNAO's 227.54
    machine.check_energy("carbon", 399.06)


def test_three_machines_differ_where_delivery_sees_them() -> None:
    from ionbeam.machine import medaustron_machine

    cnao, pimms, med = cnao_machine(), pimms_machine(), medaustron_machine()
    assert med.cycle.spill_length_s == 5.0 and med.max_spill_length_s == 10.0
    assert cnao.cycle.spill_length_s == 1.0 and cnao.max_spill_length_s == 5.0
    # MedAustron: 1–2 s between carbon spills (the cycle's ramps at 3 T/s).
    assert 1.0 <= float(med.cycle.gap_s("carbon", 399.06, 350.0)) <= 2.0
    # PIMMS injects protons at 20 MeV, CNAO at 7 MeV/u: a shorter ramp for PIMMS.
    assert float(pimms.cycle.ramp_up_s("proton", 200.0)) < float(
        cnao.cycle.ramp_up_s("proton", 200.0)
    )
    assert get_machine("medaustron").name == "medaustron"
    with pytest.raises(ConfigError):
        cnao.with_cycle(spill_length_s=2.0).__class__(**{**vars(cnao), "max_spill_length_s": 0.5})
