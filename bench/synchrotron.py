"""Timings of the machine model: Xsuite import and twiss, the reduced spill model, tracking.

Prints seconds, particle-turns per second and peak memory. Not a test; run
with ``python bench/synchrotron.py [--particles N] [--turns T]``. The cache
is pointed at a fresh temporary directory so that twiss and tracking are
timed cold, then warm.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(label: str, func, *args, **kwargs):
    start = time.perf_counter()
    out = func(*args, **kwargs)
    print(f"{label:<48s} {time.perf_counter() - start:8.3f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--particles", type=int, default=200)
    parser.add_argument("--turns", type=int, default=2000)
    args = parser.parse_args()
    os.environ["IONBEAM_CACHE_DIR"] = tempfile.mkdtemp(prefix="ionbeam-bench-")
    os.environ.setdefault("IONBEAM_PROGRESS", "0")

    _timed("import xtrack", __import__, "xtrack")
    from ionbeam.machine.synchrotron.layout import pimms_layout
    from ionbeam.machine.synchrotron.optics import compute_optics
    from ionbeam.machine.synchrotron.ring import pimms_synchrotron
    from ionbeam.machine.synchrotron.spill import reduced_spill_model
    from ionbeam.machine.synchrotron.tracking import track_spill

    _timed("twiss (cold, PIMMS)", compute_optics, pimms_layout())
    _timed("twiss (from cache)", compute_optics, pimms_layout())
    ring = pimms_synchrotron()
    _timed(
        "reduced spill model (servo, 1 s, carbon 400)", reduced_spill_model, ring, "carbon", 400.0
    )
    _timed(
        "reduced spill model (linear)", reduced_spill_model, ring, "carbon", 400.0, ramp="linear"
    )
    n, turns = args.particles, args.turns
    start = time.perf_counter()
    spill = track_spill(ring, "carbon", 400.0, n_particles=n, n_turns=turns)
    elapsed = time.perf_counter() - start
    label = f"tracked spill ({n} particles x {turns} turns)"
    print(f"{label:<48s} {elapsed:8.3f} s")
    print(f"{'tracking throughput':<48s} {n * turns / elapsed:8.3g} particle-turns/s")
    print(f"{'extraction efficiency (tracked)':<48s} {spill.extraction_efficiency:8.3f}")
    _timed(
        "tracked spill (from cache)",
        track_spill,
        ring,
        "carbon",
        400.0,
        n_particles=n,
        n_turns=turns,
    )
    print(f"{'peak memory':<48s} {_peak_rss_mb():8.1f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
