"""``ionbeam batch``: plan many plan files as tasks on a Dask cluster, one summary table.

``ionbeam batch PLAN_FILE_OR_FOLDER... --out DIR`` plans every TOML plan file given
(a folder stands for the ``*.toml`` files in it) as ``ionbeam plan FILE --out
DIR/<name>`` would, each as one task on a Dask cluster (a local one of ``--workers``
processes, default one per core; ``--workers 0``: here, one after the other; or the
cluster at ``--scheduler tcp://HOST:PORT``). A task carries only the file's path and
its output folder; the workers read the plan files and write the plan folders
themselves (a shared file system, as on one machine). A progress bar counts the plans
done; ``DIR/summary.csv`` and ``DIR/summary.html`` list per plan its status, target
coverage and clinical goals. A plan that fails is listed with its error; the others
go on. Exit status: 0 when all plans were made, 2 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import io
from contextlib import nullcontext
from pathlib import Path
from typing import Any

__all__ = ["SUMMARY_COLUMNS", "plan_one", "register", "run"]

#: Columns of the summary table.
SUMMARY_COLUMNS = (
    "plan", "status", "particle", "target", "prescription_gy", "d95_gy", "d98_gy", "d2_gy",
    "goals_met", "robust_worst_d95_gy", "time_s", "output", "error",
)  # fmt: skip


def register(subparsers: Any) -> None:
    """Add the ``batch`` sub-command."""
    parser = subparsers.add_parser(
        "batch",
        help="plan many plan files on a Dask cluster → one summary table (CSV + HTML)",
        description="Plan every plan file (or every *.toml of a folder) as a task on a Dask "
        "cluster and write DIR/<name>/ per plan and DIR/summary.csv, DIR/summary.html.",
    )
    parser.add_argument("plans", nargs="+", type=Path, metavar="PLAN_FILE_OR_FOLDER")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--workers", type=int, metavar="N", help="local Dask workers (default: cores; 0: serial)"
    )
    parser.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler, tcp://HOST:PORT")
    parser.add_argument(
        "--energy-stride", type=int, default=1, metavar="N", help="every N-th energy (quick)"
    )
    parser.add_argument("--no-dicom", action="store_true", help="no DICOM files")
    parser.add_argument("--no-report", action="store_true", help="no report.html")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    parser.set_defaults(handler=run)


def plan_one(plan_file: str, out: str, options: tuple[str, ...]) -> dict[str, Any]:
    """Plan one file into ``out`` (a task); its summary row."""
    import contextlib
    import json
    import time

    from ionbeam.cli.main import main

    start = time.perf_counter()
    row: dict[str, Any] = {"plan": Path(plan_file).name, "output": out}
    errors = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(errors):
        status = main(["plan", plan_file, "--out", out, *options])
    row["time_s"] = round(time.perf_counter() - start, 2)
    metrics_file = Path(out) / "metrics.json"
    if status not in (0, 3) or not metrics_file.exists():
        lines = [line for line in errors.getvalue().splitlines() if line.strip()]
        return {**row, "status": "failed", "error": lines[-1] if lines else f"exit {status}"}
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    target = metrics["target"]
    values = metrics["structures"][target]
    robust = metrics.get("robustness", {}).get("structures", {}).get(target, {})
    return {
        **row,
        "status": "planned",
        "particle": metrics["particle"],
        "target": target,
        "prescription_gy": metrics.get("prescription_gy"),
        "d95_gy": values.get("d95_gy"),
        "d98_gy": values.get("d98_gy"),
        "d2_gy": values.get("d2_gy"),
        "goals_met": bool(metrics.get("goals", {}).get("passed", status == 0)),
        "robust_worst_d95_gy": robust.get("worst", {}).get("d95_gy"),
    }


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam batch``."""
    from ionbeam._atomic import write_text_atomically
    from ionbeam._progress import make_progress
    from ionbeam.errors import ConfigError

    files = _plan_files(args.plans)
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers must be ≥ 0 (0: serially here); got {args.workers}")
    if args.energy_stride < 1:
        raise ConfigError(f"--energy-stride must be ≥ 1; got {args.energy_stride}")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not args.force)):
        raise ConfigError(f"output folder {out} is not empty; choose a new folder or pass --force")
    out.mkdir(parents=True, exist_ok=True)
    options = ["--energy-stride", str(args.energy_stride)]
    flags = (("--no-dicom", args.no_dicom), ("--no-report", args.no_report))
    options += [flag for flag, on in (*flags, ("--force", args.force)) if on]
    jobs = [(str(f), str((out / _name(f, files)).resolve()), tuple(options)) for f in files]
    rows: list[dict[str, Any] | None] = [None] * len(jobs)
    with _client(args) as client, make_progress() as bar:
        task = bar.add_task("planning", total=len(jobs))
        for k, row in _rows(client, jobs):
            rows[k] = row
            bar.update(task, advance=1)
    done = [r for r in rows if r is not None]
    write_text_atomically(out / "summary.csv", _csv(done))
    write_text_atomically(out / "summary.html", _html(done))
    planned = sum(r["status"] == "planned" for r in done)
    print(f"{planned} of {len(done)} plans made; summary: {out / 'summary.csv'}, "
          f"{out / 'summary.html'}")  # fmt: skip
    for row in done:
        if row["status"] != "planned":
            print(f"  {row['plan']}: {row['error']}")
    return 0 if planned == len(done) else 2


def _plan_files(paths: list[Path]) -> list[Path]:
    from ionbeam.errors import ConfigError

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.toml"))
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(f"{path} is neither a plan file nor a folder of plan files")
    if not files:
        raise ConfigError("no plan files (*.toml) found in the given folders")
    return files


def _name(path: Path, files: list[Path]) -> str:
    """The output folder's name: the file's stem (with its index when stems repeat)."""
    stems = [f.stem for f in files]
    return path.stem if stems.count(path.stem) == 1 else f"{files.index(path) + 1}_{path.stem}"


def _client(args: argparse.Namespace) -> Any:
    if args.scheduler is None and args.workers == 0:
        return nullcontext(None)
    from ionbeam.planning.robust.cluster import cluster_client

    return cluster_client(args.scheduler, n_workers=args.workers)


def _rows(client: Any, jobs: list[tuple[str, str, tuple[str, ...]]]) -> Any:
    """(index, summary row) as the plans finish."""
    if client is None:
        for k, job in enumerate(jobs):
            yield k, plan_one(*job)
        return
    from distributed import as_completed

    futures = {client.submit(plan_one, *job, pure=False): k for k, job in enumerate(jobs)}
    for future in as_completed(futures):
        yield futures[future], future.result()


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in SUMMARY_COLUMNS})
    return buffer.getvalue()


def _html(rows: list[dict[str, Any]]) -> str:
    from ionbeam.report.html_blocks import document, element, table

    def cell(value: Any) -> str:
        if value is None:
            return ""
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    body = element("h1", "ionbeam batch") + table(
        SUMMARY_COLUMNS, [[cell(r.get(k)) for k in SUMMARY_COLUMNS] for r in rows]
    )
    return document("ionbeam batch", body)
