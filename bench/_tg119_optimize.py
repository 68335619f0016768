"""The optimization step of the TG-119 benchmarks (``bench/compare_pyradplan.py``).

The problem is pyRadPlan's own TG-119 objective set (from its ``cst``): OuterTarget
squared deviation from the prescription (weight 1000), Core squared overdose above
half of it (300), body squared overdose above 60 % of it (100), on the physical dose,
as pyRadPlan optimizes it — here :func:`ionbeam.planning.optimize.templates.
default_objectives`, which reproduces that set. ionbeam adds what a deliverable plan
needs: the overlap priority (the body objective leaves the target alone) and the
CNAO minimum particles per spot. Timed from the dose-influence matrix to the final
dose on the dose grid: problem set-up (row restriction), L-BFGS-B with ionbeam's
default stopping rule, the spot-limit polish and the forward dose.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ionbeam.evaluation import dose_metrics
from ionbeam.machine import cnao_machine
from ionbeam.patient.structures import Structure
from ionbeam.planning.dose_grid import masks_on_grid
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize import PhysicalDose, SolverOptions
from ionbeam.planning.optimize.templates import default_objectives, overlap_priority
from ionbeam.planning.optimize.weights import optimize_impt
from ionbeam.planning.plan import Plan

TARGET = "OuterTarget"


def optimize_tg119(
    plan: Plan,
    influence: DoseInfluence,
    structures: Sequence[Structure],
    *,
    solver: SolverOptions | None = None,
) -> dict:
    """Optimize the TG-119 plan; returns timings (s) and target metrics relative to the
    prescription (``opt_s``, ``target_d95_rel``, ``target_d5_rel``, ``core_mean_rel``,
    ``iterations``, ``message``)."""
    solver = SolverOptions(progress=False) if solver is None else solver
    level = plan.prescription.dose_per_fraction_gy
    start = time.perf_counter()
    masks = masks_on_grid(list(structures), influence.grid)
    objectives = default_objectives([s.name for s in structures], TARGET, level)
    limits = cnao_machine().spot_limit(plan.particle)
    weights, results = optimize_impt(
        influence,
        masks,
        objectives,
        quantity=PhysicalDose(),
        plan=plan,
        target=TARGET,
        level=level,
        priority=overlap_priority(list(objectives), TARGET),
        solver=solver,
        min_particles=limits.min_particles,
        max_particles=limits.max_particles,
    )
    dose = influence.dose_gy(weights)
    opt_s = time.perf_counter() - start
    metrics = dose_metrics(dose, influence.grid, {k: masks[k] for k in (TARGET, "Core")})
    return {
        "opt_s": opt_s,
        "target_d95_rel": metrics[TARGET].d95_gy / level,
        "target_d5_rel": metrics[TARGET].d5_gy / level,
        "core_mean_rel": metrics["Core"].mean_gy / level,
        "iterations": results[0].nit,
        "message": results[0].message,
        "spots_on": int(np.count_nonzero(weights)),
    }
