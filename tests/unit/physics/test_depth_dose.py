"""Depth–dose: data model, components, grids, spectra, determinism and input checks."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError, OutOfRangeError, UnknownNameError
from ionbeam.physics.depth_dose import DepthDose, depth_dose
from ionbeam.physics.fragmentation import fragment_particle
from ionbeam.physics.nuclear import macroscopic_cross_section_per_mm
from ionbeam.physics.stopping import linear_stopping_power


@pytest.fixture(scope="module")
def carbon() -> DepthDose:
    return depth_dose("carbon", 250.0, with_spectra=True)


@pytest.fixture(scope="module")
def proton() -> DepthDose:
    return depth_dose("proton", 150.0)


def test_components_add_up_to_the_idd(carbon: DepthDose, proton: DepthDose) -> None:
    for d in (carbon, proton):
        total = d.primary_idd_mev_mm + d.secondary_idd_mev_mm.sum(0) + d.nuclear_local_idd_mev_mm
        np.testing.assert_allclose(total, d.idd_mev_mm, rtol=1e-12)


def test_shapes_and_grid(carbon: DepthDose) -> None:
    n = carbon.depth_mm.size
    assert carbon.depth_edges_mm.size == n + 1
    for array in (
        carbon.idd_mev_mm,
        carbon.let_d_kev_um,
        carbon.sigma_mcs_mm,
        carbon.halo_weight,
        carbon.halo_sigma_mm,
        carbon.primary_fluence,
    ):
        assert array.shape == (n,)
    assert carbon.secondary_idd_mev_mm.shape == (6, n)
    assert np.all(np.diff(carbon.depth_edges_mm) > 0)


def test_entrance_dose_is_the_stopping_power_of_the_beam(proton: DepthDose) -> None:
    """At the surface the primaries deposit S(E₀) and non-elastic reactions their local
    share (10 % of Σ·E₀, ICRU 63 Σ ≈ 1/m: 0.015 MeV/mm at 150 MeV, ~3 % of S);
    transported secondaries have not built up."""
    s0 = float(linear_stopping_power("proton", 150.0))
    local = float(0.1 * macroscopic_cross_section_per_mm("proton", 150.0) * 150.0)
    assert proton.primary_idd_mev_mm[0] == pytest.approx(s0, rel=0.01)
    assert proton.nuclear_local_idd_mev_mm[0] == pytest.approx(local, rel=0.05)
    assert proton.idd_mev_mm[0] == pytest.approx(s0 + local, rel=0.01)


def test_peak_lies_just_before_the_csda_range(proton: DepthDose, carbon: DepthDose) -> None:
    for d in (proton, carbon):
        assert d.csda_range_mm - 6.0 < d.bragg_peak_mm < d.csda_range_mm
        assert d.r80_mm == pytest.approx(d.csda_range_mm, abs=0.5)


def test_ions_have_a_fragment_tail_and_protons_do_not(carbon: DepthDose, proton: DepthDose) -> None:
    behind = carbon.depth_mm > carbon.csda_range_mm + 10.0
    assert np.all(carbon.idd_mev_mm[behind][:20] > 0.02 * carbon.idd_mev_mm.max())
    behind_p = proton.depth_mm > proton.csda_range_mm + 10.0
    assert np.all(proton.idd_mev_mm[behind_p] < 2e-3 * proton.idd_mev_mm.max())


def test_let_rises_towards_the_peak(proton: DepthDose) -> None:
    peak = int(np.argmax(proton.idd_mev_mm))
    assert proton.let_d_kev_um[peak] > 5 * proton.let_d_kev_um[0]


def test_halo_is_bounded_and_wider_than_the_core(proton: DepthDose) -> None:
    """Before the peak the halo (non-elastic secondaries and elastically scattered
    protons, ~20 % of the dose at 150 MeV) stays below a quarter: a doubled nuclear
    term would exceed it."""
    assert np.all((proton.halo_weight >= 0) & (proton.halo_weight <= 1))
    before_peak = proton.depth_mm < proton.bragg_peak_mm
    assert np.all(proton.halo_weight[before_peak] < 0.25)
    assert np.all(proton.halo_sigma_mm >= proton.sigma_mcs_mm)


def test_spectra_reproduce_the_charged_particle_dose(carbon: DepthDose) -> None:
    spectra = carbon.spectra
    assert spectra is not None and spectra.species[0] == (6, 12)
    mid = np.sqrt(spectra.energy_edges_mev_u[1:] * spectra.energy_edges_mev_u[:-1])
    dose = np.zeros_like(carbon.idd_mev_mm)
    for s, (z, a) in enumerate(spectra.species):
        stopping = linear_stopping_power(fragment_particle(z, a), mid)
        dose += (spectra.fluence[s] * stopping[:, None]).sum(axis=0)
    charged = carbon.idd_mev_mm - carbon.nuclear_local_idd_mev_mm
    plateau = carbon.depth_mm < 0.8 * carbon.csda_range_mm
    np.testing.assert_allclose(dose[plateau], charged[plateau], rtol=0.03)


def test_user_depth_grid_gives_bin_averages(proton: DepthDose) -> None:
    depths = np.arange(1.0, 170.0, 2.0)
    coarse = depth_dose("proton", 150.0, depth_mm=depths)
    np.testing.assert_allclose(coarse.depth_mm, depths)
    assert coarse.deposited_energy_mev == pytest.approx(proton.deposited_energy_mev, rel=0.005)


def test_results_are_deterministic() -> None:
    a = depth_dose("helium", 120.0)
    b = depth_dose("helium", 120.0)
    assert np.array_equal(a.idd_mev_mm, b.idd_mev_mm)


def test_water_i_value_moves_the_peak() -> None:
    low = depth_dose("proton", 150.0, water_i_value_ev=75.0)
    high = depth_dose("proton", 150.0, water_i_value_ev=78.0)
    assert 0.3 < high.r80_mm - low.r80_mm < 1.0


def test_larger_energy_spread_lowers_and_widens_the_peak(proton: DepthDose) -> None:
    wide = depth_dose("proton", 150.0, energy_spread_rel=0.01)
    assert wide.idd_mev_mm.max() < 0.85 * proton.idd_mev_mm.max()
    falloff = wide.r80_mm - wide.distal_depth_mm(0.2)
    assert falloff < proton.r80_mm - proton.distal_depth_mm(0.2) - 1.0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"particle": "proton", "energy_mev_u": 500.0}, OutOfRangeError),
        ({"particle": "proton", "energy_mev_u": 0.5}, OutOfRangeError),
        ({"particle": "pion", "energy_mev_u": 100.0}, UnknownNameError),
        (
            {"particle": "proton", "energy_mev_u": 100.0, "energy_spread_rel": -0.01},
            OutOfRangeError,
        ),
        ({"particle": "proton", "energy_mev_u": 100.0, "depth_mm": [5.0, 1.0]}, ConfigError),
        ({"particle": "proton", "energy_mev_u": 100.0, "depth_mm": [-1.0, 1.0]}, OutOfRangeError),
        ({"particle": "proton", "energy_mev_u": 100.0, "depth_mm": [1.0]}, ConfigError),
    ],
)
def test_bad_input_is_refused(kwargs: dict, error: type) -> None:
    particle = kwargs.pop("particle")
    energy = kwargs.pop("energy_mev_u")
    with pytest.raises(error):
        depth_dose(particle, energy, **kwargs)


def test_proton_spectra_include_the_scattered_protons() -> None:
    """Primaries, secondary and elastically scattered protons share one fluence spectrum
    whose Σ fluence × S reproduces the charged-particle IDD in the plateau within 3 %."""
    d = depth_dose("proton", 150.0, with_spectra=True)
    spectra = d.spectra
    assert spectra is not None and spectra.species == ((1, 1),)
    mid = np.sqrt(spectra.energy_edges_mev_u[1:] * spectra.energy_edges_mev_u[:-1])
    dose = (spectra.fluence[0] * linear_stopping_power("proton", mid)[:, None]).sum(axis=0)
    charged = d.idd_mev_mm - d.nuclear_local_idd_mev_mm
    plateau = d.depth_mm < 0.8 * d.csda_range_mm
    np.testing.assert_allclose(dose[plateau], charged[plateau], rtol=0.03)


@pytest.mark.parametrize(
    ("particle", "with_spectra", "cone", "error"),
    [
        ("proton", True, 10.0, ConfigError),
        ("carbon", False, 10.0, ConfigError),
        ("carbon", True, 0.0, OutOfRangeError),
        ("carbon", True, 95.0, OutOfRangeError),
        ("carbon", True, float("nan"), OutOfRangeError),
    ],
)
def test_cone_needs_an_ion_beam_with_spectra_and_an_angle_up_to_90_degrees(
    particle: str, with_spectra: bool, cone: float, error: type[Exception]
) -> None:
    with pytest.raises(error):
        depth_dose(particle, 200.0, with_spectra=with_spectra, cone_half_angle_deg=cone)


def test_cone_fluence_only_when_asked_for(carbon: DepthDose) -> None:
    """Without a cone the spectra say how to get one instead of answering wrongly."""
    assert carbon.spectra is not None
    assert carbon.spectra.cone_fluence is None
    with pytest.raises(ConfigError, match="cone_half_angle_deg"):
        carbon.spectra.forward_fluence(1, within_cone=True)
    with pytest.raises(OutOfRangeError):
        carbon.spectra.forward_fluence(1, min_residual_range_mm=-1.0)
    rows = carbon.spectra.forward_rows(2)
    assert np.allclose(
        carbon.spectra.forward_fluence(2),
        carbon.spectra.fluence[rows].sum(axis=(0, 1)),
        rtol=1e-12,
        atol=0.0,
    )
