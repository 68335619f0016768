"""Benchmark of ionbeam.physics: depth–dose libraries (cold and warm) and per-call costs.

Prints, for 250 energies of protons (60–230 MeV) and carbon ions (100–430 MeV/u):
the time to compute the depth–dose library with an empty cache (cold), to read it
back (warm) and the size of the cache entry; then the per-call times of stopping
power, CSDA range, a single depth–dose curve, and the peak resident memory.

Usage: python bench/physics.py [--energies N]  (NUMBA_NUM_THREADS has no effect: the
kernels are serial.) The first depth–dose call also compiles (or loads) the numba
kernel; that one-off time is reported separately.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _best_of(function: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def _library(particle: str, energies: np.ndarray, cache: Path) -> None:
    from ionbeam.physics.beam_model_tables import compute_depth_dose_library

    start = time.perf_counter()
    library = compute_depth_dose_library(particle, energies)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    compute_depth_dose_library(particle, energies)
    warm = time.perf_counter() - start
    size_mb = sum(p.stat().st_size for p in cache.glob("depth-dose-library-*.npz")) / 1e6
    print(
        f"{particle:>7}: {energies.size} energies, {library.depth_mm.shape[1]} depths — "
        f"cold {cold:6.2f} s ({1e3 * cold / energies.size:5.1f} ms/energy), "
        f"warm {warm:6.3f} s, cache so far {size_mb:.1f} MB"
    )


def _per_call() -> None:
    from ionbeam.physics.depth_dose import depth_dose
    from ionbeam.physics.ranges import csda_range_mm
    from ionbeam.physics.stopping import mass_stopping_power

    energies = np.linspace(1.0, 450.0, 100_000)
    cases: list[tuple[str, Callable[[], object], float, str]] = [
        ("stopping power, 1 energy", lambda: mass_stopping_power("carbon", 200.0), 1e6, "µs"),
        ("stopping power, 1e5 energies", lambda: mass_stopping_power("carbon", energies), 1e3,
         "ms"),
        ("CSDA range, 1 energy", lambda: csda_range_mm("proton", 150.0), 1e6, "µs"),
        ("CSDA range, 1e5 energies", lambda: csda_range_mm("proton", energies), 1e3, "ms"),
    ]  # fmt: skip
    for particle, energy in (("proton", 150.0), ("helium", 150.0), ("carbon", 290.0),
                             ("oxygen", 300.0)):  # fmt: skip
        cases.append((f"depth_dose {particle} {energy:g}",
                      lambda p=particle, e=energy: depth_dose(p, e), 1e3, "ms"))  # fmt: skip
    cases.append(("depth_dose carbon 290 + spectra",
                  lambda: depth_dose("carbon", 290.0, with_spectra=True), 1e3, "ms"))  # fmt: skip
    print("per call (best of 5; tables cached after the first call):")
    for label, function, scale, unit in cases:
        print(f"  {label:<34} {scale * _best_of(function):9.1f} {unit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--energies", type=int, default=250, help="energies per library")
    args = parser.parse_args()
    os.environ.setdefault("IONBEAM_PROGRESS", "0")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["IONBEAM_CACHE_DIR"] = folder
        os.environ["IONBEAM_CACHE"] = "1"
        from ionbeam.physics.depth_dose import depth_dose

        start = time.perf_counter()
        depth_dose("carbon", 200.0)
        print(f"first call (imports, numba compile or cache load, tables): "
              f"{time.perf_counter() - start:.2f} s")  # fmt: skip
        _library("proton", np.linspace(60.0, 230.0, args.energies), Path(folder))
        _library("carbon", np.linspace(100.0, 430.0, args.energies), Path(folder))
    _per_call()
    print(f"peak resident memory: {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
