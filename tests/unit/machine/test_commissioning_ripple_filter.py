"""Commissioned ion curves measured with the ripple filter in the beam are folded once:
``[ripple_filter] curves_include_filter`` in the beam-model file, the filtered model built
from them, and beams without the filter refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ionbeam.cli._commission import check_rows
from ionbeam.errors import ConfigError
from ionbeam.machine import RippleFilter, cnao_beam_line
from ionbeam.machine.beam_data import BeamEnergyData
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.machine.commissioning import (
    beam_model_from_commissioning,
    commissioning_from_beam_model,
    load_commissioning,
    machine_from_commissioning,
    write_beam_model_file,
)
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning.dose_engine import calc_dose_influence
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap
from ionbeam.planning.planner import resolve_ripple_filter
from ionbeam.workflow import recorded_beam_model, with_beam_model_record

ENERGIES = [120.0, 250.0, 400.0]
N_DEPTH = 256  # coarse tables: the same code paths, fast
TABLES = ("idd_gy_mm2", "sigma_mcs_mm2", "halo_weight", "halo_sigma_mm2", "let_d_kev_um")
AIR = ("sigma0_mm2", "sigma1_mm2_per_mm", "sigma2_mm2_per_mm2", "max_depth_mm", "depth_step_mm")
INCLUDED = "curves_include_filter = true"


@pytest.fixture(scope="module")
def pristine():
    return build_beam_model("carbon", ENERGIES, cnao_beam_line(), n_depth=N_DEPTH)


@pytest.fixture(scope="module")
def folded(pristine):
    return pristine.with_ripple_filter(True)


@pytest.fixture(scope="module")
def exported(folded, tmp_path_factory) -> Path:
    """The folded model's curves as a clinic measuring with the filter would give them."""
    folder = tmp_path_factory.mktemp("rifi") / "cnao-carbon-rifi"
    return write_beam_model_file(commissioning_from_beam_model(folded), folder)


@pytest.fixture(scope="module")
def back(exported):
    return beam_model_from_commissioning(load_commissioning(exported), n_depth=N_DEPTH)


@pytest.fixture(scope="module")
def water():
    return make_phantom("water", spacing_mm=3.0, box_size_mm=150.0, target_size_mm=30.0)


def _same_model(a, b) -> None:
    for name in TABLES:
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(y, x, rtol=1e-6, atol=1e-6 * float(np.max(x)), err_msg=name)
    for name in AIR:
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(b.bragg_peak_mm, a.bragg_peak_mm, atol=0.01)
    np.testing.assert_allclose(b.r80_mm, a.r80_mm, atol=0.01)


def _copy(exported: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    for path in exported.parent.rglob("*.*"):
        target = folder / path.relative_to(exported.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return folder / "beam_model.toml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _spot_dose(patient, model, ripple_filter: bool) -> np.ndarray:
    geometry = BeamGeometry(gantry_deg=0.0, isocenter_mm=(0.0, 0.0, 0.0), sad_mm=(6200.0, 5700.0))
    spots = SpotMap([120.0, 250.0], [0.0, 6.0], [0.0, 0.0], [1.0, 1.0])
    beam = Beam("B1", geometry, spots, ripple_filter=ripple_filter)
    plan = Plan("carbon", (beam,), Prescription("Target", 2.0))
    influence = calc_dose_influence(patient.ct, plan, model, structures=patient.structures.values())
    return influence.dose_gy(plan.weights)


# -- the same physics either way ---------------------------------------------------------------
def test_curves_with_the_filter_read_back_as_the_filtered_model(folded, exported, back) -> None:
    """Curves exported from the model with the 3 mm filter folded in, written with
    ``curves_include_filter = true`` and read back, give the folded model's tables (to
    float32, the tolerance of the proton round trip in test_commissioning.py), its spot in
    air with the filter's scattering exactly, and its peak and R80 within 0.01 mm; the
    model is the filtered one, so a beam with the filter gets it unfolded again."""
    assert INCLUDED in exported.read_text()
    commissioning = load_commissioning(exported)
    assert commissioning.energies.curves_include_filter
    assert commissioning.ripple_filter == RippleFilter()
    _same_model(folded, back)
    assert back.ripple_filter == folded.ripple_filter
    assert back.with_ripple_filter(True) is back


def test_a_ripple_filter_beam_gets_the_same_dose(pristine, back, water) -> None:
    """Two carbon spots (120 and 250 MeV/u) in water with a ripple-filter beam: the dose
    engine folds the pristine generic model once, and uses the model read from curves
    measured with the filter as it is; the doses agree within 1e-5 of their maximum
    (float32 tables)."""
    expected = _spot_dose(water, pristine, ripple_filter=True)
    dose = _spot_dose(water, back, ripple_filter=True)
    np.testing.assert_allclose(dose, expected, atol=1e-5 * expected.max())


def test_an_energy_without_a_curve_gets_the_folded_physics(folded, exported) -> None:
    """With the filter in the curves, an energy the file gives no curve for takes
    ionbeam's physics with the filter folded in, like the measured ones."""
    commissioning = load_commissioning(exported)
    curves = list(commissioning.energies.depth_doses)
    curves[1] = None
    energies = dataclasses.replace(commissioning.energies, depth_doses=tuple(curves))
    model = beam_model_from_commissioning(
        dataclasses.replace(commissioning, energies=energies), n_depth=N_DEPTH
    )
    _same_model(folded, model)


def test_commission_check_compares_with_the_filtered_physics(exported) -> None:
    """``ionbeam commission check``: R80 of curves measured with the filter minus R80 of
    the physics with the same filter is 0 for these curves, not minus the filter's 2 mm
    mean WET (within 0.3 mm: the curves are on the coarse 256-point grid, up to 2.2 mm
    steps at 400 MeV/u, the check's physics on the 1024-point default)."""
    rows = check_rows(load_commissioning(exported))
    deltas = [row["r80_file_minus_physics_mm"] for row in rows]
    np.testing.assert_allclose(deltas, 0.0, atol=0.3)


# -- what the flag prevents --------------------------------------------------------------------
def test_the_wrong_claim_folds_the_filter_twice(pristine, folded, exported, tmp_path) -> None:
    """The same curves written with ``curves_include_filter = false`` are taken as
    pristine and a ripple-filter beam folds them again: the peak-to-plateau ratio (peak /
    IDD at 10 mm) drops a further 19 % at 120 MeV/u, 10 % at 250 and 5 % at 400, where the
    3 mm modulation is smallest against the straggling width (asserted: > 12, > 5 and
    > 2 %), and R80 moves upstream by about the filter's 2 mm mean WET a second time
    (asserted: 1–3 mm). This is the error the flag exists to prevent."""
    path = _copy(exported, tmp_path)
    _edit(path, INCLUDED, "curves_include_filter = false")
    wrong = beam_model_from_commissioning(load_commissioning(path), n_depth=N_DEPTH)
    assert wrong.ripple_filter is None  # taken as pristine
    twice = wrong.with_ripple_filter(True)

    def peak_to_plateau(model, e: int) -> float:
        idd = model.idd_gy_mm2[e]
        return float(idd.max() / np.interp(10.0, model.depth_mm(e), idd))

    drops = [1.0 - peak_to_plateau(twice, e) / peak_to_plateau(folded, e) for e in range(3)]
    assert drops[0] > 0.12 and drops[1] > 0.05 and drops[2] > 0.02
    assert drops[0] > drops[1] > drops[2]
    shift = folded.r80_mm - twice.r80_mm
    assert np.all((shift > 1.0) & (shift < 3.0))


# -- the key in the file -----------------------------------------------------------------------
def test_a_file_with_a_filter_and_curves_must_say_what_the_curves_hold(exported, tmp_path) -> None:
    path = _copy(exported, tmp_path)
    _edit(path, INCLUDED, "")
    with pytest.raises(ConfigError, match=r"add curves_include_filter = true \(with it\) or false"):
        load_commissioning(path)
    _edit(path, "modulation_mm = 3.0", 'modulation_mm = 3.0\ncurves_include_filter = "yes"')
    with pytest.raises(ConfigError, match="must be true or false"):
        load_commissioning(path)


def test_without_curves_the_key_is_optional_and_true_is_refused(exported, tmp_path) -> None:
    """A file with a filter and no curves reads as before (the filter is the pristine
    physics' to fold); claiming filtered curves it does not have is refused."""
    path = _copy(exported, tmp_path)
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.startswith("depth_dose_file")
    )
    path.write_text(text.replace(INCLUDED + "\n", ""))
    commissioning = load_commissioning(path)
    assert not commissioning.energies.curves_include_filter
    assert commissioning.ripple_filter == RippleFilter()
    path.write_text(text)
    with pytest.raises(ConfigError, match="no energy has a depth_dose_file"):
        load_commissioning(path)


def test_the_writer_round_trips_the_key_and_the_filter_distance(pristine, tmp_path) -> None:
    """Pristine curves on a line with a filter are written as not including it; the
    filter's distance to the isocentre survives."""
    commissioning = dataclasses.replace(
        commissioning_from_beam_model(pristine), ripple_filter=RippleFilter(2.5, 3.0, 420.0)
    )
    path = write_beam_model_file(commissioning, tmp_path / "m")
    assert "curves_include_filter = false" in path.read_text()
    back = load_commissioning(path)
    assert back.ripple_filter == RippleFilter(2.5, 3.0, 420.0)
    assert not back.energies.curves_include_filter


# -- beams without the filter ------------------------------------------------------------------
def test_beams_without_the_filter_are_refused(exported, back, water) -> None:
    """The filtered model has no pristine version: the model, the planner's setting
    (``ripple_filter = false``, ``--ripple-filter off``) and a beam without the filter in
    the dose engine are refused with one line; the default is the filter, for any ion."""
    message = "measured with its ripple filter"
    with pytest.raises(ConfigError, match=message):
        back.with_ripple_filter(False)
    with pytest.raises(ConfigError, match=message):
        build_beam_model("carbon", [120.0], back.beam_line, ripple_filter=False, n_depth=N_DEPTH)
    machine = machine_from_commissioning(load_commissioning(exported))
    with pytest.raises(ConfigError, match=message):
        resolve_ripple_filter("carbon", False, machine)
    assert resolve_ripple_filter("carbon", None, machine) is True
    with pytest.raises(ConfigError, match=message):
        _spot_dose(water, back, ripple_filter=False)


def test_the_beam_line_keeps_the_filter_its_curves_were_measured_with(back) -> None:
    line = back.beam_line
    assert line.curves_include_filter("carbon")
    with pytest.raises(ConfigError, match="keep that filter"):
        line.with_ripple_filter(RippleFilter(wet_mm=3.0, modulation_mm=4.0))
    with pytest.raises(ConfigError, match="the line has none"):
        dataclasses.replace(line, ripple_filter=None)
    data = line.energy_data_of("carbon")
    with pytest.raises(ConfigError, match="no energy has a depth-dose curve"):
        BeamEnergyData("carbon", data.nominal_energies_mev_u, data.mean_energies_mev_u,
                       data.energy_spread_rel, (), curves_include_filter=True)  # fmt: skip


def test_a_plan_recomputed_from_its_record_rebuilds_the_filtered_model(exported, back) -> None:
    """plan.json records the flag and the file; re-reading the record gives the same model."""
    settings = with_beam_model_record({}, load_commissioning(exported))
    assert settings["beam_model"]["curves_include_filter"] is True
    again = recorded_beam_model(settings, "carbon")
    assert again is not None
    _same_model(back, beam_model_from_commissioning(again, n_depth=N_DEPTH))


def test_biology_of_filtered_curves_is_the_folded_biology(tmp_path) -> None:
    """α and √β (mMKM, tumour) of the model read from curves measured with the filter are
    the dose-averaged α and √β of the folded physics (float32), not the pristine ones,
    which differ by more than 1 % of the maximum near the peak of the narrow 120 MeV/u
    Bragg peak."""
    options = {"tissues": ["tumour"], "n_depth": N_DEPTH}
    pristine = build_beam_model("carbon", [120.0], cnao_beam_line(), **options)
    folded = pristine.with_ripple_filter(True)
    path = write_beam_model_file(commissioning_from_beam_model(folded), tmp_path / "m")
    back = beam_model_from_commissioning(load_commissioning(path), **options)
    for name in ("alpha_gy", "sqrt_beta_gy"):
        a = getattr(folded, name)
        np.testing.assert_allclose(getattr(back, name), a, rtol=1e-6, atol=1e-6 * a.max())
    assert np.max(np.abs(back.alpha_gy - pristine.alpha_gy)) > 0.01 * pristine.alpha_gy.max()
