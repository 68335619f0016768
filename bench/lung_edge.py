"""Fine sampling at the edge of a tumour inside lung: single spots, ionbeam vs MCsquare.

The set-up is ``bench/mcsquare/_lung_edge.py`` (a water tumour at x < 0, depths 40–90 mm,
inside lung; its lateral face, x = 0, parallel to the beam). For every spot the script
compares the plain pencil beam and fine sampling (3×3, 5×5) with MCsquare in the plane
z = 0: the dose summed over the tumour, its 5 mm next to the interface, the lung beside
it and the lung behind it (ionbeam / MC − 1), the gamma 2 %/2 mm pass rate and the RMS
difference; then, with ``--profiles``, depth–dose lines parallel to the axis and
lateral profiles at several depths.

The MC curves come from ``tests/data/mcsquare/lung_edge_spots.npz``; ``--simulate``
runs MCsquare (10⁶ primaries per spot, a minute or two each on 2 cores; cached) and
rewrites that file.

Usage: python bench/lung_edge.py [--simulate] [--profiles] [--primaries N] [--fine 3 5]
                                  [--mixing]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "mcsquare"), str(HERE)]
from _lung_edge import (  # noqa: E402
    SPOTS,
    EdgeSpot,
    central_plane,
    edge_grid,
    edge_hu,
    ionbeam_plane,
    plane_gamma_percent,
    plane_rms_percent,
    region_ratios,
    spot_energy_mev,
    spot_plan,
)

from ionbeam.machine import cnao_machine  # noqa: E402
from ionbeam.machine.beam_model import build_beam_model  # noqa: E402

STORED = HERE.parent / "tests" / "data" / "mcsquare" / "lung_edge_spots.npz"


def simulate(
    spot: EdgeSpot, model: object, n_primaries: int, seed: int
) -> tuple[np.ndarray, float]:
    """MCsquare's dose to water in the plane z = 0 (Gy per proton) and its uncertainty (%)."""
    from _beam_data import ionbeam_bdl
    from _mcsquare import RunOptions, cached_run
    from _mcsquare_inputs import fields_from_plan, nozzle_distance_mm
    from _scanner import calibration_scanner
    from make_slab_spots import water_at_zero_hu

    from ionbeam.patient.stoichiometric import stoichiometric_calibration

    grid = edge_grid()
    plan = spot_plan(spot, model)
    geometry = plan.beams[0].geometry
    distance = nozzle_distance_mm(grid, geometry.isocenter_mm, geometry.direction)
    line = model.beam_line  # type: ignore[attr-defined]
    bdl = ionbeam_bdl(line, [spot_energy_mev(spot, model)], nozzle_to_isocenter_mm=distance)
    scanner = water_at_zero_hu(calibration_scanner(stoichiometric_calibration()))
    options = RunOptions(n_primaries=n_primaries, seed=seed, dose_to_water=True)
    result = cached_run(edge_hu(grid), grid, fields_from_plan(plan), bdl, scanner, options)
    print(
        f"MC {spot.name}: {result.n_primaries:.1e} primaries, {result.seconds:.0f} s, "
        f"uncertainty {result.uncertainty_percent:.2f} %",
        flush=True,
    )
    return central_plane(result.dose_gy, grid), result.uncertainty_percent


def write_stored(model: object, n_primaries: int, seed: int) -> None:
    arrays: dict[str, np.ndarray] = {
        "mcsquare": np.array("MCsquare Release 1.1 (opentps-core 2.0.0 wheel, MCsquare_linux)"),
        "created": np.array(datetime.date.today().isoformat()),
        "seed": np.array(seed),
        "spots": np.array([s.name for s in SPOTS]),
    }
    for spot in SPOTS:
        plane, uncertainty = simulate(spot, model, n_primaries, seed)
        arrays[f"{spot.name}_plane_dose_gy"] = plane.astype(np.float32)
        arrays[f"{spot.name}_energy_mev"] = np.array(spot_energy_mev(spot, model))
        arrays[f"{spot.name}_x_mm"] = np.array(spot.x_mm)
        arrays[f"{spot.name}_primaries"] = np.array(n_primaries)
        arrays[f"{spot.name}_uncertainty_percent"] = np.array(uncertainty)
    staging = STORED.with_suffix(".tmp.npz")
    np.savez_compressed(staging, **arrays)
    staging.replace(STORED)
    print(f"wrote {STORED} ({STORED.stat().st_size / 1024:.0f} kB)")


def print_profiles(name: str, planes: dict[str, np.ndarray], mc: np.ndarray) -> None:
    x, y, _ = edge_grid().axes_mm()
    top = float(mc.max())
    print(f"  {name}: depth–dose lines (dose / MC maximum, %) at x (mm):")
    for xi in (-8.5, -4.5, -1.5, -0.5, 0.5, 1.5, 4.5):
        i = int(np.argmin(np.abs(x - xi)))
        rows = {"MC": mc[i]} | {k: v[i] for k, v in planes.items()}
        for label, line in rows.items():
            cells = " ".join(f"{100 * line[int(d)] / top:5.1f}" for d in range(30, 200, 10))
            print(f"    x={xi:+5.1f} {label:<9}{cells}")
    print("    depths  " + " ".join(f"{d + 0.5:5.0f}" for d in range(30, 200, 10)))
    print(f"  {name}: lateral profiles (dose / MC maximum, %) at depth (mm):")
    for depth in (50, 70, 85, 95, 120):
        j = int(np.argmin(np.abs(y - depth - 0.5)))
        rows = {"MC": mc[:, j]} | {k: v[:, j] for k, v in planes.items()}
        for label, line in rows.items():
            cells = " ".join(f"{100 * line[int(np.argmin(np.abs(x - xi)))] / top:5.1f}"
                             for xi in np.arange(-12.5, 13, 2.0))  # fmt: skip
            print(f"    y={depth:3d} {label:<9}{cells}")
    print("    x       " + " ".join(f"{xi:5.1f}" for xi in np.arange(-12.5, 13, 2.0)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--simulate", action="store_true")
    parser.add_argument("--profiles", action="store_true")
    parser.add_argument("--primaries", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--fine", type=int, nargs="*", default=[3, 5], help="sub-beams per side")
    parser.add_argument("--spots", nargs="*", default=[s.name for s in SPOTS])
    parser.add_argument(
        "--mixing", action="store_true", help="also the plain PB with lateral range mixing"
    )
    args = parser.parse_args()
    engines = [("plain", {})] + [(f"fine {n}x{n}", {"fine_sampling": n}) for n in args.fine]
    if args.mixing:
        engines.append(("mixing", {"range_mixing": True}))
    machine = cnao_machine()
    model = build_beam_model(
        "proton", machine.energy_library("proton").energies_mev_u, machine.beam_line
    )
    if args.simulate or not STORED.exists():
        write_stored(model, args.primaries, args.seed)
    stored = np.load(STORED)
    grid = edge_grid()
    print(
        f"{'spot':<11}{'engine':<10}{'tumour':>8}{'edge 5mm':>9}{'lung side':>10}"
        f"{'lung behind':>12}{'γ2/2':>7}{'RMS %':>7}   (region dose ionbeam/MC − 1, %)"
    )
    for spot in (s for s in SPOTS if s.name in args.spots):
        mc = np.asarray(stored[f"{spot.name}_plane_dose_gy"], dtype=float)
        planes = {}
        for label, options in engines:
            plane = ionbeam_plane(spot, model, **options)
            planes[label] = plane
            r = region_ratios(plane, mc, grid)
            print(
                f"{spot.name:<11}{label:<10}{r['tumour']:>+7.1f}%{r['tumour_edge']:>+8.1f}%"
                f"{r['lung_beside']:>+9.1f}%{r['lung_behind']:>+11.1f}%"
                f"{plane_gamma_percent(plane, mc, grid):>6.1f}%{plane_rms_percent(plane, mc):>7.2f}"
            )
        if args.profiles:
            print_profiles(spot.name, planes, mc)


if __name__ == "__main__":
    main()
