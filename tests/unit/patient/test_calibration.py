"""HU calibration curves: interpolation, tissue classes, user tables and their errors."""

from pathlib import Path

import numpy as np
import pytest

from ionbeam.errors import ConfigError, OutOfRangeError
from ionbeam.patient import HUCalibration, load_calibration, stoichiometric_calibration


def _simple() -> HUCalibration:
    return HUCalibration([-1000, 0, 1000], [0.0, 1.0, 1.5], [0.0, 1.0, 1.6])


def test_piecewise_linear_with_constant_ends() -> None:
    cal = _simple()
    np.testing.assert_allclose(cal.hu_to_spr([-2000, -500, 0, 500, 3000]), [0, 0.5, 1, 1.25, 1.5])
    np.testing.assert_allclose(cal.hu_to_density_g_cm3([500]), [1.3])
    assert cal.hu_to_spr(np.zeros((2, 3, 4))).shape == (2, 3, 4)


def test_tissue_classes_by_default_boundaries() -> None:
    cal = _simple()
    classes = cal.hu_to_tissue([-1000, -500, -100, 40, 800])
    assert [cal.tissue_names[c] for c in classes] == [
        "air", "lung", "adipose", "soft_tissue", "bone",
    ]  # fmt: skip


def test_nan_hu_refused() -> None:
    with pytest.raises(OutOfRangeError):
        _simple().hu_to_spr([0.0, np.nan])


@pytest.mark.parametrize(
    ("hu", "spr", "message"),
    [
        ([0, -100, 100], [1, 1, 1], "increase"),
        ([0, 0, 100], [1, 1, 1], "increase"),
        ([0, np.nan], [1, 1], "finite"),
        ([0, 100], [1, -1], "≥ 0"),
        ([0], [1], "two nodes"),
    ],
)
def test_bad_tables_refused(hu: list, spr: list, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HUCalibration(hu, spr, np.ones(len(hu)))


def test_load_two_column_file_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "hlut.txt"
    path.write_text("# HU SPR\n-1000, 0.001\n0 1.0  # water\n\n1500; 1.8\n")
    cal = load_calibration(path)
    assert cal.hu_to_spr(750) == pytest.approx(1.4)
    # density from the default stoichiometric curve: water-like at 0 HU
    assert cal.hu_to_density_g_cm3(0.0) == pytest.approx(1.0, abs=0.03)
    assert str(path) in cal.source


def test_load_three_column_file(tmp_path: Path) -> None:
    path = tmp_path / "hlut.csv"
    path.write_text("-1000,0.001,0.0012\n0,1,1\n2000,2,2.2\n")
    assert load_calibration(path).hu_to_density_g_cm3(1000) == pytest.approx(1.6)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("-1000 0\n0 one\n", "line 2"),
        ("0 1\n-100 0.9\n", "increase"),
        ("0 1\n100 nan\n", "NaN"),
        ("0 1 1\n100 1.1\n", "columns"),
        ("0 1\n", "at least two"),
    ],
)
def test_malformed_files_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_calibration(path)


def test_missing_file_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_calibration(tmp_path / "nope.txt")


def test_stoichiometric_curve_is_monotonic_and_anchored() -> None:
    cal = stoichiometric_calibration()
    assert np.all(np.diff(cal.spr) > 0) and np.all(np.diff(cal.density_g_cm3) > 0)
    assert cal.hu_to_spr(-1000.0) < 0.01  # air
    # the water anchor: 0 HU is water (SPR 1, 1 g/cm³)
    assert cal.hu_to_spr(0.0) == pytest.approx(1.0, abs=1e-9)
    assert cal.hu_to_density_g_cm3(0.0) == pytest.approx(1.0, abs=1e-9)
    names = [cal.tissue_names[c] for c in cal.hu_to_tissue([-1000, -700, -90, 40, 1200])]
    assert names == ["air", "lung", "adipose", "soft_tissue", "bone"]
