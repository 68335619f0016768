"""Optimizer iterations and plan quality on coarse and fine grids, per spot-weight scaling.

The lung phantom (PTV behind lung, protons, the two fields 180° and 270° of
``ionbeam plan --phantom lung``, CNAO spot spacing) on 3 mm and 2 mm grids (CT and
dose). For each grid the dose influence is computed once, then the whole IMPT
optimization of ``optimize_impt`` (default objectives, default stopping rule, spot-limit
polish) runs once per scaling of :class:`~ionbeam.planning.optimize.SolverOptions`
(``none``: the default, ``jacobi``: Jacobi-scaled spot weights), alternating, on the
same matrix. Printed: L-BFGS-B iterations, seconds, the final objective and the PTV's
D95/D5 relative to the prescription.

Usage: ``python bench/optimizer_convergence.py [--grids 3 2] [--scalings none jacobi]
[--relative-tolerance 1e-3]`` (the default stopping rule's tolerance; a tighter one
shows whether the default stops short)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = "PTV"


def run(grid_mm: float, scalings: list[str], relative_tolerance: float) -> None:
    sys.path.insert(0, str(HERE))
    from _tg119 import beam_model_for, tg119_plan_and_dij
    from ionbeam.evaluation import dose_metrics
    from ionbeam.machine import cnao_machine
    from ionbeam.patient.phantoms import make_phantom
    from ionbeam.planning.dose_grid import masks_on_grid
    from ionbeam.planning.optimize import PhysicalDose, SolverOptions
    from ionbeam.planning.optimize.templates import default_objectives, overlap_priority
    from ionbeam.planning.optimize.weights import optimize_impt

    patient = make_phantom("lung", spacing_mm=grid_mm)
    structures = list(patient.structures.values())
    model = beam_model_for("proton")
    sigma = float(model.beam_line.sigma_air_mm("proton", float(model.energies_mev_u[40])))
    plan, influence, _ = tg119_plan_and_dij(
        patient.ct,
        structures,
        "proton",
        target=TARGET,
        isocenter_mm=patient.structures[TARGET].centroid_mm,
        spot_spacing_mm=round(sigma, 1),
        gantry_deg=(180.0, 270.0),
        dose_grid_mm=grid_mm,
    )
    level = plan.prescription.dose_per_fraction_gy
    masks = masks_on_grid(structures, influence.grid)
    names = [s.name for s in structures]
    limits = cnao_machine().spot_limit("proton")
    print(f"grid {grid_mm} mm: {plan.n_spots} spots, {influence.nnz / 1e6:.1f} M non-zeros")
    for scaling in scalings:
        t = time.perf_counter()
        weights, results = optimize_impt(
            influence,
            masks,
            default_objectives(names, TARGET, level),
            quantity=PhysicalDose(),
            plan=plan,
            target=TARGET,
            level=level,
            priority=overlap_priority(names, TARGET),
            solver=SolverOptions(
                progress=False, scaling=scaling, relative_tolerance=relative_tolerance
            ),
            min_particles=limits.min_particles,
            max_particles=limits.max_particles,
        )
        seconds = time.perf_counter() - t
        metrics = dose_metrics(influence.dose_gy(weights), influence.grid, {TARGET: masks[TARGET]})
        print(
            f"  {scaling:<7} iterations {results[0].nit:>4}  {seconds:6.1f} s  "
            f"objective {results[0].fun:.5f}  D95 {metrics[TARGET].d95_gy / level:.3f}  "
            f"D5 {metrics[TARGET].d5_gy / level:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grids", nargs="+", type=float, default=[3.0, 2.0])
    parser.add_argument("--scalings", nargs="+", default=["none", "jacobi"])
    parser.add_argument("--relative-tolerance", type=float, default=1e-3)
    args = parser.parse_args()
    for grid in args.grids:
        run(grid, args.scalings, args.relative_tolerance)


if __name__ == "__main__":
    main()
