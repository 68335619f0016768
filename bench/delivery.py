"""Timings of the delivery simulation, and the delivery times it predicts.

Builds a large plan by hand (``--layers`` energy layers of about ``--spots``
spots on a 3 mm grid in a disc, weights drawn around a typical value, the
spots of each layer shuffled so that the scan-path optimiser has work),
then times sequencing + simulation for protons and carbon on the CNAO-like
machine, spot and raster scanning, with and without multi-energy
extraction. Prints seconds, spots per second, peak memory, and the
predicted delivery figures (fraction time, beam-on time, spills). Not a
test; run with ``python bench/delivery.py [--layers 50] [--spots 1000]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _plan(particle: str, n_layers: int, n_spots: int, weight: float, seed: int = 1):
    from ionbeam.machine import cnao_machine
    from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap

    rng = np.random.default_rng(seed)
    library = cnao_machine().energy_library(particle).energies_mev_u
    energies = library[::-1][:n_layers]  # the deepest layers first, one library step apart
    radius = 3.0 * np.sqrt(n_spots / np.pi)  # a disc of about n_spots points on a 3 mm grid
    grid = np.arange(-radius, radius + 1e-9, 3.0)
    gx, gy = np.meshgrid(grid, grid)
    inside = gx**2 + gy**2 <= radius**2
    x0, y0 = gx[inside], gy[inside]
    columns: dict[str, list[np.ndarray]] = {"e": [], "x": [], "y": [], "w": []}
    for e in energies:
        order = rng.permutation(x0.size)
        columns["e"].append(np.full(x0.size, e))
        columns["x"].append(x0[order])
        columns["y"].append(y0[order])
        columns["w"].append(weight * rng.lognormal(0.0, 0.5, x0.size))
    spots = SpotMap(*(np.concatenate(columns[k]) for k in ("e", "x", "y", "w")))
    beam = Beam("B1", BeamGeometry(gantry_deg=90.0), spots)
    return Plan(particle, (beam,), Prescription("PTV", 2.0))


def _run(label: str, plan, machine, options) -> None:
    from ionbeam.delivery import deliver_plan

    start = time.perf_counter()
    record = deliver_plan(plan, machine, options=options, rng=np.random.default_rng(0))
    seconds = time.perf_counter() - start
    print(
        f"{label:<34s} {seconds:7.2f} s  {plan.n_spots / seconds:9.0f} spots/s | "
        f"fraction {record.fraction_time_s:7.1f} s, beam on {record.beam_on_s:6.1f} s, "
        f"{record.n_spills:4d} spills, switching {record.layer_switching_s:6.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layers", type=int, default=50)
    parser.add_argument("--spots", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("IONBEAM_CACHE_DIR", tempfile.mkdtemp(prefix="ionbeam-bench-"))
    os.environ.setdefault("IONBEAM_PROGRESS", "0")

    from ionbeam.delivery import DeliveryOptions, deliver_plan
    from ionbeam.machine import cnao_machine

    machine = cnao_machine()
    small = _plan("carbon", 2, 50, 1e5)
    start = time.perf_counter()
    deliver_plan(small, machine, options=DeliveryOptions(), rng=np.random.default_rng(0))
    print(f"{'first call (numba load/compile, optics)':<34s} {time.perf_counter() - start:7.2f} s")

    # Typical spot weights for ~2 Gy(RBE) per fraction: ~1e7 protons, ~3e5 carbon ions.
    for particle, weight in (("proton", 1.0e7), ("carbon", 3.0e5)):
        plan = _plan(particle, args.layers, args.spots, weight)
        print(f"\n{particle}: {plan.n_spots} spots in {args.layers} layers, "
              f"{plan.weights.sum():.3g} particles")  # fmt: skip
        _run("spot scanning", plan, machine, DeliveryOptions())
        _run("raster scanning", plan, machine, DeliveryOptions(scan_mode="raster"))
        _run("raster, intensity not lowered", plan, machine,
             DeliveryOptions(scan_mode="raster", raster_max_transit_fraction=1e9))  # fmt: skip
        _run("spot, multi-energy extraction", plan, machine,
             DeliveryOptions(multi_energy_extraction=True))  # fmt: skip
        _run("spot, plan order (no optimiser)", plan, machine, DeliveryOptions(scan_path="plan"))
        _run("spot, extraction paused when off", plan, machine,
             DeliveryOptions(extraction_when_off="pause"))  # fmt: skip
    print(f"\npeak memory {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
