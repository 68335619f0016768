"""What the plain pencil beam's lateral range mixing costs (``DoseEngineOptions.range_mixing``).

Prints, for the lung phantom's IMPT plan (``bench/lung_d95.py``'s) and a TG-119 proton plan
(three beams, 3 mm grid): the dose-influence matrix and the matrix-free forward dose, wall
and CPU seconds (summed over threads), without and with range mixing, after one untimed
warm-up of each (numba's kernels are cached on disk, as in normal use).

Usage: python bench/range_mixing_cost.py [--rounds 1]

Measured (mixfast, 8 December 2026; two rounds, load 9–12 on 2 shared cores, CPU s, plain →
mixed): lung matrix 1.16, 1.13 → 1.66, 1.79; lung forward dose 3.04, 2.74 → 3.72, 4.13;
TG-119 matrix 3.56, 3.53 → 5.05, 5.03; TG-119 forward dose 7.35, 7.36 → 11.28, 11.49
(main before it: lung matrix 1.36, 1.40 → 5.19, 5.15). docs/validation.md, "Range mixing's
cost".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "mcsquare"), str(HERE)]
from _plans import lung_plan  # noqa: E402

from ionbeam.planning.dose_engine import (  # noqa: E402
    DoseEngineOptions,
    calc_dose,
    calc_dose_influence,
)


def tg119_case():
    """TG-119 with three proton beams on a 3 mm grid (spots placed by ionbeam)."""
    from _tg119 import tg119_plan_and_dij
    from ionbeam.patient.phantoms import make_phantom

    patient = make_phantom("tg119", spacing_mm=3.0)
    structures = list(patient.structures.values())
    plan, _, _ = tg119_plan_and_dij(
        patient.ct, structures, "proton", target="OuterTarget",
        isocenter_mm=patient.structures["OuterTarget"].centroid_mm,
        spot_spacing_mm=5.0, dose_grid_mm=3.0,
    )  # fmt: skip
    from _tg119 import beam_model_for

    plan = plan.with_weights(np.ones(plan.n_spots))
    return patient.ct, plan, beam_model_for("proton"), structures, patient.grid


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    lung = lung_plan()
    cases = {
        "lung IMPT": (lung.ct, lung.plan, lung.model, lung.structures, lung.dose_grid),
        "TG-119 protons": tg119_case(),
    }
    print(f"{'case':<16}{'what':<14}{'mixing':>7}{'wall s':>8}{'CPU s':>8}")
    for name, (ct, plan, model, structures, grid) in cases.items():
        for what, fn in (("matrix", calc_dose_influence), ("forward dose", calc_dose)):
            for mixing in (False, True):
                options = DoseEngineOptions(with_let=False, range_mixing=mixing)

                def run(fn=fn, options=options, case=(ct, plan, model, structures, grid)) -> None:
                    fn(*case[:3], dose_grid=case[4], structures=case[3], options=options)

                run()  # warm-up
                for _ in range(args.rounds):
                    wall, cpu = timed(run)
                    print(f"{name:<16}{what:<14}{mixing!s:>7}{wall:>8.2f}{cpu:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
