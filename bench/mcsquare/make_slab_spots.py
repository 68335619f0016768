"""Generate ``tests/data/mcsquare/slab_spots.npz``: MCsquare 150 MeV spots through slabs.

For each case of ``_slabs.CASES`` (30 mm of lung, 20 mm of bone, a half bone slab with
its edge on the beam axis; see ``bench/mcsquare/_slabs.py``) MCsquare simulates one
spot of ionbeam's CNAO beam (BDL from the beam line as for the water spots) with the
Scanner built from ionbeam's stoichiometric HU calibration (same density and SPR at
every HU; MCsquare's Schneider composition and radiation length), dose to water, and
stores the compact curves the validation test reads: the mean dose of the 3 × 3 voxels
around the axis at every depth, the radial profiles every 2 mm of depth (full slabs),
the dose in the plane z = 0 through the axis and the laterally integrated dose.
A few minutes per case on 2 cores.

Usage: python bench/mcsquare/make_slab_spots.py [--primaries N] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _beam_data import ionbeam_bdl  # noqa: E402
from _mcsquare import RunOptions, cached_run  # noqa: E402
from _mcsquare_inputs import (  # noqa: E402
    WATER_MATERIAL_ID,
    Scanner,
    fields_from_plan,
    nozzle_distance_mm,
)
from _scanner import calibration_scanner, schneider_material  # noqa: E402
from _slabs import (  # noqa: E402
    CASES,
    ENERGY_MEV,
    SlabCase,
    axis_dose,
    central_plane,
    radial_profiles,
    slab_grid,
    slab_hu,
)
from _water_spots import spot_plan  # noqa: E402

from ionbeam.machine import cnao_machine  # noqa: E402
from ionbeam.patient.stoichiometric import stoichiometric_calibration  # noqa: E402
from ionbeam.physics.depth_dose import DEFAULT_ENERGY_SPREAD_REL  # noqa: E402

DEFAULT_OUT = HERE.parents[1] / "tests" / "data" / "mcsquare" / "slab_spots.npz"


def water_at_zero_hu(scanner: Scanner) -> Scanner:
    """``scanner`` with MCsquare's water (material 17) for CT numbers within ±0.5 HU of 0:
    the calibration scanner gives HU 0 the composition of the Schneider material of its
    bin (adipose/soft-tissue mix, radiation length 38.8 g/cm² against water's 36.1),
    which would scatter 7 % less than the water both codes are meant to see around
    the slab."""
    lower = np.asarray(scanner.material_hu, dtype=float)
    ids = np.asarray(scanner.material_id)
    k = int(np.searchsorted(lower, 0.0, side="right")) - 1
    new_lower = np.concatenate([lower[: k + 1], [-0.5, 0.5], lower[k + 1 :]])
    new_ids = np.concatenate([ids[: k + 1], [WATER_MATERIAL_ID, ids[k]], ids[k + 1 :]])
    return Scanner(
        scanner.density_hu, scanner.density_g_cm3, new_lower, new_ids, scanner.materials_dir
    )


def simulate(case: SlabCase, n_primaries: int, seed: int) -> dict[str, np.ndarray]:
    """MCsquare's curves for one case (keys without the case prefix)."""
    line = cnao_machine().beam_line
    grid = slab_grid(case)
    hu = slab_hu(case, grid)
    plan = spot_plan(ENERGY_MEV, line.sad_mm)
    geometry = plan.beams[0].geometry
    distance = nozzle_distance_mm(grid, geometry.isocenter_mm, geometry.direction)
    bdl = ionbeam_bdl(line, [ENERGY_MEV], nozzle_to_isocenter_mm=distance)
    scanner = water_at_zero_hu(calibration_scanner(stoichiometric_calibration()))
    options = RunOptions(n_primaries=n_primaries, seed=seed, dose_to_water=True)
    result = cached_run(hu, grid, fields_from_plan(plan), bdl, scanner, options)
    print(
        f"{case.name}: {result.n_primaries} primaries, {result.seconds:.0f} s, "
        f"MCsquare uncertainty {result.uncertainty_percent:.2f} %",
        flush=True,
    )
    dose = result.dose_gy
    depth = grid.axes_mm()[1]
    out = {
        "grid_shape": np.array(grid.shape),
        "grid_spacing_mm": np.array(grid.spacing_mm),
        "grid_origin_mm": np.array(grid.origin_mm),
        "slab_hu": np.array(case.hu),
        "slab_mm": np.array([case.start_mm, case.stop_mm]),
        "half": np.array(case.half),
        "schneider_material": np.array(int(schneider_material(np.array([case.hu]))[0])),
        "depth_mm": depth.astype(np.float32),
        "axis_dose_gy": axis_dose(dose, grid).astype(np.float32),
        "plane_dose_gy": central_plane(dose, grid).astype(np.float32),
        "integral_dose_gy_mm2": dose.sum(axis=(0, 2)).astype(np.float32),
        "primaries": np.array(result.n_primaries),
        "seconds": np.array(result.seconds),
        "uncertainty_percent": np.array(result.uncertainty_percent),
    }
    if not case.half:
        radial_depth, radius, profiles = radial_profiles(dose, grid)
        out["radial_depth_mm"] = radial_depth.astype(np.float32)
        out["radius_mm"] = radius.astype(np.float32)
        out["radial_dose_gy"] = profiles.astype(np.float32)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--primaries", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cases", nargs="*", default=[c.name for c in CASES])
    args = parser.parse_args()
    arrays: dict[str, np.ndarray] = {
        "energy_mev": np.array(ENERGY_MEV),
        "energy_spread_rel": np.array(DEFAULT_ENERGY_SPREAD_REL),
        "mcsquare": np.array("MCsquare Release 1.1 (opentps-core 2.0.0 wheel, MCsquare_linux)"),
        "created": np.array(datetime.date.today().isoformat()),
        "seed": np.array(args.seed),
        "cases": np.array([c.name for c in CASES if c.name in args.cases]),
    }
    for case in CASES:
        if case.name not in args.cases:
            continue
        for key, value in simulate(case, args.primaries, args.seed).items():
            arrays[f"{case.name}_{key}"] = value
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(staging, **arrays)
    staging.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
