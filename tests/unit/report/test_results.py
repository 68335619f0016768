"""PlanResult and ReportOptions check their inputs once, at the boundary."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError, GridMismatchError, OutOfRangeError
from ionbeam.report import PlanResult, ReportOptions


def _fields(result: PlanResult) -> dict:
    return {
        "label": result.label,
        "plan": result.plan,
        "dose_gy": result.dose_gy,
        "dose_grid": result.dose_grid,
        "metrics": result.metrics,
    }


def test_result_keeps_a_read_only_copy_of_the_dose(result: PlanResult) -> None:
    dose = np.array(result.dose_gy, dtype=np.float64)
    copy = PlanResult(**{**_fields(result), "dose_gy": dose})
    dose[0, 0, 0] = 99.0
    assert copy.dose_gy[0, 0, 0] != 99.0
    assert not copy.dose_gy.flags.writeable
    assert copy.dose_unit == "Gy"
    assert result.dose_unit == "Gy(RBE)"


def test_nan_dose_is_refused(result: PlanResult) -> None:
    dose = np.array(result.dose_gy)
    dose[1, 2, 3] = np.nan
    with pytest.raises(OutOfRangeError, match="NaN or infinity in 1 of"):
        PlanResult(**{**_fields(result), "dose_gy": dose})


def test_negative_dose_is_refused(result: PlanResult) -> None:
    dose = np.array(result.dose_gy)
    dose[0, 0, 0] = -0.5
    with pytest.raises(OutOfRangeError, match="dose must be within 0"):
        PlanResult(**{**_fields(result), "dose_gy": dose})


def test_dose_not_on_its_grid_is_refused(result: PlanResult) -> None:
    with pytest.raises(GridMismatchError, match="resample"):
        PlanResult(**{**_fields(result), "dose_gy": result.dose_gy[:-1]})


def test_let_not_on_the_dose_grid_is_refused(result: PlanResult) -> None:
    with pytest.raises(GridMismatchError, match="LET_d"):
        PlanResult(**_fields(result), let_d_kev_um=np.ones((2, 2, 2)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dose_kind": "biological"}, "dose_kind must be one of physical, rbe"),
        ({"label": " "}, "non-empty label"),
        ({"metrics": {"Target": 1.0}}, "DoseMetrics"),
        ({"plan": "plan.json"}, "ionbeam Plan"),
    ],
)
def test_bad_fields_are_refused(result: PlanResult, change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PlanResult(**{**_fields(result), **change})


@pytest.mark.parametrize(
    "change",
    [
        {"point_mm": (0.0, np.nan, 0.0)},
        {"point_mm": (0.0, 1.0)},
        {"dose_threshold_fraction": 1.5},
        {"ct_window_hu": (500.0, -500.0)},
        {"dpi": 5},
        {"max_layers_per_beam": 2.5},
        {"max_bragg_curves": 0},
    ],
)
def test_bad_options_are_refused(change: dict) -> None:
    with pytest.raises(ConfigError):
        ReportOptions(**change)


def test_options_normalise_point_and_structures() -> None:
    options = ReportOptions(point_mm=np.array([1, 2, 3]), structures=["Target"])
    assert options.point_mm == (1.0, 2.0, 3.0)
    assert options.structures == ("Target",)
