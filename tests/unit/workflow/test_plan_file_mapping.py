"""The plan-file mapping of the library's front door, without the CLI: every key of a
TOML plan file reaches its setting in :class:`ionbeam.workflow.PlanInputs` (or the
planning options, goals, robust options), and an unknown key is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ionbeam.errors import ConfigError
from ionbeam.workflow import plan_from_file, resolve_inputs, robust_options_of

BDL = Path(__file__).resolve().parents[2] / "data" / "commissioning" / "bdl_with_range_shifter.txt"

EVERY_KEY = """
[patient]
phantom = "water"
target = "Target"
spacing_mm = 10.0
calibration = "hlut.txt"

[prescription]
total_dose_gy = 54.0
fractions = 18

[plan]
particle = "proton"
machine = "pimms"
beam_model = "{bdl}"
technique = "sfud"
rbe_model = "none"
dose_grid_mm = 6.0
spot_spacing_mm = 7.0
fine_sampling = 2
dose_engine = "fine_sampling"
ripple_filter = false

[[beams]]
name = "Oblique"
gantry_deg = 45.0
couch_deg = 10.0
range_shifter_wet_mm = 0.0

[[beams]]
name = "Lateral"
gantry_deg = 270.0

[[objectives]]
structure = "Body"
type = "max_dose"
total_dose_gy = 36.0
weight = 250.0

[tissues]
target = "tumour"
normal = "late_normal"
structures = {{ Body = "early_normal" }}

[[goals]]
structure = "Body"
metric = "D0.03cc"
at_most = 45.0
unit = "Gy"

[hot_spot]
threshold_percent = 110.0
volume_cm3 = 0.5

[robust]
mode = "stochastic"
scenarios = "21"
range_error_percent = 2.5
setup_error_mm = 2.0
structures = {{ Body = "nominal" }}
sharpness = 8.0
"""


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("every-key")
    (folder / "hlut.txt").write_text("-1000 0.001\n0 1.0\n3000 2.5\n")
    path = folder / "plan.toml"
    path.write_text(EVERY_KEY.format(bdl=BDL.as_posix()))
    return path


def test_every_key_reaches_its_setting(plan_file: Path) -> None:
    """Each key of the file, resolved by ``resolve_inputs`` (no CLI), is in the inputs:
    patient and calibration, prescription (the objective's 36 Gy total is 2 Gy per
    fraction of 18), machine (pimms, whose gantry allows 45°), beam model, options,
    beams, tissues."""
    inputs = resolve_inputs(plan_from_file(plan_file))
    assert inputs.phantom == "water"
    assert inputs.patient.grid.spacing_mm == pytest.approx((10.0, 10.0, 10.0))
    assert inputs.calibration is not None
    assert Path(inputs.calibration.source).name == "hlut.txt"
    assert inputs.prescription.target == "Target"
    assert inputs.prescription.total_dose_gy == 54.0
    assert inputs.prescription.fractions == 18
    assert inputs.particle == "proton"
    assert inputs.machine is not None and inputs.machine.name == "pimms"
    assert inputs.beam_model is not None and inputs.beam_model.particle == "proton"
    options = inputs.options
    assert options.technique == "sfud"
    assert options.rbe_model == "none"
    assert options.dose_grid_mm == 6.0
    assert options.spot_spacing_mm == 7.0
    assert options.fine_sampling == 2
    assert options.dose_engine == "fine_sampling"
    assert options.ripple_filter is False
    assert options.gantry_deg == (45.0, 270.0)
    assert options.couch_deg == (10.0, 0.0)
    assert options.beam_names == ("Oblique", "Lateral")
    assert options.range_shifter_wet_mm == (0.0, None)
    assert options.target_tissue == "tumour"
    assert options.normal_tissue == "late_normal"
    assert dict(options.structure_tissues) == {"Body": "early_normal"}
    assert inputs.objectives is not None
    (body,) = inputs.objectives["Body"]
    assert body.max_dose_gy == pytest.approx(2.0)
    assert body.weight == 250.0


def test_goals_and_robust_sections_are_read(plan_file: Path) -> None:
    """``[[goals]]``, ``[hot_spot]`` and ``[robust]`` reach the request and the robust
    options that ``make_plan`` uses by default (2.5 % → 0.025)."""
    request = plan_from_file(plan_file)
    (goal,) = request.goals
    assert (goal.structure, goal.metric, goal.value, goal.unit) == ("Body", "D0.03cc", 45.0, "Gy")
    assert request.hot_spot_percent == 110.0
    assert request.hot_spot_volume_cm3 == 0.5
    robust = robust_options_of(request)
    assert robust is not None
    assert robust.mode == "stochastic"
    assert robust.scenario_set == "21"
    assert robust.range_error == pytest.approx(0.025)
    assert robust.setup_error_mm == 2.0
    assert dict(robust.structures) == {"Body": "nominal"}
    assert robust.sharpness == 8.0
    assert robust_options_of(None) is None


def test_per_fraction_dose_and_fixed_line(tmp_path: Path) -> None:
    """``dose_per_fraction_gy`` × ``fractions`` is the total; a beam on CNAO's horizontal
    ``line`` is gantry 90°."""
    path = tmp_path / "plan.toml"
    path.write_text(
        '[patient]\nphantom = "water"\nspacing_mm = 10.0\n'
        "[prescription]\ndose_per_fraction_gy = 3.0\nfractions = 5\n"
        '[plan]\nparticle = "carbon"\n'
        '[[beams]]\nline = "horizontal"\n'
    )
    inputs = resolve_inputs(path)
    assert inputs.prescription.total_dose_gy == pytest.approx(15.0)
    assert inputs.machine is not None and inputs.machine.name == "cnao"
    assert inputs.options.gantry_deg == (90.0,)
    assert inputs.particle == "carbon"


def test_dicom_patient_keys(tmp_path: Path) -> None:
    """``dicom`` and ``ct_series`` pick the CT series of a DICOM folder."""
    import pydicom

    from ionbeam.io.dicom import write_dicom_patient
    from ionbeam.patient.phantoms import make_phantom

    folder = write_dicom_patient(make_phantom("water", spacing_mm=10.0), tmp_path / "ct")
    uid = str(pydicom.dcmread(folder / "CT_0001.dcm").SeriesInstanceUID)
    path = tmp_path / "plan.toml"
    path.write_text(
        f'[patient]\ndicom = "{folder.as_posix()}"\nct_series = "{uid}"\ntarget = "Target"\n'
        '[plan]\nparticle = "proton"\n[[beams]]\ngantry_deg = 90.0\n'
    )
    inputs = resolve_inputs(path)
    assert inputs.source_dicom == folder
    assert inputs.ct_series == uid
    assert inputs.phantom is None
    assert inputs.prescription.target == "Target"


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ('[plan]\nparticle = "proton"\ngrid_mm = 3.0\n', "grid_mm"),
        ('[patient]\nphantom = "water"\nspacing = 3.0\n', "spacing"),
        ("[beam]\ngantry_deg = 0.0\n", "beam"),
    ],
)
def test_unknown_key_is_refused(tmp_path: Path, text: str, word: str) -> None:
    """A typo is an error naming the key, never ignored."""
    path = tmp_path / "plan.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=word):
        plan_from_file(path)


def test_missing_patient_and_implausible_prescription_are_refused(tmp_path: Path) -> None:
    """What the CLI refuses, the library refuses, with the same one-line messages."""
    path = tmp_path / "plan.toml"
    path.write_text('[plan]\nparticle = "proton"\n')
    with pytest.raises(ConfigError, match="say which patient"):
        resolve_inputs(path)
    path.write_text(
        '[patient]\nphantom = "water"\n[prescription]\ntotal_dose_gy = 200.0\n'
        '[plan]\nparticle = "proton"\n'
    )
    with pytest.raises(ConfigError, match="more than any clinical schedule"):
        resolve_inputs(path)
