"""Reading MCsquare beam data libraries (BDL) into a commissioned beam."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.machine import cnao_beam_line
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.machine.commissioning import (
    beam_model_from_commissioning,
    drift_phase_space,
    load_commissioning,
    read_mcsquare_bdl,
)
from ionbeam.physics.depth_dose import DEFAULT_ENERGY_SPREAD_REL, depth_dose

REPO = Path(__file__).resolve().parents[3]
HAND_WRITTEN = REPO / "tests" / "data" / "commissioning" / "bdl_with_range_shifter.txt"
sys.path.insert(0, str(REPO / "bench" / "mcsquare"))
from _beam_data import ionbeam_bdl  # noqa: E402
from _mcsquare_inputs import write_bdl  # noqa: E402


@pytest.fixture(scope="module")
def harness_bdl(tmp_path_factory) -> Path:
    """The BDL the MCsquare harness writes for ionbeam's CNAO beam line (100–104 MeV,
    nozzle exit 500 mm upstream of the isocentre)."""
    path = tmp_path_factory.mktemp("bdl") / "cnao_protons.txt"
    bdl = ionbeam_bdl(cnao_beam_line(), np.array([100.0, 104.0]), nozzle_to_isocenter_mm=500.0)
    write_bdl(path, bdl)
    return path


def test_harness_bdl_reads_back_the_cnao_beam(harness_bdl) -> None:
    """The harness carries the CNAO spot from the isocentre to the nozzle exit; the reader
    carries it back: σ₀, σ' and ρ at the isocentre as the beam line's table (to the
    file's 6–8 printed digits), SADs, spread 0.2 %, mean = nominal energy."""
    commissioning = read_mcsquare_bdl(harness_bdl)
    energies = np.arange(100.0, 105.0)
    np.testing.assert_array_equal(commissioning.energies.nominal_energies_mev_u, energies)
    np.testing.assert_array_equal(commissioning.energies.mean_energies_mev_u, energies)
    np.testing.assert_allclose(commissioning.energies.energy_spread_rel, DEFAULT_ENERGY_SPREAD_REL)
    sigma, divergence, rho = cnao_beam_line().spot_table("proton").phase_space(energies)
    for spot in (commissioning.spot_x, commissioning.spot_y):
        np.testing.assert_allclose(spot.sigma_mm, sigma, rtol=1e-5)
        np.testing.assert_allclose(spot.divergence_mrad, divergence, rtol=1e-5)
        np.testing.assert_allclose(spot.correlation, rho, atol=1e-5)
    assert commissioning.sad_mm == (6200.0, 5700.0)
    assert commissioning.nozzle_to_isocentre_mm == 500.0
    assert commissioning.range_shifter is None
    assert commissioning.energies.depth_doses == ()  # a BDL has no curves


def test_harness_bdl_gives_the_generic_beam_model(harness_bdl) -> None:
    """Its beam model is the generic CNAO one: the same physics IDD (a BDL has no curves),
    the same spot variance in air (1e-5 relative; the correlation of 0 comes back as
    ~1e-6 from the printed digits, a linear term below 1e-6 mm² per mm)."""
    energies = [100.0, 102.0]
    ours = beam_model_from_commissioning(load_commissioning(harness_bdl), energies)
    generic = build_beam_model("proton", energies, cnao_beam_line())
    np.testing.assert_array_equal(ours.idd_gy_mm2, generic.idd_gy_mm2)
    for name in ("sigma0_mm2", "sigma1_mm2_per_mm", "sigma2_mm2_per_mm2"):
        np.testing.assert_allclose(
            getattr(ours, name), getattr(generic, name), rtol=1e-5, atol=1e-6
        )


def test_hand_written_bdl_with_a_range_shifter() -> None:
    """Mean energies, spreads (% → fraction), SMX/SMY, ProtonsMU and the range shifter
    (RS_WET, at the nozzle exit unless told) are read; the spot is drifted in vacuum
    from the nozzle exit to the isocentre; the model's R80 is the physics' at the mean
    energy with that spread (0.05 mm)."""
    commissioning = read_mcsquare_bdl(HAND_WRITTEN)
    energies = commissioning.energies
    np.testing.assert_array_equal(energies.mean_energies_mev_u, [100.6, 150.9, 201.1])
    np.testing.assert_allclose(energies.energy_spread_rel, [0.008, 0.0065, 0.0055])
    np.testing.assert_array_equal(commissioning.protons_per_mu, [1.2e9, 1.5e9, 1.8e9])
    assert commissioning.sad_mm == (2000.0, 1800.0)
    assert commissioning.range_shifter.wet_mm == 40.0
    assert commissioning.range_shifter.distance_to_isocentre_mm == 420.0
    expected = drift_phase_space([5.0, 4.0, 3.4], [3.0, 2.5, 2.0], [-0.4, -0.35, -0.3], 420.0)
    np.testing.assert_allclose(commissioning.spot_x.sigma_mm, expected.sigma_mm)
    placed = read_mcsquare_bdl(HAND_WRITTEN, range_shifter_distance_mm=250.0)
    assert placed.range_shifter.distance_to_isocentre_mm == 250.0
    model = beam_model_from_commissioning(commissioning, [150.0])
    physics = depth_dose("proton", 150.9, energy_spread_rel=0.0065)
    assert model.r80_mm[0] == pytest.approx(physics.r80_mm, abs=0.05)
    assert model.beam_line.range_shifter == commissioning.range_shifter  # kept for the engine


def test_drift_matches_the_beam_line_optics() -> None:
    """σ(z)² = σ₀² + 2ρσ₀σ'z + σ'²z² of the beam line equals the drifted phase space."""
    line = cnao_beam_line()
    sigma, divergence, rho = line.spot_table("proton").phase_space(150.0)
    moved = drift_phase_space([sigma], [divergence], [rho], 300.0)
    assert moved.sigma_mm[0] == pytest.approx(float(line.sigma_air_mm("proton", 150.0, 300.0)))


def _bdl(tmp_path: Path, old: str, new: str) -> Path:
    text = HAND_WRITTEN.read_text()
    assert old in text
    path = tmp_path / "bad.txt"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "1 5.0 0.0030 -0.40 5.2 0.0028 -0.38 0 0",
            "1 5.0 0.0030 -0.40 5.2 0.0028 -0.38 0.1 0",
            "double Gaussian",
        ),
        ("RS_WET = 40.0\n", "RS_WET = 40.0\nRS_ID = B\nRS_WET = 20.0\n", "2 range shifters"),
        ("SMX to Isocenter distance\n2000.0", "", "missing 'smx to isocenter distance'"),
        ("3 energies", "4 energies", "says 4 energies but has 3 rows"),
        ("Beam parameters", "Beam settings", "no 'Beam parameters' section"),
        ("ProtonsMU Weight1", "ProtonsMU Weight", "header must be"),
        ("100.0 100.6 0.80", "100.0 100.6 80", "a percentage"),
    ],
)
def test_bad_bdl_files(tmp_path, old, new, message) -> None:
    with pytest.raises(ConfigError, match=message):
        read_mcsquare_bdl(_bdl(tmp_path, old, new))
