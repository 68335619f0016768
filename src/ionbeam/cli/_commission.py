"""``ionbeam commission``: beam-model files for commissioning a machine.

``template`` writes ionbeam's generic CNAO-like beam model as a beam-model folder
(``beam_model.toml`` and ``idd/*.csv``) to edit; ``check`` reads a beam-model file
(or an MCsquare BDL), checks it as planning would, and prints per energy the
file's R80 beside ionbeam's physics at the file's mean energy and spread, the
figure to look at when tuning the mean energies (``docs/commissioning.md``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["check_rows", "register", "run_check", "run_template"]


def register(subparsers: Any) -> None:
    """Add the ``commission`` sub-command."""
    parser = subparsers.add_parser(
        "commission",
        help="beam-model files: write a template, check a file (docs/commissioning.md)",
        description="Write the generic CNAO-like beam model as a template beam-model folder, "
        "or check a beam-model file (or MCsquare BDL) against ionbeam's physics.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    template = actions.add_parser("template", help="write the generic model as a template")
    template.add_argument("--particle", required=True, help="proton, helium, carbon or oxygen")
    template.add_argument("--out", required=True, type=Path, metavar="DIR", help="new folder")
    template.add_argument(
        "--energy-stride", type=int, default=1, metavar="N", help="every N-th library energy"
    )
    template.add_argument("--name", help="the model's name (default: cnao-PARTICLE)")
    template.set_defaults(handler=run_template)
    check = actions.add_parser("check", help="check a beam-model file, compare R80 with physics")
    check.add_argument("file", type=Path, metavar="FILE", help="beam_model.toml, folder or BDL")
    check.add_argument("--json", action="store_true", help="print the rows as JSON")
    check.set_defaults(handler=run_check)


def run_template(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam commission template``."""
    from ionbeam.errors import ConfigError
    from ionbeam.machine import cnao_machine
    from ionbeam.machine.beam_model import build_beam_model
    from ionbeam.machine.commissioning import (
        commissioning_from_beam_model,
        write_beam_model_file,
    )
    from ionbeam.physics.particles import get_particle

    if args.energy_stride < 1:
        raise ConfigError(f"--energy-stride must be an integer ≥ 1; got {args.energy_stride}")
    particle = get_particle(args.particle).name
    machine = cnao_machine()
    energies = machine.energy_library(particle).energies_mev_u[:: args.energy_stride]
    model = build_beam_model(particle, energies, machine.beam_line)
    commissioning = commissioning_from_beam_model(model, name=args.name)
    path = write_beam_model_file(commissioning, args.out)
    print(f"wrote {path} and {len(energies)} depth-dose curves in {path.parent / 'idd'}")
    return 0


def check_rows(commissioning: Any) -> list[dict[str, Any]]:
    """Per energy: nominal and mean energy, spread, spot σ (x, y) at the isocentre, R80 of
    the file's curve (None without one) and of ionbeam's physics at the mean energy
    (with the ripple filter folded in when the curves were measured with it)."""
    import dataclasses

    from ionbeam.machine.beam_data import BeamEnergyData
    from ionbeam.machine.commissioning import beam_model_from_commissioning

    e = commissioning.energies
    bare = BeamEnergyData(e.particle, e.nominal_energies_mev_u, e.mean_energies_mev_u,
                          e.energy_spread_rel)  # fmt: skip
    physics = beam_model_from_commissioning(dataclasses.replace(commissioning, energies=bare))
    # curves measured with the ripple filter are compared with the filtered physics
    physics = physics.with_ripple_filter(e.curves_include_filter)
    rows = []
    for i in range(e.n_energies):
        curve = e.depth_dose(i)
        measured = None if curve is None else curve.r80_mm
        rows.append(
            {
                "nominal_energy_mev_u": float(e.nominal_energies_mev_u[i]),
                "mean_energy_mev_u": float(e.mean_energies_mev_u[i]),
                "energy_spread_percent": 100.0 * float(e.energy_spread_rel[i]),
                "spot_sigma_x_mm": float(commissioning.spot_x.sigma_mm[i]),
                "spot_sigma_y_mm": float(commissioning.spot_y.sigma_mm[i]),
                "r80_file_mm": measured,
                "r80_physics_mm": float(physics.r80_mm[i]),
                "r80_file_minus_physics_mm": (
                    None if measured is None else measured - float(physics.r80_mm[i])
                ),
            }
        )
    return rows


def run_check(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam commission check``."""
    from ionbeam.cli._output import print_json, print_table
    from ionbeam.machine.commissioning import load_commissioning

    commissioning = load_commissioning(args.file)
    rows = check_rows(commissioning)
    if args.json:
        print_json({"name": commissioning.name, "particle": commissioning.particle,
                    "energies": rows})  # fmt: skip
        return 0
    print_table(
        f"{commissioning.name} · {commissioning.particle} · {len(rows)} energies · OK",
        (
            "nominal MeV/u",
            "mean MeV/u",
            "spread %",
            "σx mm",
            "σy mm",
            "R80 file mm",
            "R80 physics mm",
            "Δ mm",
        ),
        [
            tuple(
                "—" if v is None else v
                for v in (
                    r["nominal_energy_mev_u"],
                    r["mean_energy_mev_u"],
                    r["energy_spread_percent"],
                    r["spot_sigma_x_mm"],
                    r["spot_sigma_y_mm"],
                    r["r80_file_mm"],
                    r["r80_physics_mm"],
                    r["r80_file_minus_physics_mm"],
                )
            )
            for r in rows
        ],
    )
    return 0
