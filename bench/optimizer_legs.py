"""IMPT with the halo leg, as the planner runs it: solvers side by side on one matrix.

TG-119 (protons by default, three fields 0°, 120°, 240°, CNAO spot spacing) on a 3 mm
and a 2 mm grid (CT and dose): the dose influence is computed once per case, then
:func:`~ionbeam.planning.optimize.weights.optimize_impt` runs with the full-width
halo's correction held in a second leg (``offsets``, as
:func:`~ionbeam.planning.planner.plan_patient` does) once per solver setting.

Printed per run: iterations and evaluations of each leg (first leg, offsets held, spot
limits), seconds of the solver (CPU seconds of the process beside wall, since the
machine is shared), the final objective, and the reported dose's (with the halo)
target D95, D5 and mean and the core's mean and maximum, relative to the prescription.

Usage: ``python bench/optimizer_legs.py [--cases tg119_3 tg119_2] [--particle proton]
[--methods lbfgsb projected_lbfgs] [--first-leg 1 3] [--relative-tolerance 1e-3 3e-3]
[--skip on off] [--fused on off] [--floor first own]`` (``--floor``: the second leg
keeps the first leg's floor of the relative rule, or takes 1 % of its own start, the
default; :data:`~ionbeam.planning.optimize.weights.SECOND_LEG_KEEPS_FLOOR`)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before numba starts its threads

HERE = Path(__file__).resolve().parent
TARGET = "OuterTarget"
CASES = {"tg119_3": 3.0, "tg119_2": 2.0}


def build(grid_mm: float, particle: str):
    """(structures, plan, influence, masks) of TG-119 on a ``grid_mm`` grid."""
    sys.path.insert(0, str(HERE))
    from _tg119 import beam_model_for, tg119_plan_and_dij
    from ionbeam.patient.phantoms import make_phantom
    from ionbeam.planning.dose_grid import masks_on_grid

    patient = make_phantom("tg119", spacing_mm=grid_mm)
    structures = list(patient.structures.values())
    model = beam_model_for(particle)
    middle = float(model.energies_mev_u[model.n_energies // 2])
    sigma = float(model.beam_line.sigma_air_mm(particle, middle))
    plan, influence, _ = tg119_plan_and_dij(
        patient.ct,
        structures,
        particle,
        target=TARGET,
        isocenter_mm=patient.structures[TARGET].centroid_mm,
        spot_spacing_mm=round(sigma, 1),
        dose_grid_mm=grid_mm,
    )
    return structures, plan, influence, masks_on_grid(structures, influence.grid)


def run(structures, plan, influence, masks, method: str, first_leg: float, tol: float,
        skip: bool = True, fused: bool = True, floor: str = "own") -> str:  # fmt: skip
    """One optimization as the planner runs it; a one-line summary (``skip``: skip the rows
    of D·w below their overdose level, :mod:`ionbeam.planning.optimize.row_skip`;
    ``fused``: D·w and Dᵀ·g in one pass, :mod:`ionbeam.planning.optimize.fused_pass`)."""
    from ionbeam.evaluation import dose_metrics
    from ionbeam.machine import cnao_machine
    from ionbeam.planning.optimize import PhysicalDose, SolverOptions
    from ionbeam.planning.optimize import problem as problems
    from ionbeam.planning.optimize import weights as strategies
    from ionbeam.planning.optimize.templates import default_objectives, overlap_priority
    from ionbeam.planning.planner import _as_offsets

    names = [s.name for s in structures]
    level = plan.prescription.dose_per_fraction_gy
    limits = cnao_machine().spot_limit(plan.particle)
    saved, saved_skip = strategies.FIRST_LEG_TOLERANCE, problems._row_skip
    saved_fused, saved_floor = problems.fused_terms, strategies.SECOND_LEG_KEEPS_FLOOR
    strategies.FIRST_LEG_TOLERANCE = first_leg
    strategies.SECOND_LEG_KEEPS_FLOOR = floor == "first"
    if not skip:
        problems._row_skip = lambda *args, **kwargs: None
    if not fused:
        problems.fused_terms = lambda *args, **kwargs: None
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        weights, results = strategies.optimize_impt(
            influence, masks, default_objectives(names, TARGET, level), quantity=PhysicalDose(),
            plan=plan, target=TARGET, level=level, priority=overlap_priority(names, TARGET),
            method=method, solver=SolverOptions(progress=False, relative_tolerance=tol),
            min_particles=limits.min_particles, max_particles=limits.max_particles,
            offsets=lambda w: _as_offsets(influence.halo.correction(w, with_let=False)),
        )  # fmt: skip
    finally:
        strategies.FIRST_LEG_TOLERANCE, problems._row_skip = saved, saved_skip
        problems.fused_terms, strategies.SECOND_LEG_KEEPS_FLOOR = saved_fused, saved_floor
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    dose = influence.dose_gy(weights)
    m = dose_metrics(dose, influence.grid, {k: masks[k] for k in (TARGET, "Core")})
    t, c = m[TARGET], m["Core"]
    legs = " + ".join(f"{r.nit}/{r.n_evaluations}" for r in results)
    return (
        f"{method:<16} rule {tol:<7g} x{first_leg:<3g} skip {'on ' if skip else 'off'} "
        f"fused {'on ' if fused else 'off'} floor {floor:<5} "
        f"it/ev {legs:<14} "
        f"{wall:6.1f} s ({cpu:6.1f} s CPU)  "
        f"f {results[-1].fun:.4f}  D95 {t.d95_gy / level:.3f}  D5 {t.d5_gy / level:.3f}  "
        f"mean {t.mean_gy / level:.3f}  core mean {c.mean_gy / level:.3f}  "
        f"max {c.max_gy / level:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--particle", default="proton")
    parser.add_argument("--methods", nargs="+", default=["lbfgsb", "projected_lbfgs"])
    parser.add_argument("--first-leg", nargs="+", type=float, default=[1.0])
    parser.add_argument("--relative-tolerance", nargs="+", type=float, default=[1e-3])
    parser.add_argument("--skip", nargs="+", choices=["on", "off"], default=["on"])
    parser.add_argument("--fused", nargs="+", choices=["on", "off"], default=["on"])
    parser.add_argument("--floor", nargs="+", choices=["first", "own"], default=["own"])
    args = parser.parse_args()
    for case in args.cases:
        structures, plan, influence, masks = build(CASES[case], args.particle)
        print(f"{case} {args.particle}: {plan.n_spots} spots, {influence.nnz / 1e6:.1f} M nnz")
        for tol in args.relative_tolerance:
            for first_leg in args.first_leg:
                for method in args.methods:
                    for skip in args.skip:
                        for fused in args.fused:
                            for floor in args.floor:
                                line = run(structures, plan, influence, masks, method,
                                           first_leg, tol, skip == "on", fused == "on",
                                           floor)  # fmt: skip
                                print("  " + line, flush=True)


if __name__ == "__main__":
    main()
