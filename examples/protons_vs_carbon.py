"""Protons vs carbon ions on the head phantom (a skull-base chordoma).

Both plans get the same prescription, CNAO's carbon-ion chordoma schedule of
70.4 Gy(RBE) in 16 fractions, with two lateral fields. Protons are optimized with a
constant RBE of 1.1, carbon ions with the mMKM, both on the RBE-weighted dose. The
script prints the target coverage and the brainstem dose of both, and draws both
dose distributions and DVHs.

Run:  python examples/protons_vs_carbon.py [OUT_DIR]
(coarse settings so that it runs in well under a minute; use spacing_mm=2.0,
dose_grid_mm=2.0 and energy_stride=1 for a clinical-quality plan.)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from _common import output_folder, save_summary

import ionbeam
from ionbeam.io.plan_file import BeamRequest, PatientRequest, PlanRequest
from ionbeam.report import dvh_comparison_figure, structure_dvhs

out = output_folder("protons_vs_carbon")

# 1. One request per particle. A PlanRequest holds what a TOML plan file says
#    (see ionbeam.io.plan_file); keys left out take their defaults.
common = {
    "patient": PatientRequest(phantom="head", spacing_mm=3.0),  # 3 mm voxels: quick
    "total_dose_gy": 70.4,  # Gy(RBE), over all fractions
    "fractions": 16,
    "machine": "cnao",  # fixed horizontal lines: gantry 90° and 270°
    "dose_grid_mm": 3.0,
    "beams": (BeamRequest(90.0), BeamRequest(270.0)),
}
requests = {
    "protons": PlanRequest(particle="proton", rbe_model="constant", **common),
    "carbon": PlanRequest(particle="carbon", rbe_model="mkm", **common),
}

# 2. Plan both. energy_stride=2 uses every second energy of the machine (a quick plan;
#    every third leaves gaps between carbon's narrow Bragg peaks); grid_check=False
#    skips the recomputation on a finer grid.
outcomes = {
    label: ionbeam.make_plan(request, energy_stride=2, grid_check=False)
    for label, request in requests.items()
}

# 3. Evaluate: metrics of the total dose (Gy(RBE)) and the clinical goals.
summary = {}
dvhs = {}
for label, outcome in outcomes.items():
    evaluation = ionbeam.evaluate(outcome)
    structures = evaluation.metrics.to_dict()["structures"]
    summary[f"{label}_ptv_d95_gy"] = round(structures["PTV"]["d95_gy"], 2)
    summary[f"{label}_brainstem_max_gy"] = round(structures["Brainstem"]["max_gy"], 2)
    summary[f"{label}_body_mean_gy"] = round(structures["Body"]["mean_gy"], 3)
    summary[f"{label}_goals_met"] = evaluation.passed
    dvhs[label] = structure_dvhs(
        outcome.dose_total_gy, outcome.grid, outcome.patient, ["PTV", "Brainstem", "Body"]
    )
summary["prescription_gy"] = 70.4

# 4. Plots: the DVHs of both plans on one axis, and an axial profile through the target.
figure = dvh_comparison_figure(dvhs, prescription_gy=70.4, dose_unit="Gy(RBE)")
figure.savefig(out / "dvh_protons_vs_carbon.png", dpi=100)
plt.close(figure)

figure, axis = plt.subplots(figsize=(6, 3.5))
for label, outcome in outcomes.items():
    dose = outcome.dose_total_gy
    grid = outcome.grid
    _, j, k = (s // 2 for s in grid.shape)  # the line through the middle of the grid
    x_mm = grid.origin_mm[0] + grid.spacing_mm[0] * np.arange(grid.shape[0])
    axis.plot(x_mm, dose[:, j, k], label=label)
axis.set_xlabel("x (mm, patient left →)")
axis.set_ylabel("dose (Gy(RBE), total)")
axis.legend()
figure.tight_layout()
figure.savefig(out / "profile.png", dpi=100)
plt.close(figure)

save_summary(out, summary)
