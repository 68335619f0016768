"""Benchmark of the demo's planning: stage times, optimizer legs and plan quality.

Plans both ``ionbeam demo`` plans (head phantom, protons and carbon ions, 2 mm dose
grid) in this process through :func:`ionbeam.workflow.make_plan`, as the demo does, and
prints the planner's stage times (wall), the CPU time of each plan (all threads: on a
shared machine the wall time varies ±30 % or more), and each optimizer leg
(iterations, evaluations, final objective, time). ``--metrics FILE`` writes each
plan's metrics document (``metrics.json`` of the demo's plan folders); ``--compare
FILE`` prints the differences from such a file (% of the prescription) and whether
the clinical goals pass as before. Run it once first (or pass ``--warm-up``) so that
numba's cache and the beam models exist.

Usage: python bench/demo_planning.py [--warm-up] [--metrics FILE] [--compare FILE]

Measured on the 2-core development machine, 7 Dec 2026, warm, with other jobs running
(load average 7-12: wall times are 2-3x the CPU times, so the CPU time of this process,
all threads, is the figure to compare), before (44a3749) and after (issue 16's
optimizer/halo changes) in alternating runs; CPU s per stage (wall s in brackets):

==============================  ===================  ===================
stage                           before               after
==============================  ===================  ===================
protons optimization            7.2 (19.9)           6.2 (13.7)
protons halo re-optimization    4.4 (10.9)           4.5 (8.5)
protons final dose              2.4 (6.1)            0.0 (0.0)
carbon optimization             10.2 (27.4)          8.3 (20.6)
carbon halo re-optimization     5.9 (15.6)           6.0 (12.8)
carbon final dose               3.7 (8.4)            0.0 (0.1)
planning, both plans            41.1 (110)           31.6 (69)
==============================  ===================  ===================

Other runs, planning CPU s both plans: before 41.4, 46.0, 41.6, 45.3; after 33.4, 33.3.
Iterations (legs) and final objective: the same before and after (protons 110 + 10,
0.4167; carbon 107 + 12, 0.7975); one evaluation fewer per leg. Plan metrics within
0.005 % of the prescription, clinical goals the same (``--compare``). The halo stage
now holds both halo calculations (the first leg's weights, and the final weights',
which the final dose reuses).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

_METRICS = ("mean_gy", "d98_gy", "d95_gy", "d50_gy", "d5_gy", "d2_gy", "max_gy")


def _plan_both() -> dict[str, Any]:
    """Both demo plans, each with its CPU time and the planner's stage lines."""
    from ionbeam.cli import _demo

    lines: list[str] = []
    last = [time.process_time()]

    def stage(line: str) -> None:  # each stage's CPU time (all threads) beside its wall
        now = time.process_time()
        if " done in " in line:
            lines.append(f"{line} wall, {now - last[0]:.1f} s CPU")
        last[0] = now

    start, cpu = time.perf_counter(), time.process_time()
    _, results = _demo._plan_both(False, stage)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    for line in lines:
        print(f"  {line}")
    print(f"planning, both plans: {wall:.1f} s wall, {cpu:.1f} s CPU")
    return results


def _legs(results: dict[str, Any]) -> None:
    for label, outcome in results.items():
        for k, r in enumerate(outcome.planning.optimization):
            print(
                f"  {label} leg {k + 1}: {r.nit} iterations, {r.n_evaluations} evaluations, "
                f"objective {r.fun:.5f}, {r.time_s:.2f} s"
            )


def _documents(results: dict[str, Any]) -> dict[str, Any]:
    from ionbeam.workflow.evaluation import metrics_document
    from ionbeam.workflow.outputs import to_jsonable

    return {label: to_jsonable(metrics_document(o)) for label, o in results.items()}


def _halo_delta(results: dict[str, Any]) -> None:
    """The default halo correction against the reference one at each plan's final weights:
    largest |difference| of the dose (% of the prescription per fraction) and its time."""
    from _halo_reference import largest_difference, reference_of

    for label, outcome in results.items():
        planning = outcome.planning
        halo, weights = planning.influence.halo, planning.plan.weights
        rx = planning.plan.prescription.dose_per_fraction_gy
        times = []
        terms = []
        for field in (dataclasses.replace(halo), reference_of(halo)):  # fresh caches
            cpu = time.process_time()
            terms.append(field.correction(weights))
            times.append(time.process_time() - cpu)
        delta = largest_difference(*terms)
        top = float(planning.dose_gy.max())
        print(f"  {label} halo correction: default {times[0]:.2f} CPU s, reference "
              f"{times[1]:.2f}; largest |physical dose difference| {100 * delta['dose'] / top:.3f} "
              f"% of the largest physical dose ({top:.3g} Gy; prescription {rx:g})")  # fmt: skip


def _compare(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Largest metric change per plan (% of the prescription) and the goals' pass/fail."""
    for label, old in before.items():
        new = after[label]
        rx = float(old["prescription_gy"])
        changes = [
            (100.0 * (new["structures"][s][m] - old["structures"][s][m]) / rx, s, m)
            for s in old["structures"]
            for m in _METRICS
        ]
        worst = max(changes, key=lambda c: abs(c[0]))
        target = old["target"]
        ptv = ", ".join(f"{m} {c:+.3f}" for c, s, m in changes if s == target and m in _METRICS[:5])
        goals = [
            (g["structure"], g["metric"], g["met"], h["met"])
            for g, h in zip(old["goals"]["goals"], new["goals"]["goals"], strict=True)
        ]
        flipped = [f"{s} {m}" for s, m, a, b in goals if a != b]
        print(f"{label}: {target} ({ptv}) % of Rx; largest change {worst[0]:+.3f} % "
              f"({worst[1]} {worst[2]}); goals changed: {flipped or 'none'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warm-up", action="store_true", help="one untimed planning first")
    parser.add_argument("--metrics", type=Path, help="write the plans' metrics here (JSON)")
    parser.add_argument("--compare", type=Path, help="metrics JSON of another run")
    parser.add_argument(
        "--reference-halo",
        action="store_true",
        help="plan with the reference halo correction (bench/_halo_reference.py)",
    )
    parser.add_argument(
        "--halo-delta",
        action="store_true",
        help="the reference correction's difference at the final weights",
    )
    args = parser.parse_args()
    if args.reference_halo:
        from _halo_reference import use_reference_halo

        use_reference_halo()
    if args.warm_up:
        _plan_both()
    results = _plan_both()
    _legs(results)
    if args.halo_delta:
        _halo_delta(results)
    documents = _documents(results)
    if args.metrics is not None:
        args.metrics.write_text(json.dumps(documents, indent=1))
    if args.compare is not None:
        _compare(json.loads(args.compare.read_text()), documents)


if __name__ == "__main__":
    main()
