"""An optimizer iteration against this machine's memory-bandwidth bound (issue 16).

1. **Bandwidth**: STREAM-like numba kernels on float64 arrays far larger than the
   caches — *read* (Σ a, 8 B per element) and *triad* (a = b + s·c, 24 B per element,
   STREAM's convention: the write counted once) — with 1 and 2 numba threads; the
   best of ``--stream-repeats`` runs (STREAM's rule), at several array sizes.
2. **Bytes**: one IMPT optimization of TG-119 runs as ``ionbeam plan`` runs it
   (occupancies, overlap priority, the full-width halo's correction held in a second
   leg, the spot-limit polish); every objective-and-gradient evaluation's spot
   weights are recorded with the problem it was asked of. Replaying them with the
   sparse kernels wrapped counts exactly what each product touches: D·w reads only
   the rows that row skipping keeps (:mod:`ionbeam.planning.optimize.row_skip`),
   Dᵀ·g only the rows with a non-zero gradient; per row touched its pointer (8 B),
   per entry its value (4 B float32, per matrix) and spot index (2 B uint16 / 4 B
   int32), per row its output or gradient (8 B) and, for a subset, its row number
   (8 B), plus the spot vector (8 B per spot, read or written once). The scatter's 16
   partial sums (zeroed, then summed: 2 × 16 × 8 B per spot) are the implementation's
   own traffic, printed apart and not in the bound.
3. **Time**: the same evaluations replayed uninstrumented, ``--repeats`` times, with 1
   and 2 threads; per evaluation the median over the repeats, summed: the products
   alone (the kernels) and the whole evaluation (products + objectives + row-skip
   bookkeeping in numpy). Bound = bytes / read bandwidth of the same thread count;
   also the products' CPU seconds (all threads, / threads) against the read bandwidth
   per CPU second, which holds steady on a loaded machine where wall figures do not,
   and the fastest of the replays. Before the replays, the kernels' own speed: ns per
   entry of D·w and Dᵀ·g on a few MB of rows (in cache), one thread, best of 50.

The load average is printed before and after: on a shared machine the ratio is only as
good as the machine is quiet (2-thread kernels slow 4-5× under load). Figures of
7 December 2026: ``docs/validation.md`` (issue 16, optiter).

Usage: ``python bench/optimizer_bandwidth.py [--particles proton carbon] [--grid-mm 3]
[--npz pyRadPlan's tg119_proton.npz] [--repeats 5] [--threads 1 2] [--cache PREFIX]
[--paths two fused]``
(``--cache``: keep the recorded evaluations in PREFIX_<particle>.pkl and replay them
from there next time, with no dose influence to compute.)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before numba starts its threads

import numba
import numpy as np
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
TARGET = "OuterTarget"
PRODUCT_KERNELS = (
    "rows_dot",
    "rows_dot_subset",
    "rows_dot_pair",
    "rows_dot_pair_subset",
    "active_rows_scatter",
    "fused_rows",
)


# ---------------------------------------------------------------- bandwidth


@numba.njit(parallel=True, cache=True, fastmath=True)  # reassociated: vectorized, not
def _read(a: np.ndarray) -> float:
    s = 0.0  # latency-bound on one add chain (~6 GB/s here), so not a bandwidth
    for i in numba.prange(a.size):
        s += a[i]
    return s


@numba.njit(parallel=True, cache=True)
def _triad(a: np.ndarray, b: np.ndarray, c: np.ndarray, scalar: float) -> None:
    for i in numba.prange(a.size):
        a[i] = b[i] + scalar * c[i]


def stream(size_mb: float, threads: int, repeats: int) -> tuple[float, float, float]:
    """(read, triad, read per CPU second) bandwidth in GB/s (10⁹ B/s), best of
    ``repeats``, on arrays of ``size_mb`` MB each (float64); the last: bytes over the
    CPU seconds of all threads, × threads (what the kernel streams while it runs)."""
    n = int(size_mb * 1e6 / 8)
    b = np.random.default_rng(0).random(n)
    c = np.ones(n)
    a = np.empty(n)
    numba.set_num_threads(threads)
    _read(b[:1000])
    _triad(a[:1000], b[:1000], c[:1000], 3.0)
    best_read = best_triad = best_cpu = np.inf
    for _ in range(repeats):
        t, cpu = time.perf_counter(), time.process_time()
        _read(b)
        best_read = min(best_read, time.perf_counter() - t)
        best_cpu = min(best_cpu, (time.process_time() - cpu) / threads)
        t = time.perf_counter()
        _triad(a, b, c, 3.0)
        best_triad = min(best_triad, time.perf_counter() - t)
    return 8 * n / best_read / 1e9, 24 * n / best_triad / 1e9, 8 * n / best_cpu / 1e9


# ---------------------------------------------------------------- the problem


def build(particle: str, grid_mm: float, npz: str | None):
    """(structures, plan, influence, ct grid) of TG-119: ionbeam's phantom (CNAO spot
    spacing) or pyRadPlan's exported CT (5 mm spots)."""
    from _tg119 import beam_model_for, load_exported, tg119_plan_and_dij
    from ionbeam.patient.phantoms import make_phantom

    if npz is not None:
        ct, structures, iso = load_exported(npz)
        spacing = 5.0
    else:
        patient = make_phantom("tg119", spacing_mm=grid_mm)
        ct, structures = patient.ct, list(patient.structures.values())
        iso = patient.structures[TARGET].centroid_mm
        model = beam_model_for(particle)
        middle = float(model.energies_mev_u[model.n_energies // 2])
        spacing = round(float(model.beam_line.sigma_air_mm(particle, middle)), 1)
    plan, influence, _ = tg119_plan_and_dij(
        ct, structures, particle, target=TARGET, isocenter_mm=iso,
        spot_spacing_mm=spacing, dose_grid_mm=grid_mm,
    )  # fmt: skip
    return structures, plan, influence


def record(structures, plan, influence) -> tuple[list, list]:
    """Optimize as the planner does; (calls, results): calls = [(problem, x), …] of
    every evaluation in order."""
    from ionbeam.machine import cnao_machine
    from ionbeam.planning.dose_grid import occupancy_on_grid
    from ionbeam.planning.optimize import PhysicalDose, SolverOptions
    from ionbeam.planning.optimize.problem import OptimizationProblem
    from ionbeam.planning.optimize.templates import default_objectives, overlap_priority
    from ionbeam.planning.optimize.weights import optimize_impt
    from ionbeam.planning.planner import _as_offsets

    calls: list = []
    original = OptimizationProblem.value_and_gradient

    def recorded(self, x):
        calls.append((self, np.array(x, dtype=np.float64)))
        return original(self, x)

    names = [s.name for s in structures]
    level = plan.prescription.dose_per_fraction_gy
    limits = cnao_machine().spot_limit(plan.particle)
    fractions = occupancy_on_grid(list(structures), influence.grid)
    OptimizationProblem.value_and_gradient = recorded
    try:
        _, results = optimize_impt(
            influence, fractions, default_objectives(names, TARGET, level),
            quantity=PhysicalDose(), plan=plan, target=TARGET, level=level,
            priority=overlap_priority(names, TARGET), solver=SolverOptions(progress=False),
            min_particles=limits.min_particles, max_particles=limits.max_particles,
            offsets=lambda w: _as_offsets(influence.halo.correction(w)),
        )  # fmt: skip
    finally:
        OptimizationProblem.value_and_gradient = original
    return calls, list(results)


def _reset(calls: list) -> None:
    """Every row-skip state back to 'no reference yet', as at its first use."""
    for skip in {id(p.skip): p.skip for p, _ in calls if p.skip is not None}.values():
        skip.w_ref, skip.p_ref = None, None


# ---------------------------------------------------------------- counting


class Counter:
    """Wraps the product kernels: bytes each call must move, its wall time."""

    def __init__(self, kernels_module):
        self.module = kernels_module
        self.saved = {name: getattr(kernels_module, name) for name in PRODUCT_KERNELS}
        self.bytes: dict[str, float] = defaultdict(float)
        self.entries: dict[str, float] = defaultdict(float)
        self.overhead = 0.0  # the scatter's partial sums
        self.calls: dict[str, int] = defaultdict(int)

    def __enter__(self):
        for name, kernel in self.saved.items():
            setattr(self.module, name, self._wrap(name, kernel))
        return self

    def __exit__(self, *exc):
        for name, kernel in self.saved.items():
            setattr(self.module, name, kernel)

    def _wrap(self, name, kernel):
        def wrapped(*args):
            out = kernel(*args)
            self._count(name, args)
            return out

        return wrapped

    def _count(self, name: str, args) -> None:
        if name == "fused_rows":
            self._count_fused(args)
            return
        indptr, indices = args[0], args[1]
        lengths = np.diff(indptr)
        n_values = 2 if "pair" in name else 1
        if name == "active_rows_scatter":
            rows, with_b, n_minor, n_chunks = args[4], args[7], args[8], args[9]
            n_values = 2 if with_b else 1
            n_rows = rows.size
            entries = float(lengths[rows].sum())
            per_row = 8 + 8 + 8 * n_values  # row number, pointer, gradient(s)
            spot_vector = 8 * n_minor  # the result
            self.overhead += 2 * 8 * n_chunks * n_minor
        else:
            x = args[4] if "pair" in name else args[3]
            rows = args[-1] if name.endswith("subset") else None
            n_rows = lengths.size if rows is None else rows.size
            entries = float(indices.size if rows is None else lengths[rows].sum())
            per_row = 8 + 8 * n_values + (8 if rows is not None else 0)
            spot_vector = 8 * x.size
        per_entry = indices.itemsize + n_values * args[2].itemsize
        self.bytes[name] += entries * per_entry + n_rows * per_row + spot_vector
        self.entries[name] += entries
        self.calls[name] += 1

    def _count_fused(self, args) -> None:
        """The one-pass evaluation: each row read once (pointer, row number, entries,
        its product(s) written), the spot vector read and the gradient written; the
        chunks' partial sums and the per-voxel term table printed apart."""
        (indptr, indices, a, _, with_b), x, rows, chunk_rows = args[:4]
        terms = args[5]
        lengths = np.diff(indptr)
        n_values = 2 if with_b else 1
        entries = float(lengths[rows].sum())
        per_entry = indices.itemsize + n_values * a.itemsize
        per_row = 8 + 8 + 8 * n_values
        self.bytes["fused_rows"] += entries * per_entry + rows.size * per_row + 16 * x.size
        self.entries["fused_rows"] += entries
        self.overhead += 2 * 8 * (chunk_rows.size - 1) * x.size
        n_terms = float(np.diff(terms[0])[rows].sum())
        self.overhead += rows.size * 8 + n_terms * 24  # term pointers, kind, level, weight
        self.calls["fused_rows"] += 1


def time_replay(calls: list, kernels_module, threads: int, repeats: int) -> dict[str, float]:
    """Seconds per whole optimization — ``products`` (the kernels, wall), ``products_cpu``
    (their CPU seconds over all threads, / threads), ``evaluation`` (wall) — per
    evaluation the median over ``repeats`` replays, summed; ``…_best``: the fastest
    replay of each evaluation instead (the least disturbed by other work)."""
    numba.set_num_threads(threads)
    keys = ("products", "cpu", "whole", "whole_cpu")
    times = {key: np.zeros((repeats, len(calls))) for key in keys}
    timer = {"t": 0.0, "cpu": 0.0}
    saved = {name: getattr(kernels_module, name) for name in PRODUCT_KERNELS}

    def timed(kernel):
        def wrapped(*args):
            t, cpu = time.perf_counter(), time.process_time()
            out = kernel(*args)
            timer["t"] += time.perf_counter() - t
            timer["cpu"] += time.process_time() - cpu
            return out

        return wrapped

    try:
        for name, kernel in saved.items():
            setattr(kernels_module, name, timed(kernel))
        with threadpool_limits(limits=1, user_api="blas"):  # as in the solver
            for r in range(repeats):
                _reset(calls)
                for k, (problem, x) in enumerate(calls):
                    timer["t"] = timer["cpu"] = 0.0
                    t, cpu = time.perf_counter(), time.process_time()
                    problem.value_and_gradient(x)
                    times["whole"][r, k] = time.perf_counter() - t
                    times["whole_cpu"][r, k] = (time.process_time() - cpu) / threads
                    times["products"][r, k] = timer["t"]
                    times["cpu"][r, k] = timer["cpu"] / threads
    finally:
        for name, kernel in saved.items():
            setattr(kernels_module, name, kernel)
    medians = {key: float(np.median(v, axis=0).sum()) for key, v in times.items()}
    best = {key: float(np.min(v, axis=0).sum()) for key, v in times.items()}
    return {"products": medians["products"], "products_cpu": medians["cpu"],
            "evaluation": medians["whole"], "evaluation_cpu": medians["whole_cpu"],
            "products_best": best["products"],
            "evaluation_best": best["whole"]}  # fmt: skip


def ceiling(rows, x: np.ndarray, entries: float = 5e5, repeats: int = 50) -> dict[str, float]:
    """ns per entry of D·w and Dᵀ·g on the first rows holding ~``entries`` entries (a few
    MB, in cache), one thread, best of ``repeats``: the kernels' own speed limit, apart
    from memory."""
    from ionbeam.planning.optimize import _product_kernels as kernels

    numba.set_num_threads(1)
    n = int(np.searchsorted(rows.row_indptr, entries)) or 1
    indptr = rows.row_indptr[: n + 1]
    count = float(indptr[-1])
    values = rows.values[next(iter(rows.values))]
    g = np.ones(rows.n_voxels)
    active = np.arange(n)
    chunk_rows = np.array([0, n], dtype=np.int64)
    matrix = (rows.row_indptr, rows.row_indices, values, values, False)
    zeros, unused = np.zeros(rows.n_voxels), np.zeros(1)
    quantity = (kernels.LINEAR, 1.0, zeros, zeros, unused, unused, unused)
    one = np.arange(rows.n_voxels + 1, dtype=np.int64)
    ones = np.ones(rows.n_voxels)

    def terms(kind: int, level: float) -> tuple:
        return one, np.full(rows.n_voxels, kind, dtype=np.int64), level * ones, ones

    every, none = terms(kernels.DEVIATION, 0.0), terms(kernels.OVERDOSE, np.inf)
    runs = {
        "D·w": lambda: kernels.rows_dot(indptr, rows.row_indices, values, x),
        "Dᵀ·g": lambda: kernels.active_rows_scatter(
            rows.row_indptr, rows.row_indices, values, values, active, g, g, False,
            rows.n_spots, 16,
        ),
        "fused, every row scattered": lambda: kernels.fused_rows(
            matrix, x, active, chunk_rows, quantity, every, rows.n_voxels, 1, False
        ),
        "fused, none scattered": lambda: kernels.fused_rows(
            matrix, x, active, chunk_rows, quantity, none, rows.n_voxels, 1, False
        ),
    }  # fmt: skip
    out = {}
    for name, run in runs.items():
        run()
        best = np.inf
        for _ in range(repeats):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
        out[name] = best / count * 1e9
    return out


def measure(calls: list, bandwidth: dict, args, kernels) -> None:
    """Bytes each evaluation must move, then the replays' time against that bound."""
    with Counter(kernels) as counter, threadpool_limits(limits=1, user_api="blas"):
        _reset(calls)
        for problem, x in calls:
            problem.value_and_gradient(x)
    total = sum(counter.bytes.values())
    n = len(calls)
    rows = calls[0][0].rows
    for name in PRODUCT_KERNELS:
        if counter.calls[name]:
            print(f"    {name:<22}{counter.calls[name]:>5} calls  "
                  f"{counter.entries[name] / n / 1e6:7.2f} M entries and "
                  f"{counter.bytes[name] / n / 1e6:7.1f} MB per evaluation")  # fmt: skip
    print(f"    must move {total / n / 1e6:.1f} MB per evaluation (a full D·w: "
          f"{rows.nnz * (rows.row_indices.itemsize + 4) / 1e6:.1f} MB); partial sums "
          f"(and any term table) {counter.overhead / n / 1e6:.1f} MB more")  # fmt: skip
    for threads in args.threads:
        before = load()
        s = time_replay(calls, kernels, threads, args.repeats)
        bound = total / (bandwidth[threads][0] * 1e9)
        bound_cpu = total / (bandwidth[threads][1] * 1e9)
        print(
            f"    {threads} thread(s), per evaluation: products {s['products'] / n * 1e3:6.2f}"
            f" ms, whole evaluation {s['evaluation'] / n * 1e3:6.2f} ms, bound "
            f"{bound / n * 1e3:6.2f} ms: products / bound {s['products'] / bound:.2f}, "
            f"evaluation / bound {s['evaluation'] / bound:.2f}; in CPU seconds: products "
            f"{s['products_cpu'] / n * 1e3:6.2f} ms, bound {bound_cpu / n * 1e3:6.2f} ms, "
            f"ratio {s['products_cpu'] / bound_cpu:.2f}, evaluation "
            f"{s['evaluation_cpu'] / n * 1e3:6.2f} ms; fastest replays: products / bound "
            f"{s['products_best'] / bound:.2f}, evaluation / bound "
            f"{s['evaluation_best'] / bound:.2f} (load {before} → {load()})",
            flush=True,
        )


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--particles", nargs="+", default=["proton", "carbon"])
    parser.add_argument("--grid-mm", type=float, default=3.0)
    parser.add_argument("--npz", default=None, help="pyRadPlan's exported TG-119 (5 mm spots)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--stream-mb", nargs="+", type=float, default=[64.0, 512.0, 2048.0])
    parser.add_argument("--stream-repeats", type=int, default=10)
    parser.add_argument("--cache", default=None, help="keep the recorded evaluations here")
    parser.add_argument("--paths", nargs="+", choices=["two", "fused"], default=["two", "fused"])
    args = parser.parse_args()
    from ionbeam.planning.optimize import _product_kernels as kernels
    from ionbeam.planning.optimize.fused_pass import fused_terms

    print(f"load average {load()}; numba threads available {numba.config.NUMBA_NUM_THREADS}")
    bandwidth: dict[int, tuple[float, float]] = {}
    for threads in args.threads:
        for size in args.stream_mb:
            read, triad, read_cpu = stream(size, threads, args.stream_repeats)
            print(f"  stream {threads} thread(s), {size:6.0f} MB arrays: read {read:6.2f} "
                  f"GB/s, triad {triad:6.2f} GB/s; read per CPU s {read_cpu:6.2f} GB/s",
                  flush=True)  # fmt: skip
        bandwidth[threads] = (read, read_cpu)  # the largest arrays: memory, not cache
    for particle in args.particles:
        numba.set_num_threads(max(args.threads))
        t = time.perf_counter()
        cache = None if args.cache is None else Path(f"{args.cache}_{particle}.pkl")
        if cache is not None and cache.exists():
            with cache.open("rb") as f:
                calls, legs, n_spots, nnz = pickle.load(f)
        else:
            structures, plan, influence = build(particle, args.grid_mm, args.npz)
            calls, results = record(structures, plan, influence)
            legs = " + ".join(str(r.nit) for r in results)
            n_spots, nnz = plan.n_spots, influence.nnz
            del influence
            if cache is not None:
                with cache.open("wb") as f:
                    pickle.dump((calls, legs, n_spots, nnz), f)
        rows = calls[0][0].rows
        print(
            f"\nTG-119 {particle}, {args.grid_mm:g} mm: {n_spots} spots, "
            f"{nnz / 1e6:.1f} M non-zeros, kept rows {rows.n_voxels} with "
            f"{rows.nnz / 1e6:.2f} M entries ({rows.row_indices.dtype}, "
            f"{rows.nbytes / 1e6:.0f} MB); {legs} iterations, {len(calls)} evaluations "
            f"(set-up and recording {time.perf_counter() - t:.0f} s)",
            flush=True,
        )
        limit = ceiling(rows, calls[-1][1] * calls[-1][0].weight_unit)
        per_entry = (rows.row_indices.itemsize + 4) / (bandwidth[1][1] * 1e9) * 1e9
        print(
            "  in cache, 1 thread: "
            + ", ".join(f"{k} {v:.2f} ns" for k, v in limit.items())
            + f" per entry; memory (1 thread's read per CPU s): {per_entry:.2f} ns per entry"
        )
        # the term tables as this version builds them (a cache may hold older ones)
        fresh = {id(p): dataclasses.replace(p, fused=fused_terms(p.terms, p.rows, p.bound))
                 for p, _ in calls}  # fmt: skip
        calls = [(fresh[id(p)], x) for p, x in calls]
        two = {id(p): dataclasses.replace(p, fused=None) for p, _ in calls}
        variants = {
            "two passes (D·w, then Dᵀ·g)": [(two[id(p)], x) for p, x in calls],
            "one fused pass": calls,
        }
        for path, (label, replayed) in zip(("two", "fused"), variants.items(), strict=True):
            if path not in args.paths:
                continue
            if label == "one fused pass" and calls[0][0].fused is None:
                print("  (no fused pass: the problem has a non-separable objective)")
                continue
            print(f"  {label}:")
            measure(replayed, bandwidth, args, kernels)
        del calls


if __name__ == "__main__":
    main()
