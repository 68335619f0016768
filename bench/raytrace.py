"""Benchmark: WEPL to every voxel of a 256×256×100 CT along one beam.

Prints the time of ``wepl_map`` (first call including numba compilation or
cache load, then warm calls) for a few beam directions, with and without
divergence, plus ``wepl_along_rays`` for 10⁴ spot rays, and the peak memory
of the process. Run: ``python bench/raytrace.py [--threads N]``.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="numba threads (default: all)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.threads:
        os.environ["NUMBA_NUM_THREADS"] = str(args.threads)

    import numba
    import numpy as np

    from ionbeam.patient import Grid
    from ionbeam.planning import BeamGeometry, wepl_along_rays, wepl_map

    grid = Grid((256, 256, 100), (1.95, 1.95, 3.0), (-249.0, -249.0, -148.5))
    rng = np.random.default_rng(1)
    spr = (1.0 + 0.05 * rng.standard_normal(grid.shape)).clip(0.0).astype(np.float32)
    print(
        f"grid {grid.shape} = {grid.size / 1e6:.2f} M voxels, spacing {grid.spacing_mm} mm, "
        f"numba threads {numba.get_num_threads()}"
    )
    cases = [
        ("gantry 0, parallel", BeamGeometry(0.0)),
        ("gantry 90, parallel", BeamGeometry(90.0)),
        ("gantry 45, couch 20, SAD 6.5/6.0 m", BeamGeometry(45.0, 20.0, sad_mm=(6500.0, 6000.0))),
    ]
    for label, geometry in cases:
        start = time.perf_counter()
        wepl_map(spr, grid, geometry)
        first = time.perf_counter() - start
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            wepl_map(spr, grid, geometry)
            times.append(time.perf_counter() - start)
        print(f"wepl_map  {label:38s} first {first:6.3f} s   warm {min(times):6.3f} s")

    geometry = cases[-1][1]
    wepl_map(spr, grid, geometry, method="exact")
    start = time.perf_counter()
    wepl_map(spr, grid, geometry, method="exact")
    print(
        f"wepl_map  {cases[-1][0]:38s} method='exact' (one ray per voxel) "
        f"{time.perf_counter() - start:6.3f} s"
    )

    geometry = BeamGeometry(30.0, sad_mm=(6500.0, 6000.0))
    x, y = np.meshgrid(np.arange(-50, 50, 1.0), np.arange(-50, 50, 1.0))
    origins, directions = geometry.spot_ray(x.ravel(), y.ravel())
    distances = geometry.ray_start_distance_mm + np.linspace(-300.0, 300.0, 601)
    wepl_along_rays(spr, grid, origins, directions, distances_mm=distances)
    start = time.perf_counter()
    wepl_along_rays(spr, grid, origins, directions, distances_mm=distances)
    elapsed = time.perf_counter() - start
    print(f"wepl_along_rays {origins.shape[0]} rays × {distances.size} depths: {elapsed:.3f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB; parallel-beam SAD = {math.inf}")


if __name__ == "__main__":
    main()
