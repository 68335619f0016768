"""Nuclear cross sections and primary attenuation."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.physics.nuclear import (
    ProtonReactionEnergySplit,
    macroscopic_cross_section_per_mm,
    macroscopic_elastic_cross_sections_per_mm,
    nonelastic_cross_section_mb,
    primary_survival,
    proton_elastic_cross_section_mb,
    sihver_cross_section_mb,
)
from ionbeam.physics.ranges import csda_range_mm


def test_protons_have_no_nonelastic_channel_on_hydrogen() -> None:
    assert nonelastic_cross_section_mb("proton", [50.0, 200.0], 1).tolist() == [0.0, 0.0]


def test_proton_oxygen_cross_section_is_in_the_measured_band() -> None:
    """p + 16O non-elastic: about 0.25–0.30 b from 100 to 250 MeV (ICRU 63 evaluation)."""
    sigma = nonelastic_cross_section_mb("proton", np.array([100.0, 150.0, 250.0]), 8)
    assert np.all((sigma > 240.0) & (sigma < 310.0))


def test_sihver_cross_sections_are_symmetric_and_grow_with_size() -> None:
    assert sihver_cross_section_mb(12, 16) == pytest.approx(sihver_cross_section_mb(16, 12))
    assert (
        sihver_cross_section_mb(12, 1)
        < sihver_cross_section_mb(12, 12)
        < (sihver_cross_section_mb(12, 16))
    )


def test_carbon_mean_free_path_in_water() -> None:
    """≈ 21 cm from Σ = n_H2O (2 σ_CH + σ_CO) with Sihver's parametrisation."""
    assert 1.0 / macroscopic_cross_section_per_mm("carbon", 300.0) == pytest.approx(210.0, rel=0.03)


def test_survival_decreases_with_depth_and_stays_constant_beyond_range() -> None:
    r = float(csda_range_mm("proton", 200.0))
    s = primary_survival("proton", 200.0, [0.0, r / 2, r, 2 * r])
    assert s[0] == 1.0 and s[1] > s[2] and s[2] == pytest.approx(s[3])


def test_energy_split_must_sum_to_one() -> None:
    with pytest.raises(ConfigError):
        ProtonReactionEnergySplit(secondary_protons=0.5, local=0.5, neutral=0.5)


def test_pp_elastic_cross_section_is_the_free_pp_value() -> None:
    """Fippel & Soukup's p–p parametrisation against the free p–p elastic cross section
    below the pion threshold (SAID/PDG compilations: ≈ 33 mb at 100 MeV, ≈ 23.5 mb at
    200 MeV), within 5 %; none below 10 MeV."""
    sigma = proton_elastic_cross_section_mb(np.array([5.0, 100.0, 200.0]), 1)
    assert sigma[0] == 0.0
    assert sigma[1] == pytest.approx(33.0, rel=0.05)
    assert sigma[2] == pytest.approx(23.5, rel=0.05)


def test_oxygen_cross_sections_follow_icru63() -> None:
    """ICRU 63, p + O: non-elastic 297 mb at 100 MeV and 295 mb at 200 MeV; elastic
    (> 5° c.m.) 241 mb at 100 MeV, none transported below 20 MeV."""
    nonelastic = nonelastic_cross_section_mb("proton", np.array([5.0, 100.0, 200.0]), 8)
    assert nonelastic[1:] == pytest.approx([297.0, 295.0])
    assert 0.0 < nonelastic[0] < 425.0
    elastic = proton_elastic_cross_section_mb(np.array([15.0, 100.0]), 8)
    assert elastic.tolist() == [0.0, 241.0]


def test_elastic_cross_sections_in_water_split_by_target() -> None:
    """Σ on hydrogen = n_H σ_pp, Σ on nuclei = n_O σ_pO (water: n_H = 6.69e22 /cm³)."""
    hydrogen, nuclei = macroscopic_elastic_cross_sections_per_mm(np.array([100.0]))
    n_h_per_mm3 = 6.69e22 * 1e-3
    assert hydrogen[0] == pytest.approx(
        n_h_per_mm3 * proton_elastic_cross_section_mb(np.array(100.0), 1) * 1e-25, rel=0.01
    )
    assert nuclei[0] == pytest.approx(
        n_h_per_mm3 / 2 * proton_elastic_cross_section_mb(np.array(100.0), 8) * 1e-25, rel=0.01
    )


def test_pp_groups_conserve_energy_and_follow_the_kinematics() -> None:
    """Each p–p scattering gives two protons whose energy fractions are uniform in
    [0, 1]: the groups' counts × fractions sum to 1; a proton keeping a fraction f
    leaves at cos²θ = f (1 + τ)/(1 + f τ)."""
    from ionbeam.physics._secondary_sources import _pp_groups
    from ionbeam.physics.materials import get_material
    from ionbeam.physics.particles import get_particle
    from ionbeam.physics.ranges import range_table

    table = range_table(get_particle("proton"), get_material("water"))
    f, counts, cosine, spread = _pp_groups(200.0, table)
    assert float((counts * f).sum()) == pytest.approx(1.0)
    assert float(counts.sum()) == pytest.approx(2.0)
    tau = 0.7 * 200.0 / (2 * 938.272)
    np.testing.assert_allclose(cosine**2, f * (1 + tau) / (1 + f * tau))
    assert np.all(spread > 0)


def test_elastic_packets_carry_the_removed_energy() -> None:
    """The scattered protons (table energy at birth) plus the nuclear recoils carry the
    energy the elastic scatterings removed from the primaries, within 0.5 % (the rest
    is the sampling of the tables)."""
    from ionbeam.physics._secondary_sources import proton_elastic_packets
    from ionbeam.physics.materials import get_material
    from ionbeam.physics.particles import get_particle

    births = np.array([10.0, 50.0, 100.0])
    energy = np.array([140.0, 110.0, 60.0])
    reactions = np.array([[1e-3, 1e-3, 1e-3], [2e-3, 3e-3, 4e-3]])
    proton = get_particle("proton")
    packets, recoil = proton_elastic_packets(
        proton, get_material("water"), births, reactions, energy, 150.0, 1.5
    )
    removed = float((reactions.sum(axis=0) * energy).sum())
    assert packets.initial_energy_mev() + recoil.sum() == pytest.approx(removed, rel=0.005)
    assert np.all(recoil > 0) and recoil.sum() < 0.01 * removed


def test_primaries_leave_at_the_whole_icru63_nucleus_elastic_rate() -> None:
    """Every p–nucleus elastic scattering in ICRU 63's distribution (from 5° in the centre
    of mass) takes the proton out of the primaries, whose lateral spread is Highland's
    Coulomb MCS only; the ≈ 5° group (30–60 % of the cross section at 50–200 MeV) kept
    with them until MODEL_VERSION 6 made the beam too narrow near its end of range."""
    from ionbeam.physics._primary_transport import _channel_cross_sections
    from ionbeam.physics.materials import get_material
    from ionbeam.physics.particles import get_particle

    energies = np.array([30.0, 50.0, 100.0, 150.0, 200.0])
    water = get_material("water")
    hydrogen, nuclei = macroscopic_elastic_cross_sections_per_mm(energies, water)
    channels = _channel_cross_sections(get_particle("proton"), water, energies)
    np.testing.assert_allclose(channels[1], hydrogen, rtol=1e-12)
    np.testing.assert_allclose(channels[2], nuclei, rtol=1e-12)
    assert np.all(nuclei > 0.0)
