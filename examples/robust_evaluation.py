"""Robust evaluation: how a plan's dose holds up under range and set-up errors.

The plan is recomputed in the standard set of 9 scenarios (nominal, ±3.5 % range
error, ±3 mm set-up shift along x, y and z; see docs/robust.md), and the target's
worst-case D95 and the organs' worst-case near-maximum doses are compared with the
nominal ones. The scenarios run here, serially; pass a ``distributed.Client`` as
``client=`` to run them on a Dask cluster.

Run:  python examples/robust_evaluation.py [OUT_DIR]
"""

from __future__ import annotations

from _common import output_folder, save_summary

import ionbeam
from ionbeam.io.plan_file import BeamRequest, PatientRequest, PlanRequest
from ionbeam.planning.robust import RobustOptions
from ionbeam.report.robust_report import robust_dvh_figure_png

out = output_folder("robust")

# 1. A nominal proton plan of the head phantom (coarse, quick).
request = PlanRequest(
    patient=PatientRequest(phantom="head", spacing_mm=4.0),
    particle="proton",
    total_dose_gy=60.0,
    fractions=30,
    dose_grid_mm=4.0,
    beams=(BeamRequest(90.0), BeamRequest(270.0)),
)
outcome = ionbeam.make_plan(request, energy_stride=2, grid_check=False)

# 2. Its dose in the 9 scenarios (Gy(RBE), totals over all fractions).
scenarios = RobustOptions(scenario_set="9", range_error=0.035, setup_error_mm=3.0)
robustness = ionbeam.evaluate_robustness(outcome, scenarios)
print("\n".join(robustness.lines()))

# 3. The DVH bands (the nominal DVH with the lowest and highest over the scenarios).
(out / "dvh_bands.png").write_bytes(robust_dvh_figure_png(robustness, unit="Gy(RBE)"))

ptv = robustness.structure("PTV")
brainstem = robustness.structure("Brainstem")
save_summary(
    out,
    {
        "prescription_gy": 60.0,
        "scenarios": len(robustness.labels),
        "ptv_d95_nominal_gy": round(float(ptv.metrics["d95_gy"][0]), 2),
        "ptv_d95_worst_gy": round(ptv.worst["d95_gy"], 2),
        "brainstem_d0_03cc_nominal_gy": round(float(brainstem.metrics["d0_03cc_gy"][0]), 2),
        "brainstem_d0_03cc_worst_gy": round(brainstem.worst["d0_03cc_gy"], 2),
        "underdosed_scenarios": robustness.underdosed_scenarios()["PTV"],
    },
)
