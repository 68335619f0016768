"""Dose-influence matrices for ionbeam's TG-119 phantom: three proton and three carbon beams.

Prints, per particle and dose grid: voxels, spots, non-zeros, seconds for spot
placement (with its ray tracing) and for the dose-influence matrix (with its
ray tracing; wall clock, and CPU time summed over threads, steadier on a shared
machine), and the peak memory of the process. Each case runs in a fresh
process after one untimed warm-up run (numba's compiled kernels and the beam
model are cached on disk, as in normal use).

Usage: python bench/dij.py [--grids 3 2.5] [--spacing-factor 1.0] [--cutoff 3] [--range-mixing]

Measured (2 quiet cores, --grids 3, two interleaved rounds, 2026-12-07): main (voxel-averaged
dose, lateral spread along each spot's ray, the halo's share averaged over each voxel's span)
protons 5.06 / 5.46 s for 72.2 M non-zeros, carbon 3.99 / 3.71 s for 59.5 M; 41db209 (before
the December dose-engine work) protons 3.67 / 3.54 s for 63.7 M, carbon 2.42 / 2.33 s for
52.7 M: 1.46× (protons) and 1.62× (carbon) the time, 1.29× and 1.44× per non-zero.

Then the plain pencil beam's depth part (WEPL span, voxel-averaged IDD, halo share, LET, α, √β)
computed once per energy layer and voxel instead of once per spot (``planning._layer_kernels``;
the same matrices bit for bit). One round on 2 quiet cores (load average 0.6–1.2; dij s wall /
CPU s), 41db209 · main · this version: carbon 2.42/4.38 · 3.61/6.45 · 2.76/4.79 (1.14× 41db209,
0.76× main), protons 3.60/5.32 · 5.22/9.07 · 3.71/6.66 (1.03×, 0.71×). Before it, four
interleaved rounds on 2 cores with a load average of 1.4–3 (dij s wall / CPU s summed over
threads), 41db209 · main · this version: carbon 4.58/4.53, 2.18/4.00, 2.33/4.20, 2.33/4.24 ·
4.60/6.96, 4.02/6.71, 7.18/7.07, 4.28/7.37 · 2.79/4.66, 3.12/5.12, 2.79/4.71, 3.13/5.26;
protons 5.98/6.02, 3.63/6.40, 3.88/6.74, 3.69/6.61 · 11.08/10.08, 5.41/9.21, 9.55/9.64,
5.65/9.97 · 4.06/7.14, 4.18/7.40, 4.12/7.28, 4.59/7.89. Carbon: 1.27× 41db209's wall time
(median 2.96 against 2.33 s), 1.16× its CPU time (1.03× per non-zero); main took 1.66× the CPU.
Protons 1.10× 41db209 (median 4.15 against 3.79 s), faster than main in every round (main
5.41–11.08 s). Per stage (carbon, CPU s, one run each under load): 41db209 fill 2.81, count
0.67, beam set-up 0.40; main 5.78, 0.77, 0.89; this version 3.48, 0.60, 0.87. What the new
physics still costs: the set-up's tracing of each spot's own ray for its σ²_MCS (+0.45 s; rays
of spots at the same position in different layers could share their trace), 13 % more non-zeros
(the voxel-averaged span), and in the fill σ²_MCS read along the spot's ray for every entry.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker(
    particle: str, grid_mm: float, spacing_factor: float, cutoff: float, mixing: bool = False
) -> dict:
    sys.path.insert(0, str(HERE))
    import time

    from _tg119 import beam_model_for, peak_rss_mb, tg119_plan_and_dij
    from ionbeam.patient.phantoms import make_phantom

    patient = make_phantom("tg119", spacing_mm=grid_mm)
    model = beam_model_for(particle)
    # spot spacing ~ the spot sigma in air at mid energy (issue 4)
    sigma = float(
        model.beam_line.sigma_air_mm(particle, float(model.energies_mev_u[model.n_energies // 2]))
    )
    spacing = round(spacing_factor * sigma, 1)
    t = time.perf_counter()
    plan, influence, timings = tg119_plan_and_dij(
        patient.ct,
        list(patient.structures.values()),
        particle,
        target="OuterTarget",
        isocenter_mm=patient.structures["OuterTarget"].centroid_mm,
        spot_spacing_mm=spacing,
        dose_grid_mm=grid_mm,
        lateral_cutoff_sigma=cutoff,
        range_mixing=mixing,
    )
    return {
        "particle": particle,
        "grid_mm": grid_mm,
        "spot_spacing_mm": spacing,
        "voxels": influence.grid.size,
        "spots": plan.n_spots,
        "nonzeros": influence.nnz,
        "placement_s": timings.placement_s,
        "dij_s": timings.dij_s,
        "dij_cpu_s": timings.dij_cpu_s,
        "total_s": time.perf_counter() - t,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grids", nargs="+", type=float, default=[3.0, 2.5])
    parser.add_argument("--particles", nargs="+", default=["proton", "carbon"])
    parser.add_argument("--spacing-factor", type=float, default=1.0)
    parser.add_argument("--cutoff", type=float, default=3.0)
    parser.add_argument("--range-mixing", action="store_true", help="the engine's range mixing on")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        particle, grid = args.worker
        r = worker(particle, float(grid), args.spacing_factor, args.cutoff, args.range_mixing)
        print(json.dumps(r))
        return
    print(
        f"{'particle':<8}{'grid':>6}{'spacing':>8}{'voxels':>10}{'spots':>8}{'nnz':>10}"
        f"{'place s':>9}{'dij s':>8}{'cpu s':>8}{'RSS MB':>8}"
    )
    for particle in args.particles:
        for k, grid in enumerate(args.grids):
            command = [
                sys.executable,
                __file__,
                "--worker",
                particle,
                str(grid),
                "--spacing-factor",
                str(args.spacing_factor),
                "--cutoff",
                str(args.cutoff),
                *(["--range-mixing"] if args.range_mixing else []),
            ]
            if k == 0:
                subprocess.run(command, capture_output=True, check=True)  # warm-up
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{particle:<8}{grid:>6.1f}{r['spot_spacing_mm']:>8.1f}{r['voxels']:>10}{r['spots']:>8}"
                f"{r['nonzeros'] / 1e6:>9.2f}M{r['placement_s']:>9.2f}{r['dij_s']:>8.2f}"
                f"{r['dij_cpu_s']:>8.2f}"
                f"{r['peak_rss_mb']:>8.0f}"
            )


if __name__ == "__main__":
    main()
