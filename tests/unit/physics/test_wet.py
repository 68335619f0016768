"""Relative stopping power and water-equivalent thickness."""

import numpy as np
import pytest

from ionbeam.errors import OutOfRangeError
from ionbeam.physics.materials import Material, bragg_additivity_i_value, get_material
from ionbeam.physics.ranges import csda_range_mm
from ionbeam.physics.wet import relative_stopping_power, water_equivalent_thickness_mm


def test_water_relative_to_itself_is_one() -> None:
    assert relative_stopping_power("water") == pytest.approx(1.0, abs=1e-12)
    assert relative_stopping_power(
        get_material("water", i_value_ev=75.0), water_i_value_ev=75.0
    ) == pytest.approx(1.0, abs=1e-12)


def test_rsp_of_common_materials_is_in_the_published_range() -> None:
    """PMMA ≈ 1.16, cortical bone ≈ 1.7, lung tissue scales with its density."""
    assert relative_stopping_power("pmma") == pytest.approx(1.165, abs=0.01)
    assert relative_stopping_power("cortical_bone") == pytest.approx(1.70, abs=0.03)
    assert relative_stopping_power("lung") == pytest.approx(0.26 * 0.997, rel=0.02)


def test_rsp_for_an_arbitrary_composition_like_the_ct_calibration() -> None:
    fractions = {1: 0.105, 6: 0.256, 7: 0.027, 8: 0.602, 11: 0.001, 15: 0.002, 16: 0.003,
                 17: 0.002, 19: 0.002}  # fmt: skip
    tissue = Material("liver-like", 1.06, mass_fractions=fractions,
                      i_value_ev=bragg_additivity_i_value(fractions))  # fmt: skip
    rsp = relative_stopping_power(tissue, energy_mev_u=100.0)
    assert 1.03 < rsp < 1.09
    # a higher water I-value lowers water's stopping more than the tissue's: RSP rises
    assert relative_stopping_power(tissue, water_i_value_ev=78.0) > relative_stopping_power(
        tissue, water_i_value_ev=75.0
    )


def test_rsp_depends_weakly_on_energy() -> None:
    rsp = relative_stopping_power("cortical_bone", energy_mev_u=np.array([50.0, 250.0]))
    assert isinstance(rsp, np.ndarray) and abs(rsp[1] / rsp[0] - 1) < 0.01


def test_thin_slab_wet_is_rsp_times_thickness() -> None:
    wet = water_equivalent_thickness_mm("aluminium", 1.0, energy_mev_u=150.0)
    assert wet == pytest.approx(relative_stopping_power("aluminium", energy_mev_u=150.0),
                                rel=0.002)  # fmt: skip


def test_a_slab_that_stops_the_beam_has_the_water_range_as_wet() -> None:
    assert water_equivalent_thickness_mm("pmma", 500.0, energy_mev_u=150.0) == pytest.approx(
        float(csda_range_mm("proton", 150.0))
    )


def test_negative_thickness_is_refused() -> None:
    with pytest.raises(OutOfRangeError):
        water_equivalent_thickness_mm("pmma", -1.0)
