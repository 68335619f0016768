"""Benchmark of ``ionbeam demo``: the time of each stage of a warm demo.

Runs the demo's steps in this process, in the demo's order and through the same
functions (:mod:`ionbeam.cli._demo`, :mod:`ionbeam.workflow`, :mod:`ionbeam.report`),
with a timer around each: planning protons and carbon (with the planner's own stage
times), evaluation (metrics and clinical goals), each plan folder (``plan.json`` and
``metrics.json``, DICOM export, ``report.html``), the report views, the comparison
report and ``summary.json``. The report stages are split further into the viewer's
data (volume encoding, its DVHs) and the figures (built and rendered to PNG).
Then, unless ``--no-command``, the whole ``ionbeam demo`` command is timed ``--repeat``
times in fresh interpreters (warm: numba's and ionbeam's caches as a first run left
them; ``IONBEAM_PROGRESS=0``).

Each planner stage's CPU time (all threads, from one stage line to the next) is printed
beside its wall time.

Run it once before timing (or pass ``--warm-up``) so that numba's cache and the beam
model tables exist: a cold start is what ``bench/startup.py`` measures.

Usage: python bench/demo_stages.py [--quick] [--repeat 2] [--warm-up] [--no-command]
       [--profile FILE]  (cProfile of the output stages only, for pstats/snakeviz)

Measured on the 2-core development machine on 7 Dec 2026 (14:30-14:38 UTC) while it
was shared with other jobs (load average 8-11: wall times 2-4x the CPU times, so the
CPU time of this process, all threads, is the figure to compare), warm, default (not
``--quick``) demo, the same plans loaded with ``--load-plans`` into ``44a3749`` (before)
and into this tree (after), alternately, twice each (CPU s, wall s in brackets):

=======================================  =========================  =========================
stage                                    before: run 1, run 2       after: run 1, run 2
=======================================  =========================  =========================
evaluation, both plans                   1.32 (2.3), 1.26 (3.1)     1.05 (2.9), 1.03 (2.6)
patient CT + RTSTRUCT datasets (once)    1.91 (2.9), 1.92 (4.9)     1.11 (3.7), 1.15 (2.9)
protons: plan folder (DICOM, report)     4.55 (7.0), 4.76 (12.3)    4.49 (11.4), 4.61 (12.0)
carbon: plan folder (DICOM, report)      4.77 (8.5), 5.07 (13.3)    4.37 (11.0), 4.70 (12.0)
comparison report                        8.34 (13.7), 9.66 (25.1)   2.90 (7.3), 3.49 (9.1)
outputs, all                             22.1 (36), 23.8 (61)       15.0 (39), 16.0 (41)
one plan's DICOM export (alone)          2.25, 2.54                 1.35, 1.30
=======================================  =========================  =========================

The comparison report now takes from the plans' own reports (one
:class:`ionbeam.report.ReportCache` for the three) each plan's LET_d figure, Bragg
curves and spot maps and the planes through the hottest point of the plan with the
highest dose (9 of its 14 PNGs: it draws 5), the viewer's CT, structures and plan
volumes, and the structures' occupancy of the dose grid; the patient's CT slices and
RT Structure Set are encoded once for both folders, and ContourData is stored as the
strings ionbeam formats (no per-value conversion by pydicom). A plan's folder is ~0.8
CPU s of DICOM and ~4 of report, of which PNG rendering (matplotlib: tick and text
layout, and two draws per figure with constrained layout) is ~2/3: 19 distinct figures
of 0.3-0.65 s each in the demo, which cannot get cheaper without drawing them
differently. Files written: the same before and after, DICOM (CT, RTSTRUCT, RT Ion
Plan, RT Doses, LETd.mha) byte for byte, JSON and HTML (every PNG byte for byte) up to
dates and the planning's timings. An earlier round (before ``44a3749``) made the report
view and the patient datasets once per demo (outputs 57 -> 40 CPU s under heavier
load). Whole ``ionbeam demo`` warm after (fresh interpreter, IONBEAM_PROGRESS=0, load
5-9, 14:43 UTC): 128 s wall, 60 CPU s (user 52, sys 8), 2.2 GB peak; its files are those
written from the pickled plans up to the planning's timings (every PNG and DICOM file
byte for byte); the outputs are ~16 of its 60 CPU s, the planning most of the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import copyreg
import cProfile
import inspect
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

#: CPU time (all threads of this process) of each timed stage, beside its wall time:
#: on a machine shared with other jobs the wall time of a stage varies ±30 % or more.
_CPU: dict[str, float] = {}


@contextlib.contextmanager
def _timer(label: str, rows: list[tuple[str, float]]) -> Iterator[None]:
    start, cpu = time.perf_counter(), time.process_time()
    yield
    rows.append((label, time.perf_counter() - start))
    _CPU[label] = time.process_time() - cpu


def _plan(quick: bool, rows: list[tuple[str, float]]) -> tuple[Any, dict[str, Any]]:
    """Both demo plans, with the planner's stage lines recorded as rows."""
    from ionbeam.cli import _demo

    start, cpu = time.perf_counter(), time.process_time()
    last = [cpu]  # the CPU time at the end of the previous stage (or a plan's start)

    def stage(text: str) -> None:
        now = time.process_time()
        if " done in " in text:
            label, seconds = text.rsplit(" done in ", 1)
            rows.append((f"  {label}", float(seconds.rstrip(" s"))))
            _CPU[f"  {label}"] = now - last[0]
        last[0] = now

    patient, results = _demo._plan_both(quick, stage)
    rows.append(("planning (both plans)", time.perf_counter() - start))
    _CPU["planning (both plans)"] = time.process_time() - cpu
    return patient, results


def _outputs(
    patient: Any, results: dict[str, Any], folder: Path, rows: list[tuple[str, float]]
) -> None:
    """The demo's outputs, each stage timed (the same calls as ``ionbeam demo``; a tree
    from before ``write_plan_folder(view=, patient_dicom=)`` or ``report_cache=`` is timed
    as it ran then)."""
    from ionbeam.report import write_comparison_report
    from ionbeam.workflow import evaluate, report_view, write_plan_folder

    shared = "view" in inspect.signature(write_plan_folder).parameters
    comparison: dict[str, Any] = {}
    if "report_cache" in inspect.signature(write_plan_folder).parameters:
        from ionbeam.report import ReportCache

        comparison["cache"] = ReportCache()
    with _timer("evaluation (both plans)", rows):
        evaluations = {label: evaluate(outcome) for label, outcome in results.items()}
    extra: dict[str, Any] = {}
    if shared:
        from ionbeam.io.dicom.patient_io import patient_datasets

        with _timer("patient CT + RTSTRUCT datasets (once)", rows):
            extra["patient_dicom"] = patient_datasets(patient)
    views = []
    for label, outcome in results.items():
        (folder / label).mkdir()
        if shared:
            with _timer(f"{label}: report view", rows):
                views.append(report_view(outcome, evaluations[label], label=label))
            extra["view"] = views[-1]
        with _timer(f"{label}: plan folder (all)", rows):
            write_plan_folder(folder / label, outcome, label=label,
                              evaluation=evaluations[label], **extra,
                              **{f"report_{k}": v for k, v in comparison.items()})  # fmt: skip
        if not shared:
            with _timer(f"{label}: report view", rows):
                views.append(report_view(outcome, evaluations[label], label=label))
    with _timer("comparison report", rows):
        write_comparison_report(
            folder / "comparison.html",
            patient=patient,
            results=views,
            title="ionbeam demo: skull-base chordoma, protons vs carbon ions",
            **comparison,
        )


def _folder_parts(patient: Any, results: dict[str, Any], rows: list[tuple[str, float]]) -> None:
    """A plan folder's parts apart (plan.json + metrics, DICOM, report) and the report's
    own parts (viewer data, figures), each timed once more in a scratch folder."""
    import ionbeam.report._style as style
    from ionbeam.io.plan_json import write_plan_json
    from ionbeam.report import _viewer
    from ionbeam.report import html_report as html
    from ionbeam.report.results import ReportOptions
    from ionbeam.workflow import evaluate, report_view
    from ionbeam.workflow.evaluation import metrics_document
    from ionbeam.workflow.outputs import _write_dicom, to_jsonable

    spent = {"png": 0.0, "viewer": 0.0}
    png, viewer = style.figure_png, _viewer.viewer_data

    def timed_png(*args: Any, **kwargs: Any) -> bytes:
        start = time.perf_counter()
        try:
            return png(*args, **kwargs)
        finally:
            spent["png"] += time.perf_counter() - start

    def timed_viewer(*args: Any, **kwargs: Any) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            return viewer(*args, **kwargs)
        finally:
            spent["viewer"] += time.perf_counter() - start

    html.figure_png = timed_png  # type: ignore[assignment]
    _viewer.viewer_data = timed_viewer  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for label, outcome in results.items():
                folder = Path(scratch) / label
                folder.mkdir()
                with _timer(f"{label}: evaluate", rows):
                    evaluation = evaluate(outcome)
                with _timer(f"{label}: plan.json + metrics.json", rows):
                    write_plan_json(outcome.plan, folder / "plan.json")
                    text = json.dumps(to_jsonable(metrics_document(outcome, evaluation)))
                    (folder / "metrics.json").write_text(text)
                with _timer(f"{label}: DICOM export", rows):
                    _write_dicom(folder / "dicom", outcome)
                view = report_view(outcome, evaluation, label=label)
                spent.update(png=0.0, viewer=0.0)
                with _timer(f"{label}: report.html", rows):
                    html.write_report(folder / "r.html", patient=patient, result=view,
                                      options=ReportOptions())  # fmt: skip
                rows.append((f"  {label}: report viewer data", spent["viewer"]))
                rows.append((f"  {label}: report PNG rendering", spent["png"]))
                rest = rows[-3][1] - spent["viewer"] - spent["png"]
                rows.append((f"  {label}: report rest (figures built, DVHs, HTML)", rest))
    finally:
        html.figure_png = png  # type: ignore[assignment]
        _viewer.viewer_data = viewer  # type: ignore[assignment]


def _command(quick: bool, repeat: int) -> list[float]:
    """Wall times of the whole ``ionbeam demo`` in fresh interpreters."""
    env = {**os.environ, "IONBEAM_PROGRESS": "0"}
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(repeat):
            command = [sys.executable, "-m", "ionbeam.cli.main", "demo", "--out", f"{scratch}/d"]
            command += ["--quick"] if quick else []
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env)
            times.append(time.perf_counter() - start)
    return times


def _mapping_proxy(items: dict[str, Any]) -> MappingProxyType[str, Any]:
    """Rebuilds the read-only mappings of the plans (for ``--save-plans``)."""
    return MappingProxyType(items)


def _print(rows: list[tuple[str, float]]) -> None:
    print(f"{'':<50s} {'wall':>7s}   {'CPU':>7s}")
    for label, seconds in rows:
        cpu = f"{_CPU[label]:7.2f} s" if label in _CPU else ""
        print(f"{label:<50s} {seconds:7.2f} s {cpu}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the demo's --quick grids")
    parser.add_argument("--repeat", type=int, default=2, help="whole-command runs (2)")
    parser.add_argument("--warm-up", action="store_true", help="one untimed demo first")
    parser.add_argument("--no-command", action="store_true", help="skip the whole-command runs")
    parser.add_argument("--profile", type=Path, help="cProfile the output stages into FILE")
    parser.add_argument("--save-plans", type=Path, help="pickle both plans into FILE")
    parser.add_argument("--load-plans", type=Path, help="plans pickled by --save-plans")
    args = parser.parse_args()
    os.environ["IONBEAM_PROGRESS"] = "0"
    if args.warm_up:
        _command(args.quick, 1)
    rows: list[tuple[str, float]] = []
    if args.load_plans:
        with args.load_plans.open("rb") as file:
            patient, results = pickle.load(file)
    else:
        patient, results = _plan(args.quick, rows)
    if args.save_plans:
        copyreg.pickle(MappingProxyType, lambda m: (_mapping_proxy, (dict(m),)))
        try:
            with args.save_plans.open("wb") as file:
                pickle.dump((patient, results), file, protocol=pickle.HIGHEST_PROTOCOL)
        except (TypeError, pickle.PicklingError) as error:
            print(f"plans not saved: {error}")
    profiler = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        with _timer("outputs (all)", rows):
            if profiler is not None:
                profiler.enable()
            _outputs(patient, results, folder, rows)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
    print("warm demo, in process (seconds):")
    _print(rows)
    parts: list[tuple[str, float]] = []
    _folder_parts(patient, results, parts)
    print("\nplan folder parts, again (seconds):")
    _print(parts)
    if not args.no_command:
        times = _command(args.quick, args.repeat)
        print("\nionbeam demo" + (" --quick" if args.quick else "") + ", whole command, warm:")
        print("  " + ", ".join(f"{t:.1f} s" for t in times))


if __name__ == "__main__":
    main()
