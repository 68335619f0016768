"""Single-ion mMKM: tables, interpolation, the overkill shape of α(LET), input checks."""

import numpy as np
import pytest

from ionbeam.errors import OutOfRangeError, UnknownNameError
from ionbeam.physics.radiobiology.mkm import (
    TABLE_ENERGIES_MEV_U,
    ion_of,
    single_ion_alpha_gy,
    single_ion_z1d_star_gy,
    z1d_star_table_gy,
)
from ionbeam.physics.radiobiology.tissue import TISSUES
from ionbeam.physics.stopping import let_kev_um

HSG = TISSUES["hsg"].mkm_parameters()


def test_table_interpolation_matches_direct_evaluation() -> None:
    """Between table nodes (48 per decade) log interpolation is within 0.3 % of z*_1D."""
    energy = np.sqrt(TABLE_ENERGIES_MEV_U[1:] * TABLE_ENERGIES_MEV_U[:-1])[::9]
    direct = single_ion_z1d_star_gy(6, energy, let_kev_um("carbon", energy), HSG)
    via_alpha = (single_ion_alpha_gy("carbon", energy, HSG) - HSG.alpha0_gy) / HSG.beta0_gy2
    np.testing.assert_allclose(via_alpha, direct, rtol=3e-3)


def test_tables_are_memoised_and_read_only() -> None:
    table = z1d_star_table_gy(2, 4, HSG)
    assert z1d_star_table_gy(2, 4, HSG) is table
    with pytest.raises(ValueError, match="read-only"):
        table[0] = 1.0


def test_carbon_alpha_rises_then_falls_with_let() -> None:
    """Overkill: α(LET) of carbon peaks at ~100–200 keV/µm (Kase 2006; Inaniwa 2010)."""
    energy = np.geomspace(0.3, 400.0, 120)
    alpha = single_ion_alpha_gy("carbon", energy, HSG)
    let = let_kev_um("carbon", energy)
    peak = int(np.argmax(alpha))
    assert 80.0 < let[peak] < 250.0
    assert alpha[peak] > 3 * alpha[-1] and alpha[0] < 0.6 * alpha[peak]


def test_lighter_ions_are_more_effective_at_the_same_let() -> None:
    """At ~100 keV/µm a helium track is narrower and denser than a carbon track of the
    same LET, so its z*_1D and α are higher (as measured for HSG by Furusawa et al. 2000)."""

    def alpha_at_let(name: str, target: float) -> float:
        energy = np.geomspace(0.5, 50.0, 400)
        let = let_kev_um(name, energy)
        distal = energy > energy[np.argmax(let)]
        e = np.interp(target, let[distal][::-1], energy[distal][::-1])
        return float(single_ion_alpha_gy(name, e, HSG))

    assert (
        alpha_at_let("helium", 100.0)
        > alpha_at_let("carbon", 100.0)
        > alpha_at_let("oxygen", 100.0)
    )


def test_low_let_alpha_tends_to_alpha0() -> None:
    alpha = single_ion_alpha_gy("proton", 400.0, HSG)
    assert HSG.alpha0_gy < alpha < HSG.alpha0_gy + 0.02


def test_fragment_species_by_charge_and_mass() -> None:
    assert single_ion_alpha_gy((6, 12), 100.0, HSG) == pytest.approx(
        single_ion_alpha_gy("carbon", 100.0, HSG)
    )
    assert ion_of(3, 7).charge_to_mass == pytest.approx(3 / 7)
    assert ion_of(1, 1).mass_mev == pytest.approx(938.272, abs=1e-3)  # the proton itself
    assert ion_of(9, 19).mass_mev == pytest.approx(19 * 931.494 - 9 * 0.511, rel=1e-6)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(OutOfRangeError, match="ion charge"):
        single_ion_z1d_star_gy(0, 10.0, 5.0, HSG)
    with pytest.raises(OutOfRangeError, match="energy"):
        single_ion_z1d_star_gy(6, 2000.0, 5.0, HSG)
    with pytest.raises(OutOfRangeError, match="LET"):
        single_ion_z1d_star_gy(6, 10.0, -5.0, HSG)
    with pytest.raises(UnknownNameError):
        single_ion_alpha_gy("neon", 10.0, HSG)
