"""``ionbeam demo``: the interim demonstration — Bragg curves of protons and carbon ions.

Writes ``bragg_curves.png`` and ``summary.json`` into ``--out`` (default
``./ionbeam-demo``) and prints a table. The folder is written atomically: the files
go to a temporary folder next to it, which then replaces it; an existing folder is
replaced only if it holds a previous demo (``summary.json`` with ``"ionbeam": "demo"``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["DEMO_BEAMS", "register", "write_demo"]

#: (particle, energy MeV/u) of the demonstration's Bragg curves.
DEMO_BEAMS: tuple[tuple[str, float], ...] = (
    ("proton", 70.0),
    ("proton", 150.0),
    ("proton", 230.0),
    ("carbon", 120.0),
    ("carbon", 270.0),
    ("carbon", 400.0),
)


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="the main job: Bragg curves of protons and carbon ions (interim demo)",
        description="Bragg curves, LET and lateral spread of proton and carbon beams in "
        "water, as a PNG figure and a table.",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("ionbeam-demo"), help="output folder (./ionbeam-demo)"
    )
    parser.set_defaults(handler=run)


def _rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    import numpy as np

    from ionbeam.cli._physics import depth_dose_summary

    curves = [depth_dose_summary(p, e) for p, e in DEMO_BEAMS]
    rows = []
    for c in curves:
        peak = int(np.argmax(c["dose"]))
        rows.append({
            "particle": c["particle"],
            "energy_mev_u": c["energy_mev_u"],
            "csda_range_mm": c["csda_range_mm"],
            "bragg_peak_mm": c["bragg_peak_mm"],
            "r80_mm": c["r80_mm"],
            "peak_to_entrance": float(c["dose"][peak] / c["dose"][0]),
            "let_d_at_peak_kev_um": float(c["let_kev_um"][peak]),
            "sigma_mcs_at_peak_mm": float(c["sigma_mm"][peak]),
        })  # fmt: skip
    return curves, rows


def _check_target(out: Path) -> None:
    from ionbeam.errors import ConfigError

    if not out.exists():
        return
    manifest = out / "summary.json"
    try:
        previous = json.loads(manifest.read_text()).get("ionbeam") == "demo"
    except (OSError, ValueError, AttributeError):
        previous = False
    if not out.is_dir() or (any(out.iterdir()) and not previous):
        raise ConfigError(
            f"{out} exists and does not hold a previous ionbeam demo; "
            "choose another --out folder or remove it"
        )


def write_demo(out: Path) -> tuple[Path, list[dict[str, Any]]]:
    """Compute the demo and write it to ``out`` atomically; returns the PNG path and rows."""
    from ionbeam.cli._output import to_jsonable
    from ionbeam.cli._physics import plot_depth_dose

    out = Path(out)
    _check_target(out)
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    curves, rows = _rows()
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}-"))
    staging.chmod(0o755)  # mkdtemp makes it private; this is an ordinary output folder
    try:
        plot_depth_dose(curves, staging / "bragg_curves.png")
        summary = {"ionbeam": "demo", "beams": rows}
        (staging / "summary.json").write_text(json.dumps(to_jsonable(summary), indent=2))
        if out.exists():
            retired = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}-old-"))
            out.replace(retired / out.name)
            staging.replace(out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.replace(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out / "bragg_curves.png", rows


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam demo``."""
    from ionbeam.cli._output import print_table

    png, rows = write_demo(args.out)
    columns = ("particle", "E (MeV/u)", "CSDA (mm)", "peak (mm)", "R80 (mm)", "peak/entrance",
               "LET_d peak (keV/µm)")  # fmt: skip
    table = [
        (r["particle"], r["energy_mev_u"], r["csda_range_mm"], r["bragg_peak_mm"], r["r80_mm"],
         r["peak_to_entrance"], r["let_d_at_peak_kev_um"])
        for r in rows
    ]  # fmt: skip
    print_table("Bragg curves in water (ionbeam.physics)", columns, table)
    print(f"Bragg curves written to {png}")
    return 0
