"""The lung plan's dose beyond the tumour, summed over whole planes across each beam, vs MC.

The plan and the MCsquare fields are ``bench/lung_plan_regions.py``'s (the plan of
``bench/accuracy_vs_mc.py --parts lung``, MC from the cache). For each beam, against its
own MC field, the dose summed over slabs 2.5 mm thick perpendicular to the beam, by depth
from the GTV's centroid along the beam (the GTV's radius is 15 mm): over the whole body
(the field's integral depth–dose, which no lateral redistribution changes) and over the
GTV's projection (r < 15 mm from the beam's axis through the centroid), and the mean dose
in 5 mm rings of r 15–25 mm behind the centre; the same with
lateral range mixing (``DoseEngineOptions(range_mixing=True)``). Then the plan's PTV D95
with every SPR scaled by 1 + δ (ranges shorter by δ: the pencil beam's R80 in water lies
0.1–0.3 mm, ~0.13 % of the range, beyond MCsquare's, which behind a tumour in lung is 4×
as many geometric mm).

Usage: python bench/lung_plan_depth.py [--primaries 1e7]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "mcsquare"), str(HERE)]
from _plans import lung_plan  # noqa: E402

from ionbeam.patient.stoichiometric import stoichiometric_calibration  # noqa: E402
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose  # noqa: E402
from lung_d95 import metrics  # noqa: E402
from lung_plan_regions import field_doses  # noqa: E402

GTV_RADIUS_MM = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--primaries", type=float, default=1e7)
    parser.add_argument("--deltas", type=float, nargs="*", default=[0.0013, -0.0013])
    args = parser.parse_args()
    case = lung_plan()
    mc = field_doses(case, int(args.primaries))
    beams = [b for b in case.plan.beams if b.spots.n_spots]
    options = DoseEngineOptions(with_let=False)

    def beam_doses(calibration=None, options=options) -> list[np.ndarray]:
        return [
            calc_dose(
                case.ct,
                dataclasses.replace(case.plan, beams=(b,)),
                case.model,
                structures=case.structures,
                calibration=calibration,
                options=options,
            ).dose_gy
            for b in beams
        ]

    pb = beam_doses()
    mixed = beam_doses(options=DoseEngineOptions(with_let=False, range_mixing=True))
    s = {st.name: st.mask for st in case.structures}
    gtv, body = s["GTV"], s["Body"]
    x, y, z = case.ct.grid.axes_mm()
    points = np.stack(np.meshgrid(x, y, z, indexing="ij"), axis=-1)
    centroid = points[gtv].mean(axis=0)
    for k, beam in enumerate(beams):
        d = np.asarray(beam.geometry.direction, dtype=float)
        along = (points - centroid) @ d
        across = np.linalg.norm((points - centroid) - along[..., None] * d, axis=-1)
        print(f"beam {k} (gantry {beam.geometry.gantry_deg:.0f}°): PB / MC − 1 (%) by depth")
        print("   depth from the GTV centre (mm)   whole body   GTV projection   MC share (%)"
              "   with range mixing: whole, projection")  # fmt: skip
        total = float(mc[k][body].sum())
        for a in np.arange(-20.0, 40.0, 2.5):
            sel = body & (along >= a) & (along < a + 2.5)
            inner = sel & (across < GTV_RADIUS_MM)
            if mc[k][sel].sum() < 1e-3 * total:
                continue
            whole = 100 * (pb[k][sel].sum() / mc[k][sel].sum() - 1)
            proj = 100 * (pb[k][inner].sum() / mc[k][inner].sum() - 1)
            m_whole = 100 * (mixed[k][sel].sum() / mc[k][sel].sum() - 1)
            m_proj = 100 * (mixed[k][inner].sum() / mc[k][inner].sum() - 1)
            share = 100 * mc[k][sel].sum() / total
            print(
                f"   {a:+6.1f} … {a + 2.5:+6.1f}             {whole:+7.1f}      {proj:+7.1f}"
                f"        {share:5.2f}        {m_whole:+7.1f} {m_proj:+7.1f}"
            )
        top = float(mc[k].max())
        for a in (15.0, 20.0):
            cells = []
            for r0 in np.arange(0.0, 40.0, 5.0):
                ring = (
                    body & (along >= a) & (along < a + 5.0) & (across >= r0) & (across < r0 + 5.0)
                )
                cells.append(
                    f"{100 * pb[k][ring].mean() / top:5.1f}/{100 * mc[k][ring].mean() / top:5.1f}"
                )
            print(
                f"   {a:.0f}–{a + 5:.0f} mm, r = 0–5 … 35–40 mm (% of MC max, PB/MC): "
                + " ".join(cells)
            )
    ptv = s[case.target]
    d95_mc = metrics(sum(mc), ptv)[0]
    print(f"PTV D95: MC {d95_mc:.3f} Gy; PB, SPR × (1 + δ):")
    calibration = stoichiometric_calibration()
    for delta in [0.0, *args.deltas]:
        scaled = dataclasses.replace(calibration, spr=calibration.spr * (1.0 + delta))
        dose = sum(pb) if delta == 0.0 else sum(beam_doses(scaled))
        d95, _, mean = metrics(dose, ptv)
        mean_mc = float(sum(mc)[ptv].mean())
        print(
            f"   δ = {100 * delta:.2f} %: D95 {100 * (d95 / d95_mc - 1):+.1f} %, "
            f"mean {100 * (mean / mean_mc - 1):+.1f} %"
        )


if __name__ == "__main__":
    main()
