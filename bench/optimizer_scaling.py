"""Spot-weight scalings of the solver side by side, planned as ``ionbeam plan`` plans.

Each case is planned by :func:`~ionbeam.planning.planner.plan_patient` (occupancies,
overlap priority, the halo leg, the spot limits) once per ``SolverOptions.scaling``
(``none``, ``jacobi``, ``gauss_newton``; see :mod:`ionbeam.planning.optimize.solver`),
everything else at its default. Printed per run: the iterations of each optimizer leg,
the optimization's CPU seconds (all threads; the machine is shared), the target's D95 /
D5 / mean and each organ's mean and maximum, relative to the prescription per fraction,
on the dose grid (the planner's metrics: voxels weighted by occupancy).

Cases: ``head`` (head phantom, PTV, gantry 90°/270°, 2 mm), ``lung`` (lung phantom, PTV,
gantry 180°/270°, 3 mm), ``tg119`` (ionbeam's TG-119 phantom, three fields, 3 mm);
``--particle`` proton (physical dose × 1.1) or carbon (RBE-weighted, the planner's default
model).

Usage: python bench/optimizer_scaling.py [--cases head lung] [--particle proton]
[--scalings none gauss_newton]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before numba starts its threads

#: case → (phantom, target, gantry angles, grid mm)
CASES = {
    "head": ("head", "PTV", (90.0, 270.0), 2.0),
    "lung": ("lung", "PTV", (180.0, 270.0), 3.0),
    "tg119": ("tg119", "OuterTarget", (0.0, 120.0, 240.0), 3.0),
}


def run(case: str, particle: str, scaling: str) -> str:
    from ionbeam.evaluation import dose_metrics
    from ionbeam.patient.phantoms import make_phantom
    from ionbeam.planning.optimize import SolverOptions
    from ionbeam.planning.optimize.templates import default_objectives
    from ionbeam.planning.plan import Prescription
    from ionbeam.planning.planner import PlanningOptions, plan_patient

    phantom, target, gantry, grid_mm = CASES[case]
    patient = make_phantom(phantom, spacing_mm=grid_mm)
    dose, fractions = (2.0, 30) if particle == "proton" else (3.0, 20)
    names = list(patient.structures)  # every structure; the metrics skip body and GTV
    options = PlanningOptions(
        gantry_deg=gantry,
        dose_grid_mm=grid_mm,
        solver=SolverOptions(progress=False, scaling=scaling),
    )
    cpu = time.process_time()
    result = plan_patient(
        patient, Prescription(target, dose * fractions, fractions), particle=particle,
        objectives=default_objectives(names, target, dose), options=options,
    )  # fmt: skip
    cpu = time.process_time() - cpu
    metrics = dose_metrics(result.evaluated_dose_gy, result.grid, result.structure_weights)
    legs = "+".join(str(r.nit) for r in result.optimization)
    t = metrics[target]
    organs = "  ".join(
        f"{m.name} {m.mean_gy / dose:.3f}/{m.max_gy / dose:.3f}"
        for m in metrics.structures
        if m.name not in (target, "Body", "GTV")
    )
    return (
        f"{case:<6}{particle:<7}{scaling:<13} it {legs:<12} {cpu:6.1f} s CPU  target D95 "
        f"{t.d95_gy / dose:.3f} D5 {t.d5_gy / dose:.3f} mean {t.mean_gy / dose:.3f}  "
        f"organs mean/max {organs}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", nargs="+", default=["head", "lung"], choices=list(CASES))
    parser.add_argument("--particle", default="proton", choices=["proton", "carbon"])
    parser.add_argument("--scalings", nargs="+", default=["none", "gauss_newton"])
    args = parser.parse_args()
    for case in args.cases:
        for scaling in args.scalings:
            print(run(case, args.particle, scaling), flush=True)


if __name__ == "__main__":
    main()
