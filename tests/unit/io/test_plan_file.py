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
total_dose_gy = 54.0
weight = 3000.0

[[objectives]]
structure = "Brain"
type = "max_dvh"
total_dose_gy = 30.0
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
    assert request.objectives[0].type == "max_dose" and request.objectives[0].total_dose_gy == 54.0
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
            {"objectives": [{"structure": "PTV", "type": "uniform", "total_dose_gy": 2.0}]},
            "unknown objective",
        ),
        (
            {"objectives": [{"structure": "Brain", "type": "max_dvh", "total_dose_gy": 2.0}]},
            "volume_percent",
        ),
        ({"objectives": [{"type": "max_dose", "total_dose_gy": 2.0}]}, "structure and a type"),
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


def test_goals_and_hot_spot_are_read() -> None:
    """[[goals]] become evaluation Goals (metric canonical, unit and severity kept);
    [hot_spot] sets the threshold and tolerated volume."""
    request = plan_request_from_dict(
        {
            "goals": [
                {"structure": "OpticChiasm", "metric": "d0.03cc", "at_most": 54.0, "unit": "Gy"},
                {"structure": "PTV", "metric": "D98", "at_least": 95.0, "severity": "objective"},
            ],
            "hot_spot": {"threshold_percent": 105.0, "volume_cm3": 0.1},
        }
    )
    chiasm, ptv = request.goals
    assert (chiasm.metric, chiasm.bound, chiasm.value, chiasm.unit) == ("D0.03cc", "at_most",
                                                                         54.0, "Gy")  # fmt: skip
    assert (ptv.bound, ptv.unit, ptv.severity) == ("at_least", "%", "objective")
    assert request.hot_spot_percent == 105.0 and request.hot_spot_volume_cm3 == 0.1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"goals": [{"structure": "PTV", "metric": "D95", "at_least": 95, "limit": 1}]},
         "unknown key"),
        ({"goals": [{"structure": "PTV", "metric": "D95"}]}, "at_least or at_most"),
        ({"goals": [{"structure": "PTV", "metric": "D95", "at_least": 9, "at_most": 99}]},
         "at_least or at_most"),
        ({"goals": [{"metric": "D95", "at_least": 95}]}, "structure and a metric"),
        ({"goals": [{"structure": "PTV", "metric": "Dmax", "at_most": 107}]},
         "goal 1: unknown goal metric"),
        ({"goals": [{"structure": "PTV", "metric": "D95", "at_least": 95, "unit": "cGy"}]},
         "unit"),
        ({"goals": [{"structure": "PTV", "metric": "D95", "at_least": "high"}]}, "finite"),
        ({"hot_spot": {"threshold_percent": 0}}, "must be > 0"),
        ({"hot_spot": {"percent": 107}}, "unknown key"),
    ],
)  # fmt: skip
def test_bad_goals_refused(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_request_from_dict(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # issue 12: an ambiguous dose name is refused with the name to use
        (
            {"objectives": [{"structure": "PTV", "type": "max_dose", "dose_gy": 54.0}]},
            "write total_dose_gy",
        ),
        # issue 12: angles outside [0, 360) are refused, not wrapped
        ({"beams": [{"gantry_deg": 400.0}]}, r"\[0, 360\)"),
        ({"beams": [{"gantry_deg": -90.0}]}, "270 rather than -90"),
        ({"beams": [{"gantry_deg": 1e300}]}, r"\[0, 360\)"),
        ({"beams": [{"line": "vertical", "couch_deg": 360.0}]}, r"\[0, 360\)"),
        ({"beams": [{"gantry_deg": 0.0, "range_shifter_wet_mm": -3.0}]}, "≥ 0 mm"),
        ({"plan": {"fine_sampling": 1}}, "fine_sampling must be 0"),
        ({"plan": {"fine_sampling": 12}}, "fine_sampling must be 0"),
    ],
)
def test_issue12_settings_refused(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_request_from_dict(data)


def test_issue12_range_shifter_name_and_series_are_read() -> None:
    """The range shifter may be given explicitly (no longer "chosen by the planner" only);
    0 means none and an absent key lets the planner decide (None)."""
    request = plan_request_from_dict(
        {
            "patient": {"dicom": "ct", "ct_series": "1.2.3"},
            "plan": {"machine": "pimms", "fine_sampling": 3},
            "beams": [
                {"gantry_deg": 90.0, "name": "Left", "range_shifter_wet_mm": 30.0},
                {"gantry_deg": 270.0, "range_shifter_wet_mm": 0.0},
                {"gantry_deg": 0.0},
            ],
        }
    )
    assert [b.range_shifter_wet_mm for b in request.beams] == [30.0, 0.0, None]
    assert request.beams[0].name == "Left" and request.patient.ct_series == "1.2.3"
    assert request.machine == "pimms" and request.fine_sampling == 3


def test_ripple_filter_is_read_and_must_be_a_boolean() -> None:
    assert plan_request_from_dict({"plan": {"ripple_filter": False}}).ripple_filter is False
    assert plan_request_from_dict({}).ripple_filter is None
    with pytest.raises(ConfigError, match="ripple_filter must be true or false"):
        plan_request_from_dict({"plan": {"ripple_filter": "off"}})


def test_oar_supersampling_is_read_and_must_be_a_number() -> None:
    """``oar_supersampling_mm`` reaches the planning options (honoured by the planner)."""
    from ionbeam.planning.planner import PlanningOptions

    request = plan_request_from_dict({"plan": {"oar_supersampling_mm": 4.0}})
    assert request.oar_supersampling_mm == 4.0
    assert plan_request_from_dict({}).oar_supersampling_mm is None
    with pytest.raises(ConfigError, match="oar_supersampling_mm must be a finite number"):
        plan_request_from_dict({"plan": {"oar_supersampling_mm": "4"}})
    with pytest.raises(ConfigError, match="oar_supersampling_mm"):
        PlanningOptions(oar_supersampling_mm=-1.0)
