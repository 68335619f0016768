"""Synchrotron limits: which energies a ring can extract, and its fields."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError, MachineLimitError, UnknownNameError
from ionbeam.machine.kinematics import magnetic_rigidity_tm
from ionbeam.machine.synchrotron.ring import (
    Synchrotron,
    cnao_synchrotron,
    get_synchrotron,
    pimms_synchrotron,
)


def test_design_energies_are_reachable() -> None:
    ring = pimms_synchrotron()
    assert ring.brho_tm("carbon", 400.0) == pytest.approx(6.346, abs=1e-3)
    assert ring.brho_tm("proton", 250.0) == pytest.approx(2.432, abs=1e-3)
    low, high = ring.energy_range_mev_u("carbon")
    assert high == pytest.approx(400.4, abs=0.5)  # 6.35 T·m
    assert low < 115.37  # the lowest CNAO carbon energy is extractable


@pytest.mark.parametrize(
    ("particle", "energy"), [("carbon", 430.0), ("proton", 5.0), ("proton", float("nan"))]
)
def test_unreachable_energies_are_refused(particle: str, energy: float) -> None:
    with pytest.raises(MachineLimitError, match="MeV/u"):
        pimms_synchrotron().brho_tm(particle, energy)


def test_refusal_of_one_energy_in_an_array() -> None:
    with pytest.raises(MachineLimitError):
        cnao_synchrotron().check_energy("carbon", [200.0, 450.0])


def test_dipole_field_is_rigidity_over_radius() -> None:
    ring = cnao_synchrotron()
    energies = np.array([115.37, 399.06])
    field = ring.dipole_field_t("carbon", energies)
    np.testing.assert_allclose(
        field, magnetic_rigidity_tm("carbon", energies) / ring.bending_radius_m
    )
    assert 1.4 < field[-1] < 1.55  # about 1.5 T at the top (ρ = 4.27 m)
    assert ring.injection_field_t("carbon") < field[0]


def test_injection_energies() -> None:
    assert pimms_synchrotron().injection_energy("proton") == 20.0
    assert pimms_synchrotron().injection_energy("carbon") == 7.0
    assert cnao_synchrotron().injection_energy("proton") == 7.0


def test_bad_configuration() -> None:
    ring = pimms_synchrotron()
    with pytest.raises(ConfigError):
        Synchrotron(ring.layout, 1.0, 2.0, {"default": 7.0})
    with pytest.raises(ConfigError):
        Synchrotron(ring.layout, 6.0, 1.0, {"proton": 7.0})
    with pytest.raises(UnknownNameError):
        get_synchrotron("hit")


@pytest.mark.parametrize(
    ("machine", "particle", "energy"),
    [("cnao", "carbon", 14.5), ("cnao", "proton", 1184.0), ("pimms", "carbon", 14.5),
     ("pimms", "proton", 1184.0), ("medaustron", "proton", 1184.0)],
)  # fmt: skip
def test_particle_limits_refuse_what_the_rigidity_alone_allows(machine, particle, energy) -> None:
    """Bρ = 1.10 T·m is carbon at 14.5 MeV/u and 6.35 T·m protons at 1,184 MeV: reachable by
    the magnets, but outside what the facility extracts (carbon ≥ 115 MeV/u, protons ≤ 250
    MeV clinically, ≤ 800 MeV at MedAustron). One line, naming the machine and the limits."""
    ring = get_synchrotron(machine)
    with pytest.raises(MachineLimitError) as error:
        ring.check_energy(particle, energy)
    message = str(error.value)
    assert "\n" not in message and machine in message and particle in message
    low, high = ring.energy_range_mev_u(particle)
    assert not (low <= energy <= high)


def test_medaustron_extracts_research_protons() -> None:
    ring = get_synchrotron("medaustron")
    assert ring.energy_range_mev_u("proton") == (60.0, 800.0)
    assert ring.check_energy("proton", 800.0) == 800.0
    assert cnao_synchrotron().energy_range_mev_u("proton") == (60.0, 250.0)
    assert ring.layout.fingerprint()["name"] == "medaustron"


def test_bad_particle_limits() -> None:
    ring = pimms_synchrotron()
    with pytest.raises(ConfigError):
        Synchrotron(ring.layout, 6.0, 1.0, {"default": 7.0},
                    extraction_limits_mev_u={"carbon": (400.0, 120.0)})  # fmt: skip
    with pytest.raises(UnknownNameError):
        Synchrotron(ring.layout, 6.0, 1.0, {"default": 7.0},
                    extraction_limits_mev_u={"neon": (100.0, 200.0)})  # fmt: skip
