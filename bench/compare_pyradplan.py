"""ionbeam vs pyRadPlan 0.5.0 on the TG-119 three-beam ion plan (a benchmark, not a test).

pyRadPlan (the Python matRad) is installed into its own virtual environment
outside ionbeam (never a dependency of ionbeam): ``pip install pyradplan==0.5.0``
with pydantic pinned to 2.13.x (its newest pydantic breaks it). Both programs
plan the same CT and structures — pyRadPlan's TG-119 phantom, exported by
``bench/_pyradplan_worker.py`` — with gantry 0/120/240°, a 5 mm spot spacing
and a 5 mm dose grid, each in a fresh process on the same machine. ionbeam
also reports the 2.5 mm dose grid that clinics use.

Usage::

    python bench/compare_pyradplan.py [--particles proton carbon] [--venv DIR]
                                      [--no-opt] [--workdir DIR [--reuse]] [--repeat N]

``--workdir`` keeps pyRadPlan's exported CT and its result (JSON) there; ``--reuse``
then skips pyRadPlan and times ionbeam again on them. ``--repeat N`` runs ionbeam's
5 mm plan N times and reports the median of each stage (the machine may be shared).
The optimization (``bench/_tg119_optimize.py``) solves pyRadPlan's TG-119 objectives.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_VENV = Path(
    os.environ.get("PYRADPLAN_VENV", Path.home() / ".cache" / "ionbeam-bench" / "pyradplan-venv")
)
PYRADPLAN_REQUIREMENTS = ["pyradplan==0.5.0", "pydantic>=2.13,<2.14"]


def ensure_venv(venv: Path) -> Path:
    """The Python of a virtual environment with pyRadPlan, created on first use."""
    python = venv / "bin" / "python"
    if python.exists():
        check = subprocess.run([python, "-c", "import pyRadPlan"], capture_output=True)
        if check.returncode == 0:
            return python
    print(f"installing pyRadPlan into {venv} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *PYRADPLAN_REQUIREMENTS], check=True)
    return python


def run_json(command: list[str]) -> dict:
    """Run a worker and parse the JSON on the last line of its output."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"worker failed: {' '.join(map(str, command))}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def ionbeam_worker(npz: str, particle: str, grid_mm: float, optimize: bool) -> dict:
    """Plan the exported TG-119 with ionbeam (runs in its own process)."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    from _tg119 import peak_rss_mb, tg119_plan_and_dij
    from ionbeam.patient import CT, Grid
    from ionbeam.patient.structures import Structure

    data = np.load(npz)
    grid = Grid(data["hu"].shape, tuple(data["spacing_mm"]), tuple(data["origin_mm"]))
    ct = CT(np.maximum(data["hu"], -1000.0), grid)
    names = [k[5:] for k in data.files if k.startswith("mask_")]
    structures = [Structure(n, data[f"mask_{n}"], grid) for n in names]
    plan, influence, t = tg119_plan_and_dij(
        ct,
        structures,
        particle,
        target="OuterTarget",
        isocenter_mm=data["isocenter_mm"],
        spot_spacing_mm=5.0,
        dose_grid_mm=grid_mm,
    )
    result = {
        "spots": plan.n_spots,
        "voxels": influence.grid.size,
        "nonzeros": influence.nnz,
        "stf_s": t.placement_s,
        "dij_s": t.dij_s,
        "peak_rss_mb": peak_rss_mb(),
    }
    if optimize:
        result.update(_optimize(plan, influence, structures))
    return result


def _optimize(plan, influence, structures) -> dict:
    """Optimization step (filled in once ionbeam.planning.optimize exists)."""
    try:
        from _tg119_optimize import optimize_tg119  # provided with the optimizer
    except ImportError:
        return {}
    return optimize_tg119(plan, influence, structures)


def _row(name: str, r: dict) -> str:
    opt = r.get("opt_s")
    total = r["stf_s"] + r["dij_s"] + (opt or 0.0)
    return (
        f"{name:<24}{r['spots']:>8}{r['voxels']:>9}{r['nonzeros'] / 1e6:>8.2f}M"
        f"{r['stf_s']:>8.2f}{r['dij_s']:>8.2f}{(opt if opt is not None else float('nan')):>8.2f}"
        f"{total:>8.2f}{r['peak_rss_mb']:>9.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--particles", nargs="+", default=["proton", "carbon"])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--no-opt", action="store_true", help="time spots and dose influence only")
    parser.add_argument("--workdir", type=Path, help="keep pyRadPlan's CT and result here")
    parser.add_argument("--reuse", action="store_true", help="reuse pyRadPlan's saved result")
    parser.add_argument("--repeat", type=int, default=1, help="ionbeam runs (median)")
    parser.add_argument(
        "--ionbeam-worker",
        nargs=4,
        metavar=("NPZ", "PARTICLE", "GRID_MM", "OPT"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    if args.ionbeam_worker:
        # numba's OpenMP threads wait passively between parallel regions (as in
        # ``ionbeam plan``): spinning made the optimizer 3× slower on a shared machine.
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        npz, particle, grid_mm, opt = args.ionbeam_worker
        print(json.dumps(ionbeam_worker(npz, particle, float(grid_mm), opt == "1")))
        return
    python = ensure_venv(args.venv)
    header = (
        f"{'':<24}{'spots':>8}{'voxels':>9}{'nnz':>9}{'stf s':>8}{'dij s':>8}"
        f"{'opt s':>8}{'total':>8}{'RSS MB':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for particle in args.particles:
            npz = str(work / f"tg119_{particle}.npz")
            saved = work / f"pyradplan_{particle}.json"
            if args.reuse and saved.exists() and Path(npz).exists():
                prp = json.loads(saved.read_text())
            else:
                opt_flag = [] if not args.no_opt else ["--no-opt"]
                prp = run_json(
                    [
                        str(python),
                        str(HERE / "_pyradplan_worker.py"),
                        particle,
                        "5",
                        "5",
                        npz,
                        *opt_flag,
                    ]
                )
                saved.write_text(json.dumps(prp))
            me = [sys.executable, __file__, "--ionbeam-worker", npz, particle]
            run_json([*me, "5", "0"])  # warm-up: numba and beam-model caches
            runs = [run_json([*me, "5", "0" if args.no_opt else "1"]) for _ in range(args.repeat)]
            ours5 = _median(runs)
            ours25 = run_json([*me, "2.5", "0"])
            print(f"\nTG-119, {particle}, 3 beams, 5 mm spot spacing")
            print(header)
            print(_row("pyRadPlan 0.5.0 (5 mm)", prp))
            print(_row(f"ionbeam (5 mm grid){'*' if args.repeat > 1 else ''}", ours5))
            print(_row("ionbeam (2.5 mm grid)", ours25))
            speed_up = prp["dij_s"] / ours5["dij_s"]
            memory = ours5["peak_rss_mb"] / prp["peak_rss_mb"]
            print(f"dose-influence speed-up at 5 mm: {speed_up:.1f}x; memory ratio: {memory:.2f}")
            if "opt_s" in prp and "opt_s" in ours5:
                _print_optimization(prp, ours5, runs)


def _median(runs: list[dict]) -> dict:
    """Per-key median of numeric results (the first run's value for the others)."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in runs)
    return out


def _print_optimization(prp: dict, ours: dict, runs: list[dict]) -> None:
    total_prp = prp["stf_s"] + prp["dij_s"] + prp["opt_s"]
    totals = [r["stf_s"] + r["dij_s"] + r["opt_s"] for r in runs]
    total_ours = statistics.median(totals)
    nan = float("nan")
    print(
        f"end-to-end speed-up: {total_prp / total_ours:.1f}x "
        f"(ionbeam totals {', '.join(f'{t:.2f}' for t in totals)} s); optimization "
        f"{prp['opt_s'] / ours['opt_s']:.0f}x"
    )
    for name, r in (("pyRadPlan", prp), ("ionbeam", ours)):
        print(
            f"  {name:<10} iterations {r.get('iterations')}, target D95 "
            f"{r.get('target_d95_rel', nan):.3f}, D5 {r.get('target_d5_rel', nan):.3f} "
            "of the prescription"
        )


if __name__ == "__main__":
    main()
