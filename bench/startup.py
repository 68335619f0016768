"""Benchmark of start-up: ``ionbeam --help`` and a small plan from cold and warm caches.

Prints:

* the wall time of ``ionbeam --help`` (best and median of ``--repeat`` runs, each a
  fresh interpreter) beside that of a bare ``python -c pass``, and the heavy
  packages (numba, scipy.optimize, pydicom, matplotlib) that ``--help`` imported
  (there should be none);
* the wall time of a small plan (``ionbeam plan --phantom water --particle
  proton``, no DICOM, no report) three ways: warm (numba's and ionbeam's caches
  filled by a first run), numba cold (``NUMBA_CACHE_DIR`` an empty folder, so every
  kernel compiles) and all cold (also an empty ``IONBEAM_CACHE_DIR``, so the beam
  model tables are computed too);
* with ``--demo``, the same for ``ionbeam demo`` (the README's quick start; a few
  minutes), and ``ionbeam demo --quick`` warm;
* with ``--tables``, the demo's beam-model tables from an empty ionbeam cache (numba's
  kernels as cached): the CNAO proton and carbon physics models at every library energy,
  then a carbon plan's model with mMKM biology for two tissues (the demo's) at a subset of
  those energies, CPU seconds and per energy.

``--tables`` on 7 Dec 2026 (2 shared cores, load 6-10; CPU s, two rounds each), ``a593204``
-> this version: protons 1.80, 2.08 -> 2.61, 2.18; carbon 5.95, 6.45 -> 6.86, 5.95; the
carbon plan's model 15.15, 15.00 -> 7.35, 7.31 (its physics rows come from the per-energy
cache the machine's set filled; its biology computes each energy's depth-dose with fluence
spectra once for both tissues instead of once per tissue, and the rows are the same).

Usage: python bench/startup.py [--repeat 7] [--no-plan] [--demo] [--tables]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HEAVY = ("numba", "scipy.optimize", "pydicom", "matplotlib", "xtrack")
_PLAN = ("plan", "--phantom", "water", "--particle", "proton", "--no-dicom", "--no-report")


def _run(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def _help_times(repeat: int) -> None:
    ionbeam = [sys.executable, "-m", "ionbeam.cli.main", "--help"]
    bare = [sys.executable, "-c", "pass"]
    helps = [_run(ionbeam) for _ in range(repeat)]
    bares = [_run(bare) for _ in range(repeat)]
    print(
        f"ionbeam --help      best {min(helps):6.3f} s   median {statistics.median(helps):6.3f} s"
    )
    print(
        f"python -c pass      best {min(bares):6.3f} s   median {statistics.median(bares):6.3f} s"
    )
    probe = (
        "import sys; from ionbeam.cli.main import build_parser; build_parser(); "
        f"print(','.join(m for m in {_HEAVY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.strip()
    print(f"heavy packages imported by --help: {loaded or 'none'}")


def _cold_and_warm(label: str, args: tuple[str, ...]) -> dict[str, float]:
    """Wall times of ``ionbeam ARGS --out ...``: all cold, numba cold, warm (in that
    order, so the warm run follows a run that filled both caches)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        times = {}
        for run, fresh_numba, fresh_tables in (
            ("all cold", True, True),
            ("numba cold", True, False),
            ("warm", False, False),
        ):
            tag = run.replace(" ", "-")
            tables = root / (f"tables-{tag}" if fresh_tables else "tables")
            kernels = root / (f"kernels-{tag}" if fresh_numba else "kernels")
            if run == "all cold":  # the cold run fills the caches the others reuse
                tables, kernels = root / "tables", root / "kernels"
            tables.mkdir(exist_ok=True)
            kernels.mkdir(exist_ok=True)
            env = dict(os.environ, IONBEAM_PROGRESS="0")
            env.update(IONBEAM_CACHE_DIR=str(tables), NUMBA_CACHE_DIR=str(kernels))
            out = root / f"out-{label}-{tag}"
            command = [sys.executable, "-m", "ionbeam.cli.main", *args, "--out", str(out)]
            times[run] = _run(command, env)
        return times


def _demo_times() -> None:
    full = _cold_and_warm("demo", ("demo",))
    with tempfile.TemporaryDirectory() as folder:  # --quick, warm: reuse a filled cache
        root = Path(folder)
        env = dict(os.environ, IONBEAM_PROGRESS="0", IONBEAM_CACHE_DIR=str(root / "tables"))
        env["NUMBA_CACHE_DIR"] = str(root / "kernels")
        command = [sys.executable, "-m", "ionbeam.cli.main", "demo", "--quick", "--out"]
        _run([*command, str(root / "first")], env)
        quick = _run([*command, str(root / "warm")], env)
    print("ionbeam demo")
    for run, seconds in full.items():
        print(f"  {run:<42} {seconds:7.1f} s")
    print(f"  all cold / warm                            {full['all cold'] / full['warm']:7.2f}")
    print(f"  numba cold / warm                          {full['numba cold'] / full['warm']:7.2f}")
    print(f"ionbeam demo --quick, warm                   {quick:7.1f} s")
    print(f"  speed-up of --quick (warm)                 {full['warm'] / quick:7.2f}")


def _plan_times() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ionbeam_cache, numba_cache = root / "ionbeam-cache", root / "numba-cache"
        ionbeam_cache.mkdir()
        numba_cache.mkdir()

        def plan(label: str, *, fresh_numba: bool, fresh_tables: bool) -> float:
            env = dict(os.environ, IONBEAM_PROGRESS="0")
            tables = root / f"tables-{label}" if fresh_tables else ionbeam_cache
            kernels = root / f"kernels-{label}" if fresh_numba else numba_cache
            tables.mkdir(exist_ok=True)
            kernels.mkdir(exist_ok=True)
            env.update(IONBEAM_CACHE_DIR=str(tables), NUMBA_CACHE_DIR=str(kernels))
            out = root / f"out-{label}"
            command = [sys.executable, "-m", "ionbeam.cli.main", *_PLAN, "--out", str(out)]
            return _run(command, env)

        first = plan("first", fresh_numba=False, fresh_tables=False)  # fills both caches
        warm = plan("warm", fresh_numba=False, fresh_tables=False)
        numba_cold = plan("numba-cold", fresh_numba=True, fresh_tables=False)
        cold = plan("cold", fresh_numba=True, fresh_tables=True)
    print(f"small plan ({' '.join(_PLAN[:5])})")
    print(f"  all cold (empty numba and ionbeam caches)  {cold:7.1f} s")
    print(f"  numba cold (tables cached)                 {numba_cold:7.1f} s")
    print(f"  warm                                       {warm:7.1f} s")
    print(f"  first run in this benchmark                {first:7.1f} s")
    print(f"  cold / warm                                {cold / warm:7.2f}")


def _table_times() -> None:
    """The demo's beam-model tables, computed in this process from an empty ionbeam cache."""
    os.environ["IONBEAM_PROGRESS"] = "0"
    from ionbeam.machine import get_machine
    from ionbeam.machine.beam_model import build_beam_model

    machine = get_machine("cnao")
    with tempfile.TemporaryDirectory() as folder:  # numba's kernels loaded (or compiled)
        os.environ["IONBEAM_CACHE_DIR"] = folder
        build_beam_model("carbon", [200.0], machine.beam_line, tissues=["tumour"])
    with tempfile.TemporaryDirectory() as folder:
        os.environ["IONBEAM_CACHE_DIR"] = folder
        print("beam-model tables from an empty cache (CPU s, this process)")
        for particle in ("proton", "carbon"):
            energies = machine.energy_library(particle).energies_mev_u
            cpu = time.process_time()
            build_beam_model(particle, energies, machine.beam_line)
            cpu = time.process_time() - cpu
            print(f"  {particle} physics, {energies.size:3d} energies     {cpu:7.2f} s "
                  f"({1e3 * cpu / energies.size:5.1f} ms per energy)")  # fmt: skip
        energies = machine.energy_library("carbon").energies_mev_u
        plan = energies[(energies >= 150.0) & (energies <= 320.0)][::2]
        cpu = time.process_time()
        build_beam_model("carbon", plan, machine.beam_line, tissues=["late_normal", "tumour"],
                         biological_model="mkm")  # fmt: skip
        cpu = time.process_time() - cpu
        print(f"  carbon plan, {plan.size} energies, mMKM x 2 tissues  {cpu:7.2f} s "
              f"({1e3 * cpu / plan.size:5.1f} ms per energy)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-plan", action="store_true", help="only the --help timing")
    parser.add_argument("--demo", action="store_true", help="also time ionbeam demo (minutes)")
    parser.add_argument("--tables", action="store_true", help="the demo's beam-model tables")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    _help_times(args.repeat)
    if not args.no_plan:
        _plan_times()
    if args.demo:
        _demo_times()
    if args.tables:
        _table_times()


if __name__ == "__main__":
    main()
