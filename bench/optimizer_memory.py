"""Peak memory of the optimization per non-zero of the dose-influence matrix (TG-119).

ionbeam's TG-119 phantom, three beams (0°, 120°, 240°), on a 3 mm (and 2 mm) dose grid:
the dose influence is computed, then the peak resident memory is reset
(``/proc/self/clear_refs``) and the whole optimization of ``bench/_tg119_optimize.py``
runs (problem set-up, L-BFGS-B, spot-limit polish, final dose). Printed per case:
non-zeros, the resident memory just before the dose influence was computed, the peak
during the optimization, and (peak − before) / non-zeros: the bytes per non-zero that
the matrix, the optimizer's copy and every transient cost at the peak; also iterations,
seconds and the target's D95/D5 (relative to the prescription).

Usage: ``python bench/optimizer_memory.py [--grids 3 2] [--particles proton]``
(each case in a fresh process after an untimed warm-up; set ``PYTHONPATH`` to compare
two source trees in one session).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _proc_kb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)


def worker(particle: str, grid_mm: float) -> dict:
    sys.path.insert(0, str(HERE))
    from _tg119 import beam_model_for, tg119_plan_and_dij
    from _tg119_optimize import optimize_tg119
    from ionbeam.patient.phantoms import make_phantom

    patient = make_phantom("tg119", spacing_mm=grid_mm)
    model = beam_model_for(particle)
    sigma = float(
        model.beam_line.sigma_air_mm(particle, float(model.energies_mev_u[model.n_energies // 2]))
    )
    before_mb = _proc_kb("VmRSS") / 1024.0
    plan, influence, _ = tg119_plan_and_dij(
        patient.ct,
        list(patient.structures.values()),
        particle,
        target="OuterTarget",
        isocenter_mm=patient.structures["OuterTarget"].centroid_mm,
        spot_spacing_mm=round(sigma, 1),
        dose_grid_mm=grid_mm,
    )
    dij_peak_mb = _proc_kb("VmHWM") / 1024.0
    _reset_peak()
    start_mb = _proc_kb("VmRSS") / 1024.0
    t = time.perf_counter()
    result = optimize_tg119(plan, influence, list(patient.structures.values()))
    wall = time.perf_counter() - t
    peak_mb = _proc_kb("VmHWM") / 1024.0
    nnz = influence.nnz
    return {
        "particle": particle,
        "grid_mm": grid_mm,
        "spots": plan.n_spots,
        "nnz": nnz,
        "before_mb": before_mb,
        "dij_peak_mb": dij_peak_mb,
        "opt_start_mb": start_mb,
        "opt_peak_mb": peak_mb,
        "bytes_per_nnz": (peak_mb - before_mb) * 2**20 / nnz,
        "opt_wall_s": wall,
        **{k: result[k] for k in ("iterations", "target_d95_rel", "target_d5_rel", "opt_s")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grids", nargs="+", type=float, default=[3.0, 2.0])
    parser.add_argument("--particles", nargs="+", default=["proton"])
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], float(args.worker[1]))))
        return
    print(
        f"{'particle':<8}{'grid':>5}{'spots':>7}{'nnz':>9}{'before':>8}{'Dij pk':>8}{'start':>8}"
        f"{'opt pk':>8}{'B/nnz':>7}{'iter':>6}{'opt s':>7}{'D95':>7}{'D5':>7}   (MB)"
    )
    for particle in args.particles:
        for k, grid in enumerate(args.grids):
            command = [sys.executable, __file__, "--worker", particle, str(grid)]
            if k == 0:
                subprocess.run(command, capture_output=True, check=True)  # warm-up
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{particle:<8}{grid:>5.1f}{r['spots']:>7}{r['nnz'] / 1e6:>8.2f}M"
                f"{r['before_mb']:>8.0f}{r['dij_peak_mb']:>8.0f}{r['opt_start_mb']:>8.0f}"
                f"{r['opt_peak_mb']:>8.0f}"
                f"{r['bytes_per_nnz']:>7.1f}{r['iterations']:>6}{r['opt_s']:>7.2f}"
                f"{r['target_d95_rel']:>7.3f}{r['target_d5_rel']:>7.3f}"
            )


if __name__ == "__main__":
    main()
