"""Is a TG-119 plan optimized on a 2 mm dose grid worse than one on 3 mm, or only judged
on a sharper dose? (issue 16; a diagnostic, not a test)

pyRadPlan's TG-119 CT (``bench/compare_pyradplan.py --workdir``), 5 mm spots placed on
the CT (the same spots whatever the dose grid), dose influence on each of ``--grids``;
each grid's plan optimized as ``ionbeam plan`` does (``bench/_tg119_optimize.py``:
occupancies, overlap priority, halo leg, spot limits), then **every plan's weights
recomputed on every grid** (the reported dose, full-width halo) and judged on the CT
grid (trilinear to the CT voxels, the CT's own masks): target D95 / D5 and core mean
relative to the prescription. If the 3 mm plan recomputed on the 2 mm grid is no better
than the 2 mm plan there, the 2 mm plan is not worse: the 3 mm dose only smooths it.

Usage: python bench/_tg119_cross_grid.py NPZ [--particle proton] [--grids 3 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

from _tg119 import load_exported, tg119_plan_and_dij
from _tg119_optimize import TARGET, ct_grid_metrics, optimize_tg119


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("npz")
    p.add_argument("--particle", default="proton")
    p.add_argument("--grids", nargs="+", type=float, default=[3.0, 2.0])
    args = p.parse_args()
    ct, structures, iso = load_exported(args.npz)
    influences, weights, spots = {}, {}, None
    for grid_mm in args.grids:
        t = time.perf_counter()
        plan, influence, _ = tg119_plan_and_dij(
            ct, structures, args.particle, target=TARGET, isocenter_mm=iso,
            spot_spacing_mm=5.0, dose_grid_mm=grid_mm,
        )  # fmt: skip
        here = np.concatenate(
            [np.r_[b.spots.energy_mev_u, b.spots.x_mm, b.spots.y_mm] for b in plan.beams]
        )
        if spots is not None and not np.array_equal(here, spots):
            raise SystemExit("the spots differ between grids: the comparison needs the same")
        spots = here
        r = optimize_tg119(plan, influence, structures, ct_grid=ct.grid)
        print(
            f"{grid_mm:g} mm: {plan.n_spots} spots, {influence.nnz / 1e6:.1f} M non-zeros, "
            f"{'+'.join(map(str, r['legs']))} iterations, {time.perf_counter() - t:.0f} s; "
            f"own grid {r['target_d95_rel']:.3f} / {r['target_d5_rel']:.3f} / "
            f"{r['core_mean_rel']:.3f}",
            flush=True,
        )
        influences[grid_mm], weights[grid_mm] = influence, r["weights"]
    level = plan.prescription.dose_per_fraction_gy
    print("CT-grid D95 / D5 / core mean of each plan (rows) recomputed on each dose grid:")
    print(f"{'plan':<12}" + "".join(f"{f'on {g:g} mm':>24}" for g in args.grids))
    for plan_mm, w in weights.items():
        cells = []
        for influence in influences.values():
            m = ct_grid_metrics(influence.dose_gy(w), influence.grid, ct.grid, structures, level)
            cells.append(f"{m['d95']:.3f} / {m['d5']:.3f} / {m['core_mean']:.3f}")
        print(f"{f'{plan_mm:g} mm':<12}" + "".join(f"{c:>24}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
