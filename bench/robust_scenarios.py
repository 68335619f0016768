"""Scenario throughput: the 9 (or 21) scenario doses of one plan, serially and on a Dask
LocalCluster of 1 and 2 workers (issue 13).

Plans the head phantom (protons, two lateral fields, coarse settings) once, then times
:func:`ionbeam.planning.robust.cluster.scenario_doses` serially in this process and on
LocalClusters of N single-threaded worker processes (numba inside each worker uses its
own threads), after one untimed warm-up scenario per run; checks that every cluster
dose equals the serial one bit for bit. Prints scenarios per second per setting.

Figures (docs/robust.md; the shared 2-core machine, so load sets them): 7 Dec on
main's 44a3749 engine, 755 spots, load 9–10, two runs: serial 0.67 and 0.99 scenarios/s,
1 worker 0.88 and 1.30/s, 2 workers 0.54 and 1.30/s, every cluster dose identical to the
serial one (before, a54de62 engine, load ≈ 11: 1.52, 0.90, 0.76/s).
Quiet (load < 1), end of the same day, final engine: 4 mm, 755 spots: serial 5.20/s,
1 worker 3.94/s, 2 workers 5.64/s; ``--ct-spacing 2 --grid 2`` (1848 spots): serial
0.86/s, 1 worker 0.58/s, 2 workers 0.78/s — all identical to serial. On 2 cores the
serial path already uses both (numba threads), so a cluster adds only its overhead
there; 2 workers are 1.34–1.43× one worker. The cluster pays off across machines.

Usage: python bench/robust_scenarios.py [--workers 1 2] [--scenarios 9] [--ct-spacing 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scenarios", default="9")
    parser.add_argument("--ct-spacing", type=float, default=4.0)
    parser.add_argument("--grid", type=float, default=4.0)
    args = parser.parse_args()

    from ionbeam.patient.phantoms import make_phantom
    from ionbeam.planning.optimize import SolverOptions
    from ionbeam.planning.plan import Prescription
    from ionbeam.planning.planner import PlanningOptions, plan_patient
    from ionbeam.planning.robust import scenario_set
    from ionbeam.planning.robust.cluster import cluster_client, scenario_doses

    patient = make_phantom("head", spacing_mm=args.ct_spacing)
    options = PlanningOptions(
        gantry_deg=(90.0, 270.0),
        dose_grid_mm=args.grid,
        energy_stride=2,
        solver=SolverOptions(progress=False, relative_tolerance=3e-3, max_iterations=100),
    )
    result = plan_patient(patient, Prescription("PTV", 70.0, 35), particle="proton",
                          options=options)  # fmt: skip
    plan = result.plan
    scenarios = scenario_set(args.scenarios).scenarios
    n = len(scenarios)
    print(f"head phantom {args.ct_spacing} mm CT, {args.grid} mm dose grid, "
          f"{plan.n_spots} spots, {n} scenarios")  # fmt: skip
    list(scenario_doses(patient, plan, scenarios[:1], options=options))  # warm-up
    start = time.perf_counter()
    serial = list(scenario_doses(patient, plan, scenarios, options=options))
    seconds = time.perf_counter() - start
    print(f"serial (this process): {seconds:.1f} s, {n / seconds:.2f} scenarios/s")
    for workers in args.workers:
        with cluster_client(n_workers=workers) as client:
            list(
                scenario_doses(patient, plan, scenarios[:workers], options=options, client=client)
            )  # fmt: skip  (warm-up: imports, numba cache)
            start = time.perf_counter()
            remote = list(scenario_doses(patient, plan, scenarios, options=options,
                                         client=client))  # fmt: skip
            seconds = time.perf_counter() - start
        same = all(np.array_equal(a, b) for a, b in zip(serial, remote, strict=True))
        print(f"LocalCluster {workers} worker(s): {seconds:.1f} s, {n / seconds:.2f} "
              f"scenarios/s, identical to serial: {same}")  # fmt: skip


if __name__ == "__main__":
    main()
