"""``ionbeam plan``: every setting honoured or refused (issue 12, items 2, 5 and 6 and the
range-shifter defect). Refusals come before any planning, on one line, and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ionbeam.cli.main import main
from ionbeam.io.plan_json import read_plan_json

QUICK = ["--grid", "5", "--energy-stride", "3", "--spot-spacing", "8", "--no-report",
         "--no-dicom"]  # fmt: skip
WATER = ["--phantom", "water", "--ct-spacing", "5"]


def _without_stage_lines(err: str) -> str:
    """Standard error less the progress lines of finished stages (``ionbeam [  t s] ...``)."""
    return "".join(
        line for line in err.splitlines(keepends=True) if not line.startswith("ionbeam [")
    )


def _refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], *words: str):
    out = tmp_path / "out"
    assert main(["plan", *argv, "--out", str(out)]) == 2
    err = _without_stage_lines(capsys.readouterr().err)
    assert err.startswith("ionbeam: error:") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err
    assert not out.exists()
    return err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        # item 2: the old, ambiguous option is refused with the names to use
        (["--dose-gy", "2"], ("--dose-per-fraction-gy", "--total-dose-gy")),
        # 60 Gy per fraction × 30 = 1,800 Gy(RBE): refused, not planned
        (["--dose-per-fraction-gy", "60", "--fractions", "30"], ("per fraction",)),
        (["--total-dose-gy", "1e9"], ("Gy(RBE)",)),
        (["--total-dose-gy", "60", "--fractions", "100000"], ("fractions",)),
        # item 5: angles outside [0, 360) are refused, not wrapped
        (["--beams", "90,400"], ("[0, 360)",)),
        (["--beams", "-90"], ("270 rather than -90",)),
        (["--beams", "1e300"], ("[0, 360)",)),
        (["--beams", "90:-15"], ("[0, 360)",)),
        # item 5: a gantry angle CNAO's fixed lines cannot give; the lines are listed
        (["--beams", "45"], ("fixed beam lines", "horizontal: gantry 90° or 270°", "vertical")),
        (["--machine", "no-such-machine"], ("unknown machine 'no-such-machine'", "cnao")),
        # item 5: a constant RBE is not a clinical model for carbon
        (["--rbe-model", "constant", "--particle", "carbon"], ("not a clinical model",)),
        (["--fine-sampling", "1"], ("--fine-sampling",)),
        # issue 15: engines by name from the registry; an unknown one lists the known ones
        (["--dose-engine", "monte_carlo"], ("unknown dose engine 'monte_carlo'", "pencil_beam")),
        (["--dose-engine", "pencil_beam", "--fine-sampling", "3"], ("no sub-beams",)),
        (["--range-shifter-wet-mm", "-2"], ("--range-shifter-wet-mm",)),
    ],
)
def test_refused_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: tuple[str, ...]
) -> None:
    full = [*WATER, *argv]
    if "--particle" not in argv:
        full += ["--particle", "proton"]
    _refused(capsys, tmp_path, full, *words)


def test_plan_file_machine_is_refused_when_unknown(tmp_path: Path, capsys) -> None:
    (tmp_path / "p.toml").write_text('[plan]\nparticle = "proton"\nmachine = "no-such-machine"\n')
    _refused(capsys, tmp_path, [str(tmp_path / "p.toml"), *WATER], "unknown machine")


def test_unusual_prescription_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A radiosurgical single fraction is possible but warned about (on stderr)."""
    from ionbeam.cli._plan_inputs import check_prescription

    assert check_prescription(60.0, 30) == []
    assert check_prescription(70.4, 16) == []
    assert any("radiosurgical" in w for w in check_prescription(24.0, 1))
    assert any("fractions" in w for w in check_prescription(80.0, 60))


@pytest.fixture(scope="module")
def from_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Planned from a plan file that names the machine (pimms, with a gantry), fine
    sampling, the beams' names and an oblique gantry angle."""
    folder = tmp_path_factory.mktemp("settings")
    (folder / "plan.toml").write_text(
        """
[patient]
phantom = "water"
spacing_mm = 5.0

[prescription]
dose_per_fraction_gy = 2.0
fractions = 30

[plan]
particle = "proton"
machine = "pimms"
fine_sampling = 2

[[beams]]
name = "Oblique"
gantry_deg = 45.0
"""
    )
    out = folder / "out"
    assert main(["plan", str(folder / "plan.toml"), "--out", str(out), *QUICK]) == 0
    return out


def test_plan_file_settings_are_honoured(from_file: Path) -> None:
    """plan.json says pimms, fine sampling 2, the beam's name and its 45° gantry angle
    (a pimms gantry angle: CNAO's fixed lines would refuse it)."""
    plan = read_plan_json(from_file)
    assert plan.machine == "pimms"
    assert plan.settings["planning"]["fine_sampling"] == 2
    assert plan.settings["dose_engine"]["fine_sampling"] == 2
    assert [b.name for b in plan.beams] == ["Oblique"]
    assert plan.beams[0].geometry.gantry_deg == 45.0
    assert plan.prescription.total_dose_gy == pytest.approx(60.0)


def test_total_dose_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--total-dose-gy 60 --fractions 30 is 60 Gy(RBE) in all, 2 per fraction; the CNAO
    horizontal line (gantry 90°) is accepted; --machine is recorded."""
    out = tmp_path / "out"
    argv = ["plan", *WATER, "--particle", "proton", "--beams", "90", "--total-dose-gy", "60",
            "--fractions", "30", "--machine", "cnao", "--out", str(out), "--json",
            *QUICK]  # fmt: skip
    assert main(argv) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["prescription_gy"] == 60.0 and metrics["fractions"] == 30
    assert 0.9 * 60 < metrics["structures"]["Target"]["mean_gy"] < 1.1 * 60
    assert read_plan_json(out).machine == "cnao"


@pytest.fixture(scope="module")
def shallow_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A water box with a 20 mm target 5–25 mm below the surface that the beam (gantry
    90°, entering from the patient's left, +x) crosses first: shallower than the lowest
    proton energy of the CNAO library reaches (30 mm)."""
    from ionbeam.io.dicom import write_dicom_patient
    from ionbeam.patient.phantoms import make_phantom

    folder = tmp_path_factory.mktemp("shallow")
    patient = make_phantom(
        "water", spacing_mm=5.0, target_size_mm=20.0, target_centre_mm=(65.0, 0.0, 0.0)
    )
    return write_dicom_patient(patient, folder / "ct")


def test_planner_inserts_the_range_shifter(shallow_target: Path, tmp_path: Path) -> None:
    """Superficial targets are planned: the planner inserts the machine's range shifter
    (30 mm WET) and the target is covered."""
    out = tmp_path / "plan"
    argv = ["plan", "--dicom", str(shallow_target), "--particle", "proton", "--beams", "90",
            "--out", str(out), *QUICK]  # fmt: skip
    assert main(argv) == 0
    plan = read_plan_json(out)
    assert plan.beams[0].range_shifter_wet_mm == 30.0
    metrics = json.loads((out / "metrics.json").read_text())
    target = metrics["structures"]["Target"]
    assert target["d95_gy"] > 0.9 * metrics["prescription_gy"]


def test_range_shifter_can_be_refused(
    shallow_target: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--range-shifter-wet-mm 0 forbids it: the error says which thickness is needed and
    how to give it, with "mm" once per number."""
    argv = ["--dicom", str(shallow_target), "--particle", "proton", "--beams", "90",
            "--range-shifter-wet-mm", "0"]  # fmt: skip
    err = _refused(capsys, tmp_path, argv, "range shifter of at least", "--range-shifter-wet-mm")
    assert "mm mm" not in err and "mm WET) mm" not in err


def test_phantom_too_large_for_memory(tmp_path: Path, capsys) -> None:
    """item 6: a phantom whose voxels cannot fit is refused before allocation, with a hint."""
    assert main(["phantom", "tg119", "--spacing", "0.02", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "memory" in err and "--spacing" in err
    assert not (tmp_path / "o").exists()


def test_dose_grid_too_large_for_memory(tmp_path: Path, capsys) -> None:
    """item 6: a dose grid whose arrays cannot fit is refused (no numpy traceback)."""
    argv = ["--phantom", "water", "--particle", "proton", "--grid", "0.01"]
    _refused(capsys, tmp_path, argv, "memory", "--grid")


def test_influence_too_large_for_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """item 6: the dose influence is refused from its exact number of entries, before
    its arrays are allocated (available memory simulated: 1.5 MB; the dose-grid estimate
    set aside so that the influence check is the one that refuses)."""
    import ionbeam._memory as memory

    monkeypatch.setenv("IONBEAM_MEMORY_LIMIT_GB", "0.0015")
    monkeypatch.setattr(memory, "DOSE_GRID_BYTES_PER_VOXEL", 0.0)
    monkeypatch.setattr(memory, "DOSE_GRID_BYTES_PER_STRUCTURE_VOXEL", 0.0)
    argv = ["--phantom", "water", "--ct-spacing", "5", "--particle", "proton", "--beams", "90",
            "--grid", "5", "--energy-stride", "3"]  # fmt: skip
    _refused(capsys, tmp_path, argv, "dose influence", "stored voxels", "memory", "--grid")


def test_memory_is_read_from_proc_meminfo() -> None:
    from ionbeam._memory import available_memory_bytes

    available = available_memory_bytes()
    assert available is None or 1e7 < available < 1e14
    assert np.isfinite(available or 0.0)


def test_dose_of_a_plan_in_mu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A clinical RT Ion Plan in MU is recomputed from the command line with
    --particles-per-mu (before: only the Python parameter particles_per_mu, which the error
    named). Converted from ionbeam's own plan (NP) at 1e6 particles per MU, the dose is the
    same as the original's."""
    import pydicom

    out = tmp_path / "plan"
    argv = ["plan", *WATER, "--particle", "proton", "--beams", "90", "--out", str(out),
            "--grid", "5", "--energy-stride", "3", "--spot-spacing", "8",
            "--no-report"]  # fmt: skip
    assert main(argv) == 0
    rp = pydicom.dcmread(out / "dicom" / "RP.dcm")
    for beam in rp.IonBeamSequence:
        beam.PrimaryDosimeterUnit = "MU"
    for ref in rp.FractionGroupSequence[0].ReferencedBeamSequence:
        ref.BeamMeterset = float(ref.BeamMeterset) / 1.0e6
    mu_plan = tmp_path / "RP_mu.dcm"
    rp.save_as(mu_plan)
    capsys.readouterr()
    dose = ["dose", str(mu_plan), "--phantom", "water", "--ct-spacing", "5", "--grid", "5",
            "--json"]  # fmt: skip
    assert main(dose) == 2
    assert "--particles-per-mu" in capsys.readouterr().err
    assert main([*dose, "--particles-per-mu", "1e6"]) == 0
    recomputed = json.loads(capsys.readouterr().out)["structures"]["Target"]
    saved = json.loads((out / "metrics.json").read_text())["structures"]["Target"]
    assert recomputed["mean_gy"] == pytest.approx(saved["mean_gy"], rel=1e-3)
    table = tmp_path / "per_mu.txt"
    table.write_text("# MeV, particles per MU\n50 1e6\n250 1e6\n")
    assert main([*dose, "--particles-per-mu", str(table)]) == 0
    again = json.loads(capsys.readouterr().out)["structures"]["Target"]
    assert again["mean_gy"] == pytest.approx(saved["mean_gy"], rel=1e-3)


@pytest.mark.parametrize(
    ("particle", "energy", "span"),
    [("carbon", "14.5", "115–400 MeV/u"), ("proton", "1184", "60–250 MeV/u")],
)
def test_synchrotron_energy_limits_per_particle_and_machine(
    capsys: pytest.CaptureFixture[str], particle: str, energy: str, span: str
) -> None:
    """item 5: the ring's rigidity reaches carbon at 14.5 MeV/u and protons at 1.2 GeV, the
    facility does not (PIMMS/CNAO design: protons 60–250 MeV, carbon 115–400 MeV/u)."""
    for machine in ("cnao", "pimms"):
        argv = ["synchrotron", "--machine", machine, "--particle", particle, "--energy", energy]
        assert main([*argv, "--json"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and span in err


def test_readme_plan_file_is_valid(tmp_path: Path) -> None:
    """The plan file shown in the README reads and resolves with the current key names
    (machine, beams on CNAO's lines, objectives' total_dose_gy) without planning."""
    import re

    from ionbeam.cli._plan_inputs import plan_inputs
    from ionbeam.io.plan_file import load_plan_file

    readme = Path(__file__).parents[3] / "README.md"
    block = re.search(r"```toml\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
    assert block is not None
    text = block.group(1).replace('phantom = "head"', 'phantom = "head"\nspacing_mm = 6.0', 1)
    (tmp_path / "plan.toml").write_text(text)
    inputs = plan_inputs(load_plan_file(tmp_path / "plan.toml"))
    assert inputs.machine.name == "cnao" and inputs.particle == "carbon"
    assert inputs.options.gantry_deg == (90.0, 270.0)
    assert inputs.options.beam_names == ("Right", None)
    assert inputs.options.range_shifter_wet_mm == (None, 0.0)
    assert inputs.prescription.total_dose_gy == pytest.approx(70.4)
    assert inputs.objectives["Brainstem"][0].max_dose_gy == pytest.approx(54.0 / 16)


def test_ct_series_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder holding two CT series: the error names the command-line option (before:
    only the Python parameter series_instance_uid), and --ct-series picks one."""
    import shutil

    import pydicom

    from ionbeam.io.dicom import write_dicom_patient
    from ionbeam.patient.phantoms import make_phantom

    folder = write_dicom_patient(make_phantom("water", spacing_mm=10.0), tmp_path / "ct")
    other = write_dicom_patient(make_phantom("water", spacing_mm=8.0), tmp_path / "other")
    for path in other.glob("CT_*.dcm"):
        shutil.copy(path, folder / f"other_{path.name}")
    uid = str(pydicom.dcmread(folder / "CT_0001.dcm").SeriesInstanceUID)
    argv = ["--dicom", str(folder), "--target", "Target", "--particle", "proton",
            "--beams", "90"]  # fmt: skip
    _refused(capsys, tmp_path, argv, "--ct-series")
    out = tmp_path / "plan"
    assert main(["plan", *argv, "--ct-series", uid, "--out", str(out), *QUICK]) == 0
    plan = read_plan_json(out)
    assert plan.settings["dicom"]["ct_series"] == uid
    assert plan.settings["dose_grid"]["spacing_mm"] == [5.0, 5.0, 5.0]


def test_dose_options_are_honoured_or_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ionbeam dose`` of a plan folder: --rbe-model and --machine apply (before: read
    only for an RT Ion Plan, silently ignored here); options that would do nothing are
    refused."""
    out = tmp_path / "plan"
    argv = ["plan", *WATER, "--particle", "proton", "--beams", "90", "--out", str(out), *QUICK]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["dose", str(out), "--rbe-model", "none", "--machine", "pimms", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["dose"] == "physical" and metrics["rbe_model"] == "none"
    for extra, word in ((["--force"], "--force"), (["--no-report"], "--no-report"),
                        (["--particles-per-mu", "1e6"], "RT Ion Plan"),
                        (["--machine", "hit"], "unknown machine")):  # fmt: skip
        assert main(["dose", str(out), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and word in err
