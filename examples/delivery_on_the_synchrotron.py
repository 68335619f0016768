"""A plan delivered on the synchrotron: energy layers, spills and the delivery time.

A synchrotron delivers one energy per cycle: it injects, accelerates, extracts a
spill of a few seconds at the layer's energy while the scanning magnets paint the
spots, then ramps down. This script plans a proton field on the head phantom, delivers
one fraction on the CNAO-like machine the plan was made on (betatron-core extraction),
then the same plan with RF knock-out extraction, which pauses the spill while the beam
moves between spots instead of dumping it, and compares the delivery times.

Run:  python examples/delivery_on_the_synchrotron.py [OUT_DIR]
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import output_folder, save_summary

import ionbeam
from ionbeam.delivery import DeliveryOptions
from ionbeam.delivery.timeline import timeline_figure
from ionbeam.io.plan_file import BeamRequest, PatientRequest, PlanRequest

out = output_folder("delivery")

# 1. A quick proton plan (2 Gy(RBE) per fraction, one lateral field).
request = PlanRequest(
    patient=PatientRequest(phantom="head", spacing_mm=3.0),
    particle="proton",
    dose_per_fraction_gy=2.0,
    fractions=30,
    dose_grid_mm=3.0,
    beams=(BeamRequest(90.0),),
)
outcome = ionbeam.make_plan(request, energy_stride=2, grid_check=False)
print(f"plan: {outcome.plan.n_spots} spots on the machine {outcome.machine.name!r}")

# 2. One fraction, spill by spill, on the plan's own machine object (outcome.machine).
#    The monitor chambers' noise is drawn from a seeded generator: reproducible.
record = ionbeam.deliver(outcome)
summary = record.summary()
figure = timeline_figure(record)
figure.savefig(out / "timeline.png", dpi=90)
plt.close(figure)

# 3. The same fraction with RF knock-out extraction.
rfko = ionbeam.deliver(outcome, options=DeliveryOptions(extraction="rfko")).summary()

save_summary(
    out,
    {
        "machine": summary["machine"],
        "layers": summary["n_layers"],
        "spills": summary["n_spills"],
        "spots": summary["n_spots"],
        "fraction_time_s": round(summary["fraction_time_s"], 2),
        "beam_on_s": round(summary["beam_on_s"], 2),
        "planned_particles": summary["planned_particles"],
        "delivered_particles": summary["delivered_particles"],
        "rfko_fraction_time_s": round(rfko["fraction_time_s"], 2),
        "rfko_spills": rfko["n_spills"],
    },
)
