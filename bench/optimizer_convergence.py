"""Optimizer iterations, time per iteration and plan quality on coarse and fine grids.

Cases (protons, CNAO spot spacing = the spot σ in air): the lung phantom (PTV behind
lung, the two fields 180° and 270° of ``ionbeam plan --phantom lung``) on 3 mm and 2 mm
grids (CT and dose), and TG-119 (three fields) on 3 mm. For each case the dose influence
is computed once, then the whole IMPT optimization of ``optimize_impt`` (default
objectives and stopping rule, spot-limit polish) runs once per solver setting, on the
same matrix. Printed per run: L-BFGS-B iterations and evaluations, seconds and
milliseconds per evaluation, the final objective and each structure's share of it, and
the target's D95/D5 relative to the prescription, both of the reported dose (with the
full-width nuclear halo, which this bench does not re-optimize for) and of the
optimizer's own dose D·w.

``--reference N``: also run N iterations with the relative stopping rule off, the
"converged" plan the default stopping rule is compared with. ``--cross-grid``: the lung
phantom's CT at 2 mm with a 3 mm and a 2 mm dose grid, each plan evaluated on both dose
grids (does a coarse dose grid flatter its own plan?).

OpenMP threads wait passively here (as under ``ionbeam plan``): spinning threads made
each evaluation 5-25x slower on a loaded 2-core machine.

Usage: ``python bench/optimizer_convergence.py [--cases lung3 lung2 tg119]
[--history-sizes 10 30] [--relative-tolerance 1e-3] [--reference 600] [--cross-grid]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before numba starts its threads

import numpy as np

HERE = Path(__file__).resolve().parent
#: case name → (phantom, target, gantry angles, grid mm)
CASES = {
    "lung3": ("lung", "PTV", (180.0, 270.0), 3.0),
    "lung2": ("lung", "PTV", (180.0, 270.0), 2.0),
    "tg119": ("tg119", "OuterTarget", (0.0, 120.0, 240.0), 3.0),
}


def build(case: str, dose_grid_mm: float | None = None):
    """(patient, plan, influence, masks) of ``case`` (dose grid: the CT's unless given)."""
    sys.path.insert(0, str(HERE))
    from _tg119 import beam_model_for, tg119_plan_and_dij
    from ionbeam.patient.phantoms import make_phantom
    from ionbeam.planning.dose_grid import masks_on_grid

    phantom, target, gantry, grid_mm = CASES[case]
    patient = make_phantom(phantom, spacing_mm=grid_mm)
    structures = list(patient.structures.values())
    model = beam_model_for("proton")
    middle = 40 if phantom == "lung" else model.n_energies // 2
    sigma = float(model.beam_line.sigma_air_mm("proton", float(model.energies_mev_u[middle])))
    plan, influence, _ = tg119_plan_and_dij(
        patient.ct,
        structures,
        "proton",
        target=target,
        isocenter_mm=patient.structures[target].centroid_mm,
        spot_spacing_mm=round(sigma, 1),
        gantry_deg=gantry,
        dose_grid_mm=dose_grid_mm or grid_mm,
    )
    return patient, plan, influence, masks_on_grid(structures, influence.grid)


def optimize(case: str, plan, influence, masks, names, solver_options) -> tuple[np.ndarray, str]:
    """The IMPT weights and a one-line summary of the run."""
    from ionbeam.evaluation import dose_metrics
    from ionbeam.machine import cnao_machine
    from ionbeam.planning.optimize import PhysicalDose
    from ionbeam.planning.optimize.templates import default_objectives, overlap_priority
    from ionbeam.planning.optimize.weights import optimize_impt

    target = CASES[case][1]
    level = plan.prescription.dose_per_fraction_gy
    limits = cnao_machine().spot_limit("proton")
    objectives = default_objectives(names, target, level)
    t = time.perf_counter()
    weights, results = optimize_impt(
        influence, masks, objectives, quantity=PhysicalDose(), plan=plan, target=target,
        level=level, priority=overlap_priority(names, target), solver=solver_options,
        min_particles=limits.min_particles, max_particles=limits.max_particles,
    )  # fmt: skip
    seconds = time.perf_counter() - t
    result = results[0]
    reported = dose_metrics(influence.dose_gy(weights), influence.grid, {target: masks[target]})
    own = np.asarray(influence.dose @ weights, dtype=float).reshape(influence.grid.shape)
    optimizer = dose_metrics(own, influence.grid, {target: masks[target]})
    r, o = reported[target], optimizer[target]
    line = (
        f"it {result.nit:>4} ev {result.n_evaluations:>4} {seconds:6.1f} s "
        f"{1e3 * result.time_s / result.n_evaluations:6.1f} ms/ev  f {result.fun:.4f}  "
        f"D95/D5 {r.d95_gy / level:.3f}/{r.d5_gy / level:.3f} (D·w {o.d95_gy / level:.3f}/"
        f"{o.d5_gy / level:.3f})"
    )
    return weights, line


def run_case(case: str, history_sizes: list[int], tolerance: float, reference: int) -> None:
    from ionbeam.planning.optimize import SolverOptions

    patient, plan, influence, masks = build(case)
    names = list(patient.structures)
    print(f"{case}: {plan.n_spots} spots, {influence.nnz / 1e6:.1f} M non-zeros")
    for size in history_sizes:
        options = SolverOptions(progress=False, history_size=size, relative_tolerance=tolerance)
        print(f"  memory {size:>3}  {optimize(case, plan, influence, masks, names, options)[1]}")
    if reference:
        options = SolverOptions(progress=False, relative_tolerance=0.0, max_iterations=reference,
                                history_size=max(history_sizes))  # fmt: skip
        print(f"  converged   {optimize(case, plan, influence, masks, names, options)[1]}")


def cross_grid() -> None:
    """The lung CT at 2 mm, dose grids 3 and 2 mm: each plan evaluated on both."""
    sys.path.insert(0, str(HERE))
    from _tg119 import beam_model_for
    from ionbeam.evaluation import dose_metrics
    from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose_influence
    from ionbeam.planning.dose_grid import make_dose_grid, masks_on_grid
    from ionbeam.planning.optimize import SolverOptions

    patient, plan, fine, _ = build("lung2")
    structures = list(patient.structures.values())
    coarse = calc_dose_influence(
        patient.ct, plan, beam_model_for("proton"), dose_grid=make_dose_grid(patient.ct.grid, 3.0),
        structures=structures, options=DoseEngineOptions(lateral_cutoff_sigma=3.0),
    )  # fmt: skip
    influences = {3.0: coarse, 2.0: fine}
    masks = {g: masks_on_grid(structures, m.grid) for g, m in influences.items()}
    level = plan.prescription.dose_per_fraction_gy
    print("lung CT at 2 mm; plan optimized on one dose grid, evaluated on both (D·w):")
    for grid_mm, influence in influences.items():
        weights, line = optimize("lung2", plan, influence, masks[grid_mm], list(patient.structures),
                                 SolverOptions(progress=False))  # fmt: skip
        print(f"  optimized on {grid_mm:g} mm: {line}")
        for other, matrix in influences.items():
            dose = np.asarray(matrix.dose @ weights, dtype=float).reshape(matrix.grid.shape)
            m = dose_metrics(dose, matrix.grid, {"PTV": masks[other]["PTV"]})["PTV"]
            print(f"    on {other:g} mm: D95 {m.d95_gy / level:.3f}  D5 {m.d5_gy / level:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--history-sizes", nargs="+", type=int, default=[10, 30])
    parser.add_argument("--relative-tolerance", type=float, default=1e-3)
    parser.add_argument("--reference", type=int, default=0)
    parser.add_argument("--cross-grid", action="store_true")
    args = parser.parse_args()
    for case in args.cases:
        run_case(case, args.history_sizes, args.relative_tolerance, args.reference)
    if args.cross_grid:
        cross_grid()


if __name__ == "__main__":
    main()
