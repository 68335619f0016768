"""The delivery record on disk (CSV, JSON, Parquet), written atomically, and the timeline."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from ionbeam.delivery import deliver_plan
from ionbeam.delivery.timeline import beam_on_intervals, plot_timeline
from ionbeam.delivery.writers import record_to_dict, write_record
from ionbeam.errors import ConfigError, UnknownNameError


@pytest.fixture(scope="module")
def record(machine, make_plan, ideal):
    weight = np.full(25, 3.0e5)
    weight[4] = 0.0  # one spot not scanned: NaN times, empty cells
    plan = make_plan("carbon", [(0, 3.0e5), (2, weight)], beams=2)
    return deliver_plan(plan, machine, options=ideal())


def test_csv_and_json_tables(record, tmp_path: Path) -> None:
    files = write_record(record, tmp_path / "out", formats=("csv", "json"))
    names = sorted(p.name for p in files)
    assert names == ["layers.csv", "record.json", "spills.csv", "spots.csv", "summary.json"]
    with (tmp_path / "out" / "spots.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(record.spots)
    assert list(rows[0]) == list(record.spots.columns())
    np.testing.assert_array_equal([int(r["delivered"]) for r in rows], record.spots.delivered)
    np.testing.assert_array_equal([float(r["start_s"] or "nan") for r in rows],
                                  record.spots.start_s)  # fmt: skip
    assert rows[29]["end_s"] == "" and rows[29]["spill"] == "-1"
    data = json.loads((tmp_path / "out" / "record.json").read_text())
    assert data["tables"]["spills"]["delivered"] == record.spills.delivered.tolist()
    assert data["tables"]["spots"]["end_s"][29] is None
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["summary"]["delivered_particles"] == record.delivered_particles
    assert summary["summary"]["n_spills"] == len(record.spills) == 4
    assert summary["options"]["monitors"]["secondary"]["signal_spread"] == 0.0
    assert [f["name"] for f in summary["summary"]["fields"]] == ["B1", "B2"]
    assert record_to_dict(record, tables=False).keys() == summary.keys()


def test_writing_is_all_or_nothing(record, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "spots.csv").write_text("old")

    def broken(path: Path) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_record(record, folder, extra=[("timeline.png", broken)])
    assert sorted(p.name for p in folder.iterdir()) == ["spots.csv"]
    assert (folder / "spots.csv").read_text() == "old"
    with pytest.raises(UnknownNameError):
        write_record(record, folder, formats=("xlsx",))


def test_parquet(record, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        with pytest.raises(ConfigError, match="pyarrow"):
            write_record(record, tmp_path, formats=("parquet",))
        assert list(tmp_path.iterdir()) == []
        return
    write_record(record, tmp_path, formats=("parquet",))
    table = pq.read_table(tmp_path / "spots.parquet")
    np.testing.assert_array_equal(table.column("delivered").to_numpy(), record.spots.delivered)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ConfigError, match="pyarrow"):
        write_record(record, tmp_path / "again", formats=("parquet",))


def test_timeline(record, tmp_path: Path) -> None:
    path = plot_timeline(record, tmp_path / "timeline.png")
    assert path.stat().st_size > 20_000
    assert [p.name for p in tmp_path.iterdir()] == ["timeline.png"]
    intervals = beam_on_intervals(record)
    assert np.all(np.diff(intervals[:, 0]) > 0) and np.all(intervals[:, 1] > intervals[:, 0])
    # spot scanning: one interval per spot, together the beam-on time
    assert len(intervals) == int(np.sum(record.spots.scan_position >= 0))
    assert np.sum(intervals[:, 1] - intervals[:, 0]) == pytest.approx(record.beam_on_s, rel=1e-9)


def test_beam_on_intervals_of_spots_split_across_spills(machine, make_plan, ideal) -> None:
    plan = make_plan("carbon", [(0, 4.5e7)])
    split = deliver_plan(plan, machine, options=ideal(extraction_when_off="pause"))
    assert np.any(split.spots.spill != split.spots.end_spill)
    intervals = beam_on_intervals(split)
    assert np.sum(intervals[:, 1] - intervals[:, 0]) == pytest.approx(split.beam_on_s, rel=1e-9)
    for k in range(len(split.spills)):  # the beam is on only within spills
        inside = (intervals[:, 0] >= split.spills.start_s[k] - 1e-12) & (
            intervals[:, 1] <= split.spills.end_s[k] + 1e-12
        )
        overlapping = (intervals[:, 0] < split.spills.end_s[k]) & (
            intervals[:, 1] > split.spills.start_s[k]
        )
        np.testing.assert_array_equal(inside[overlapping], True)
