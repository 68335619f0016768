"""Commissioning a beam model: from the generic template to your room's file, checked,
then planned with.

ionbeam plans with a beam model (per energy: the depth–dose curve in water, the spot
in air, the lateral spread). By default it is the generic CNAO-like model. Here we
export that model as a template (ionbeam's TOML + CSV format, docs/commissioning.md),
replace what was "measured" in our room — the spot sizes in air, here 25 % larger
than the template's — check the file, and plan the same target with both models.
A larger spot gives a wider lateral penumbra: the plan shows it.

Run:  python examples/commissioning.py [OUT_DIR]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from _common import output_folder, save_summary

import ionbeam
from ionbeam.io.plan_file import BeamRequest, PatientRequest, PlanRequest
from ionbeam.machine import cnao_machine
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.machine.commissioning import (
    SpotPhaseSpace,
    beam_model_from_commissioning,
    commissioning_from_beam_model,
    load_commissioning,
    write_beam_model_file,
)

out = output_folder("commissioning")
SPOT_SCALE = 1.25  # our measured spots: 25 % wider than the template's

# 1. The template: the generic proton model at every second CNAO energy from 60 to
#    180 MeV (a clinical file lists every energy the accelerator delivers).
machine = cnao_machine()
energies = machine.energy_library("proton").energies_mev_u
energies = energies[(energies >= 60.0) & (energies <= 180.0)][::2]
template = commissioning_from_beam_model(
    build_beam_model("proton", energies, machine.beam_line), name="room1-proton"
)
write_beam_model_file(template, out / "template", overwrite=True)


# 2. Our measurements: the spot size in air at the isocentre (σ, mm) per energy. In
#    practice you edit beam_model.toml (spot_sigma_x_mm, ...) and the CSV curves.
def measured(spot: SpotPhaseSpace) -> SpotPhaseSpace:
    return SpotPhaseSpace(spot.sigma_mm * SPOT_SCALE, spot.divergence_mrad, spot.correlation)


room = dataclasses.replace(template, spot_x=measured(template.spot_x),
                           spot_y=measured(template.spot_y))  # fmt: skip
room_file = write_beam_model_file(room, out / "room1", overwrite=True)

# 3. Check the file as planning reads it: the R80 of each curve against the physics'.
check = beam_model_from_commissioning(load_commissioning(room_file))
physics = build_beam_model("proton", energies, machine.beam_line)
r80_difference_mm = float(np.max(np.abs(check.r80_mm - physics.r80_mm)))
print(f"largest R80 difference, file − physics: {r80_difference_mm:.3f} mm")


# 4. The same plan with the generic model and with the room's file (plan file key
#    [plan] beam_model, or `ionbeam plan --beam-model`).
def request(beam_model: Path | None) -> PlanRequest:
    return PlanRequest(
        patient=PatientRequest(phantom="water", spacing_mm=3.0),
        particle="proton",
        total_dose_gy=60.0,
        fractions=30,
        dose_grid_mm=3.0,
        spot_spacing_mm=5.0,
        beams=(BeamRequest(90.0),),
        beam_model=beam_model,
    )


def penumbra_mm(outcome: ionbeam.PlanOutcome) -> float:
    """The 80 %–20 % distance of the dose profile across the field (along y, through
    the target's centre), on the side y > 0, by linear interpolation."""
    dose = outcome.dose_total_gy
    target = outcome.planning.masks["Target"]
    i, j, k = (round(float(c)) for c in np.argwhere(target).mean(axis=0))
    profile = dose[i, j:, k] / dose[i, j, k]
    y_mm = np.arange(profile.size) * outcome.grid.spacing_mm[1]
    falling = slice(int(np.argmax(profile < 0.95)), None)
    at = [np.interp(-level, -profile[falling], y_mm[falling]) for level in (0.8, 0.2)]
    return float(at[1] - at[0])


results = {}
for label, model in (("generic", None), ("room1", room_file)):
    outcome = ionbeam.make_plan(request(model), grid_check=False)
    structures = ionbeam.evaluate(outcome).metrics.to_dict()["structures"]
    energy = float(np.median(outcome.plan.beams[0].spots.energy_mev_u))
    results[label] = {
        "beam_model": outcome.plan.settings["beam_model"],
        "target_d95_gy": round(structures["Target"]["d95_gy"], 2),
        "spot_fwhm_mm": round(float(outcome.machine.beam_line.fwhm_air_mm("proton", energy)), 2),
        "penumbra_80_20_mm": round(penumbra_mm(outcome), 2),
    }
    ionbeam.write_outputs(outcome, out / f"plan_{label}", overwrite=True, report=False)

save_summary(
    out,
    {
        "prescription_gy": 60.0,
        "r80_difference_mm": round(r80_difference_mm, 4),
        "generic_target_d95_gy": results["generic"]["target_d95_gy"],
        "room1_target_d95_gy": results["room1"]["target_d95_gy"],
        "generic_spot_fwhm_mm": results["generic"]["spot_fwhm_mm"],
        "room1_spot_fwhm_mm": results["room1"]["spot_fwhm_mm"],
        "generic_penumbra_mm": results["generic"]["penumbra_80_20_mm"],
        "room1_penumbra_mm": results["room1"]["penumbra_80_20_mm"],
        "room1_recorded_as": results["room1"]["beam_model"]["name"],
    },
)
