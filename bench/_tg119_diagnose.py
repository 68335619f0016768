"""Why does ionbeam's TG-119 plan stop where it does? (a diagnostic, not a test)

Plans pyRadPlan's exported TG-119 (``bench/compare_pyradplan.py --workdir``) with
ionbeam once per particle, then re-optimizes the same dose influence with one thing
changed at a time and prints, for each variant: iterations, the objective by term
(target, core, body), the target's D95/D5 and the core's mean on the dose grid and
on the CT grid (trilinear), relative to the prescription.

Usage: python bench/_tg119_diagnose.py NPZ PARTICLE [--grid-mm 5] [--margin-mm M]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from _tg119 import load_exported, tg119_plan_and_dij
from _tg119_optimize import TARGET, optimize_tg119
from ionbeam.evaluation import dose_metrics
from ionbeam.planning.dose_grid import masks_on_grid
from ionbeam.planning.optimize import SolverOptions
from ionbeam.planning.optimize.squared_deviation import SquaredDeviation
from ionbeam.planning.optimize.squared_overdose import SquaredOverdose
from ionbeam.planning.optimize.templates import (
    default_objectives,
    optimization_masks,
    overlap_priority,
)


def _terms(dose, masks, objectives, priority, level) -> dict[str, float]:
    """Each structure's weighted objective term on the reported dose (full-width halo),
    over its voxels at least half inside after the overlap priority, divided by the
    prescription squared (the solver's scaling)."""
    order = [n for n in priority if n in objectives]
    voxels = optimization_masks(masks, order)
    flat = np.asarray(dose).reshape(-1)
    return {
        name: sum(o.weight * o.value(flat[voxels[name].reshape(-1)]) for o in given) / level**2
        for name, given in objectives.items()
    }


def run_variant(name, ct, structures, plan, influence, **kwargs):
    level = plan.prescription.dose_per_fraction_gy
    r = optimize_tg119(plan, influence, structures, ct_grid=ct.grid, **kwargs)
    weights = r["weights"]
    masks = masks_on_grid(list(structures), influence.grid)
    ref = default_objectives([s.name for s in structures], TARGET, level)
    dose = influence.dose_gy(weights)
    terms = _terms(dose, masks, ref, overlap_priority(list(ref), TARGET), level)
    disc = (influence.dose @ weights).reshape(influence.grid.shape)
    m = dose_metrics(disc, influence.grid, {TARGET: masks[TARGET]})
    legs = "+".join(str(n) for n in r["legs"])
    print(
        f"{name:<30}{legs:>12}{r['opt_s']:>6.1f}"
        f"{terms.get(TARGET, 0):>8.4f}{terms.get('Core', 0):>8.4f}{terms.get('BODY', 0):>8.4f}"
        f"{m[TARGET].d95_gy / level:>7.3f}"
        f"{r['target_d95_rel']:>7.3f}{r['target_d5_rel']:>7.3f}{r['core_mean_rel']:>7.3f}"
        f"{r['ct_d95_rel']:>8.3f}{r['ct_d5_rel']:>7.3f}{r['ct_core_mean_rel']:>7.3f}",
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("npz")
    p.add_argument("particle")
    p.add_argument("--grid-mm", type=float, default=5.0)
    p.add_argument("--margin-mm", type=float, default=None)
    p.add_argument("--variants", nargs="+", default=None)
    args = p.parse_args()
    ct, structures, iso = load_exported(args.npz)
    t = time.perf_counter()
    kwargs = {} if args.margin_mm is None else {"target_margin_mm": args.margin_mm}
    plan, influence, _ = tg119_plan_and_dij(
        ct, structures, args.particle, target=TARGET, isocenter_mm=iso,
        spot_spacing_mm=5.0, dose_grid_mm=args.grid_mm, **kwargs,
    )  # fmt: skip
    print(
        f"{args.particle}: {plan.n_spots} spots, {influence.nnz / 1e6:.2f} M non-zeros, "
        f"set-up {time.perf_counter() - t:.1f} s"
    )
    print(
        f"{'variant':<30}{'iterations':>12}{'s':>6}{'f_tgt':>8}{'f_core':>8}{'f_body':>8}"
        f"{'discD95':>7}{'D95':>7}{'D5':>7}{'core':>7}{'ct D95':>8}{'D5':>7}{'core':>7}"
    )
    level = plan.prescription.dose_per_fraction_gy
    names = [s.name for s in structures]
    base = default_objectives(names, TARGET, level)
    tight = SolverOptions(progress=False, relative_tolerance=2.5e-4)
    long = SolverOptions(progress=False, max_iterations=500, relative_tolerance=0.0)
    variants = {
        "old bench (no halo leg, masks)": {"halo_leg": False, "occupancy": False},
        "no halo leg (occupancy)": {"halo_leg": False},
        "halo leg (as ionbeam plan)": {},
        "halo leg, masks": {"occupancy": False},
        "halo leg, gauss_newton": {"solver": SolverOptions(progress=False, scaling="gauss_newton")},
        "halo leg, masks, gauss_newton": {
            "occupancy": False,
            "solver": SolverOptions(progress=False, scaling="gauss_newton"),
        },
        "halo leg, rtol 2.5e-4": {"solver": tight},
        "halo leg, rtol 3e-3": {"solver": SolverOptions(progress=False, relative_tolerance=3e-3)},
        "halo leg, rtol 1e-2": {"solver": SolverOptions(progress=False, relative_tolerance=1e-2)},
        "halo leg, 500 it, no rule": {"solver": long},
        "no spot minimum": {"min_particles": 0.0},
        "target only": {"objectives": {TARGET: base[TARGET]}},
        "target only, 500 it": {"objectives": {TARGET: base[TARGET]}, "solver": long},
        "target+core": {"objectives": {k: v for k, v in base.items() if k != "BODY"}},
        "core weight x3": {
            "objectives": {**base, "Core": (SquaredOverdose(level / 2, weight=900.0),)}
        },
        "core weight x10": {
            "objectives": {**base, "Core": (SquaredOverdose(level / 2, weight=3000.0),)}
        },
        "target weight x10": {
            "objectives": {**base, TARGET: (SquaredDeviation(level, weight=10000.0),)}
        },
    }
    for name, kw in variants.items():
        if args.variants and name not in args.variants:
            continue
        run_variant(name, ct, structures, plan, influence, **kw)


if __name__ == "__main__":
    main()
