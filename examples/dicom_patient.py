"""Your own patient: a DICOM CT + RTSTRUCT and your HU calibration → a plan → plots.

In clinical use the CT and the structure set come from your scanner and contouring
system, and the HU → SPR table (the "HLUT") from your CT calibration. To keep this
tutorial self-contained it first writes a synthetic series with ionbeam's own DICOM
writer (the head phantom as CT_0001.dcm … and RS.dcm) and an illustrative HLUT; point
``dicom`` and ``calibration`` at your own files instead.

Run:  python examples/dicom_patient.py [OUT_DIR]
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import output_folder, save_summary

import ionbeam
from ionbeam.io.dicom import write_dicom_patient
from ionbeam.io.plan_file import BeamRequest, PatientRequest, PlanRequest
from ionbeam.patient.phantoms import make_phantom
from ionbeam.report import dose_slices_figure, dvh_figure, structure_dvhs

out = output_folder("dicom_patient")

# 1. A DICOM folder: CT slices + RTSTRUCT (here written from the head phantom, 3 mm).
dicom = write_dicom_patient(make_phantom("head", spacing_mm=3.0), out / "ct", overwrite=True)

# 2. Your HU → SPR calibration: two columns, HU and stopping-power ratio to water
#    (a third column may give the mass density). These points are an illustrative
#    bilinear-like table, not a measured one.
hlut = out / "hlut.txt"
hlut.write_text(
    "# HU      SPR\n"
    "-1000     0.001\n"
    "-800      0.20\n"
    "-120      0.93\n"
    "0         1.00\n"
    "120       1.10\n"
    "1500      1.85\n"
    "3000      2.60\n"
)

# 3. Look at the patient as ionbeam reads it (structures, grid).
patient = ionbeam.load_patient(dicom=dicom)
print("structures:", ", ".join(patient.structures))
print("CT grid:", patient.grid.shape, "voxels of", patient.grid.spacing_mm, "mm")

# 4. The plan request: the same settings a TOML plan file holds (ionbeam.plan_from_file
#    reads one). Protons, 2 Gy(RBE) × 30 to the PTV, two lateral fields.
request = PlanRequest(
    patient=PatientRequest(dicom=dicom, target="PTV", calibration=hlut),
    particle="proton",
    total_dose_gy=60.0,
    fractions=30,
    dose_grid_mm=3.0,
    beams=(BeamRequest(90.0), BeamRequest(270.0)),
)
outcome = ionbeam.make_plan(request, energy_stride=2, grid_check=False)

# 5. Evaluate and write the plan folder: plan.json, metrics.json, DICOM (RT Ion Plan,
#    RT Doses, referencing your CT's study) and the HTML report, atomically.
evaluation = ionbeam.evaluate(outcome)
ionbeam.write_outputs(outcome, out / "plan", overwrite=True, inputs=(hlut,))

# 6. Plots of the total dose (Gy(RBE), all 30 fractions): three planes and the DVHs.
figure = dose_slices_figure(
    outcome.patient, outcome.dose_total_gy, outcome.grid, dose_unit="Gy(RBE)", plan=outcome.plan
)
figure.savefig(out / "dose_slices.png", dpi=90)
plt.close(figure)
names = [n for n in ("PTV", "GTV", "Brainstem", "OpticChiasm") if n in patient.structures]
dvhs = structure_dvhs(outcome.dose_total_gy, outcome.grid, outcome.patient, names)
figure = dvh_figure(dvhs, prescription_gy=60.0, dose_unit="Gy(RBE)")
figure.savefig(out / "dvh.png", dpi=90)
plt.close(figure)

structures = evaluation.metrics.to_dict()["structures"]
save_summary(
    out,
    {
        "prescription_gy": 60.0,
        "ptv_d95_gy": round(structures["PTV"]["d95_gy"], 2),
        "ptv_d2_gy": round(structures["PTV"]["d2_gy"], 2),
        "brainstem_max_gy": round(structures["Brainstem"]["max_gy"], 2),
        "calibration": outcome.plan.settings["hu_calibration"],
        "goals_met": evaluation.passed,
    },
)
