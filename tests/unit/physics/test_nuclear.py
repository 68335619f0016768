"""Nuclear cross sections and primary attenuation."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.physics.nuclear import (
    ProtonReactionEnergySplit,
    macroscopic_cross_section_per_mm,
    nonelastic_cross_section_mb,
    primary_survival,
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
