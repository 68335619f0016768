"""``ionbeam physics``: ranges and depth–dose curves of ions in water and other materials."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["depth_dose_summary", "range_summary", "register"]


def register(subparsers: Any) -> None:
    """Add the ``physics`` sub-command and its ``range`` and ``depth-dose`` actions."""
    parser = subparsers.add_parser(
        "physics",
        help="ranges, Bragg curves, LET and lateral spread of ion beams",
        description="Physics of protons and ions in matter (ionbeam.physics).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    ranges = actions.add_parser(
        "range",
        help="CSDA range, Bragg-peak depth and R80 (mm)",
        description="CSDA range in a material, and the Bragg-peak depth and distal R80 of the "
        "depth–dose curve (computed in water, scaled by the range ratio for other materials).",
    )
    _common(ranges)
    ranges.add_argument("--material", default="water", help="material name (default water)")
    ranges.set_defaults(handler=run_range)

    curve = actions.add_parser(
        "depth-dose",
        help="integrated depth–dose, LET_d and lateral sigma in water",
        description="Laterally integrated depth–dose (MeV/mm per primary), dose-averaged LET "
        "and primary MCS sigma of a pencil beam in water.",
    )
    _common(curve)
    curve.add_argument("--plot", type=Path, help="write a PNG figure of the curves")
    curve.set_defaults(handler=run_depth_dose)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--particle", default="proton", help="proton, helium, carbon, oxygen")
    parser.add_argument("--energy", type=float, required=True, help="energy, MeV/u (1–450)")
    parser.add_argument(
        "--energy-spread", type=float, default=None, help="relative energy spread σ_E/E"
    )
    parser.add_argument("--water-i-value", type=float, default=None, help="water I-value, eV")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    from ionbeam.physics.depth_dose import DEFAULT_ENERGY_SPREAD_REL

    spread = DEFAULT_ENERGY_SPREAD_REL if args.energy_spread is None else args.energy_spread
    return {"energy_spread_rel": spread, "water_i_value_ev": args.water_i_value}


def range_summary(
    particle: str,
    energy_mev_u: float,
    *,
    material: str = "water",
    energy_spread_rel: float | None = None,
    water_i_value_ev: float | None = None,
) -> dict[str, Any]:
    """CSDA range in ``material`` and Bragg-peak depth and R80 (mm)."""
    from ionbeam.physics.depth_dose import DEFAULT_ENERGY_SPREAD_REL, depth_dose
    from ionbeam.physics.materials import get_material
    from ionbeam.physics.ranges import csda_range_mm
    from ionbeam.physics.wet import water

    medium = get_material(material)
    if medium.name == "water" and water_i_value_ev is not None:
        medium = medium.with_i_value(water_i_value_ev)
    spread = DEFAULT_ENERGY_SPREAD_REL if energy_spread_rel is None else energy_spread_rel
    curve = depth_dose(
        particle, energy_mev_u, energy_spread_rel=spread, water_i_value_ev=water_i_value_ev
    )
    csda = float(csda_range_mm(particle, energy_mev_u, medium))
    scale = csda / float(csda_range_mm(particle, energy_mev_u, water(water_i_value_ev)))
    return {
        "particle": curve.particle,
        "energy_mev_u": curve.energy_mev_u,
        "material": medium.name,
        "csda_range_mm": csda,
        "bragg_peak_mm": curve.bragg_peak_mm * scale,
        "r80_mm": curve.r80_mm * scale,
    }


def depth_dose_summary(
    particle: str,
    energy_mev_u: float,
    *,
    energy_spread_rel: float | None = None,
    water_i_value_ev: float | None = None,
) -> dict[str, Any]:
    """The depth–dose curve as plain lists (keys ``depth_mm``, ``dose``, ``let_kev_um``,
    ``sigma_mm`` and the summary numbers)."""
    from ionbeam.physics.depth_dose import DEFAULT_ENERGY_SPREAD_REL, depth_dose

    spread = DEFAULT_ENERGY_SPREAD_REL if energy_spread_rel is None else energy_spread_rel
    curve = depth_dose(
        particle, energy_mev_u, energy_spread_rel=spread, water_i_value_ev=water_i_value_ev
    )
    return {
        "particle": curve.particle,
        "energy_mev_u": curve.energy_mev_u,
        "energy_spread_rel": curve.energy_spread_rel,
        "water_i_value_ev": curve.water_i_value_ev,
        "units": {"depth_mm": "mm", "dose": "MeV/mm per primary", "let_kev_um": "keV/µm",
                  "sigma_mm": "mm"},
        "csda_range_mm": curve.csda_range_mm,
        "bragg_peak_mm": curve.bragg_peak_mm,
        "r80_mm": curve.r80_mm,
        "depth_mm": curve.depth_mm,
        "dose": curve.idd_mev_mm,
        "let_kev_um": curve.let_d_kev_um,
        "sigma_mm": curve.sigma_mcs_mm,
        "halo_weight": curve.halo_weight,
        "halo_sigma_mm": curve.halo_sigma_mm,
        "halo_narrow_weight": curve.halo_narrow_weight,
        "halo_narrow_sigma_mm": curve.halo_narrow_sigma_mm,
    }  # fmt: skip


def run_range(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam physics range``."""
    from ionbeam.cli._output import print_json, print_table

    values = range_summary(args.particle, args.energy, material=args.material, **_options(args))
    if args.json:
        print_json(values)
        return 0
    title = f"{values['particle']} at {values['energy_mev_u']:g} MeV/u in {values['material']}"
    rows = [
        ("CSDA range", values["csda_range_mm"], "mm"),
        ("Bragg-peak depth", values["bragg_peak_mm"], "mm"),
        ("R80 (distal 80 %)", values["r80_mm"], "mm"),
    ]
    print_table(title, ("quantity", "value", "unit"), rows)
    return 0


def run_depth_dose(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam physics depth-dose``."""
    import numpy as np

    from ionbeam.cli._output import print_json, print_table

    values = depth_dose_summary(args.particle, args.energy, **_options(args))
    if args.plot is not None:
        plot_depth_dose([values], args.plot)
        values["plot"] = str(args.plot)
    if args.json:
        print_json(values)
        return 0
    depth = values["depth_mm"]
    wanted = np.linspace(0.0, 1.1 * values["csda_range_mm"], 12)
    rows = [
        (float(d), float(np.interp(d, depth, values["dose"])),
         float(np.interp(d, depth, values["let_kev_um"])),
         float(np.interp(d, depth, values["sigma_mm"])))
        for d in wanted
    ]  # fmt: skip
    title = (
        f"{values['particle']} {values['energy_mev_u']:g} MeV/u in water: "
        f"R80 {values['r80_mm']:.1f} mm, peak {values['bragg_peak_mm']:.1f} mm"
    )
    print_table(title, ("depth (mm)", "IDD (MeV/mm)", "LET_d (keV/µm)", "σ_MCS (mm)"), rows)
    if args.plot is not None:
        print(f"figure written to {args.plot}")
    return 0


def plot_depth_dose(curves: list[dict[str, Any]], path: Path) -> None:
    """IDD (normalised to each curve's entrance), LET_d and MCS sigma versus depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for values in curves:
        label = f"{values['particle']} {values['energy_mev_u']:g} MeV/u"
        depth = values["depth_mm"]
        axes[0].plot(depth, values["dose"] / values["dose"][0], label=label)
        axes[1].plot(depth, values["let_kev_um"], label=label)
        axes[2].plot(depth, values["sigma_mm"], label=label)
    axes[0].set(xlabel="depth in water (mm)", ylabel="IDD / entrance", title="Bragg curves")
    axes[1].set(xlabel="depth in water (mm)", ylabel="LET_d (keV/µm)", yscale="log",
                title="dose-averaged LET")  # fmt: skip
    axes[2].set(xlabel="depth in water (mm)", ylabel="σ (mm)", title="MCS sigma (primaries)")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    from ionbeam.cli._output import save_figure

    save_figure(fig, path)
    plt.close(fig)
