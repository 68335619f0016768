"""``ionbeam commission``: a template of the generic model and the check of a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ionbeam.cli.main import main

REPO = Path(__file__).resolve().parents[3]
BDL = REPO / "tests" / "data" / "commissioning" / "bdl_with_range_shifter.txt"


def test_template_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The template of the generic model reads back with each curve's R80 equal to the
    physics' (0.01 mm: the curve is the physics on the model's grid)."""
    out = tmp_path / "room"
    args = ["commission", "template", "--particle", "proton", "--energy-stride", "40"]
    assert main([*args, "--out", str(out)]) == 0
    assert (out / "beam_model.toml").is_file() and len(list((out / "idd").glob("*.csv"))) == 5
    capsys.readouterr()
    assert main(["commission", "check", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["particle"] == "proton" and len(document["energies"]) == 5
    for row in document["energies"]:
        assert abs(row["r80_file_minus_physics_mm"]) < 0.01
    assert main([*args, "--out", str(out)]) == 2  # never over an existing folder
    assert "not empty" in capsys.readouterr().err


def test_check_a_bdl(capsys: pytest.CaptureFixture[str]) -> None:
    """A BDL has no curves: R80 from the physics at its mean energies only."""
    assert main(["commission", "check", str(BDL), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["energies"]
    assert [r["mean_energy_mev_u"] for r in rows] == [100.6, 150.9, 201.1]
    assert all(r["r80_file_mm"] is None and r["r80_physics_mm"] > 70 for r in rows)
    assert main(["commission", "check", str(BDL)]) == 0
    assert "OK" in capsys.readouterr().out
