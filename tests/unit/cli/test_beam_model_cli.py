"""``--beam-model`` and ``[plan] beam_model``: a commissioned beam model chosen on the command
line or in the plan file, used by ``ionbeam plan``, recorded in plan.json and used again
by ``ionbeam dose``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from ionbeam.cli.main import main
from ionbeam.io.plan_json import read_plan_json
from ionbeam.machine import cnao_beam_line, cnao_energy_library
from ionbeam.machine.beam_data import MeasuredDepthDose
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.machine.commissioning import commissioning_from_beam_model, write_beam_model_file

QUICK = ["--ct-spacing", "4", "--grid", "4", "--spot-spacing", "5", "--no-report", "--no-dicom"]
#: Every 6th CNAO proton energy: a machine that differs from the generic one.
ENERGIES = cnao_energy_library("proton").energies_mev_u[::6]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A machine unlike the generic one: fewer energies, each with a 3 % longer range."""
    model = build_beam_model("proton", ENERGIES, cnao_beam_line())
    commissioning = commissioning_from_beam_model(model, name="room1-proton")
    curves = tuple(
        MeasuredDepthDose(c.depth_mm * 1.03, c.idd_gy_mm2 / 1.03)
        for c in commissioning.energies.depth_doses
    )
    energies = dataclasses.replace(commissioning.energies, depth_doses=curves)
    commissioning = dataclasses.replace(commissioning, energies=energies)
    return write_beam_model_file(commissioning, tmp_path_factory.mktemp("bm") / "room1")


@pytest.fixture(scope="module")
def planned(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plan")
    plan_file = folder / "plan.toml"
    relative = Path("..") / model_file.parent.parent.name / "room1" / "beam_model.toml"
    plan_file.write_text(
        f'[patient]\nphantom = "water"\n\n[plan]\nparticle = "proton"\n'
        f'beam_model = "{relative.as_posix()}"\n'
    )
    out = folder / "out"
    status = main(["plan", str(plan_file), "--beams", "0", "--out", str(out), *QUICK])
    assert status == 0
    return out


def test_plan_uses_and_records_the_beam_model(planned: Path, model_file: Path) -> None:
    """The plan file's beam_model (relative to the plan file) is used: every spot energy
    is one of the file's nominal energies, and plan.json records the file and its digest."""
    plan = read_plan_json(planned)
    used = np.unique(np.concatenate([b.spots.energy_mev_u for b in plan.beams]))
    assert np.all(np.isin(used, ENERGIES))
    record = plan.settings["beam_model"]
    assert record["file"] == str(model_file.resolve())
    assert record["name"] == "room1-proton" and len(record["sha256"]) == 64
    assert record["measured_depth_doses"] == len(ENERGIES)


def test_dose_recomputes_with_the_recorded_file(
    planned: Path, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ionbeam dose`` finds the recorded file and gives the saved metrics back (to 1e-6
    Gy); once the file has changed it refuses in one line unless --beam-model names it."""
    assert main(["dose", str(planned), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    worst = max(abs(d) for s in document["recomputed_vs_saved"].values() for d in s.values())
    assert worst < 1e-6
    original = model_file.read_text()
    try:
        model_file.write_text(original.replace("room1-proton", "room1-proton-v2"))
        assert main(["dose", str(planned)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "changed since the plan was made" in err
        assert main(["dose", str(planned), "--beam-model", str(model_file), "--json"]) == 0
        capsys.readouterr()
    finally:
        model_file.write_text(original)


def test_a_beam_model_for_another_particle_is_refused(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["plan", "--phantom", "water", "--particle", "carbon", "--beam-model", str(model_file)]
    assert main([*args, "--out", str(out), *QUICK]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is for proton, not carbon" in err
    assert not out.exists()


def test_plan_file_rejects_a_missing_beam_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text('[plan]\nparticle = "proton"\nbeam_model = "nowhere.toml"\n')
    out = tmp_path / "out"
    assert main(["plan", str(plan_file), "--phantom", "water", "--out", str(out), *QUICK]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()


def test_report_and_delivery_use_the_recorded_beam_model(
    planned: Path, model_file: Path, tmp_path: Path
) -> None:
    """The report's Bragg curves are the file's (its IDD table, 3 % deeper than the
    physics at the nominal energy), and ``ionbeam deliver`` runs on the file's machine."""
    from ionbeam.cli._beam_model import beam_model_of_plan
    from ionbeam.machine.commissioning import load_commissioning

    plan = read_plan_json(planned)
    model = beam_model_of_plan(plan)
    energy = float(model.energies_mev_u[0])
    index = int(np.argmin(np.abs(ENERGIES - energy)))
    curve = load_commissioning(model_file).energies.depth_dose(index)
    np.testing.assert_allclose(
        np.interp(curve.depth_mm, model.depth_mm(0), model.idd_gy_mm2[0]),
        curve.idd_gy_mm2,
        rtol=1e-5,
        atol=1e-6 * curve.idd_gy_mm2.max(),
    )
    generic = build_beam_model("proton", [energy], cnao_beam_line())
    assert model.r80_mm[0] == pytest.approx(1.03 * generic.r80_mm[0], abs=0.05)
    assert main(["deliver", str(planned), "--out", str(tmp_path / "delivery")]) == 0
    assert (tmp_path / "delivery").is_dir()
