"""One plan delivered on CNAO, PIMMS and MedAustron, betatron core and RF knock-out.

Builds (or reads, with ``--plan PLAN_DIR ...``) plans and prints, per machine and
extraction: delivery time, beam-on time and fraction, spills, spot count error under
the extraction's ripple; and, on CNAO, the time with per-layer instead of per-spot
intensity modulation (what a single small spot used to cost). The built-in plan is
of the size of the head carbon demo (2 fields × 20 layers of ~45 spots, weights
log-normal around 2·10⁵ ions with a few spots at the 5000-ion minimum). Not a test:
``python bench/compare_machines.py [--plan DIR ...]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _built_in_plan(seed: int = 1):
    from ionbeam.machine import cnao_machine
    from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap

    rng = np.random.default_rng(seed)
    library = cnao_machine().energy_library("carbon").energies_mev_u
    axis = np.arange(-9.0, 9.1, 3.0)
    gx, gy = np.meshgrid(axis, axis)
    keep = gx**2 + gy**2 <= 81.0
    beams = []
    for b in range(2):
        cols: dict[str, list[np.ndarray]] = {"e": [], "x": [], "y": [], "w": []}
        for e in library[40:80:2]:
            w = 2.0e5 * rng.lognormal(0.0, 0.7, keep.sum())
            w[rng.random(w.size) < 0.05] = 5000.0
            cols["e"].append(np.full(w.size, e))
            cols["x"].append(gx[keep])
            cols["y"].append(gy[keep])
            cols["w"].append(w)
        spots = SpotMap(*(np.concatenate(cols[k]) for k in ("e", "x", "y", "w")))
        beams.append(Beam(f"F{b + 1}", BeamGeometry(gantry_deg=90.0 * b), spots))
    return Plan("carbon", tuple(beams), Prescription("PTV", 3.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", nargs="*", default=[], help="plan folders (plan.json)")
    args = parser.parse_args()
    from ionbeam.delivery import DeliveryOptions, deliver_plan
    from ionbeam.delivery.compare import compare_machines
    from ionbeam.io.plan_json import read_plan_json
    from ionbeam.machine import cnao_machine, medaustron_machine, pimms_machine

    plans = [("built-in", _built_in_plan())] + [(p, read_plan_json(p)) for p in args.plan]
    machines = [cnao_machine(), pimms_machine(), medaustron_machine()]
    for label, plan in plans:
        print(f"\n{label}: {plan.particle}, {len(plan.beams)} fields, {plan.n_spots} spots")
        start = time.perf_counter()
        rows = [c.row() for c in compare_machines(plan, machines)]
        print(f"{'machine':<11s}{'extraction':<10s}{'time s':>8s}{'beam on s':>10s}"
              f"{'on %':>7s}{'spills':>7s}{'err rms %':>10s}{'err max %':>10s}")  # fmt: skip
        for r in rows:
            err_rms, err_max = 100 * r["spot_error_rms"], 100 * r["spot_error_max"]
            print(f"{r['machine']:<11s}{r['extraction']:<10s}{r['delivery_time_s']:8.1f}"
                  f"{r['beam_on_s']:10.2f}{100 * r['beam_on_fraction']:7.1f}{r['n_spills']:7d}"
                  f"{err_rms:10.2f}{err_max:10.1f}")  # fmt: skip
        layer = deliver_plan(plan, cnao_machine(), rng=np.random.default_rng(0),
                             options=DeliveryOptions(intensity_modulation="layer",
                                                     stretch_spill=False))  # fmt: skip
        throttled = int(np.sum(layer.layers.intensity_fraction < 1.0))
        print(
            f"cnao, per-layer modulation, no stretch (the old behaviour): "
            f"{layer.fraction_time_s:.1f} s, {throttled}/{len(layer.layers)} layers throttled"
        )
        print(f"({time.perf_counter() - start:.1f} s to simulate)")


if __name__ == "__main__":
    main()
