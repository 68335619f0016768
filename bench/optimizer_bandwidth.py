"""One optimizer evaluation against the memory-bandwidth bound (TG-119; a benchmark).

The optimizer's value-and-gradient reads its only copy of the dose-influence rows (float32
values, uint16 / int32 spot indices, ``planning/optimize/_product_kernels.py``) once for D·w
and once more for Dᵀ·g over the rows with a non-zero gradient. The bound is the time to
stream the same bytes with the same threads: a numba kernel that sums every value and index
of the rows, twice (what D·w and a full Dᵀ·g must at least read). Printed: non-zeros, bytes
per entry, the measured streaming bandwidth, the bound, the median evaluation time (20
evaluations at the uniform starting weights, after a warm-up) and their ratio; the machine's
load average (the ratio is only meaningful on a quiet machine).

Usage: ``python bench/optimizer_bandwidth.py [--grid-mm 3] [--particle proton]``
(ionbeam's TG-119 phantom, three beams, 5 mm spots).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_WAIT_POLICY", "passive")


@numba.njit(parallel=True, fastmath=True, cache=True)
def _stream(values: np.ndarray, indices: np.ndarray, chunks: int) -> float:
    """Σ values + Σ indices, read in ``chunks`` parallel blocks (a bandwidth probe; two
    independent, vectorizable sums per block, so that arithmetic does not bound it)."""
    n = values.size
    partial = np.zeros(chunks)
    for c in numba.prange(chunks):
        lo, hi = c * n // chunks, (c + 1) * n // chunks
        a = np.float32(0.0)
        b = 0
        for p in range(lo, hi):
            a += values[p]
        for p in range(lo, hi):
            b += indices[p]
        partial[c] = a + b
    return partial.sum()


def _median_s(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grid-mm", type=float, default=3.0)
    parser.add_argument("--particle", default="proton")
    args = parser.parse_args()
    from _tg119 import tg119_plan_and_dij
    from ionbeam.patient.phantoms import make_phantom
    from ionbeam.planning.dose_grid import occupancy_on_grid
    from ionbeam.planning.optimize import PhysicalDose
    from ionbeam.planning.optimize.problem import build_problem
    from ionbeam.planning.optimize.templates import (
        default_objectives,
        optimization_masks,
        overlap_priority,
    )

    patient = make_phantom("tg119", spacing_mm=args.grid_mm)
    structures = list(patient.structures.values())
    target = "OuterTarget"
    plan, influence, _ = tg119_plan_and_dij(
        patient.ct, structures, args.particle, target=target,
        isocenter_mm=patient.structures[target].centroid_mm,
        spot_spacing_mm=5.0, dose_grid_mm=args.grid_mm,
    )  # fmt: skip
    level = plan.prescription.dose_per_fraction_gy
    objectives = default_objectives([s.name for s in structures], target, level)
    order = overlap_priority(list(objectives), target)
    masks = optimization_masks(occupancy_on_grid(structures, influence.grid), order)
    problem = build_problem(influence, masks, objectives, quantity=PhysicalDose(), reference=target)
    rows = problem.rows
    values, indices = rows.values["dose"], rows.row_indices
    nnz = values.size
    entry_bytes = values.itemsize + indices.itemsize
    chunks = 8 * numba.get_num_threads()
    _stream(values, indices, chunks)  # compile
    stream_s = _median_s(lambda: _stream(values, indices, chunks), 20)
    bandwidth = nnz * entry_bytes / stream_s
    bound_s = 2.0 * stream_s
    x = np.ones(problem.n_spots)
    problem.value_and_gradient(x)  # compile, warm
    eval_s = _median_s(lambda: problem.value_and_gradient(x), 20)
    print(
        f"TG-119 {args.particle}, {args.grid_mm:g} mm grid: {problem.n_spots} spots, "
        f"{rows.n_voxels} rows, {nnz / 1e6:.2f} M non-zeros, {entry_bytes} B/entry, "
        f"{numba.get_num_threads()} threads"
    )
    print(
        f"stream {bandwidth / 1e9:.1f} GB/s; bound (two reads) {1e3 * bound_s:.2f} ms; "
        f"evaluation {1e3 * eval_s:.2f} ms; ratio {eval_s / bound_s:.2f}; "
        f"load {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
