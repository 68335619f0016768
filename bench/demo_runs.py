"""Benchmark: whole ``ionbeam demo`` runs of one or more source trees, alternately.

Each run is a fresh interpreter (``python -m ionbeam.cli.main demo``) with ``PYTHONPATH``
set to a tree's ``src`` and ``IONBEAM_CACHE_DIR`` to a cache of its own (so that trees do
not share beam-model tables; numba's cache lives beside each tree's sources), and
``IONBEAM_PROGRESS=0``. Printed per run: wall seconds, CPU seconds (user + sys of the
run and every process it waited for, from ``getrusage(RUSAGE_CHILDREN)``), the peak of
the summed resident memory of the run's process tree (sampled from ``/proc`` every
0.2 s: ``ionbeam demo`` makes its carbon plan in a forked process, whose memory adds to
its parent's) and the machine's load average at the start. Then the best wall and the
median CPU per tree.

Warm runs need a first run per tree (``--warm-up``); ``--cold`` empties the tree's
numba cache (``__pycache__/*.nbi``, ``*.nbc``) and its ionbeam cache before each run.

With ``--critical-path`` it runs one demo of the tree it is imported from in this
process instead and prints where its CPU goes around the carbon plan made in a forked
process: this process until it asks for the carbon result, the child (its CPU from
``RUSAGE_CHILDREN``), and this process's tail after the result (carbon folder,
comparison).

Usage: python bench/demo_runs.py TREE [TREE ...] [--repeat 2] [--warm-up] [--cold]
       [--quick] [--out DIR]   (TREE: a folder holding ``src/ionbeam``)
       PYTHONPATH=src python bench/demo_runs.py --critical-path [--quick]

Measured 8 December 2026 on the shared 2-core machine: see docs/validation.md
("ionbeam demo: the carbon plan in a forked process").
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _tree_rss_kb(root: int) -> int:
    """Summed resident memory (kB) of ``root`` and its descendants, from ``/proc``."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children.setdefault(int(fields.get("PPid", "0").strip() or 0), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def _digest(tree: Path) -> str:
    """A short name for ``tree``'s own ionbeam cache folder."""
    return hashlib.sha256(str(tree).encode()).hexdigest()[:12]


def _clear_caches(tree: Path, cache: Path) -> None:
    for pattern in ("*.nbi", "*.nbc"):
        for path in (tree / "src").rglob(pattern):
            path.unlink()
    shutil.rmtree(cache, ignore_errors=True)


def _run(tree: Path, cache: Path, out: Path, quick: bool) -> tuple[float, float, float, float]:
    """(wall s, CPU s, peak tree RSS GB, load average) of one demo run."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "IONBEAM_CACHE_DIR": str(cache),
           "IONBEAM_PROGRESS": "0"}  # fmt: skip
    command = [sys.executable, "-m", "ionbeam.cli.main", "demo", "--out", str(out)]
    command += ["--quick"] if quick else []
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kb(process.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode not in (0, 3):
        raise SystemExit(f"demo of {tree} failed ({process.returncode}): {stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, peak[0] / 1e6, load


def _critical_path(quick: bool) -> None:
    """One demo in this process, CPU seconds before, in and after the forked plan."""
    from ionbeam.cli import _demo
    from ionbeam.workflow import background

    marks: dict[str, float] = {}
    result = background.BackgroundPlan.result

    def timed_result(self: background.BackgroundPlan) -> object:
        marks.setdefault("asked", time.process_time())
        marks.setdefault("asked_wall", time.perf_counter())
        outcome = result(self)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        marks.setdefault("child", usage.ru_utime + usage.ru_stime)
        marks.setdefault("got", time.process_time())
        marks.setdefault("got_wall", time.perf_counter())
        return outcome

    background.BackgroundPlan.result = timed_result  # type: ignore[method-assign]
    os.environ["IONBEAM_PROGRESS"] = "0"
    cpu, wall = time.process_time(), time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        _demo.run(argparse.Namespace(out=Path(scratch) / "d", quick=quick, strict=False))
    cpu_end, wall_end = time.process_time(), time.perf_counter()
    print(f"this process until it asks for the carbon plan: {marks['asked'] - cpu:.1f} CPU s")
    print(f"the child (the carbon plan):                    {marks['child']:.1f} CPU s")
    print(f"waited for it: {marks['got_wall'] - marks['asked_wall']:.1f} s wall")
    print(f"this process after it (tail):                   {cpu_end - marks['got']:.1f} CPU s")
    print(f"whole demo: {wall_end - wall:.1f} s wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", type=Path, help="folders holding src/ionbeam")
    parser.add_argument("--critical-path", action="store_true",
                        help="one demo in this process: CPU around the forked plan")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=2, help="runs per tree (2)")
    parser.add_argument("--warm-up", action="store_true", help="one untimed run per tree")
    parser.add_argument("--cold", action="store_true", help="empty the caches before each run")
    parser.add_argument("--quick", action="store_true", help="the demo's --quick grids")
    parser.add_argument("--out", type=Path, help="keep each tree's last demo folder here")
    args = parser.parse_args()
    if args.critical_path:
        _critical_path(args.quick)
        return
    trees = [tree.resolve() for tree in args.trees]
    caches = {tree: Path(tempfile.gettempdir()) / f"ionbeam-demo-runs-{_digest(tree)}"
              for tree in trees}  # fmt: skip
    results: dict[Path, list[tuple[float, float, float, float]]] = {t: [] for t in trees}
    with tempfile.TemporaryDirectory() as scratch:
        if args.warm_up:
            for tree in trees:
                _run(tree, caches[tree], Path(scratch) / "warm-up", args.quick)
        for round_ in range(args.repeat):
            for k, tree in enumerate(trees):
                if args.cold:
                    _clear_caches(tree, caches[tree])
                out = (args.out / f"tree{k}") if args.out else Path(scratch) / f"d{k}"
                result = _run(tree, caches[tree], out, args.quick)
                results[tree].append(result)
                wall, cpu, peak, load = result
                print(f"round {round_ + 1} tree {k} ({tree}): {wall:6.1f} s wall, "
                      f"{cpu:6.1f} CPU s, {peak:4.2f} GB peak (tree), load {load:4.1f}",
                      flush=True)  # fmt: skip
    print("\nper tree: best wall, median CPU, max peak")
    for k, tree in enumerate(trees):
        walls = [r[0] for r in results[tree]]
        cpus = [r[1] for r in results[tree]]
        print(f"tree {k} ({tree}): {min(walls):.1f} s, {statistics.median(cpus):.1f} CPU s, "
              f"{max(r[2] for r in results[tree]):.2f} GB")  # fmt: skip


if __name__ == "__main__":
    main()
