"""``ionbeam batch``: three plan files → plan folders and one summary table."""

from __future__ import annotations

import csv
import json

from ionbeam.cli.main import main

WATER = """
[patient]
phantom = "water"
spacing_mm = 4.0
[prescription]
dose_per_fraction_gy = {dose}
fractions = 30
[plan]
particle = "proton"
dose_grid_mm = 4.0
spot_spacing_mm = 5.0
[[beams]]
gantry_deg = 90.0
"""


def test_batch_of_three_plan_files_writes_the_summary(tmp_path, capsys) -> None:
    """Two good plan files and one with a typo: both good plans are made (their D95 in
    the summary equals their metrics.json, per prescription), the bad one is listed with
    its one-line error, and the exit status says not all were made."""
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "a.toml").write_text(WATER.format(dose=2.0))
    (folder / "b.toml").write_text(WATER.format(dose=3.0))
    (folder / "c.toml").write_text(WATER.format(dose=2.0).replace("fractions", "fractionz"))
    out = tmp_path / "out"
    args = ["batch", str(folder), "--out", str(out), "--workers", "0", "--energy-stride", "3"]
    status = main([*args, "--no-dicom", "--no-report"])
    assert status == 2
    with (out / "summary.csv").open() as handle:
        rows = {r["plan"]: r for r in csv.DictReader(handle)}
    assert [rows[k]["status"] for k in ("a.toml", "b.toml", "c.toml")] == [
        "planned", "planned", "failed"
    ]  # fmt: skip
    assert "fractionz" in rows["c.toml"]["error"]
    for name, dose in (("a", 2.0), ("b", 3.0)):
        metrics = json.loads((out / name / "metrics.json").read_text())
        d95 = float(rows[f"{name}.toml"]["d95_gy"])
        assert d95 == metrics["structures"]["Target"]["d95_gy"]
        assert 0.9 * 30 * dose < d95 <= 30 * dose
    html = (out / "summary.html").read_text()
    assert html.count("<tr") == 4 and "a.toml" in html
    assert "2 of 3 plans made" in capsys.readouterr().out
