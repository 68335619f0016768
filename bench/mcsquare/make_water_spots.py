"""Generate ``tests/data/mcsquare/water_spots.npz``: MCsquare single proton spots in water.

For each energy of ``_water_spots.ENERGIES_MEV`` MCsquare simulates one spot of
ionbeam's CNAO beam (BDL from the beam line: same σ₀, divergence, correlation,
SADs and relative energy spread as ionbeam's beam model; pure water, MCsquare's
material 17, whose Geant4 stopping powers agree with ionbeam's water within
0.05 % above 10 MeV) in a 1 mm water box, and stores the compact curves the
validation test reads: the laterally integrated depth–dose and the radial
profiles every 2 mm of depth. Minutes per energy on 2 cores.

Usage: python bench/mcsquare/make_water_spots.py [--primaries N] [--out PATH]
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
from _mcsquare import RunOptions, run  # noqa: E402
from _mcsquare_inputs import fields_from_plan, nozzle_distance_mm, water_scanner  # noqa: E402
from _water_spots import (  # noqa: E402
    ENERGIES_MEV,
    RADIAL_DEPTH_STRIDE,
    idd_mev_mm,
    radial_bins,
    radial_profiles,
    spot_plan,
    water_grid,
)

from ionbeam.machine import cnao_machine  # noqa: E402
from ionbeam.machine.beam_model import build_beam_model  # noqa: E402
from ionbeam.physics.depth_dose import DEFAULT_ENERGY_SPREAD_REL  # noqa: E402

DEFAULT_OUT = HERE.parents[1] / "tests" / "data" / "mcsquare" / "water_spots.npz"


def simulate(energy: float, n_primaries: int, seed: int) -> dict[str, np.ndarray]:
    """MCsquare's curves for one energy (keys without the energy prefix)."""
    line = cnao_machine().beam_line
    model = build_beam_model("proton", [energy], line)
    grid = water_grid(float(model.r80_mm[0]))
    plan = spot_plan(energy, line.sad_mm)
    geometry = plan.beams[0].geometry
    distance = nozzle_distance_mm(grid, geometry.isocenter_mm, geometry.direction)
    bdl = ionbeam_bdl(line, [energy], nozzle_to_isocenter_mm=distance)
    hu = np.zeros(grid.shape, dtype=np.float32)
    result = run(
        hu,
        grid,
        fields_from_plan(plan),
        bdl,
        water_scanner(),
        RunOptions(n_primaries=n_primaries, seed=seed),
    )
    print(
        f"{energy:.0f} MeV: {result.n_primaries} primaries, {result.seconds:.0f} s, "
        f"MCsquare uncertainty {result.uncertainty_percent:.2f} %",
        flush=True,
    )
    depth = grid.axes_mm()[1]
    k = int(np.argmin(np.abs(bdl.nominal_energy_mev - energy)))
    return {
        "grid_shape": np.array(grid.shape),
        "grid_spacing_mm": np.array(grid.spacing_mm),
        "grid_origin_mm": np.array(grid.origin_mm),
        "depth_mm": depth.astype(np.float32),
        "idd_mev_mm": idd_mev_mm(result.dose_gy, grid).astype(np.float32),
        "radial_depth_mm": depth[::RADIAL_DEPTH_STRIDE].astype(np.float32),
        "radius_mm": radial_bins(grid)[1].astype(np.float32),
        "radial_dose_gy": radial_profiles(result.dose_gy, grid).astype(np.float32),
        "primaries": np.array(result.n_primaries),
        "seconds": np.array(result.seconds),
        "uncertainty_percent": np.array(result.uncertainty_percent),
        "nozzle_mm": np.array(distance),
        "nozzle_sigma_mm": np.array(bdl.sigma_mm[k]),
        "nozzle_divergence_rad": np.array(bdl.divergence_rad[k]),
        "nozzle_correlation": np.array(bdl.correlation[k]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--primaries", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    arrays: dict[str, np.ndarray] = {
        "energies_mev": np.array(ENERGIES_MEV),
        "energy_spread_rel": np.array(DEFAULT_ENERGY_SPREAD_REL),
        "mcsquare": np.array("MCsquare Release 1.1 (opentps-core 2.0.0 wheel, MCsquare_linux)"),
        "created": np.array(datetime.date.today().isoformat()),
        "seed": np.array(args.seed),
    }
    for energy in ENERGIES_MEV:
        for key, value in simulate(energy, args.primaries, args.seed).items():
            arrays[f"e{energy:.0f}_{key}"] = value
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(staging, **arrays)
    staging.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
