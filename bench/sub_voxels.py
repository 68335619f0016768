"""What the optimizer's sub-voxels cost: the head demo's plan with and without them.

Plans the head phantom (2 mm CT and dose grid, the demo's two lateral fields and
prescription, tissue and ring around the PTV) with ``oar_supersampling_mm`` = 0 and the
given band (default 4 mm), and prints per run: the rows the optimizer keeps (dose-grid
voxels with an objective, sub-voxel rows), their stored entries and bytes, the time of
the dose influence, of the sub-voxels' influence and of the optimization (both legs),
and the plan's PTV D95 / brainstem maximum on the dose grid (Gy(RBE), total). Both runs
share one process (the first pays numba's compilation: run with a warm cache, or read
the second pair).

Usage: ``python bench/sub_voxels.py [--particle proton|carbon] [--band 4]``
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from ionbeam.cli._demo import _BEAMS, DEMO_PRESCRIPTION, DEMO_TARGET_TISSUE, _with_ring
from ionbeam.planning.optimize.influence_rows import restrict_influence
from ionbeam.planning.plan import Prescription
from ionbeam.planning.planner import PlanningOptions, _sub_voxels, plan_patient
from ionbeam.planning.sub_voxels import sub_voxel_fractions
from ionbeam.workflow import load_patient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particle", default="proton", choices=("proton", "carbon"))
    parser.add_argument("--band", type=float, default=4.0, help="oar_supersampling_mm")
    args = parser.parse_args()
    patient = _with_ring(load_patient(phantom="head", spacing_mm=2.0))
    total, fractions = DEMO_PRESCRIPTION
    prescription = Prescription("PTV", total, fractions)
    rbe = "constant" if args.particle == "proton" else "mkm"
    for band in (0.0, args.band):
        options = PlanningOptions(gantry_deg=_BEAMS, rbe_model=rbe, oar_supersampling_mm=band,
                                  target_tissue=DEMO_TARGET_TISSUE)  # fmt: skip
        start = time.perf_counter()
        result = plan_patient(patient, prescription, particle=args.particle, options=options)
        elapsed = time.perf_counter() - start
        _report(band, result, patient, options, elapsed, fractions)


def _report(band, result, patient, options, elapsed, fractions) -> None:
    influence = result.influence
    names = list(result.objectives)
    carried = np.zeros(influence.grid.size, dtype=bool)
    for name in names:
        carried |= np.asarray(result.occupancy[name]).reshape(-1) > 0
    voxels = np.flatnonzero(carried)
    if band > 0:
        sub = _sub_voxels(
            patient, result.plan, _model(result), influence, result.occupancy,
            result.objectives, "PTV", np.zeros(influence.grid.shape, dtype=np.int64),
            None, options,
        )  # fmt: skip
        fractions_ = sub_voxel_fractions(sub, list(patient.structures.values()),
                                         result.occupancy, names)  # fmt: skip
        kept = np.zeros(influence.n_rows + sub.n_rows, dtype=bool)
        for share in fractions_.values():
            kept |= share > 0
        influence = dataclasses.replace(influence, sub_voxels=sub)
        voxels = np.flatnonzero(kept)
    rows = restrict_influence(influence, voxels, matrices=("dose",))
    t = result.timings_s
    dose = result.evaluated_dose_gy * fractions
    ptv = dose[result.masks["PTV"]]
    print(
        f"band {band:g} mm: rows {rows.n_voxels:,} (sub-voxel rows "
        f"{int(np.sum(rows.voxel_index >= result.grid.size)):,}), entries {rows.nnz:,} "
        f"({rows.nbytes / 1e6:.0f} MB per matrix set of dose only); dose influence "
        f"{t['dose_influence_s']:.1f} s, sub-voxels {t.get('sub_voxel_influence_s', 0.0):.1f} s, "
        f"optimization {t['optimization_s'] + t.get('halo_reoptimization_s', 0.0):.1f} s "
        f"({sum(r.nit for r in result.optimization)} it.), total {elapsed:.1f} s; "
        f"PTV D95 {np.percentile(ptv, 5):.2f}, brainstem max "
        f"{dose[result.masks['Brainstem']].max():.2f} Gy(RBE)"
    )


def _model(result):
    from ionbeam.machine import cnao_machine
    from ionbeam.machine.beam_model import build_beam_model

    plan = result.plan
    energies = np.unique(np.concatenate([b.spots.energy_mev_u for b in plan.beams]))
    return build_beam_model(plan.particle, energies, cnao_machine().beam_line,
                            ripple_filter=bool(plan.beams[0].ripple_filter))  # fmt: skip


if __name__ == "__main__":
    main()
