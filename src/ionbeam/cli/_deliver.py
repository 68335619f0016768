"""``ionbeam deliver``: one fraction of a plan, spill by spill, on the synchrotron.

The record folder follows the policy of ``ionbeam plan``: a non-empty one is
refused unless ``--force`` (then replaced as a whole), one that is or contains
the plan is refused, and it is written atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]

#: Exit status when the simulated interlock stopped the delivery.
INTERLOCK_STATUS = 3


def register(subparsers: Any) -> None:
    """Add the ``deliver`` sub-command."""
    parser = subparsers.add_parser(
        "deliver",
        help="simulate the delivery of a plan spill by spill (times, spills, delivery record)",
        description=(
            "Sequence a plan (layers from high to low energy, optimised scan paths), deliver "
            "it spill by spill as the dose delivery system does (two monitor chambers, chopper, "
            "interlock), print the totals and write the delivery record (spots, spills, layers, "
            "summary.json) and a timeline figure. Exit status 3 when the simulated interlock "
            "stopped the delivery."
        ),
    )
    parser.add_argument("plan", type=Path, metavar="PLAN_DIR", help="plan folder or plan.json")
    parser.add_argument("--machine", help="cnao, pimms or medaustron (default: the plan's "
                        "machine)")  # fmt: skip
    parser.add_argument(
        "--extraction", choices=("betatron", "rfko"),
        help="slow-extraction driver: betatron core (the chopper dumps while the beam is off) "
        "or RF knock-out (extraction pauses); default: the machine's",
    )  # fmt: skip
    parser.add_argument(
        "--intensity-modulation", choices=("spot", "layer"), default="spot",
        help="lengthen only the spots shorter than the DDS's minimum (spot, default) or lower "
        "the whole layer's intensity (layer)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--out", type=Path, help="record folder (default: PLAN_DIR/delivery)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty record folder")
    parser.add_argument("--scan", choices=("spot", "raster"), default="spot",
                        help="beam off (spot) or on (raster) during moves")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the monitor-chamber noise")
    parser.add_argument("--path", choices=("optimised", "serpentine", "plan"),
                        default="optimised", help="scan path within a layer")  # fmt: skip
    parser.add_argument(
        "--below-minimum", choices=("refuse", "round", "round-up", "drop"), default="refuse",
        help="spots below the machine's minimum particles: refuse (default), round to 0 or "
        "the minimum, round up, or drop",
    )  # fmt: skip
    parser.add_argument("--format", choices=("csv", "json", "parquet"), default="csv",
                        help="format of the record tables (default csv)")  # fmt: skip
    parser.add_argument("--multi-energy", action="store_true",
                        help="multi-energy extraction (layers share a flat top)")  # fmt: skip
    parser.add_argument("--spill-length", type=float, help="spill length, s (default: machine's)")
    parser.add_argument("--ripple", type=float, default=0.0,
                        help="rms spill ripple (fraction of the mean intensity, mains "
                        "harmonics); each spot ends off its count by what the ripple "
                        "adds during the chopper's switching (default 0: smooth)")  # fmt: skip
    parser.add_argument("--no-figure", action="store_true", help="do not write timeline.png")
    parser.set_defaults(handler=run)


def _out(args: argparse.Namespace) -> Path:
    """The record folder, checked before any work."""
    from ionbeam._atomic import check_output_folder

    plan = Path(args.plan)
    plan_file = plan / "plan.json" if plan.is_dir() else plan
    out = args.out or (plan if plan.is_dir() else plan.parent) / "delivery"
    check_output_folder(out, inputs=(plan_file,), overwrite=args.force)
    return out


def _deliver(args: argparse.Namespace) -> Any:
    import numpy as np

    from ionbeam.cli._beam_model import machine_for_plan, recorded_beam_model
    from ionbeam.delivery import DeliveryOptions, deliver_plan, mains_ripple
    from ionbeam.errors import ConfigError
    from ionbeam.io.plan_json import read_plan_json

    plan = read_plan_json(args.plan)
    beam_model = recorded_beam_model(plan.settings, plan.particle)
    machine = machine_for_plan(beam_model, args.machine or plan.machine)
    if args.spill_length is not None:
        if not (np.isfinite(args.spill_length) and args.spill_length > 0):
            raise ConfigError(
                f"--spill-length must be a positive number of s; got {args.spill_length}"
            )
        machine = machine.with_cycle(spill_length_s=args.spill_length)
    options = DeliveryOptions(
        scan_mode=args.scan,
        scan_path=args.path,
        below_minimum=args.below_minimum,
        multi_energy_extraction=True if args.multi_energy else None,
        extraction=args.extraction,
        intensity_modulation=args.intensity_modulation,
        ripple=mains_ripple(args.ripple) if args.ripple else None,
    )
    return deliver_plan(plan, machine, options=options, rng=np.random.default_rng(args.seed))


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam deliver``."""
    import sys

    from ionbeam._atomic import atomic_directory
    from ionbeam.cli._output import print_json, print_table
    from ionbeam.delivery.timeline import timeline_figure
    from ionbeam.delivery.writers import write_record

    out = _out(args)
    record = _deliver(args)
    extra = []
    if not args.no_figure:
        figure = timeline_figure(record)
        extra.append(("timeline.png", lambda path: figure.savefig(path, dpi=120)))
    try:
        with atomic_directory(out, overwrite=args.force) as folder:
            written = write_record(record, folder, formats=(args.format,), extra=extra)
        files = [out / f.name for f in written]
    finally:
        if not args.no_figure:
            import matplotlib.pyplot as plt

            plt.close(figure)
    summary = record.summary()
    if args.json:
        print_json({**summary, "out": str(out), "files": [str(f) for f in files]})
    else:
        _print_tables(summary, print_table)
        print(f"delivery record written to {out}")
    if record.interlock is not None:
        print(f"ionbeam: interlock: {record.interlock.reason} (spot {record.interlock.spot}, "
              f"t = {record.interlock.time_s:.3f} s)", file=sys.stderr)  # fmt: skip
        return INTERLOCK_STATUS
    return 0


_TOTALS = (
    ("fraction_time_s", "delivery time per fraction", "s"),
    ("beam_on_s", "beam-on time", "s"),
    ("beam_on_fraction", "beam-on fraction", ""),
    ("spot_error_rms", "spot count error (rms, relative)", ""),
    ("spot_error_max", "spot count error (largest, relative)", ""),
    ("layer_switching_s", "layer switching time", "s"),
    ("n_cycles", "synchrotron cycles (= spills)", ""),
    ("n_layers", "energy layers", ""),
    ("n_spots", "spots delivered", ""),
    ("planned_particles", "planned particles", ""),
    ("delivered_particles", "delivered particles", ""),
    ("primary_reading", "primary chamber reading", "particles"),
    ("secondary_reading", "secondary chamber reading", "particles"),
    ("chopped_particles", "dumped by the chopper", "particles"),
    ("unused_particles", "unused at spill ends", "particles"),
    ("spots_raised_to_minimum", "spots raised to the minimum", ""),
    ("spots_lowered_to_zero", "spots lowered to zero", ""),
)


def _print_tables(summary: dict[str, Any], print_table: Any) -> None:
    title = (
        f"{summary['machine']}: {summary['particle']}, {summary['scan_mode']} scanning, "
        f"{summary['extraction']} extraction"
    )
    print_table(title, ("quantity", "value", "unit"),
                [(name, summary[key], unit) for key, name, unit in _TOTALS])  # fmt: skip
    rows = [
        (f["name"], f["n_layers"], f["n_spills"], f["n_spots"], f["beam_on_s"],
         f["layer_switching_s"], f["refill_s"], f["delivery_time_s"])
        for f in summary["fields"]
    ]  # fmt: skip
    print_table("fields", ("field", "layers", "spills", "spots", "beam on (s)", "switching (s)",
                           "refill (s)", "delivery (s)"), rows)  # fmt: skip
