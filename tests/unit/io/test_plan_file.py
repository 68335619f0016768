"""Plan files (TOML): every key read, unknown keys and bad values refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ionbeam.errors import ConfigError
from ionbeam.io.plan_file import load_plan_file, plan_request_from_dict

EXAMPLE = """
[patient]
phantom = "head"
target = "PTV"
spacing_mm = 2.0

[prescription]
total_dose_gy = 60.0
fractions = 20

[plan]
particle = "carbon"
technique = "sfud"
rbe_model = "mkm"
dose_grid_mm = 3.0

[[beams]]
gantry_deg = 90.0
[[beams]]
line = "horizontal"
couch_deg = 30.0

[[objectives]]
structure = "Brainstem"
type = "max_dose"
dose_gy = 54.0
weight = 3000.0

[[objectives]]
structure = "Brain"
type = "max_dvh"
dose_gy = 30.0
volume_percent = 10.0

[tissues]
target = "tumour"
structures = { Brainstem = "late_normal" }
"""


def test_example_is_read(tmp_path: Path) -> None:
    (tmp_path / "plan.toml").write_text(EXAMPLE)
    request = load_plan_file(tmp_path / "plan.toml")
    assert request.patient.phantom == "head" and request.patient.target == "PTV"
    assert request.total_dose_gy == 60.0 and request.fractions == 20
    assert request.particle == "carbon" and request.technique == "sfud"
    assert request.beams[0].gantry_deg == 90.0 and request.beams[0].line is None
    assert request.beams[1].line == "horizontal" and request.beams[1].couch_deg == 30.0
    assert request.objectives[0].type == "max_dose" and request.objectives[0].dose_gy == 54.0
    assert request.objectives[1].volume_percent == 10.0
    assert request.structure_tissues == {"Brainstem": "late_normal"}


def test_dicom_path_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('[patient]\ndicom = "ct"\ntarget = "CTV"\n')
    assert load_plan_file(tmp_path / "p.toml").patient.dicom == tmp_path / "ct"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"patient": {"phantom": "head", "targte": "PTV"}}, "unknown key"),
        ({"planning": {}}, "unknown key"),
        ({"prescription": {"total_dose_gy": 0.0}}, "must be > 0"),
        ({"prescription": {"total_dose_gy": float("nan")}}, "finite number"),
        ({"prescription": {"fractions": 2.5}}, "integer"),
        ({"prescription": {"total_dose_gy": 60.0, "dose_per_fraction_gy": 3.0}}, "not both"),
        ({"patient": {"phantom": "head", "dicom": "x"}}, "not both"),
        ({"beams": [{"couch_deg": 10.0}]}, "gantry_deg or line"),
        ({"beams": [{"line": "diagonal"}]}, "horizontal"),
        (
            {"objectives": [{"structure": "PTV", "type": "uniform", "dose_gy": 2.0}]},
            "unknown objective",
        ),
        (
            {"objectives": [{"structure": "Brain", "type": "max_dvh", "dose_gy": 2.0}]},
            "volume_percent",
        ),
        ({"objectives": [{"type": "max_dose", "dose_gy": 2.0}]}, "structure and a type"),
    ],
)
def test_bad_plan_files_refused(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_request_from_dict(data)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_plan_file(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[patient\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_plan_file(tmp_path / "bad.toml")


def test_ripple_filter_is_read_and_must_be_a_boolean() -> None:
    assert plan_request_from_dict({"plan": {"ripple_filter": False}}).ripple_filter is False
    assert plan_request_from_dict({}).ripple_filter is None
    with pytest.raises(ConfigError, match="ripple_filter must be true or false"):
        plan_request_from_dict({"plan": {"ripple_filter": "off"}})
