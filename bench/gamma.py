"""Benchmark: ionbeam's gamma index against pymedphys's on a realistic 3-D dose.

A 100 × 100 × 60 dose grid at 2.5 mm (250 × 250 × 150 mm, 6·10⁵ voxels)
holds a single-field ion dose (an entrance plateau at 45 % and a spread-out
peak over 12 cm, erf penumbrae with σ ≈ 3.5 mm). Two evaluated doses: a
"recalculation" (shifted 1.5 mm along the beam, scaled by 1.02, 1 % (of the
maximum) Gaussian noise, as a Monte Carlo recalculation would) and a "setup
error" (shifted 2 mm, scaled by 1.03, many failing voxels: a longer search).
Both codes run 3 %/3 mm with a 10 % cut-off, global and local, and
``max_gamma=2`` (pymedphys is impractically slow without a cap).

Run: ``NUMBA_NUM_THREADS=2 python bench/gamma.py [--pymedphys-interp-fraction F]``.
Prints seconds (wall, best of two; CPU), voxels, pass rates, ionbeam at
interp_fraction 5 as well, pymedphys's gamma minus ionbeam's, the time ratio
and peak memory (RSS).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
from scipy.special import erf

from ionbeam.evaluation import gamma_index
from ionbeam.patient import Grid


def _field_dose(grid: Grid, *, shift_mm: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """A single-field ion dose: entrance plateau (45 %) then a spread-out peak, erf edges."""
    x, y, z = grid.axes_mm()
    sigma_erf = 5.0  # erf width parameter, mm (σ = 5/√2 ≈ 3.5 mm)

    def plateau(u: np.ndarray, low: float, high: float) -> np.ndarray:
        return 0.5 * (erf((u - low) / sigma_erf) - erf((u - high) / sigma_erf))

    xs = x - shift_mm
    depth = 0.45 * plateau(xs, 10.0, 200.0) + 0.55 * plateau(xs, 80.0, 200.0)
    lateral = plateau(y, 50.0, 190.0)[:, None] * plateau(z, 25.0, 125.0)[None, :]
    return scale * 2.0 * depth[:, None, None] * lateral[None, :, :]


def _time_ionbeam(reference, grid, evaluated, *, local: bool, interp_fraction: int):
    """Best wall time of two runs, the CPU time of the last, and the result."""
    walls = []
    for _ in range(2):
        wall, cpu = time.perf_counter(), time.process_time()
        result = gamma_index(reference, grid, evaluated, grid, local=local, max_gamma=2.0,
                             interp_fraction=interp_fraction)  # fmt: skip
        walls.append(time.perf_counter() - wall)
        cpu = time.process_time() - cpu
    return min(walls), cpu, result


def _run_case(name: str, reference, evaluated, grid: Grid, pymedphys_fraction: int | None) -> None:
    for local in (False, True):
        label = f"{name}, {'local' if local else 'global'}"
        wall, cpu, result = _time_ionbeam(reference, grid, evaluated, local=local,
                                          interp_fraction=10)  # fmt: skip
        wall5, _, result5 = _time_ionbeam(reference, grid, evaluated, local=local,
                                          interp_fraction=5)  # fmt: skip
        print(
            f"{label}: ionbeam {wall:6.2f} s (CPU {cpu:6.2f} s), {result.n_evaluated} voxels, "
            f"pass {result.pass_rate_percent:.2f} %; interp_fraction 5: {wall5:5.2f} s, "
            f"pass {result5.pass_rate_percent:.2f} %, "
            f"max |Δγ| vs 10: {np.nanmax(np.abs(result5.gamma - result.gamma)):.3f}"
        )
        if pymedphys_fraction is None:
            continue
        import pymedphys

        start = time.perf_counter()
        gamma = pymedphys.gamma(
            grid.axes_mm(), reference, grid.axes_mm(), evaluated, 3.0, 3.0,
            lower_percent_dose_cutoff=10.0, local_gamma=local, max_gamma=2.0,
            interp_fraction=pymedphys_fraction,
        )  # fmt: skip
        t_pymedphys = time.perf_counter() - start
        valid = gamma[np.isfinite(gamma)]
        difference = gamma - result.gamma
        print(
            f"{label}: pymedphys {t_pymedphys:6.2f} s (interp_fraction {pymedphys_fraction}), "
            f"pass {100.0 * np.mean(valid <= 1.0):.2f} %; γ_pymedphys − γ_ionbeam: "
            f"mean {np.nanmean(difference):+.3f}, range [{np.nanmin(difference):+.3f}, "
            f"{np.nanmax(difference):+.3f}]; speed-up {t_pymedphys / wall:.1f}×"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pymedphys-interp-fraction", type=int, default=10)
    parser.add_argument("--skip-pymedphys", action="store_true")
    args = parser.parse_args()
    fraction = None if args.skip_pymedphys else args.pymedphys_interp_fraction
    grid = Grid((100, 100, 60), (2.5, 2.5, 2.5), (0.0, 0.0, 0.0))
    threads = os.environ.get("NUMBA_NUM_THREADS", "all")
    print(f"grid {grid.shape} at {grid.spacing_mm[0]} mm: {grid.size} voxels; threads: {threads}")
    tiny = Grid((8, 8, 8), grid.spacing_mm)
    gamma_index(np.ones(tiny.shape), tiny, np.ones(tiny.shape), tiny)  # compile or load the cache
    reference = _field_dose(grid)
    rng = np.random.default_rng(0)
    noisy = _field_dose(grid, shift_mm=1.5, scale=1.02)
    noisy = noisy + rng.normal(0.0, 0.01 * reference.max(), grid.shape)
    _run_case("recalculation (1.5 mm, +2 %, 1 % noise)", reference, noisy, grid, fraction)
    setup = _field_dose(grid, shift_mm=2.0, scale=1.03)
    _run_case("setup error (2 mm, +3 %)", reference, setup, grid, fraction)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak memory (RSS): {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
