"""Energy libraries: CNAO's published tables and libraries built from range steps."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError, MachineLimitError
from ionbeam.machine.energy_library import (
    EnergyLibrary,
    cnao_energy_library,
    energy_library_from_ranges,
)
from ionbeam.machine.kinematics import magnetic_rigidity_tm
from ionbeam.physics.ranges import csda_range_mm


def test_cnao_proton_table() -> None:
    # CNAO: 162 proton energies, 62.58–227.54 MeV, ranges 30–320 mm (1 mm to 62 mm, then 2 mm).
    lib = cnao_energy_library("proton")
    assert len(lib) == 162
    assert lib.energies_mev_u[0] == pytest.approx(62.58, abs=1e-6)
    assert lib.energies_mev_u[-1] == pytest.approx(227.54, abs=1e-6)
    steps = np.diff(lib.ranges_mm)
    assert np.all(steps[lib.ranges_mm[1:] <= 62] == 1.0)
    assert np.all(steps[lib.ranges_mm[:-1] >= 62] == 2.0)


def test_cnao_carbon_table() -> None:
    # CNAO: 121 carbon energies, 115.37–399.06 MeV/u, ranges 30–270 mm in 2 mm steps.
    lib = cnao_energy_library("carbon")
    assert len(lib) == 121
    assert lib.energies_mev_u[[0, -1]] == pytest.approx([115.37, 399.06], abs=1e-6)
    assert np.all(np.diff(lib.ranges_mm) == 2.0)
    # Energies follow the range–energy relation: ranges grow with energy as CSDA ranges do.
    csda = csda_range_mm("carbon", lib.energies_mev_u)
    assert np.all(np.diff(csda) > 0) and np.all(np.abs(csda - lib.ranges_mm - 4.0) < 0.6)


def test_helium_and_oxygen_stay_within_the_rings_rigidity() -> None:
    helium, oxygen = cnao_energy_library("helium"), cnao_energy_library("oxygen")
    assert len(helium) == 162  # helium's 320 mm needs ~227 MeV/u, well below 6.35 T·m
    assert magnetic_rigidity_tm("oxygen", oxygen.max_energy_mev_u) <= 6.35
    assert len(oxygen) < 121  # oxygen at 6.35 T·m reaches only about 200 mm


def test_lookups() -> None:
    lib = cnao_energy_library("carbon")
    assert lib.nearest(200.0) in lib.energies_mev_u
    assert abs(lib.nearest(200.0) - 200.0) <= np.min(np.abs(lib.energies_mev_u - 200.0)) + 1e-12
    np.testing.assert_array_equal(lib.index_of([115.37, 399.06]), [0, 120])
    assert lib.index_of(lib.energies_mev_u[57] + 1e-6) == 57
    assert lib.index_for_range(100.4) == int(np.argmin(np.abs(lib.ranges_mm - 100.4)))


@pytest.mark.parametrize("energy", [100.0, 400.0, float("nan")])
def test_energies_outside_the_library_are_refused(energy: float) -> None:
    with pytest.raises(MachineLimitError, match="library"):
        cnao_energy_library("carbon").check(energy)


def test_from_ranges_drops_what_the_ring_cannot_reach() -> None:
    lib = energy_library_from_ranges(
        "carbon", np.arange(30.0, 400.0, 10.0), machine="x", max_brho_tm=4.0
    )
    assert magnetic_rigidity_tm("carbon", lib.max_energy_mev_u) <= 4.0
    assert lib.ranges_mm[-1] < 150
    with pytest.raises(MachineLimitError):
        energy_library_from_ranges("carbon", [300.0], machine="x", max_brho_tm=2.0)


def test_bad_libraries() -> None:
    with pytest.raises(ConfigError):
        energy_library_from_ranges("proton", [50.0, 40.0], machine="x")
    with pytest.raises(ConfigError):
        EnergyLibrary("proton", np.array([100.0, 90.0]), np.array([1.0, 2.0]), "x")
    with pytest.raises(ConfigError):
        EnergyLibrary("proton", np.array([100.0]), np.array([1.0, 2.0]), "x")
    with pytest.raises(MachineLimitError):
        cnao_energy_library("proton").index_for_range(400.0)
