"""Where the lung phantom's IMPT plan differs from Monte Carlo, region by region and per beam.

The plan is ``bench/accuracy_vs_mc.py --parts lung``'s (``_plans.lung_plan``: tumour in
the right lung, gantry 270° and 180°, optimized with the plain pencil beam); MCsquare's
dose of each field is the one that script ran (same primaries, seeds and share of the
primaries, so it comes from the cache; otherwise it runs, ~10 min per field on 2 cores).
Each beam's dose by the plain pencil beam and by fine sampling (``--fine``, default 3)
is compared with its own field's MC, and so is the plan's: ionbeam / MC − 1 (%) of the
dose summed over

* the GTV, its core (deeper than 5 mm from its surface) and its outer 5 mm, the latter
  split into a proximal and a distal half along the beam (through the GTV's centroid);
* the PTV − GTV (the lung margin);
* the lung within 5 mm and 5–10 mm outside the GTV, each split into proximal and distal
  halves along the beam;
* the right lung outside the PTV.

Usage: python bench/lung_plan_regions.py [--fine 3 5] [--primaries 1e7]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import distance_transform_edt

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "mcsquare"), str(HERE)]
from _beam_data import ionbeam_bdl  # noqa: E402
from _mcsquare import RunOptions, cached_run  # noqa: E402
from _mcsquare_inputs import body_box, fields_from_plan, nozzle_distance_mm  # noqa: E402
from _plans import lung_plan  # noqa: E402
from _scanner import calibration_scanner  # noqa: E402

from ionbeam.patient import stoichiometric_calibration  # noqa: E402
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose  # noqa: E402
from ionbeam.planning.geometry import BeamGeometry  # noqa: E402


def field_doses(case, n_primaries: int) -> list[np.ndarray]:
    """MCsquare's dose (Gy, CT grid) of each field, run exactly as ``accuracy_vs_mc``'s
    ``simulate_fields`` runs them (so the cached runs are found)."""
    ct, line = case.ct, case.model.beam_line
    scanner = calibration_scanner(stoichiometric_calibration())
    fields = fields_from_plan(case.plan)
    box, grid = body_box(ct.hu, ct.grid)
    hu = np.ascontiguousarray(ct.hu[box])
    total = sum(float(f.weight.sum()) for f in fields)
    doses = []
    for k, f in enumerate(fields):
        direction = BeamGeometry(f.gantry_deg, f.couch_deg, f.isocenter_mm).direction
        distance = nozzle_distance_mm(grid, f.isocenter_mm, direction)
        share = max(int(n_primaries * float(f.weight.sum()) / total), 100_000)
        options = RunOptions(n_primaries=share, dose_to_water=True, seed=11 + k)
        bdl = ionbeam_bdl(line, f.energy_mev, nozzle_to_isocenter_mm=distance)
        result = cached_run(hu, grid, [f], bdl, scanner, options)
        dose = np.zeros(ct.grid.shape)
        dose[box] = result.dose_gy
        doses.append(dose)
    return doses


def regions(case, direction: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks of the regions (see the module's docstring) for a beam along
    ``direction`` (unit vector, patient coordinates)."""
    s = {st.name: st.mask for st in case.structures}
    spacing = case.ct.grid.spacing_mm
    gtv, ptv, lung = s["GTV"], s["PTV"], s["Lung_R"]
    inside = distance_transform_edt(gtv, sampling=spacing)
    outside = distance_transform_edt(~gtv, sampling=spacing)
    x, y, z = case.ct.grid.axes_mm()
    points = np.stack(np.meshgrid(x, y, z, indexing="ij"), axis=-1)
    centroid = points[gtv].mean(axis=0)
    distal = (points - centroid) @ direction > 0.0
    shell = gtv & (inside <= 5.0)
    ring = lung & ~gtv & (outside <= 5.0)
    ring2 = lung & ~gtv & (outside > 5.0) & (outside <= 10.0)
    return {
        "GTV": gtv,
        "GTV core (>5 mm)": gtv & (inside > 5.0),
        "GTV outer 5 mm, proximal": shell & ~distal,
        "GTV outer 5 mm, distal": shell & distal,
        "PTV - GTV": ptv & ~gtv,
        "lung 0-5 mm out, proximal": ring & ~distal,
        "lung 0-5 mm out, distal": ring & distal,
        "lung 5-10 mm out, proximal": ring2 & ~distal,
        "lung 5-10 mm out, distal": ring2 & distal,
        "right lung outside PTV": lung & ~ptv,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fine", type=int, nargs="*", default=[3])
    parser.add_argument("--primaries", type=float, default=1e7)
    args = parser.parse_args()
    case = lung_plan()
    if case.dose_grid != case.ct.grid:
        raise SystemExit("the lung case's dose grid is expected to be its CT grid")
    mc = field_doses(case, int(args.primaries))
    engines = [("plain", DoseEngineOptions(with_let=False))] + [
        (f"fine {n}x{n}", DoseEngineOptions(with_let=False, fine_sampling=n)) for n in args.fine
    ]
    beams = [b for b in case.plan.beams if b.spots.n_spots]
    doses: dict[str, list[np.ndarray]] = {name: [] for name, _ in engines}
    for beam in beams:
        plan = dataclasses.replace(case.plan, beams=(beam,))
        for name, options in engines:
            doses[name].append(
                calc_dose(
                    case.ct, plan, case.model, structures=case.structures, options=options
                ).dose_gy
            )
    labels = [f"gantry {b.geometry.gantry_deg:g}°" for b in beams]
    header = "".join(f"{name:>12}" for name, _ in engines)
    for k, label in enumerate([*labels, "plan (both beams)"]):
        direction = beams[k].geometry.direction if k < len(beams) else beams[0].geometry.direction
        masks = regions(case, np.asarray(direction))
        reference = mc[k] if k < len(beams) else sum(mc)
        print(f"\n{label}: dose / MC − 1 (%){' (halves: first beam)' if k == len(beams) else ''}")
        print(f"   {'region':<28}{'voxels':>7}{header}")
        for region, mask in masks.items():
            cells = ""
            for name, _ in engines:
                dose = doses[name][k] if k < len(beams) else sum(doses[name])
                cells += f"{100 * (dose[mask].sum() / reference[mask].sum() - 1):>+11.1f}%"
            print(f"   {region:<28}{int(mask.sum()):>7}{cells}")


if __name__ == "__main__":
    main()
