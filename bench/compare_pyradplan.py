"""ionbeam vs pyRadPlan 0.5.0 on the TG-119 three-beam ion plan, at matched plan quality
(a benchmark, not a test).

pyRadPlan (the Python matRad) is installed into its own virtual environment
outside ionbeam (never a dependency of ionbeam): ``pip install pyradplan==0.5.0``
with pydantic pinned to 2.13.x (its newest pydantic breaks it). Both programs
plan the same CT and structures — pyRadPlan's TG-119 phantom, exported by
``bench/_pyradplan_worker.py`` — with gantry 0/120/240°, a 5 mm spot spacing
and a 5 mm dose grid, each in a fresh process on the same machine, pyRadPlan on one
BLAS thread (its fastest). Both optimize pyRadPlan's TG-119 objectives on the physical
dose; ionbeam as ``ionbeam plan`` does (``bench/_tg119_optimize.py``: occupancies, the
full-width halo leg, the machine's spot limits).

Plan quality: target D95 and D5 and core mean dose (fractions of the prescription),
each plan on its own dose model, on its dose grid and on the CT grid (3 × 3 × 2.5 mm:
each program's dose interpolated trilinearly to the CT voxels, the CT's own masks, one
metric function for both: ``bench/_tg119_metrics.py``). The matched comparison is on the
CT grid. pyRadPlan runs its optimization once per iteration cap (``--caps``, its own
``max_iter`` option) and then with its default (500), on one dose influence, so that its
time to a given quality is known; ionbeam runs each of ``--settings`` (its default
stopping rule, ``rtol=X`` another relative tolerance). Printed: stages, wall and CPU
seconds, peak memory, quality of every run, and two ratios: ionbeam's time vs
pyRadPlan's first run at least as good (``at_least_as_good``: D95 no lower than the
other's − 0.005, D5 no higher than + 0.005, core mean no higher than + 0.01), and
pyRadPlan's default run vs ionbeam's fastest setting at least as good as it.

Usage::

    python bench/compare_pyradplan.py [--particles proton carbon] [--venv DIR]
                                      [--no-opt] [--workdir DIR [--reuse]] [--repeat N]
                                      [--caps 25,50,100,200] [--settings default rtol=3e-3]

``--workdir`` keeps pyRadPlan's exported CT and its result (JSON) there; ``--reuse``
then skips pyRadPlan and times ionbeam again on them. ``--repeat N`` runs each ionbeam
setting N times after pyRadPlan (and N times before it with ``--reuse``) and reports the
median of each stage. The machine's load average is printed before and after.
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


def run_json(command: list[str], env: dict[str, str] | None = None) -> dict:
    """Run a worker (with ``env`` added to the environment) and parse the JSON on the
    last line of its output."""
    environment = None if env is None else {**os.environ, **env}
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"worker failed: {' '.join(map(str, command))}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def ionbeam_worker(npz: str, particle: str, grid_mm: float, setting: str) -> dict:
    """Plan the exported TG-119 with ionbeam (runs in its own process). ``setting``:
    ``none`` (spots and dose influence only), ``default`` (ionbeam's stopping rule) or
    ``rtol=X`` (the relative stopping rule X instead of its default 1e-3)."""
    import time

    sys.path.insert(0, str(HERE))
    from _tg119 import load_exported, peak_rss_mb, tg119_plan_and_dij

    ct, structures, isocenter = load_exported(npz)
    cpu = time.process_time()
    plan, influence, t = tg119_plan_and_dij(
        ct,
        structures,
        particle,
        target="OuterTarget",
        isocenter_mm=isocenter,
        spot_spacing_mm=5.0,
        dose_grid_mm=grid_mm,
    )
    result = {
        "setting": setting,
        "spots": plan.n_spots,
        "voxels": influence.grid.size,
        "nonzeros": influence.nnz,
        "stf_s": t.placement_s,
        "dij_s": t.dij_s,
    }
    if setting != "none":
        result.update(_optimize(plan, influence, structures, ct.grid, setting))
    result["cpu_s"] = time.process_time() - cpu  # stf + dij + optimization, all threads
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def _optimize(plan, influence, structures, ct_grid, setting: str) -> dict:
    """The optimization (``bench/_tg119_optimize.py``) with ``setting``: ``default``, or
    comma-separated ``rtol=X`` (the relative stopping rule, default 1e-3) and ``core=W``
    (the Core objective's weight, pyRadPlan's 300 by default)."""
    from _tg119_optimize import TARGET, optimize_tg119
    from ionbeam.planning.optimize import SolverOptions
    from ionbeam.planning.optimize.squared_overdose import SquaredOverdose
    from ionbeam.planning.optimize.templates import default_objectives

    options = {} if setting == "default" else dict(item.split("=") for item in setting.split(","))
    unknown = set(options) - {"rtol", "core"}
    if unknown:
        raise SystemExit(f"unknown ionbeam setting(s) {sorted(unknown)}; use rtol=X, core=W")
    solver = SolverOptions(progress=False, relative_tolerance=float(options.get("rtol", 1e-3)))
    level = plan.prescription.dose_per_fraction_gy
    objectives = default_objectives([s.name for s in structures], TARGET, level)
    if "core" in options:
        (core,) = objectives["Core"]
        objectives["Core"] = (SquaredOverdose(core.max_dose_gy, weight=float(options["core"])),)
    out = optimize_tg119(
        plan, influence, structures, solver=solver, objectives=objectives, ct_grid=ct_grid
    )
    out.pop("weights")
    return out


#: pyRadPlan's runs stopped by its own iteration cap (then its default, 500), to find
#: how many iterations it needs for a given plan quality.
DEFAULT_CAPS = "25,50,100,200"
#: ionbeam's settings: its default stopping rule and tighter ones (relative tolerance).
DEFAULT_SETTINGS = ("default", "rtol=3e-3")
#: "At least as good" on the CT grid, in fractions of the prescription: D95 no lower than
#: the other's − TOL_D95, D5 no higher than + TOL_D5, core mean no higher than + TOL_CORE.
TOL_D95, TOL_D5, TOL_CORE = 0.005, 0.005, 0.01
#: Single-threaded BLAS for pyRadPlan (its fastest on this machine: its solver's vector
#: operations are small, and BLAS threads only spin against each other).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _total(r: dict) -> float:
    return r["stf_s"] + r["dij_s"] + r.get("opt_s", 0.0)


def _stages_row(name: str, r: dict, cpu: float | None) -> str:
    opt = r.get("opt_s", float("nan"))
    return (
        f"{name:<30}{r['spots']:>7}{r['nonzeros'] / 1e6:>7.2f}M{r['stf_s']:>7.2f}{r['dij_s']:>7.2f}"
        f"{opt:>7.2f}{_total(r):>8.2f}{(cpu if cpu is not None else float('nan')):>8.1f}"
        f"{r.get('peak_rss_mb', float('nan')):>8.0f}"
    )


def _quality_row(name: str, r: dict) -> str:
    return (
        f"{name:<30}{r.get('iterations')!s:>10}{r['target_d95_rel']:>7.3f}"
        f"{r['target_d5_rel']:>7.3f}{r['core_mean_rel']:>7.3f}{r['ct_d95_rel']:>9.3f}"
        f"{r['ct_d5_rel']:>7.3f}{r['ct_core_mean_rel']:>7.3f}"
    )


def at_least_as_good(a: dict, b: dict, *, core: bool = True) -> bool:
    """Whether plan ``a`` is at least as good as ``b`` on the CT grid (within the TOL_*);
    ``core=False``: on the target's D95 and D5 only."""
    return (
        a["ct_d95_rel"] >= b["ct_d95_rel"] - TOL_D95
        and a["ct_d5_rel"] <= b["ct_d5_rel"] + TOL_D5
        and (not core or a["ct_core_mean_rel"] <= b["ct_core_mean_rel"] + TOL_CORE)
    )


def print_report(particle: str, prp: dict, ours: dict[str, dict], ours25: dict | None) -> None:
    """Stages, quality and the matched-quality ratios of one particle."""
    print(f"\nTG-119, {particle}, 3 beams, 5 mm spot spacing, 5 mm dose grid")
    print(
        f"{'':<30}{'spots':>7}{'nnz':>8}{'stf s':>7}{'dij s':>7}{'opt s':>7}{'total':>8}"
        f"{'CPU s':>8}{'RSS MB':>8}"
    )
    runs = prp.get("runs", [])
    for run in runs:
        label = f"pyRadPlan, max_iter {run['max_iter'] or 'default'}"
        print(_stages_row(label, {**prp, **run}, prp["stf_dij_cpu_s"] + run["opt_cpu_s"]))
    for setting, r in ours.items():
        print(_stages_row(f"ionbeam, {setting}", r, r.get("cpu_s")))
    if ours25 is not None:
        print(_stages_row("ionbeam (2.5 mm grid, no opt)", ours25, ours25.get("cpu_s")))
    if not runs or any("opt_s" not in r for r in ours.values()):
        return
    print(
        f"\n{'plan quality (/ prescription)':<30}{'iter':>10}{'D95':>7}{'D5':>7}{'core':>7}"
        f"{'CT D95':>9}{'D5':>7}{'core':>7}"
    )
    for run in runs:
        print(_quality_row(f"pyRadPlan, max_iter {run['max_iter'] or 'default'}", run))
    for setting, r in ours.items():
        print(_quality_row(f"ionbeam, {setting}", r))
    for core in (True, False):
        _print_matched(prp, runs, ours, core=core)


def _print_matched(prp: dict, runs: list[dict], ours: dict[str, dict], *, core: bool) -> None:
    """The matched-quality ratios, judged with or without the core's mean dose."""
    on = f"D95 ≥ other − {TOL_D95}, D5 ≤ other + {TOL_D5}"
    on += f", core mean ≤ other + {TOL_CORE}" if core else " (core mean not judged)"
    print(f"matched, at least as good on the CT grid: {on}")
    for setting, r in ours.items():
        first = next((run for run in runs if at_least_as_good(run, r, core=core)), None)
        if first is not None:
            print(
                f"  ionbeam {setting} vs pyRadPlan stopped at {first['iterations']} iterations, "
                f"its first run at least as good: {_ratios(prp, first, r)}"
            )
            continue
        nearest = max(runs, key=lambda run: run["ct_d95_rel"])
        print(
            f"  ionbeam {setting}: no pyRadPlan run is at least as good; against its run with "
            f"the highest CT D95 ({nearest['iterations']} iterations, a lower bound): "
            f"{_ratios(prp, nearest, r)}"
        )
    # the most iterations of pyRadPlan whose plan an ionbeam setting matches or beats
    for run in reversed(runs):
        good = [s for s, r in ours.items() if at_least_as_good(r, run, core=core)]
        if good:
            best = min(good, key=lambda s: _total(ours[s]))
            which = "default" if run is runs[-1] else f"stopped at {run['iterations']} iterations"
            print(
                f"  pyRadPlan {which} vs ionbeam {best}, the fastest setting at least as good: "
                f"{_ratios(prp, run, ours[best])}"
            )
            return
    print("  no ionbeam setting is at least as good as any pyRadPlan run")


def _ratios(prp: dict, run: dict, ours: dict) -> str:
    """pyRadPlan's whole process (spots, dose influence, the optimization ``run``) over
    ionbeam's, wall and CPU seconds."""
    wall = prp["stf_s"] + prp["dij_s"] + run["opt_s"]
    cpu = prp["stf_dij_cpu_s"] + run["opt_cpu_s"]
    return (
        f"wall {wall:.2f} / {_total(ours):.2f} s = {wall / _total(ours):.1f}x, "
        f"CPU {cpu:.1f} / {ours['cpu_s']:.1f} s = {cpu / ours['cpu_s']:.1f}x"
    )


def _ionbeam_runs(me: list[str], npz: str, particle: str, settings, repeat: int) -> list[dict]:
    return [
        run_json([*me, npz, particle, "5", setting]) for _ in range(repeat) for setting in settings
    ]


def _median_by_setting(runs: list[dict]) -> dict[str, dict]:
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["setting"], []).append(r)
    return {s: _median(rs) for s, rs in by.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--particles", nargs="+", default=["proton", "carbon"])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--no-opt", action="store_true", help="time spots and dose influence only")
    parser.add_argument("--workdir", type=Path, help="keep pyRadPlan's CT and result here")
    parser.add_argument("--reuse", action="store_true", help="reuse pyRadPlan's saved result")
    parser.add_argument("--repeat", type=int, default=1, help="ionbeam runs before and after")
    parser.add_argument("--caps", default=DEFAULT_CAPS, help="pyRadPlan's iteration caps")
    parser.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS))
    parser.add_argument(
        "--report", action="store_true", help="print the saved results of --workdir again"
    )
    parser.add_argument(
        "--ionbeam-worker",
        nargs=4,
        metavar=("NPZ", "PARTICLE", "GRID_MM", "SETTING"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    if args.ionbeam_worker:
        # numba's OpenMP threads wait passively between parallel regions (as in
        # ``ionbeam plan``): spinning made the optimizer 3× slower on a shared machine.
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        npz, particle, grid_mm, setting = args.ionbeam_worker
        print(json.dumps(ionbeam_worker(npz, particle, float(grid_mm), setting)))
        return
    python = None if args.report else ensure_venv(args.venv)
    print(f"load before: {os.getloadavg()}", flush=True)
    settings = ["none"] if args.no_opt else args.settings
    me = [sys.executable, __file__, "--ionbeam-worker"]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for particle in args.particles:
            if args.report:
                prp = json.loads((work / f"pyradplan_{particle}.json").read_text())
                print_report(
                    particle, prp, *json.loads((work / f"ionbeam_{particle}.json").read_text())
                )
                continue
            npz = str(work / f"tg119_{particle}.npz")
            saved = work / f"pyradplan_{particle}.json"
            reuse = args.reuse and saved.exists() and Path(npz).exists()
            if reuse:
                run_json([*me, npz, particle, "5", "none"])  # warm-up: numba, beam model
            before = _ionbeam_runs(me, npz, particle, settings, args.repeat) if reuse else []
            if reuse:
                prp = json.loads(saved.read_text())
            else:
                flags = ["--no-opt"] if args.no_opt else ["--max-iter", args.caps]
                command = [str(python), str(HERE / "_pyradplan_worker.py"), particle, "5", "5"]
                prp = run_json([*command, npz, *flags], env=ONE_THREAD)
                saved.write_text(json.dumps(prp))
                run_json([*me, npz, particle, "5", "none"])  # warm-up: numba, beam model
            # ionbeam right after pyRadPlan (and before it, when pyRadPlan's result is reused)
            after = _ionbeam_runs(me, npz, particle, settings, args.repeat)
            ours = _median_by_setting(before + after)
            ours25 = run_json([*me, npz, particle, "2.5", "none"])
            (work / f"ionbeam_{particle}.json").write_text(json.dumps([ours, ours25]))
            print_report(particle, prp, ours, ours25)
            print(f"load after {particle}: {os.getloadavg()}", flush=True)


def _median(runs: list[dict]) -> dict:
    """Per-key median of numeric results (the first run's value for the others)."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            middle = statistics.median(r[key] for r in runs)
            out[key] = type(value)(middle) if isinstance(value, int) else middle
    return out


if __name__ == "__main__":
    main()
