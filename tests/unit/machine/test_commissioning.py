"""Beam-model commissioning: ionbeam's file format, its round trip, measured curves in the
dose, and the refusal of bad files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ionbeam.errors import ConfigError, MachineLimitError
from ionbeam.machine import cnao_beam_line
from ionbeam.machine.beam_data import BeamEnergyData, MeasuredDepthDose
from ionbeam.machine.beam_model import MEV_PER_MM_TO_GY_MM2, build_beam_model
from ionbeam.machine.commissioning import (
    beam_model_from_commissioning,
    commissioning_from_beam_model,
    load_commissioning,
    machine_from_commissioning,
    write_beam_model_file,
)
from ionbeam.machine.commissioning._curves import curve_text
from ionbeam.patient.phantoms import make_phantom
from ionbeam.physics.depth_dose import depth_dose
from ionbeam.planning.dose_engine import calc_dose_influence
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

ENERGIES = [70.0, 120.0, 160.0]
TABLES = ("idd_gy_mm2", "sigma_mcs_mm2", "halo_weight", "halo_sigma_mm2", "let_d_kev_um")
AIR = ("sigma0_mm2", "sigma1_mm2_per_mm", "sigma2_mm2_per_mm2", "max_depth_mm", "depth_step_mm")


@pytest.fixture(scope="module")
def generic():
    return build_beam_model("proton", ENERGIES, cnao_beam_line())


@pytest.fixture(scope="module")
def exported(generic, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export") / "cnao-proton"
    return write_beam_model_file(commissioning_from_beam_model(generic), folder)


@pytest.fixture(scope="module")
def water():
    return make_phantom("water", spacing_mm=2.0, box_size_mm=140.0, target_size_mm=30.0)


def _spot_dose(patient, model, energy):
    geometry = BeamGeometry(gantry_deg=0.0, isocenter_mm=(0.0, 0.0, 0.0), sad_mm=(6200.0, 5700.0))
    beam = Beam("B1", geometry, SpotMap([energy], [0.0], [0.0], [1.0]))
    plan = Plan(model.particle, (beam,), Prescription("Target", 2.0))
    influence = calc_dose_influence(patient.ct, plan, model, structures=patient.structures.values())
    return influence.dose_gy(plan.weights)


def _integrated(patient, dose):
    dx, _, dz = patient.grid.spacing_mm
    return dose.sum(axis=(0, 2)) * dx * dz  # Gy·mm² per particle along the beam (+y)


def test_round_trip_gives_the_same_beam_model(generic, exported) -> None:
    """Export → read → build reproduces every table of the generic model to float32
    precision (the file stores float32-exact digits), the spot optics exactly, and the
    Bragg-peak depth and R80 (found anew from the curve) within 0.01 mm."""
    back = beam_model_from_commissioning(load_commissioning(exported))
    np.testing.assert_array_equal(back.energies_mev_u, generic.energies_mev_u)
    for name in TABLES:
        a, b = getattr(generic, name), getattr(back, name)
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6 * float(np.max(a)), err_msg=name)
    for name in AIR:
        np.testing.assert_allclose(getattr(back, name), getattr(generic, name), rtol=1e-12)
    np.testing.assert_allclose(back.bragg_peak_mm, generic.bragg_peak_mm, atol=0.01)
    np.testing.assert_allclose(back.r80_mm, generic.r80_mm, atol=0.01)
    assert back.beam_line.sad_mm == generic.beam_line.sad_mm


def test_round_trip_gives_the_same_spot_dose(generic, exported, water) -> None:
    """One 120 MeV spot in water: the same dose from the exported and re-read model
    (within 1e-5 of its maximum: float32 tables)."""
    back = beam_model_from_commissioning(load_commissioning(exported))
    a, b = _spot_dose(water, generic, 120.0), _spot_dose(water, back, 120.0)
    np.testing.assert_allclose(b, a, atol=1e-5 * a.max())


def test_machine_from_commissioning_plans_with_the_file(exported) -> None:
    """The machine of a file offers its nominal energies only, its SADs and beam line."""
    commissioning = load_commissioning(exported.parent)  # the folder works too
    machine = machine_from_commissioning(commissioning)
    np.testing.assert_array_equal(machine.energy_library("proton").energies_mev_u, ENERGIES)
    assert machine.beam_line.energy_data_of("proton") is commissioning.energies
    assert machine.particles == ("proton",)


def _stretched(curve: MeasuredDepthDose, factor: float) -> MeasuredDepthDose:
    """The curve of a beam whose range is ``factor`` × longer (energy conserved)."""
    return MeasuredDepthDose(curve.depth_mm * factor, curve.idd_gy_mm2 / factor, label="stretched")


def test_a_measured_curve_reaches_the_dose(generic, water) -> None:
    """A file whose 120 MeV curve has a 4 % longer range (IDD only, lateral tables from
    the physics): the spot's laterally integrated dose follows the file's curve (1 %,
    as the dose engine's own IDD test) and its R80 moves by 4 % of the range (0.5 mm);
    the model's peak depth and LET_d rise move with it (the physics is stretched to the
    measured range)."""
    base = commissioning_from_beam_model(generic)
    curves = list(base.energies.depth_doses)
    original = curves[1]
    curves[1] = _stretched(original, 1.04)
    energies = dataclasses.replace(base.energies, depth_doses=tuple(curves))
    model = beam_model_from_commissioning(dataclasses.replace(base, energies=energies))
    i = 1
    assert model.r80_mm[i] == pytest.approx(1.04 * generic.r80_mm[i], abs=0.05)
    assert model.bragg_peak_mm[i] == pytest.approx(1.04 * generic.bragg_peak_mm[i], abs=0.3)
    let_peak = model.depth_mm(i)[np.argmax(model.let_d_kev_um[i] * (model.idd_gy_mm2[i] > 0))]
    assert let_peak > generic.r80_mm[i] + 2.0  # the LET_d rise sits at the new range
    dose = _integrated(water, _spot_dose(water, model, 120.0))
    y = water.grid.axes_mm()[1]
    depth = y - y[0] + 0.5 * water.grid.spacing_mm[1] - 10.0  # 10 mm of air in front
    curve = curves[1]
    expected = np.interp(depth, curve.depth_mm, curve.idd_gy_mm2, right=0.0)
    plateau = (depth > 1.0) & (depth < 0.9 * model.bragg_peak_mm[i])
    np.testing.assert_allclose(dose[plateau], expected[plateau], rtol=0.01)
    from ionbeam.physics.depth_dose import distal_depth

    r80_dose = distal_depth(depth, dose, 0.8)
    assert r80_dose == pytest.approx(1.04 * generic.r80_mm[i], abs=1.0)


def test_mean_energy_and_spread_come_from_the_file(generic) -> None:
    """Without curves, the physics runs at the file's mean energy and spread: R80 of a
    nominal 120 MeV beam with mean 123 MeV is ionbeam's R80 at 123 MeV (0.05 mm), and a
    1 % spread lowers the peak (range straggling adds to the energy spread)."""
    base = commissioning_from_beam_model(generic)
    data = BeamEnergyData("proton", ENERGIES, [70.0, 123.0, 160.0], [0.002, 0.002, 0.01])
    model = beam_model_from_commissioning(dataclasses.replace(base, energies=data))
    assert model.r80_mm[1] == pytest.approx(depth_dose("proton", 123.0).r80_mm, abs=0.05)
    assert model.idd_gy_mm2[2].max() < 0.9 * generic.idd_gy_mm2[2].max()
    np.testing.assert_allclose(model.idd_gy_mm2[0], generic.idd_gy_mm2[0], rtol=1e-6)
    with pytest.raises(ConfigError, match="leave energy_spread_rel out"):
        build_beam_model("proton", ENERGIES, base.beam_line(), energy_spread_rel=0.01)


def test_an_energy_not_in_the_file_is_refused(exported) -> None:
    commissioning = load_commissioning(exported)
    with pytest.raises(MachineLimitError, match="not a commissioned nominal energy"):
        beam_model_from_commissioning(commissioning, [120.0, 121.0])


def test_writing_never_leaves_half_a_folder(generic, exported) -> None:
    """An existing folder is refused and left as it was."""
    before = sorted(p.name for p in exported.parent.rglob("*"))
    with pytest.raises(ConfigError, match="not empty"):
        write_beam_model_file(commissioning_from_beam_model(generic), exported.parent)
    assert sorted(p.name for p in exported.parent.rglob("*")) == before


# -- bad files ---------------------------------------------------------------------------------
def _copy(exported: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "idd").mkdir()
    for path in exported.parent.rglob("*.*"):
        (folder / path.relative_to(exported.parent)).write_bytes(path.read_bytes())
    return folder / "beam_model.toml"


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, count))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("format_version = 1", "format_version = 2", "format_version 2"),
        ("spot_sigma_x_mm", "spot_sigma_x_cm", "unknown key 'spot_sigma_x_cm'"),
        ('particle = "proton"\n', "", "missing key 'particle'"),
        ("energy_spread_rel = 0.002", "energy_spread_rel = 0.2", "a percentage"),
        ("nominal_energy_mev_u = 160.0", "nominal_energy_mev_u = 100.0", "ascending"),
        ('spot_plane = "isocentre"', 'spot_plane = "nozzle_exit"', "nozzle_to_isocentre_mm"),
        ("spot_sigma_y_mm = 4.08", "spot_sigma_y_mm = 9.08", "round spots"),
        ("idd/proton_0070.000.csv", "idd/missing.csv", "does not exist"),
        ("sad_x_mm = 6200.0", "sad_x_mm = nan", "finite number"),
    ],
)
def test_bad_beam_model_files(exported, tmp_path, old, new, message) -> None:
    path = _copy(exported, tmp_path)
    _edit(path, old, new)
    with pytest.raises(ConfigError, match=message):
        load_commissioning(path)


def _bad_curve(depth, idd, header="depth_mm,idd_gy_mm2") -> str:
    rows = "\n".join(f"{d},{v}" for d, v in zip(depth, idd, strict=True))
    return f"{header}\n{rows}\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d, v: _bad_curve(d[::-1], v[::-1]), "strictly increasing"),
        (lambda d, v: _bad_curve(d, np.where(np.arange(v.size) == 5, -v, v)), "≥ 0"),
        (lambda d, v: _bad_curve(d, np.where(np.arange(v.size) == 5, np.nan, v)), "no NaN"),
        (lambda d, v: _bad_curve(d, v, "depth_cm,idd_gy_mm2"), "unknown column 'depth_cm'"),
        (lambda d, v: _bad_curve(d, v / v.max()), "not normalised"),
        (
            lambda d, v: _bad_curve(d, v / MEV_PER_MM_TO_GY_MM2 * 10, "depth_mm,idd_mev_mm"),
            "× the beam's",
        ),
        (lambda d, v: _bad_curve(d[: np.argmax(v)], v[: np.argmax(v)]), "distal fall-off"),
        (lambda d, v: _bad_curve(d + 20.0, v), "first depth"),
        (lambda d, v: _bad_curve(d, v).replace("\n2.", "\nx2.", 1), "not a number"),
        (lambda d, v: _bad_curve(d, v) + "1.0,2.0,3.0\n", "has 3 values, not 2"),
    ],
)
def test_bad_depth_dose_curves(exported, tmp_path, change, message) -> None:
    path = _copy(exported, tmp_path)
    curve = path.parent / "idd" / "proton_0120.000.csv"
    table = np.loadtxt(curve, delimiter=",", comments="#", skiprows=2)
    curve.write_text(change(table[:, 0], table[:, 1]))
    with pytest.raises(ConfigError, match=message):
        load_commissioning(path)


def test_curve_text_reads_back_in_mev_per_mm(tmp_path) -> None:
    """A curve in MeV/mm is converted with 1 MeV/mm = 1.602e-7 Gy·mm² (water, 1 g/cm³)."""
    curve = depth_dose("proton", 100.0)
    path = tmp_path / "c.csv"
    path.write_text(_bad_curve(curve.depth_mm, curve.idd_mev_mm, "depth_mm,idd_mev_mm"))
    from ionbeam.machine.commissioning._curves import read_curve

    read = read_curve(path)
    np.testing.assert_allclose(read.idd_gy_mm2, curve.idd_mev_mm * 1.602176634e-7, rtol=1e-12)
    assert "idd_gy_mm2" in curve_text(read).splitlines()[0]


def test_biology_follows_the_measured_range(generic) -> None:
    """α of a proton model (McNamara 2015) with the 120 MeV curve 4 % longer is the
    physics' α stretched to the measured range (1 % where the dose is above 1 % of its
    maximum); an energy with its own spread and no curve gets the tables of that spread."""
    base = commissioning_from_beam_model(generic)
    curves = list(base.energies.depth_doses)
    curves[1] = _stretched(curves[1], 1.04)
    curves[2] = None  # physics only, at its own spread
    data = BeamEnergyData("proton", ENERGIES, ENERGIES, [0.002, 0.002, 0.004], tuple(curves))
    options = {"tissues": ["tumour"], "biological_model": "mcnamara2015"}
    model = beam_model_from_commissioning(dataclasses.replace(base, energies=data), **options)
    plain = build_beam_model("proton", ENERGIES, cnao_beam_line(), **options)
    i = 1
    scale = model.r80_mm[i] / plain.r80_mm[i]
    expected = np.interp(model.depth_mm(i) / scale, plain.depth_mm(i), plain.alpha_gy[0, i])
    dose = model.idd_gy_mm2[i] > 0.01 * model.idd_gy_mm2[i].max()
    np.testing.assert_allclose(model.alpha_gy[0, i][dose], expected[dose], rtol=0.01)
    wider = build_beam_model(
        "proton", ENERGIES, cnao_beam_line(), energy_spread_rel=0.004, **options
    )
    np.testing.assert_allclose(model.alpha_gy[0, 2], wider.alpha_gy[0, 2], rtol=1e-6)


def test_devices_survive_the_round_trip(generic, tmp_path) -> None:
    """A range shifter and a ripple filter written to the file are read back as they were."""
    from ionbeam.machine import RangeShifter, RippleFilter

    commissioning = dataclasses.replace(
        commissioning_from_beam_model(generic),
        range_shifter=RangeShifter(40.0, 310.0),
        ripple_filter=RippleFilter(2.5, 3.0),
        nozzle_to_isocentre_mm=450.0,
    )
    back = load_commissioning(write_beam_model_file(commissioning, tmp_path / "m"))
    assert back.range_shifter == RangeShifter(40.0, 310.0)
    assert back.ripple_filter == RippleFilter(2.5, 3.0)
    assert back.nozzle_to_isocentre_mm == 450.0
    model = beam_model_from_commissioning(back, [120.0])
    assert model.beam_line.range_shifter == RangeShifter(40.0, 310.0)
    np.testing.assert_allclose(model.sigma0_mm2, generic.sigma0_mm2[1:2], rtol=1e-12)
