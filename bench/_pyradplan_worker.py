"""Runs pyRadPlan's TG-119 ion plan and reports its timings (runs inside pyRadPlan's own venv).

Not part of ionbeam and never imported by it: ``bench/compare_pyradplan.py``
runs this file with the Python of a separate virtual environment where
pyRadPlan 0.5.0 is installed, and reads one JSON line from standard output.
The CT, the structure masks and pyRadPlan's optimized dose are saved to an
``.npz`` so that ionbeam can plan exactly the same voxels.

Its optimized dose is also saved on the CT grid (``dose_ct_<cap>``, [x, y, z], Gy; pyRadPlan's
own trilinear resampling, ``Dij.compute_result_ct_grid``), so that the caller judges both
programs' plans on the same CT voxels with the same metric functions.

Usage: python _pyradplan_worker.py PARTICLE SPOT_SPACING_MM DOSE_GRID_MM OUT.npz [--no-opt]
       [--max-iter N1,N2,...]

``--max-iter N1,N2,...``: the optimization runs once more for each cap, with pyRadPlan's
own iteration cap of its solver (``pln.prop_opt``'s ``max_iter``), on the same dose
influence, then with pyRadPlan's default (500): each run is timed and judged, so that
pyRadPlan can be stopped at a given plan quality (its L-BFGS-B path is the same, so a
capped run is the uncapped one stopped after N iterations).
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


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
    caps: list[int | None] = [None]
    if "--max-iter" in sys.argv:
        given = sys.argv[sys.argv.index("--max-iter") + 1]
        caps = [int(n) for n in given.split(",")] + [None]
    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)
    import SimpleITK as sitk
    from pyRadPlan import (
        IonPlan,
        calc_dose_influence,
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
    # (set in _optimize: pln.prop_opt = {"solver": "scipy", "convert_dose_objectives": False})
    rss_start = _peak_rss_mb()
    t0, cpu0 = time.perf_counter(), time.process_time()
    stf = generate_stf(ct, cst, pln)
    t1 = time.perf_counter()
    dij = calc_dose_influence(ct, cst, stf, pln)
    t2, cpu2 = time.perf_counter(), time.process_time()
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
        "stf_dij_cpu_s": cpu2 - cpu0,
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
        arrays[f"mask_{voi.name}"] = _ct_mask(voi)
    if optimize:
        # pyRadPlan's TG-119 prescription (its cst's target objective's d_ref, Gy)
        runs = [
            _optimize(ct, cst, stf, dij, pln, cap, arrays, prescription_gy=50.0) for cap in caps
        ]
        result.update(runs[-1])  # the uncapped run (pyRadPlan's own default) last
        result["runs"] = runs
        result["peak_rss_mb"] = _peak_rss_mb()
    np.savez_compressed(out, **arrays)
    print(json.dumps(result))


def _optimize(ct, cst, stf, dij, pln, cap, arrays, *, prescription_gy: float) -> dict:
    """pyRadPlan's fluence optimization with its iteration cap ``cap`` (None: its own
    default), timed, and its plan's quality on the dose grid and on the CT grid."""
    import SimpleITK as sitk
    from pyRadPlan import fluence_optimization

    from _tg119_metrics import relative_metrics

    base = {"solver": "scipy", "convert_dose_objectives": False}
    pln.prop_opt = base if cap is None else {**base, "max_iter": cap}
    opt_info: dict = {}
    t, cpu = time.perf_counter(), time.process_time()
    fluence = fluence_optimization(ct, cst, stf, dij, pln, opt_info=opt_info)
    opt_s, opt_cpu_s = time.perf_counter() - t, time.process_time() - cpu
    dose_flat = dij.physical_dose.flat[0] @ fluence
    target = _dose_grid_mask(ct, dij, cst, "OuterTarget")
    core = _dose_grid_mask(ct, dij, cst, "Core")
    grid = relative_metrics(dose_flat, target, core, prescription_gy)
    on_ct = dij.compute_result_ct_grid(fluence)["physical_dose"]
    dose_ct = np.transpose(sitk.GetArrayFromImage(on_ct), (2, 1, 0))
    masks = {voi.name: _ct_mask(voi) for voi in cst.vois}
    ct_metrics = relative_metrics(dose_ct, masks["OuterTarget"], masks["Core"], prescription_gy)
    arrays[f"dose_ct_{cap or 'default'}"] = dose_ct.astype(np.float32)
    return {
        "max_iter": cap,
        "iterations": opt_info.get("num_iter"),
        "opt_s": opt_s,
        "opt_cpu_s": opt_cpu_s,
        "target_d95_rel": grid["d95"],
        "target_d5_rel": grid["d5"],
        "core_mean_rel": grid["core_mean"],
        **{f"ct_{k}_rel": v for k, v in ct_metrics.items()},
    }


def _ct_mask(voi) -> np.ndarray:
    import SimpleITK as sitk

    return np.transpose(sitk.GetArrayFromImage(voi.mask), (2, 1, 0)).astype(bool)


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
