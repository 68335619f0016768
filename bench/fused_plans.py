"""The demo's two plans with the optimizer's one-pass evaluation and without (issue 16).

``ionbeam demo``'s plans (head phantom, protons with constant RBE and carbon with mMKM,
both optimized on the RBE-weighted dose with sub-voxels; :mod:`ionbeam.cli._demo`) are
planned twice: with the fused D·w / Dᵀ·g pass
(:mod:`ionbeam.planning.optimize.fused_pass`, the default) and with the two-pass
evaluation (``fused_terms`` patched to give no term table). Printed per plan: the
iterations and evaluations of each optimization leg, the optimization's wall and CPU
seconds, and the reported RBE-weighted dose's PTV D95 / D5 / mean and the brainstem's
maximum relative to the prescription; then the largest metric difference.

Usage: ``python bench/fused_plans.py [--quick]`` (``--quick``: the demo's quick grids).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before numba starts its threads


def plans(quick: bool, fused: bool) -> dict[str, tuple[str, dict[str, float]]]:
    """Per demo plan: (legs and times, relative metrics)."""
    from ionbeam.cli._demo import DEMO_PRESCRIPTION, _plan_both
    from ionbeam.evaluation import dose_metrics
    from ionbeam.planning.optimize import problem as problems

    saved = problems.fused_terms
    if not fused:
        problems.fused_terms = lambda *args, **kwargs: None
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        _, results = _plan_both(quick, lambda text: None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        problems.fused_terms = saved
    level = DEMO_PRESCRIPTION[0] / DEMO_PRESCRIPTION[1]
    out = {}
    for label, outcome in results.items():
        planning = outcome.planning
        dose = planning.rbe_dose_gy if planning.rbe_dose_gy is not None else planning.dose_gy
        masks = {k: planning.masks[k] for k in ("PTV", "Brainstem")}
        m = dose_metrics(dose, planning.grid, masks)
        legs = " + ".join(f"{r.nit}/{r.n_evaluations}" for r in planning.optimization)
        optimize_s = planning.timings_s.get("optimization_s", float("nan"))
        metrics = {
            "PTV D95": m["PTV"].d95_gy / level,
            "PTV D5": m["PTV"].d5_gy / level,
            "PTV mean": m["PTV"].mean_gy / level,
            "Brainstem max": m["Brainstem"].max_gy / level,
        }
        out[label] = (f"it/ev {legs}; optimization {optimize_s:.1f} s wall", metrics)
    print(f"  (both plans: {wall:.0f} s wall, {cpu:.0f} s CPU)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = {}
    for fused in (True, False):
        print(f"fused {'on' if fused else 'off'}:", flush=True)
        runs[fused] = plans(args.quick, fused)
        for label, (legs, metrics) in runs[fused].items():
            text = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            print(f"  {label:<8} {legs}; {text}", flush=True)
    for label in runs[True]:
        a, b = runs[True][label][1], runs[False][label][1]
        worst = max(abs(a[k] - b[k]) for k in a)
        print(f"{label}: largest metric difference fused on / off {worst:.5f}")


if __name__ == "__main__":
    main()
