"""Plans pyRadPlan's TG-119 proton case and exports what MCsquare needs (runs in pyRadPlan's venv).

Not part of ionbeam and never imported by it: ``bench/accuracy_vs_mc.py`` runs
this file with the Python of pyRadPlan's own virtual environment (pyRadPlan
0.5.0, pydantic 2.13.x). It plans TG-119 as ``bench/_pyradplan_worker.py``
does (protons, Generic machine, gantry 0/120/240°, 5 mm spots, 5 mm dose grid,
pyRadPlan's own optimization of its default objectives) and saves to an
``.npz``:

* the CT (HU, ``[x, y, z]``), its spacing and origin, the structure masks and
  the isocentre (LPS mm);
* per beam: gantry, couch, isocentre, pyRadPlan's source point (LPS, relative
  to the isocentre) and its beam rotation matrix, and per bixel the energy
  (MeV), the ray position in pyRadPlan's beam's-eye view and the optimized
  weight (pyRadPlan's units: 10⁶ protons, as matRad's MCsquare interface
  converts them);
* pyRadPlan's pencil-beam dose of that plan (Gy) on its dose grid (origin,
  resolution, dimensions; flat in x-fastest order);
* the Generic proton machine: energies, energy spectrum (mean, σ in %),
  the spot size against the distance from the source (first focus) and SAD.

Usage: python _pyradplan_mc_worker.py OUT.npz
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np


def main() -> None:
    out = sys.argv[1]
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
    from pyRadPlan.machines import load_from_name

    ct, cst = load_tg119()
    pln = IonPlan(radiation_mode="protons", machine="Generic")
    pln.prop_stf = {
        "gantry_angles": [0.0, 120.0, 240.0],
        "couch_angles": [0.0, 0.0, 0.0],
        "bixel_width": 5.0,
    }
    pln.prop_dose_calc = {"dose_grid": {"resolution": {"x": 5.0, "y": 5.0, "z": 5.0}}}
    pln.prop_opt = {"solver": "scipy"}
    t0 = time.perf_counter()
    stf = generate_stf(ct, cst, pln)
    dij = calc_dose_influence(ct, cst, stf, pln)
    t1 = time.perf_counter()
    fluence = np.asarray(fluence_optimization(ct, cst, stf, dij, pln), dtype=float).reshape(-1)
    t2 = time.perf_counter()
    matrix = dij.physical_dose.flat[0]
    arrays: dict[str, np.ndarray] = _ct_arrays(ct, cst, sitk)
    arrays.update(_beam_arrays(stf, dij, fluence))
    grid = dij.dose_grid
    arrays["dose_origin_mm"] = np.asarray(grid.origin, dtype=float)[:3]
    arrays["dose_spacing_mm"] = np.array([grid.resolution[k] for k in ("x", "y", "z")], float)
    arrays["dose_dimensions"] = np.asarray(grid.dimensions, dtype=int)[:3]
    arrays["dose_gy"] = np.asarray(matrix @ fluence, dtype=float).reshape(-1)
    arrays.update(_machine_arrays(load_from_name("protons", "Generic")))
    np.savez_compressed(out, **arrays)
    print(json.dumps({"spots": int(matrix.shape[1]), "dij_s": t1 - t0, "opt_s": t2 - t1}))


def _ct_arrays(ct, cst, sitk) -> dict[str, np.ndarray]:
    img = ct.cube_hu
    arrays = {
        "hu": np.transpose(sitk.GetArrayFromImage(img), (2, 1, 0)).astype(np.float32),
        "spacing_mm": np.array(img.GetSpacing(), dtype=float),
        "origin_mm": np.array(img.GetOrigin(), dtype=float),
    }
    for voi in cst.vois:
        arrays[f"mask_{voi.name}"] = np.transpose(sitk.GetArrayFromImage(voi.mask), (2, 1, 0)) > 0
    return arrays


def _beam_arrays(stf, dij, fluence: np.ndarray) -> dict[str, np.ndarray]:
    from pyRadPlan.geometry import lps

    beam_num = np.asarray(dij.beam_num, dtype=int).reshape(-1)
    ray_num = np.asarray(dij.ray_num, dtype=int).reshape(-1)
    bixel_num = np.asarray(dij.bixel_num, dtype=int).reshape(-1)
    base = min(beam_num.min(), ray_num.min(), bixel_num.min())  # 0- or 1-based
    arrays: dict[str, np.ndarray] = {"n_beams": np.array(len(stf.beams))}
    for b, beam in enumerate(stf.beams):
        columns = np.flatnonzero(beam_num - base == b)
        rays = [beam.rays[r - base] for r in ray_num[columns]]
        energies = [
            ray.beamlets[k - base].energy for ray, k in zip(rays, bixel_num[columns], strict=True)
        ]
        arrays[f"beam{b}_gantry"] = np.array(beam.gantry_angle, dtype=float)
        arrays[f"beam{b}_couch"] = np.array(beam.couch_angle, dtype=float)
        arrays[f"beam{b}_iso"] = np.asarray(beam.iso_center, dtype=float)
        arrays[f"beam{b}_source"] = np.asarray(beam.source_point, dtype=float)
        arrays[f"beam{b}_rotation"] = np.asarray(
            lps.get_beam_rotation_matrix(beam.gantry_angle, beam.couch_angle), dtype=float
        )
        arrays[f"beam{b}_energy"] = np.asarray(energies, dtype=float)
        arrays[f"beam{b}_ray_bev"] = np.array([np.asarray(r.ray_pos_bev, float) for r in rays])
        arrays[f"beam{b}_weight"] = fluence[columns]
    return arrays


def _machine_arrays(machine) -> dict[str, np.ndarray]:
    energies = np.asarray(machine.energies, dtype=float)
    spectra = [machine.spectra[e] for e in machine.energies]
    foci = [machine.foci[e][0] for e in machine.energies]  # the first focus, as generate_stf
    return {
        "machine_energy": energies,
        "machine_mean_energy": np.array([s.mean for s in spectra], dtype=float),
        "machine_spread_percent": np.array([s.sigma for s in spectra], dtype=float),
        "machine_focus_dist": np.array([np.asarray(f.dist, float) for f in foci]),
        "machine_focus_sigma": np.array([np.asarray(f.sigma, float) for f in foci]),
        "machine_sad": np.array(float(machine.sad)),
        "machine_bams_mm": np.array(float(machine.bams_to_iso_dist)),
    }


if __name__ == "__main__":
    main()
