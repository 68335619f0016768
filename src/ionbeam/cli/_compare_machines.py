"""``ionbeam compare-machines``: one plan delivered on every machine and extraction method."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``compare-machines`` sub-command."""
    parser = subparsers.add_parser(
        "compare-machines",
        help="deliver one plan on CNAO, PIMMS and MedAustron with betatron-core and RF-KO "
        "extraction, side by side",
        description=(
            "Deliver a plan (spot scanning, the same options and seed) on every machine and "
            "extraction method and print delivery time, beam-on fraction, spills and the spot "
            "count error under spill ripple. Writes nothing."
        ),
    )
    parser.add_argument("plan", type=Path, metavar="PLAN_DIR", help="plan folder or plan.json")
    # names checked against ionbeam.machine.MACHINES when run (importing it here would slow
    # every `ionbeam --help`)
    parser.add_argument("--machines", nargs="+", metavar="NAME",
                        help="machines to compare (default: every registered machine: "
                        "cnao, pimms, medaustron)")  # fmt: skip
    parser.add_argument("--ripple-betatron", type=float, default=0.2,
                        help="rms spill ripple with a betatron core (default 0.2)")  # fmt: skip
    parser.add_argument("--ripple-rfko", type=float, default=0.05,
                        help="rms spill ripple with RF knock-out (default 0.05)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of chamber noise and ripple")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam compare-machines``."""
    from ionbeam.cli._beam_model import machine_for_plan, recorded_beam_model
    from ionbeam.cli._output import print_json, print_table
    from ionbeam.delivery.compare import compare_machines
    from ionbeam.io.plan_json import read_plan_json
    from ionbeam.machine import MACHINES

    names = [MACHINES.canonical(name) for name in args.machines or MACHINES.names]
    plan = read_plan_json(args.plan)
    beam_model = recorded_beam_model(plan.settings, plan.particle)
    machines = [machine_for_plan(beam_model, name) for name in names]
    levels = {"betatron": args.ripple_betatron, "rfko": args.ripple_rfko}
    rows = [c.row() for c in compare_machines(plan, machines, ripple_rms=levels, seed=args.seed)]
    if args.json:
        print_json({"particle": plan.particle, "deliveries": rows})
        return 0
    print_table(
        f"{plan.particle}: one fraction on each machine (spot scanning)",
        ("machine", "extraction", "time (s)", "beam on (s)", "beam-on %", "spills",
         "ripple rms", "spot error rms %", "spot error max %"),
        [(r["machine"], r["extraction"], f"{r['delivery_time_s']:.1f}", f"{r['beam_on_s']:.1f}",
          f"{100 * r['beam_on_fraction']:.1f}", r["n_spills"], f"{r['ripple_rms']:.2f}",
          f"{100 * r['spot_error_rms']:.2f}", f"{100 * r['spot_error_max']:.1f}")
         for r in rows],
    )  # fmt: skip
    return 0
