"""A clinical-size plan: a generated 512×512×150 pelvis CT at 1 mm, three fields, 2 mm dose.

The CT (generated, not a patient's): an elliptic body 380 × 260 mm (soft tissue, HU 40,
with a fat layer of HU −100), two femoral heads (HU 700), a prostate-like target
("PTV", an ellipsoid of semi-axes 30 × 25 × 27 mm, ≈ 85 cm³), a rectum behind it (a
15 mm-radius cylinder touching the target's back) and a bladder in front. Three fields
(gantry 90°, 270°, 0°), CNAO spot spacing (the spot σ in air at mid energy), a 2 mm dose
grid, physical dose, the objectives of :func:`~ionbeam.planning.optimize.templates.
default_objectives` (target 1000, rectum and bladder 300 above half the prescription,
body 100 above 60 %).

Printed per particle: time per stage (CT, beam model, spot placement, dose influence,
optimization with its problem set-up and polish, final dose), the peak resident memory
after each stage, voxels, spots and non-zeros, and the plan's quality (the target's D95
and D5, the rectum's maximum and mean, relative to the prescription). Runs in a fresh
process per particle, with OpenMP threads waiting passively (``OMP_WAIT_POLICY``, as
under ``ionbeam plan``). The project's memory estimate is applied as everywhere: a run
that would not fit (``--memory-gb``, default 24 GB, or what the machine has) is refused
with the estimate printed instead of the figures.

Measured (protons, 17 067 spots, 163 M non-zeros, 2 cores under a load of ~17, so the
seconds are several times a quiet machine's): L-BFGS memory 10 with spinning OpenMP
threads: Dij 149 s, optimization 488 s (188 iterations), final dose 108 s; memory 10,
passive threads: 81 s, 242 s (188 it.), 39 s; memory 30, passive threads: 146 s, 161 s
(155 it.), 119 s; the same plan quality (target D95 0.949, D5 0.989-0.990, rectum max
0.94). Iterations are the figure that load does not change.

On 2 quiet cores (load < 1, 7 Dec 2026, final engine of that day: layer kernels, halo
legs). Optimizing the matrices alone, as this bench did until then: protons Dij 15.7 s,
optimization 39.2 s (155 it.), final dose 7.4 s = 62.3 s, 3.9 GB; carbon (28 383 spots,
188 M non-zeros) 13.8 + 37.7 (136 it.) + 10.9 = 62.4 s, 4.3 GB — but the reported dose
carries the full-width halo, which the optimizer then never saw: target D95 0.949 /
0.784 (carbon's mean 0.842 against 0.999 for the matrix product). Now the bench optimizes
as the planner does (the halo's correction held in a second leg): protons 16.2 + 56.3
(196 it.) + 8.3 = 80.8 s, 4.3 GB, D95 0.982, D5 1.013, rectum max 0.950; carbon 15.0 +
62.3 (206 it.) + 10.6 = 87.9 s, 4.8 GB, D95 0.949, D5 0.994, rectum max 0.992.

With D·w skipping the rows below their overdose level (``optimize/row_skip.py``; the same
plan bit for bit), side by side on the loaded machine (load 5-10, CPU seconds of all
threads), protons: optimization 88.4 s CPU with ``--no-skip`` against 64.5 and 66.6 s
with skipping; Dij 25.9 / 26.5 / 28.2 s and final dose 13.2 / 13.8 / 13.6 s CPU; peak
4323 / 4381 / 4389 MB (the skip's reference products and norms: +60 MB).

Each optimizer leg is printed too (first leg, the halo's correction, the leg with it
held, the spot-limit polish: iterations, evaluations, objective at its start and end, wall
and CPU seconds). 8 December 2026, load 8-16, CPU s: protons Dij 29.3, set-up 7.3, first
leg 33.3 (156 it.), halo correction 9.4, second leg 11.5 (57 it.), final dose 10.5; carbon
27.2, 12.3, 32.2 (138 it.), 14.6, 47.2 + 1.7 (220 + 5 it.), 15.7 (docs/validation.md,
"The clinical case's stages and carbon's iterations").

8 December 2026, load 9-14, CPU s (docs/validation.md, "Carbon's clinical case: the held
correction without LET, the second leg's floor"): the held correction without LET×dose,
the same plans: protons 77.1 → 75.5 (Dij 27.0, optimization 37.4, final dose 11.1; 164 +
36 it.), carbon 107.2 → 102.1 (24.8 + 60.5 + 16.8; 138 + 219 + 5 it.); with
``--keep-floor`` carbon 77.0 (23.1 + 36.9 + 17.0; 138 + 26 it.), D95 0.988 → 0.985, D5
1.003 → 1.006, rectum max 1.016 → 1.006.

Usage: ``python bench/clinical_size.py [--particles proton carbon] [--slices 150]
[--ct-mm 1.0] [--grid 2.0] [--no-skip] [--keep-floor]`` (``--no-skip``: D·w reads every
row, as before :mod:`ionbeam.planning.optimize.row_skip`; the same plan bit for bit;
``--keep-floor``: the second leg keeps the first leg's floor of the stopping rule,
:data:`~ionbeam.planning.optimize.weights.SECOND_LEG_KEEPS_FLOOR`: faster, a looser plan)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TARGET = "PTV"


def _peak_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def _halo_offsets(influence, legs: list):
    """The optimizer's offsets for the full-width halo's correction, as the planner holds
    them (:func:`ionbeam.planning.planner.plan_patient`): the reported dose carries the halo
    at full width, so the plan is optimized on it (second leg). The call's time is kept
    in ``legs``."""
    from ionbeam.planning.planner import _as_offsets

    def offsets(weights):
        wall, cpu = time.perf_counter(), time.process_time()
        out = _as_offsets(influence.halo.correction(weights, with_let=False))
        legs.append({"leg": "halo correction", "s": time.perf_counter() - wall,
                     "cpu_s": time.process_time() - cpu})  # fmt: skip
        return out

    return offsets


def _logged_solver(legs: list):
    """Wraps the optimizer's solver calls (first leg, second leg, spot-limit polish) so that
    each leg's iterations, evaluations, objective and times are kept in ``legs``."""
    from ionbeam.planning.optimize import solver, spot_limits, weights

    run = solver.optimize_weights

    def logged(problem, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run(problem, **kwargs)
        options = kwargs.get("options")
        legs.append({
            "leg": options.description if options is not None else "optimizing",
            "s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
            "nit": result.nit, "nfev": result.n_evaluations, "f": result.fun,
            "f0": float(result.objective_history[0]),
        })  # fmt: skip
        return result

    weights.optimize_weights = logged
    spot_limits.optimize_weights = logged


def pelvis(slices: int, ct_mm: float):
    """The generated CT and structures (see the module docstring)."""
    from ionbeam.patient import CT
    from ionbeam.patient.grid import Grid
    from ionbeam.patient.phantoms._shapes import ellipsoid, elliptic_cylinder_z
    from ionbeam.patient.structures import Structure

    shape = (512, 512, slices)
    origin = tuple(-(n - 1) * ct_mm / 2 for n in shape)
    grid = Grid(shape, (ct_mm,) * 3, origin)
    z_all = (-1e9, 1e9)
    body = elliptic_cylinder_z(grid, (0.0, 0.0), (190.0, 130.0), z_all)
    inner = elliptic_cylinder_z(grid, (0.0, 0.0), (175.0, 115.0), z_all)
    femurs = ellipsoid(grid, (-95.0, 5.0, -10.0), (25.0, 25.0, 25.0)) | ellipsoid(
        grid, (95.0, 5.0, -10.0), (25.0, 25.0, 25.0)
    )
    ptv = ellipsoid(grid, (0.0, 0.0, 0.0), (30.0, 25.0, 27.0))
    rectum = elliptic_cylinder_z(grid, (0.0, 40.0), (15.0, 15.0), (-60.0, 60.0))
    bladder = ellipsoid(grid, (0.0, -50.0, 15.0), (35.0, 25.0, 30.0)) & ~ptv
    hu = np.full(shape, -1000, dtype=np.int16)
    hu[body] = -100
    hu[inner] = 40
    hu[femurs] = 700
    ct = CT(hu, grid)
    structures = [
        Structure(name, mask, grid)
        for name, mask in (("Body", body), (TARGET, ptv), ("Rectum", rectum), ("Bladder", bladder))
    ]
    return ct, structures


def worker(
    particle: str, slices: int, ct_mm: float, grid_mm: float, skip: bool = True,
    keep_floor: bool = False,
) -> dict:  # fmt: skip
    sys.path.insert(0, str(HERE))
    if keep_floor:  # the second leg keeps the first leg's floor of the stopping rule
        from ionbeam.planning.optimize import weights as strategies

        strategies.SECOND_LEG_KEEPS_FLOOR = True
    if not skip:  # D·w reads every row, as before the row skipping (the same plan)
        from ionbeam.planning.optimize import problem as problems

        problems._row_skip = lambda *args, **kwargs: None
    from _tg119 import beam_model_for, tg119_plan_and_dij
    from ionbeam.errors import InsufficientMemoryError
    from ionbeam.evaluation import dose_metrics
    from ionbeam.machine import cnao_machine
    from ionbeam.planning.dose_grid import masks_on_grid
    from ionbeam.planning.optimize import PhysicalDose, SolverOptions
    from ionbeam.planning.optimize.templates import default_objectives, overlap_priority
    from ionbeam.planning.optimize.weights import optimize_impt

    out: dict = {"particle": particle, "stages": {}, "legs": []}
    _logged_solver(out["legs"])

    cpu = [time.process_time()]

    def stage(name: str, start: float) -> None:
        now = time.process_time()
        out["stages"][name] = {
            "s": time.perf_counter() - start,
            "cpu_s": now - cpu[0],
            "peak_mb": _peak_mb(),
        }
        cpu[0] = now

    t = time.perf_counter()
    ct, structures = pelvis(slices, ct_mm)
    stage("ct", t)
    t = time.perf_counter()
    model = beam_model_for(particle)
    stage("beam_model", t)
    sigma = float(
        model.beam_line.sigma_air_mm(particle, float(model.energies_mev_u[model.n_energies // 2]))
    )
    target = next(s for s in structures if s.name == TARGET)
    t = time.perf_counter()
    try:
        plan, influence, timings = tg119_plan_and_dij(
            ct,
            structures,
            particle,
            target=TARGET,
            isocenter_mm=target.centroid_mm,
            gantry_deg=(90.0, 270.0, 0.0),
            spot_spacing_mm=round(sigma, 1),
            dose_grid_mm=grid_mm,
        )
    except InsufficientMemoryError as error:
        out["refused"] = str(error)
        return out
    out["stages"]["placement"] = {"s": timings.placement_s, "peak_mb": float("nan")}
    out["stages"]["dij"] = {"s": timings.dij_s, "cpu_s": timings.dij_cpu_s, "peak_mb": _peak_mb()}
    cpu[0] = time.process_time()
    out.update(voxels=influence.grid.size, spots=plan.n_spots, nnz=influence.nnz)
    level = plan.prescription.dose_per_fraction_gy
    t = time.perf_counter()
    masks = masks_on_grid(structures, influence.grid)
    names = [s.name for s in structures]
    limits = cnao_machine().spot_limit(particle)
    weights, results = optimize_impt(
        influence,
        masks,
        default_objectives(names, TARGET, level),
        quantity=PhysicalDose(),
        plan=plan,
        target=TARGET,
        level=level,
        priority=overlap_priority(names, TARGET),
        solver=SolverOptions(progress=False),
        min_particles=limits.min_particles,
        max_particles=limits.max_particles,
        offsets=None if influence.halo is None else _halo_offsets(influence, out["legs"]),
    )
    stage("optimization", t)
    t = time.perf_counter()
    dose = influence.dose_gy(weights)
    stage("final_dose", t)
    metrics = dose_metrics(dose, influence.grid, {k: masks[k] for k in (TARGET, "Rectum")})
    out.update(
        iterations=sum(r.nit for r in results),
        evaluations=sum(r.n_evaluations for r in results),
        solver_s=sum(r.time_s for r in results),
        d95=metrics[TARGET].d95_gy / level,
        d5=metrics[TARGET].d5_gy / level,
        rectum_max=metrics["Rectum"].max_gy / level,
        rectum_mean=metrics["Rectum"].mean_gy / level,
    )
    return out


def _report(r: dict) -> None:
    print(f"\n{r['particle']}")
    if "refused" in r:
        print(f"  refused by the memory estimate: {r['refused']}")
        return
    print(f"  dose-grid voxels {r['voxels']:,}  spots {r['spots']:,}  non-zeros {r['nnz']:,}")
    for name, s in r["stages"].items():
        peak = "      —" if s["peak_mb"] != s["peak_mb"] else f"{s['peak_mb']:>7.0f}"
        cpu = f"{s['cpu_s']:>8.1f} s CPU" if "cpu_s" in s else " " * 14
        print(f"  {name:<14}{s['s']:>8.1f} s {cpu}   peak RSS so far {peak} MB")
    core = sum(r["stages"][k]["s"] for k in ("dij", "optimization", "final_dose"))
    core_cpu = sum(r["stages"][k].get("cpu_s", 0.0) for k in ("dij", "optimization", "final_dose"))
    print(
        f"  Dij + optimization + final dose: {core:.1f} s ({core_cpu:.1f} s CPU); "
        f"{r['iterations']} iterations, "
        f"{r['evaluations']} evaluations, {1e3 * r['solver_s'] / r['evaluations']:.0f} ms each"
    )
    for leg in r.get("legs", ()):
        its = (
            f"{leg['nit']:>4} it. {leg['nfev']:>4} ev.  f {leg['f0']:.4g} → {leg['f']:.4g}"
            if "nit" in leg
            else ""
        )
        print(f"    {leg['leg']:<34}{leg['s']:>7.1f} s {leg['cpu_s']:>7.1f} s CPU  {its}")
    print(
        f"  target D95 {r['d95']:.3f}  D5 {r['d5']:.3f}  rectum max {r['rectum_max']:.3f}  "
        f"mean {r['rectum_mean']:.3f} (× prescription)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--particles", nargs="+", default=["proton", "carbon"])
    parser.add_argument("--slices", type=int, default=150)
    parser.add_argument("--ct-mm", type=float, default=1.0)
    parser.add_argument("--grid", type=float, default=2.0)
    parser.add_argument("--memory-gb", type=float, default=24.0)
    parser.add_argument("--no-skip", action="store_true", help="read every row of D·w")
    parser.add_argument(
        "--keep-floor", action="store_true", help="the second leg keeps the first's floor"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.slices, args.ct_mm, args.grid, not args.no_skip,
                        args.keep_floor)  # fmt: skip
        print(json.dumps(result))
        return
    env = {**os.environ, "IONBEAM_MEMORY_LIMIT_GB": str(args.memory_gb)}
    # OpenMP threads wait passively, as under ``ionbeam plan`` (spinning ones made the
    # optimizer's evaluations 5-25x slower on a loaded 2-core machine)
    env.setdefault("OMP_WAIT_POLICY", "passive")
    print(
        f"CT 512×512×{args.slices} at {args.ct_mm} mm, dose grid {args.grid} mm, "
        f"memory limit {args.memory_gb:g} GB, {os.cpu_count()} CPUs"
    )
    for particle in args.particles:
        command = [sys.executable, __file__, "--worker", particle, "--slices", str(args.slices),
                   "--ct-mm", str(args.ct_mm), "--grid", str(args.grid)]  # fmt: skip
        command += ["--no-skip"] if args.no_skip else []
        command += ["--keep-floor"] if args.keep_floor else []
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"\n{particle}: failed\n{done.stderr[-2000:]}")
            continue
        _report(json.loads(done.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
