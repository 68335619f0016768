"""``ionbeam physics``: JSON values against the library, tables, plots and one-line errors."""

import json
from pathlib import Path

import numpy as np
import pytest

from ionbeam.cli.main import main
from ionbeam.physics.depth_dose import depth_dose
from ionbeam.physics.materials import get_material
from ionbeam.physics.ranges import csda_range_mm


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_range_json_matches_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    values = _json(capsys, ["physics", "range", "--particle", "carbon", "--energy", "400",
                            "--json"])  # fmt: skip
    curve = depth_dose("carbon", 400.0)
    assert values["csda_range_mm"] == pytest.approx(float(csda_range_mm("carbon", 400.0)))
    assert values["bragg_peak_mm"] == pytest.approx(curve.bragg_peak_mm)
    assert values["r80_mm"] == pytest.approx(curve.r80_mm)


def test_range_in_another_material(capsys: pytest.CaptureFixture[str]) -> None:
    values = _json(capsys, ["physics", "range", "--particle", "proton", "--energy", "150",
                            "--material", "pmma", "--json"])  # fmt: skip
    pmma = get_material("pmma")
    assert values["csda_range_mm"] == pytest.approx(float(csda_range_mm("proton", 150.0, pmma)))
    assert values["r80_mm"] < depth_dose("proton", 150.0).r80_mm  # PMMA stops faster


def test_water_i_value_option(capsys: pytest.CaptureFixture[str]) -> None:
    values = _json(capsys, ["physics", "range", "--energy", "100", "--water-i-value", "75",
                            "--json"])  # fmt: skip
    water75 = get_material("water", i_value_ev=75.0)
    assert values["csda_range_mm"] == pytest.approx(float(csda_range_mm("proton", 100.0, water75)))


def test_depth_dose_json(capsys: pytest.CaptureFixture[str]) -> None:
    values = _json(capsys, ["physics", "depth-dose", "--particle", "proton", "--energy", "150",
                            "--json"])  # fmt: skip
    curve = depth_dose("proton", 150.0)
    np.testing.assert_allclose(values["depth_mm"], curve.depth_mm)
    np.testing.assert_allclose(values["dose"], curve.idd_mev_mm)
    np.testing.assert_allclose(values["let_kev_um"], curve.let_d_kev_um)
    np.testing.assert_allclose(values["sigma_mm"], curve.sigma_mcs_mm)


def test_depth_dose_table_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "curve.png"
    assert main(["physics", "depth-dose", "--energy", "100", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "R80" in out and str(png) in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [png]  # no temporary file left behind


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["physics", "range", "--particle", "muon", "--energy", "100"], "unknown particle"),
        (["physics", "range", "--energy", "500"], "1–450 MeV/u"),
        (["physics", "range", "--energy", "100", "--material", "cheese"], "unknown material"),
        (
            ["physics", "depth-dose", "--energy", "100", "--plot", "/nonexistent/dir/x.png"],
            "does not exist",
        ),
    ],
)
def test_bad_input_gives_one_line_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
