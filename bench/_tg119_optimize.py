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

As ``ionbeam plan`` does it (:func:`ionbeam.planning.planner.plan_patient`): the
structures enter as their occupancy of each dose voxel, and — since the reported dose
carries each spot's nuclear halo at full width while the matrices hold it inside a
cut-off disc — the optimization holds the full-width halo's correction of its first
leg's weights fixed and goes on from there (``halo_leg``; one more run when the
correction moved by more than ``HALO_CHANGE_TOLERANCE`` of the target's mean). Without
the halo leg the optimizer never sees the halo outside the disc, and the reported
dose's target D95 stays at 0.971 (protons) / 0.93 (carbon) whatever the iterations
(``bench/_tg119_diagnose.py``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence

import numpy as np

from _tg119_metrics import relative_metrics
from ionbeam.evaluation import dose_metrics
from ionbeam.machine import cnao_machine
from ionbeam.patient import Grid
from ionbeam.patient.resample import resample
from ionbeam.patient.structures import Structure
from ionbeam.planning.dose_grid import masks_from_occupancy, occupancy_on_grid
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize import PhysicalDose, SolverOptions
from ionbeam.planning.optimize.objective import Objective
from ionbeam.planning.optimize.templates import default_objectives, overlap_priority
from ionbeam.planning.optimize.weights import optimize_impt
from ionbeam.planning.plan import Plan
from ionbeam.planning.planner import HALO_CHANGE_TOLERANCE

TARGET = "OuterTarget"


def optimize_tg119(
    plan: Plan,
    influence: DoseInfluence,
    structures: Sequence[Structure],
    *,
    solver: SolverOptions | None = None,
    objectives: Mapping[str, tuple[Objective, ...]] | None = None,
    halo_leg: bool = True,
    occupancy: bool = True,
    min_particles: float | None = None,
    ct_grid: Grid | None = None,
) -> dict:
    """Optimize the TG-119 plan; returns timings (s) and target metrics relative to the
    prescription (``opt_s``, ``target_d95_rel``, ``target_d5_rel``, ``core_mean_rel``,
    ``iterations``, ``message``; with ``ct_grid`` also ``ct_d95_rel`` … of
    :func:`ct_grid_metrics`), and ``weights`` (particles)."""
    solver = SolverOptions(progress=False) if solver is None else solver
    level = plan.prescription.dose_per_fraction_gy
    start = time.perf_counter()
    fractions = occupancy_on_grid(list(structures), influence.grid)
    masks = {name: masks_from_occupancy(f) for name, f in fractions.items()}
    if objectives is None:
        objectives = default_objectives([s.name for s in structures], TARGET, level)
    limits = cnao_machine().spot_limit(plan.particle)
    settings = dict(
        quantity=PhysicalDose(),
        plan=plan,
        target=TARGET,
        level=level,
        priority=overlap_priority(list(objectives), TARGET),
        solver=solver,
        min_particles=limits.min_particles if min_particles is None else min_particles,
        max_particles=limits.max_particles,
    )
    opt_masks = fractions if occupancy else masks
    with_halo = halo_leg and influence.halo is not None
    if with_halo:
        weights, results = _with_full_halo(influence, opt_masks, objectives, settings)
    else:
        weights, results = optimize_impt(influence, opt_masks, objectives, **settings)
    dose = influence.dose_gy(weights)
    opt_s = time.perf_counter() - start
    metrics = dose_metrics(dose, influence.grid, {k: masks[k] for k in (TARGET, "Core")})
    out = {
        "opt_s": opt_s,
        "target_d95_rel": metrics[TARGET].d95_gy / level,
        "target_d5_rel": metrics[TARGET].d5_gy / level,
        "core_mean_rel": metrics["Core"].mean_gy / level,
        "iterations": sum(r.nit for r in results),
        "legs": [r.nit for r in results],
        "message": results[-1].message,
        "spots_on": int(np.count_nonzero(weights)),
        "halo_leg": with_halo,
    }
    if ct_grid is not None:
        ct = ct_grid_metrics(dose, influence.grid, ct_grid, structures, level)
        out.update({f"ct_{k}_rel": v for k, v in ct.items()})
    out["weights"] = weights
    return out


def _with_full_halo(
    influence: DoseInfluence, masks: Mapping[str, np.ndarray], objectives, settings: dict
) -> tuple[np.ndarray, tuple]:
    """The planner's IMPT with the full-width halo held fixed (see the module docstring)."""
    held = []

    def offsets(weights: np.ndarray) -> dict[str, np.ndarray]:
        held.append(influence.halo.correction(weights))
        return _as_offsets(held[-1])

    weights, results = optimize_impt(influence, masks, objectives, offsets=offsets, **settings)
    target = np.flatnonzero(np.asarray(masks[TARGET]).reshape(-1) > 0)
    now = influence.halo.correction(weights)
    mean = float(np.mean(influence.products(weights).dose[target]))
    change = float(np.max(np.abs(now.dose[target] - held[-1].dose[target])))
    if mean > 0 and change / mean > HALO_CHANGE_TOLERANCE:
        corrected = dataclasses.replace(influence, optimizer_offsets=_as_offsets(now))
        weights, more = optimize_impt(
            corrected, masks, objectives, initial_weights=weights, **settings
        )
        results = (*results, *more)
    return weights, results


def _as_offsets(correction) -> dict[str, np.ndarray]:
    return {
        name: value
        for name, value in correction._asdict().items()
        if value is not None and name != "let_dose"
    }


def ct_grid_metrics(
    dose_gy: np.ndarray, grid: Grid, ct_grid: Grid, structures: Sequence[Structure], level: float
) -> dict[str, float]:
    """Target D95 / D5 and core mean relative to ``level``, on the CT grid: the dose
    interpolated (trilinear) to the CT voxel centres, the structures' own CT masks, and
    D95 / D5 as the 5th / 95th percentile of the target's voxels (numpy's linear
    percentile; the same function judges pyRadPlan's dose on the same grid)."""
    on_ct = resample(np.asarray(dose_gy).reshape(grid.shape), grid, ct_grid, method="linear")
    masks = {s.name: s.mask for s in structures}
    return relative_metrics(on_ct, masks[TARGET], masks["Core"], level)
