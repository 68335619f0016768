"""Schneider's HU model: water at 0 HU, electron density, and the phantom fit."""

import numpy as np
import pytest

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.patient import HUModel, fit_hu_model
from ionbeam.patient.hu_model import electron_density_relative_to_water
from ionbeam.patient.tissues import REFERENCE_TISSUES, WATER


def test_water_is_zero_hu_and_density_scales_linearly() -> None:
    model = HUModel(2e-5, 5e-4)
    assert model.hu(WATER.mass_fractions, 1.0) == pytest.approx(0.0, abs=1e-9)
    # μ ∝ ρ for a fixed composition: twice as dense water is +1000 HU.
    assert model.hu(WATER.mass_fractions, 2.0) == pytest.approx(1000.0)


def test_calcium_raises_hu_more_with_more_photo_effect() -> None:
    bone = next(t for t in REFERENCE_TISSUES if t.name == "cortical bone")
    soft = HUModel(1e-5, 1e-4).hu(bone.mass_fractions, bone.density_g_cm3)
    hard = HUModel(5e-5, 1e-4).hu(bone.mass_fractions, bone.density_g_cm3)
    assert hard > soft > 0


def test_electron_density_of_cortical_bone() -> None:
    """Woodard & White (1986) list ρ_e/ρ_e,water = 1.78 for cortical bone."""
    bone = next(t for t in REFERENCE_TISSUES if t.name == "cortical bone")
    assert electron_density_relative_to_water(
        bone.mass_fractions, bone.density_g_cm3
    ) == pytest.approx(1.78, abs=0.005)


def test_fit_recovers_the_scanner_parameters() -> None:
    truth = HUModel(2.7e-5, 6.3e-4)
    tissues = REFERENCE_TISSUES[1:]
    fractions = [t.mass_fractions for t in tissues]
    densities = [t.density_g_cm3 for t in tissues]
    measured = [truth.hu(f, d) for f, d in zip(fractions, densities, strict=True)]
    fitted = fit_hu_model(fractions, densities, measured)
    assert fitted.k_photo == pytest.approx(truth.k_photo, rel=1e-4)
    assert fitted.k_coherent == pytest.approx(truth.k_coherent, rel=1e-3)


def test_bad_input_refused() -> None:
    with pytest.raises(ConfigError):
        HUModel(-1.0, 0.0)
    with pytest.raises(ConfigError, match="at least 3"):
        fit_hu_model([WATER.mass_fractions], [1.0], [0.0])
    with pytest.raises(ConfigError, match="NaN"):
        fit_hu_model([WATER.mass_fractions] * 3, [1.0, 1.0, 1.0], [0.0, np.nan, 0.0])
    with pytest.raises(UnknownNameError):
        HUModel(1e-5, 1e-4).hu({99: 1.0}, 1.0)


def test_tissue_table_compositions_sum_to_one_percent_rounding() -> None:
    for tissue in REFERENCE_TISSUES:
        assert sum(tissue.mass_fractions.values()) == pytest.approx(1.0)
        assert 0.001 <= tissue.density_g_cm3 <= 2.0
