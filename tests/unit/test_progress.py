"""Progress output: one line per stage on standard error, off with IONBEAM_PROGRESS=0;
an iteration counter without a total."""

from __future__ import annotations

import re

import pytest

from ionbeam._progress import make_counter, stage_printer


def test_stage_lines_go_to_stderr_with_the_elapsed_time(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Printed whether or not standard error is a terminal (here it is not)."""
    monkeypatch.delenv("IONBEAM_PROGRESS", raising=False)
    stage = stage_printer("carbon: ")
    stage("dose influence done in 12.0 s")
    stage("optimization done in 3.0 s")
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"ionbeam \[ +\d+ s\] carbon: dose influence done in 12\.0 s", lines[0])


def test_stage_lines_off_with_ionbeam_progress_0(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IONBEAM_PROGRESS", "0")
    stage_printer()("spots done")
    assert capsys.readouterr().err == ""


def test_counter_shows_no_total_and_no_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counter's columns render the iteration count, never "n/total" or an ETA."""
    monkeypatch.setenv("IONBEAM_PROGRESS", "1")
    counter = make_counter()
    task = counter.add_task("optimizing", total=None)
    counter.update(task, advance=137)
    text = " ".join(str(column.render(counter.tasks[0])) for column in counter.columns)
    assert "iteration 137" in text and "/" not in text and "-:--:--" not in text
