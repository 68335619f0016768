"""``ionbeam demo``: writes the figure and summary atomically and reports where."""

import json
from pathlib import Path

import pytest

from ionbeam.cli._demo import DEMO_BEAMS
from ionbeam.cli.main import main
from ionbeam.physics.ranges import csda_range_mm


def test_demo_writes_figure_and_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"written to {out / 'bragg_curves.png'}" in printed
    assert (out / "bragg_curves.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ionbeam"] == "demo" and len(summary["beams"]) == len(DEMO_BEAMS)
    first = summary["beams"][0]
    assert first["csda_range_mm"] == pytest.approx(
        float(csda_range_mm(first["particle"], first["energy_mev_u"]))
    )
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no staging folders left

    assert main(["demo", "--out", str(out)]) == 0  # a previous demo is replaced


def test_demo_refuses_to_replace_a_foreign_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "does not hold a previous ionbeam demo" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "keep me"
