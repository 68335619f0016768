"""Runs pyRadPlan's TG-119 ion plan and reports its timings (runs inside pyRadPlan's own venv).

Not part of ionbeam and never imported by it: ``bench/compare_pyradplan.py``
runs this file with the Python of a separate virtual environment where
pyRadPlan 0.5.0 is installed, and reads one JSON line from standard output.
The CT, the structure masks and pyRadPlan's optimized dose are saved to an
``.npz`` so that ionbeam can plan exactly the same voxels.

Usage: python _pyradplan_worker.py PARTICLE SPOT_SPACING_MM DOSE_GRID_MM OUT.npz [--no-opt]
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings

import numpy as np


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    particle, spacing, grid_mm, out = (
        sys.argv[1],
        float(sys.argv[2]),
        float(sys.argv[3]),
        sys.argv[4],
    )
    optimize = "--no-opt" not in sys.argv
    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)
    import SimpleITK as sitk
    from pyRadPlan import (
        IonPlan,
        calc_dose_influence,
        fluence_optimization,
        generate_stf,
        load_tg119,
    )

    ct, cst = load_tg119()
    mode = {"proton": "protons", "carbon": "carbon"}[particle]
    pln = IonPlan(radiation_mode=mode, machine="Generic")
    pln.prop_stf = {
        "gantry_angles": [0.0, 120.0, 240.0],
        "couch_angles": [0.0, 0.0, 0.0],
        "bixel_width": spacing,
    }
    pln.prop_dose_calc = {"dose_grid": {"resolution": {"x": grid_mm, "y": grid_mm, "z": grid_mm}}}
    # Physical dose for both particles, as ionbeam's side of the benchmark optimizes: for
    # carbon pyRadPlan would convert the objectives to its RBE-weighted dose, which needs
    # biological matrices this benchmark does not compute.
    pln.prop_opt = {"solver": "scipy", "convert_dose_objectives": False}
    rss_start = _peak_rss_mb()
    t0 = time.perf_counter()
    stf = generate_stf(ct, cst, pln)
    t1 = time.perf_counter()
    dij = calc_dose_influence(ct, cst, stf, pln)
    t2 = time.perf_counter()
    rss_dij = _peak_rss_mb()
    matrix = dij.physical_dose.flat[0]
    result = {
        "particle": particle,
        "spot_spacing_mm": spacing,
        "dose_grid_mm": grid_mm,
        "spots": int(matrix.shape[1]),
        "voxels": int(matrix.shape[0]),
        "nonzeros": int(matrix.nnz),
        "stf_s": t1 - t0,
        "dij_s": t2 - t1,
        "peak_rss_mb_after_dij": rss_dij,
        "rss_mb_before": rss_start,
    }
    arrays: dict[str, np.ndarray] = {}
    img = ct.cube_hu
    arrays["hu"] = np.transpose(sitk.GetArrayFromImage(img), (2, 1, 0)).astype(np.float32)
    arrays["spacing_mm"] = np.array(img.GetSpacing(), dtype=float)
    arrays["origin_mm"] = np.array(img.GetOrigin(), dtype=float)
    arrays["isocenter_mm"] = (
        np.asarray(stf.beams[0].iso_center, dtype=float) if hasattr(stf, "beams") else np.zeros(3)
    )
    for voi in cst.vois:
        mask = np.transpose(sitk.GetArrayFromImage(voi.mask), (2, 1, 0)).astype(bool)
        arrays[f"mask_{voi.name}"] = mask
    if optimize:
        t3 = time.perf_counter()
        opt_info: dict = {}
        fluence = fluence_optimization(ct, cst, stf, dij, pln, opt_info=opt_info)
        t4 = time.perf_counter()
        dose_flat = matrix @ fluence
        target = _dose_grid_mask(ct, dij, cst, "OuterTarget")
        prescription = 50.0  # Gy, TG-119 default objective of pyRadPlan's cst (d_ref)
        d_target = np.sort(dose_flat[target])
        result.update(
            {
                "opt_s": t4 - t3,
                "peak_rss_mb": _peak_rss_mb(),
                "target_d95_rel": float(np.percentile(d_target, 5) / prescription),
                "target_d5_rel": float(np.percentile(d_target, 95) / prescription),
                "iterations": opt_info.get("num_iter"),
            }
        )
    np.savez_compressed(out, **arrays)
    print(json.dumps(result))


def _dose_grid_mask(ct, dij, cst, name: str) -> np.ndarray:
    """Flat mask of a structure on the dose grid, as pyRadPlan's optimizer resamples it
    (``optimization/problems/_optiprob.py``: CT to the dose grid, then the structures)."""
    ct_on_grid = ct.resample_to_grid(dij.dose_grid)
    cst_on_grid = cst.resample_on_new_ct(ct_on_grid)
    voi = next(v for v in cst_on_grid.vois if v.name == name)
    mask = np.zeros(dij.dose_grid.num_voxels, dtype=bool)
    mask[np.asarray(voi.indices_numpy)] = True
    return mask


if __name__ == "__main__":
    main()
