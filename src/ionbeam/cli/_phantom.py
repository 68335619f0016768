"""``ionbeam phantom NAME --out DIR``: write a built-in phantom as DICOM (CT + RTSTRUCT)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]

_NAMES = ("water", "tg119", "head", "lung")


def register(subparsers: Any) -> None:
    """Add the ``phantom`` sub-command."""
    parser = subparsers.add_parser(
        "phantom",
        help="write a built-in phantom (water, tg119, head, lung) as DICOM CT + RTSTRUCT",
        description="Write a built-in phantom as a DICOM CT series and RT Structure Set.",
    )
    parser.add_argument("name", metavar="NAME", help=f"phantom: {', '.join(_NAMES)}")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (new or empty)")
    parser.add_argument("--spacing", type=float, metavar="MM", help="voxel size, mm (isotropic)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from ionbeam._atomic import check_output_folder
    from ionbeam.cli._output import print_json, print_table
    from ionbeam.cli._plan_inputs import check_phantom_memory
    from ionbeam.io.dicom import write_dicom_patient
    from ionbeam.patient.phantoms import make_phantom

    params = {} if args.spacing is None else {"spacing_mm": args.spacing}
    check_output_folder(args.out, overwrite=args.force)
    check_phantom_memory(args.name, params, option="--spacing")
    patient = make_phantom(args.name, **params)
    out = write_dicom_patient(patient, args.out, overwrite=args.force)
    grid = patient.grid
    rows = [
        (name, "target" if name == patient.target_name else "", s.volume_cm3, s.n_voxels)
        for name, s in patient.structures.items()
    ]
    if args.json:
        print_json(
            {
                "phantom": args.name,
                "out": str(out),
                "shape": grid.shape,
                "spacing_mm": grid.spacing_mm,
                "origin_mm": grid.origin_mm,
                "target": patient.target_name,
                "structures": {r[0]: {"volume_cm3": r[2], "voxels": r[3]} for r in rows},
            }
        )
        return 0
    print_table(
        f"phantom {args.name}: CT {grid.shape} × {grid.spacing_mm[0]:g} mm → {out}",
        ("structure", "role", "volume cm³", "voxels"),
        rows,
    )
    return 0
