"""Biological beam-model tables: models per particle, caching, consistency with depth–dose."""

import dataclasses

import numpy as np
import pytest

from ionbeam.errors import ConfigError, OutOfRangeError, UnknownNameError
from ionbeam.physics.depth_dose import depth_dose
from ionbeam.physics.radiobiology.mkm import single_ion_alpha_gy
from ionbeam.physics.radiobiology.proton_rbe import McNamara2015
from ionbeam.physics.radiobiology.tables import (
    compute_biology_tables,
    compute_biology_tables_per_tissue,
)
from ionbeam.physics.radiobiology.tissue import TISSUES


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("IONBEAM_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("IONBEAM_CACHE", "1")


def test_constant_rbe_tables_scale_the_photon_parameters() -> None:
    tissue = TISSUES["late_normal"]
    tables = compute_biology_tables("proton", [100.0, 150.0], tissue, model="constant")
    np.testing.assert_allclose(tables.alpha_gy, 1.1 * tissue.alpha_x_gy, rtol=1e-14)
    np.testing.assert_allclose(tables.sqrt_beta_gy, 1.1 * np.sqrt(tissue.beta_x_gy2), rtol=1e-14)
    assert tables.model == "constant" and tables.alpha_gy.shape == tables.depth_mm.shape


def test_proton_tables_apply_the_model_to_the_depth_dose_let() -> None:
    tissue = TISSUES["tumour"]
    tables = compute_biology_tables("proton", [120.0], tissue)  # default: McNamara 2015
    curve = depth_dose("proton", 120.0)
    alpha, beta = McNamara2015().alpha_beta(curve.let_d_kev_um, 0.3, 0.03)
    np.testing.assert_array_equal(tables.depth_mm[0], curve.depth_mm)
    np.testing.assert_allclose(tables.alpha_gy[0], alpha, rtol=1e-12)
    np.testing.assert_allclose(tables.sqrt_beta_gy[0], np.sqrt(beta), rtol=1e-12)
    assert tables.model == "mcnamara2015"


def test_carbon_tables_follow_the_physics_and_are_cached() -> None:
    """At the entrance of a 290 MeV/u beam the field is nearly all primaries (α within 3 %
    of the single-ion α); α peaks at the Bragg peak and falls in the fragment tail."""
    hsg = TISSUES["hsg"]
    tables = compute_biology_tables("carbon", [290.0], hsg)
    curve = depth_dose("carbon", 290.0)
    alpha = tables.alpha_gy[0]
    np.testing.assert_array_equal(tables.depth_mm[0], curve.depth_mm)
    assert alpha[0] == pytest.approx(single_ion_alpha_gy("carbon", 290.0, hsg.mkm), rel=0.03)
    peak = int(np.argmax(curve.idd_mev_mm))
    tail = curve.depth_mm > curve.bragg_peak_mm + 20.0
    assert alpha[peak] > 3.0 * alpha[0] and alpha[tail].max() < alpha[peak]
    again = compute_biology_tables("carbon", np.array([290.0]), "hsg")
    np.testing.assert_array_equal(again.alpha_gy[0], alpha)
    with pytest.raises(ValueError, match="read-only"):
        again.alpha_gy[0, 0] = 0.0


def test_tissue_changes_change_the_tables() -> None:
    hsg = TISSUES["hsg"]
    tougher = dataclasses.replace(hsg, mkm=dataclasses.replace(hsg.mkm, alpha0_gy=0.1))
    a = compute_biology_tables("helium", [150.0], hsg).alpha_gy
    b = compute_biology_tables("helium", [150.0], tougher).alpha_gy
    np.testing.assert_allclose(a - b, 0.072, rtol=1e-9)


def test_at_interpolates_in_depth() -> None:
    tables = compute_biology_tables("proton", [100.0], "tumour", model="constant")
    alpha, sqrt_beta = tables.at(0, np.array([10.0, 50.0]))
    np.testing.assert_allclose(alpha, 0.33)
    np.testing.assert_allclose(sqrt_beta, 1.1 * np.sqrt(0.03))


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ConfigError, match="protons only"):
        compute_biology_tables("carbon", [200.0], "hsg", model="mcnamara2015")
    with pytest.raises(UnknownNameError, match="biological model"):
        compute_biology_tables("carbon", [200.0], "hsg", model="lem")
    with pytest.raises(OutOfRangeError, match="beam energy"):
        compute_biology_tables("carbon", [600.0], "hsg")
    with pytest.raises(ConfigError, match="non-empty"):
        compute_biology_tables("carbon", [], "hsg")


def test_a_new_energy_set_computes_only_its_new_energies(monkeypatch) -> None:
    """Rows are cached per energy (and tissue): a set sharing energies with an earlier one
    computes only the energies never seen, and its rows equal those computed alone."""
    from ionbeam.physics.radiobiology import tables as module

    computed: list[tuple[float, str]] = []
    original = module._row

    def counting(curve, tissue, model):
        computed.append((curve.energy_mev_u, tissue.name))
        return original(curve, tissue, model)

    monkeypatch.setattr(module, "_row", counting)
    first = compute_biology_tables("proton", [100.0, 150.0], "tumour")
    assert computed == [(100.0, "tumour"), (150.0, "tumour")]
    second = compute_biology_tables("proton", [150.0, 180.0, 100.0], "tumour")
    assert computed[2:] == [(180.0, "tumour")]
    np.testing.assert_array_equal(second.alpha_gy[0], first.alpha_gy[1])
    np.testing.assert_array_equal(second.alpha_gy[2], first.alpha_gy[0])
    alone = compute_biology_tables("proton", [180.0], "tumour", model="mcnamara2015")
    np.testing.assert_array_equal(alone.sqrt_beta_gy[0], second.sqrt_beta_gy[1])
    compute_biology_tables("proton", [150.0], "late_normal")
    assert computed[3:] == [(150.0, "late_normal")]  # a new tissue: its own rows only


def test_tissues_together_share_each_energys_depth_dose(monkeypatch) -> None:
    """Several tissues at once compute each energy's depth–dose (with its fluence spectra,
    most of a row's time) once, and give the tables each tissue gets alone, bit for bit;
    a tissue whose rows are cached costs no depth–dose."""
    from ionbeam.physics.radiobiology import tables as module

    curves: list[float] = []
    original = module._curve

    def counting(ion, energy, model, options):
        curves.append(energy)
        return original(ion, energy, model, options)

    monkeypatch.setattr(module, "_curve", counting)
    energies = [200.0, 290.0]
    hsg, tumour = compute_biology_tables_per_tissue("carbon", energies, ["hsg", "tumour"])
    assert curves == energies and hsg.tissue.name == "hsg" and tumour.tissue.name == "tumour"
    monkeypatch.setenv("IONBEAM_CACHE", "0")  # alone: computed afresh
    for together in (hsg, tumour):
        alone = compute_biology_tables("carbon", energies, together.tissue)
        np.testing.assert_array_equal(alone.alpha_gy, together.alpha_gy)
        np.testing.assert_array_equal(alone.sqrt_beta_gy, together.sqrt_beta_gy)
        np.testing.assert_array_equal(alone.depth_mm, together.depth_mm)
    monkeypatch.setenv("IONBEAM_CACHE", "1")
    curves.clear()
    compute_biology_tables_per_tissue("carbon", [290.0], ["tumour", "late_normal"])
    assert curves == [290.0]  # late_normal's row needs the curve; tumour's is cached
    curves.clear()
    compute_biology_tables_per_tissue("carbon", [200.0], ["tumour", "hsg"])
    assert curves == []
    with pytest.raises(ConfigError):
        compute_biology_tables_per_tissue("carbon", [200.0], [])
