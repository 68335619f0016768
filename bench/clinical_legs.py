"""The clinical-size case's optimization, solver settings side by side on one matrix.

The pelvis of :mod:`clinical_size` (512×512×150 CT at 1 mm, three fields, 2 mm dose grid,
physical dose), its dose influence computed once, then
:func:`~ionbeam.planning.optimize.weights.optimize_impt` run as that bench (and the
planner) runs it — the full-width halo's correction held in a second leg, spot limits —
once per setting. A setting is ``method[,key=value...]`` with keys ``scaling``,
``first`` (the first leg's tolerance factor), ``tol`` (relative tolerance), ``window``,
``history`` (L-BFGS pairs), ``floor`` (``first``: the second leg keeps the first leg's
floor of the relative rule; ``own``: 1 % of its own start, the default; see
:data:`~ionbeam.planning.optimize.weights.SECOND_LEG_KEEPS_FLOOR`).

Printed per setting: iterations / evaluations of each leg, wall and CPU seconds of the
optimization, the final objective and the reported dose's target D95, D5 and the
rectum's and bladder's maximum and mean, relative to the prescription.

Usage: ``python bench/clinical_legs.py --particle carbon lbfgsb projected_lbfgs,first=3``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before numba starts its threads

HERE = Path(__file__).resolve().parent
TARGET = "PTV"


def build(particle: str, slices: int):
    """(structures, plan, influence, masks) of the clinical-size pelvis."""
    sys.path.insert(0, str(HERE))
    from _tg119 import beam_model_for, tg119_plan_and_dij
    from clinical_size import pelvis
    from ionbeam.planning.dose_grid import masks_on_grid

    ct, structures = pelvis(slices, 1.0)
    model = beam_model_for(particle)
    middle = float(model.energies_mev_u[model.n_energies // 2])
    sigma = float(model.beam_line.sigma_air_mm(particle, middle))
    target = next(s for s in structures if s.name == TARGET)
    plan, influence, _ = tg119_plan_and_dij(
        ct, structures, particle, target=TARGET, isocenter_mm=target.centroid_mm,
        gantry_deg=(90.0, 270.0, 0.0), spot_spacing_mm=round(sigma, 1), dose_grid_mm=2.0,
    )  # fmt: skip
    return structures, plan, influence, masks_on_grid(structures, influence.grid)


def parse(setting: str) -> tuple[str, dict]:
    method, *pairs = setting.split(",")
    return method, dict(pair.split("=", 1) for pair in pairs)


def run(structures, plan, influence, masks, setting: str) -> str:
    """One optimization as the planner runs it; a one-line summary."""
    from ionbeam.evaluation import dose_metrics
    from ionbeam.machine import cnao_machine
    from ionbeam.planning.optimize import PhysicalDose, SolverOptions
    from ionbeam.planning.optimize import weights as strategies
    from ionbeam.planning.optimize.templates import default_objectives, overlap_priority
    from ionbeam.planning.planner import _as_offsets

    method, keys = parse(setting)
    names = [s.name for s in structures]
    level = plan.prescription.dose_per_fraction_gy
    limits = cnao_machine().spot_limit(plan.particle)
    options = SolverOptions(
        progress=False,
        scaling=keys.get("scaling", "none"),
        relative_tolerance=float(keys.get("tol", 1e-3)),
        window=int(keys.get("window", 5)),
        history_size=int(keys.get("history", 30)),
    )
    saved = strategies.FIRST_LEG_TOLERANCE, strategies.SECOND_LEG_KEEPS_FLOOR
    strategies.FIRST_LEG_TOLERANCE = float(keys.get("first", saved[0]))
    strategies.SECOND_LEG_KEEPS_FLOOR = keys.get("floor", "first" if saved[1] else "own") == "first"
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        weights, results = strategies.optimize_impt(
            influence, masks, default_objectives(names, TARGET, level), quantity=PhysicalDose(),
            plan=plan, target=TARGET, level=level, priority=overlap_priority(names, TARGET),
            method=method, solver=options,
            min_particles=limits.min_particles, max_particles=limits.max_particles,
            offsets=lambda w: _as_offsets(influence.halo.correction(w, with_let=False)),
        )  # fmt: skip
    finally:
        strategies.FIRST_LEG_TOLERANCE, strategies.SECOND_LEG_KEEPS_FLOOR = saved
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    dose = influence.dose_gy(weights)
    m = dose_metrics(dose, influence.grid, {k: masks[k] for k in (TARGET, "Rectum", "Bladder")})
    t, r, b = m[TARGET], m["Rectum"], m["Bladder"]
    legs = " + ".join(f"{x.nit}/{x.n_evaluations}" for x in results)
    return (
        f"{setting:<34} it/ev {legs:<16} {wall:6.1f} s ({cpu:6.1f} s CPU)  "
        f"f {results[-1].fun:.4f}  D95 {t.d95_gy / level:.4f}  D5 {t.d5_gy / level:.4f}  "
        f"rectum max {r.max_gy / level:.4f} mean {r.mean_gy / level:.4f}  "
        f"bladder max {b.max_gy / level:.4f} mean {b.mean_gy / level:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("settings", nargs="+")
    parser.add_argument("--particle", default="carbon")
    parser.add_argument("--slices", type=int, default=150)
    args = parser.parse_args()
    structures, plan, influence, masks = build(args.particle, args.slices)
    print(f"{args.particle}: {plan.n_spots} spots, {influence.nnz / 1e6:.1f} M nnz", flush=True)
    for setting in args.settings:
        print("  " + run(structures, plan, influence, masks, setting), flush=True)


if __name__ == "__main__":
    main()
