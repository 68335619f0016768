"""Where the lung phantom's target D95 gap against Monte Carlo comes from.

The plan and the MCsquare fields are ``bench/lung_plan_regions.py``'s (the plan of
``bench/accuracy_vs_mc.py --parts lung``, MC from the cache). The plain pencil beam's
dose of each beam is compared with its own MC field, and the plan's with the sum. Printed:

1. The target's (PTV's) D95 / D2 / mean, ionbeam and MC, and the D95 gap.
2. The coldest 5 % of the target in MC: where those voxels lie (GTV or lung margin;
   distal / lateral / proximal to each beam, by the voxel's offset from the GTV's centroid
   along the beam against its distance from the beam's axis through that centroid), and
   the pencil beam's dose / MC − 1 there, for the plan and per beam.
3. The D95 gap's shares: the pencil beam's D95 when its dose is replaced by MC's in one
   class of voxels at a time (what the gap would be if the engine were right there).
4. The dose grid: the same plan on a 1.25 mm grid, averaged onto the 2.5 mm grid.

Usage: python bench/lung_d95.py [--primaries 1e7] [--no-fine-grid]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import distance_transform_edt

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "mcsquare"), str(HERE)]
from _plans import lung_plan  # noqa: E402

from ionbeam.evaluation.dvh import d_at_volume  # noqa: E402
from ionbeam.patient import Grid  # noqa: E402
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose  # noqa: E402
from lung_plan_regions import field_doses  # noqa: E402

D95 = 0.95


def metrics(dose: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    """D95, D2 and mean (Gy) of ``dose`` over ``mask``."""
    return d_at_volume(dose, mask, D95), d_at_volume(dose, mask, 0.02), float(dose[mask].mean())


def classes(case, directions: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Boolean masks (CT grid) of the target's voxel classes; see the module docstring."""
    s = {st.name: st.mask for st in case.structures}
    gtv, ptv = s["GTV"], s[case.target]
    spacing = case.ct.grid.spacing_mm
    x, y, z = case.ct.grid.axes_mm()
    points = np.stack(np.meshgrid(x, y, z, indexing="ij"), axis=-1)
    centroid = points[gtv].mean(axis=0)
    out: dict[str, np.ndarray] = {
        "GTV": ptv & gtv,
        "GTV outer 2.5 mm": ptv & gtv & (distance_transform_edt(gtv, sampling=spacing) <= 2.5),
        "PTV - GTV (lung margin)": ptv & ~gtv,
    }
    for k, d in enumerate(directions):
        along = (points - centroid) @ d
        across = np.linalg.norm((points - centroid) - along[..., None] * d, axis=-1)
        angle = np.degrees(np.arctan2(across, along))  # 0 distal, 180 proximal
        out[f"beam {k}: distal (<45°)"] = ptv & (angle < 45.0)
        out[f"beam {k}: lateral (45-135°)"] = ptv & (angle >= 45.0) & (angle <= 135.0)
        out[f"beam {k}: proximal (>135°)"] = ptv & (angle > 135.0)
    return out


def block_mean(fine: np.ndarray, shape: tuple[int, ...], factor: int) -> np.ndarray:
    """The mean of ``factor``³ blocks of ``fine`` on a grid of ``shape`` (the fine grid's
    voxels nest in the coarse grid's, starting at the same corner)."""
    out = np.zeros(shape)
    for i in range(factor):
        for j in range(factor):
            for k in range(factor):
                part = fine[i::factor, j::factor, k::factor][: shape[0], : shape[1], : shape[2]]
                out[: part.shape[0], : part.shape[1], : part.shape[2]] += part
    return out / factor**3


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--primaries", type=float, default=1e7)
    parser.add_argument("--no-fine-grid", action="store_true")
    parser.add_argument("--save", type=Path, help="write the doses and masks to this .npz")
    args = parser.parse_args()
    case = lung_plan()
    mc = field_doses(case, int(args.primaries))
    beams = [b for b in case.plan.beams if b.spots.n_spots]
    options = DoseEngineOptions(with_let=False)
    pb = [
        calc_dose(
            case.ct,
            dataclasses.replace(case.plan, beams=(b,)),
            case.model,
            structures=case.structures,
            options=options,
        ).dose_gy
        for b in beams
    ]
    directions = [np.asarray(b.geometry.direction, dtype=float) for b in beams]
    ptv = {st.name: st.mask for st in case.structures}[case.target]
    total_pb, total_mc = sum(pb), sum(mc)
    if args.save:
        structures = {f"mask_{st.name}": st.mask for st in case.structures}
        directions_array = np.array(directions)
        np.savez_compressed(
            args.save, pb=np.array(pb), mc=np.array(mc), directions=directions_array, **structures
        )

    d95, d2, mean = metrics(total_pb, ptv)
    d95_mc, d2_mc, mean_mc = metrics(total_mc, ptv)
    print(f"target {case.target}, {int(ptv.sum())} voxels of 2.5 mm")
    print(f"  D95 PB {d95:.3f} Gy, MC {d95_mc:.3f} Gy: {100 * (d95 / d95_mc - 1):+.1f} %")
    print(f"  D2  PB {d2:.3f} Gy, MC {d2_mc:.3f} Gy: {100 * (d2 / d2_mc - 1):+.1f} %")
    print(f"  mean PB {mean:.3f} Gy, MC {mean_mc:.3f} Gy: {100 * (mean / mean_mc - 1):+.1f} %")

    cold_mc = ptv & (total_mc <= d95_mc)
    cold_pb = ptv & (total_pb <= d95)
    masks = classes(case, directions)
    print(
        f"\ncoldest 5 % in MC: {int(cold_mc.sum())} voxels, in PB: {int(cold_pb.sum())},"
        f" in both: {int((cold_mc & cold_pb).sum())}"
    )
    header = "".join(f"{'beam ' + str(k):>9}" for k in range(len(beams)))
    print(f"   {'class':<27}{'target':>7}{'MC cold':>8}{'PB cold':>8}{'plan':>8}{header}")
    print(f"   {'':<27}{'':>7}{'':>8}{'':>8}  (PB / MC − 1 summed over the MC-cold voxels)")
    for name, mask in masks.items():
        m = mask & cold_mc
        cells = ""
        if m.any():
            cells = f"{100 * (total_pb[m].sum() / total_mc[m].sum() - 1):>+7.1f}%"
            for k in range(len(beams)):
                cells += f"{100 * (pb[k][m].sum() / mc[k][m].sum() - 1):>+8.1f}%"
        print(
            f"   {name:<27}{int(mask.sum()):>7}{int(m.sum()):>8}{int((mask & cold_pb).sum()):>8}"
            f"{cells}"
        )
    m = cold_mc
    share = [100 * mc[k][m].sum() / total_mc[m].sum() for k in range(len(beams))]
    print("   MC-cold voxels' dose from each beam (MC): " + ", ".join(f"{s:.0f} %" for s in share))

    print("\nlung margin (PTV - GTV) per beam, by the beam's own MC dose level there")
    print("   (% of that beam's MC maximum in the PTV): PB / MC − 1 of that beam, voxels")
    margin = ptv & ~{st.name: st.mask for st in case.structures}["GTV"]
    for k in range(len(beams)):
        top = float(mc[k][ptv].max())
        for side in ("distal (<45°)", "lateral (45-135°)"):
            region = margin & masks[f"beam {k}: {side}"]
            row = ""
            for low, high in ((0, 30), (30, 60), (60, 90), (90, 200)):
                level = 100 * mc[k] / top
                m = region & (level >= low) & (level < high)
                if m.any():
                    ratio = 100 * (pb[k][m].sum() / mc[k][m].sum() - 1)
                    row += f"  {low}-{high} %: {ratio:+.1f} % ({int(m.sum())})"
            print(f"   beam {k} {side:<18}{row}")

    print("\nbehind the GTV (lung, 0-20 mm beyond its distal surface along the beam), by the")
    print("   distance from the beam's axis through the GTV's centroid over the GTV's radius:")
    print("   PB / MC − 1 of that beam's dose (voxels)")
    structures = {st.name: st.mask for st in case.structures}
    gtv, lung = structures["GTV"], structures["Lung_R"]
    radius = (3.0 * gtv.sum() * np.prod(case.ct.grid.spacing_mm) / (4.0 * np.pi)) ** (1 / 3)
    x, y, z = case.ct.grid.axes_mm()
    points = np.stack(np.meshgrid(x, y, z, indexing="ij"), axis=-1)
    centroid = points[gtv].mean(axis=0)
    for k, d in enumerate(directions):
        along = (points - centroid) @ d
        across = np.linalg.norm((points - centroid) - along[..., None] * d, axis=-1)
        chord = np.sqrt(np.clip(radius**2 - across**2, 0.0, None))
        behind = lung & ~gtv & (along > chord) & (along <= chord + 20.0)
        row = ""
        for low, high in ((0.0, 0.5), (0.5, 0.8), (0.8, 1.0), (1.0, 1.3)):
            m = behind & (across >= low * radius) & (across < high * radius)
            if m.any():
                ratio = 100 * (pb[k][m].sum() / mc[k][m].sum() - 1)
                row += f"  r/R {low:.1f}-{high:.1f}: {ratio:+.1f} % ({int(m.sum())})"
        print(f"   beam {k}{row}")
    print(f"   (GTV radius {radius:.1f} mm)")

    print("\nthe D95 gap if the pencil beam were MC in one class (PB D95 / MC D95 − 1):")
    for name, mask in [("(none)", np.zeros_like(ptv)), *masks.items()]:
        hybrid = np.where(mask, total_mc, total_pb)
        print(f"   {name:<27}{100 * (d_at_volume(hybrid, ptv, D95) / d95_mc - 1):>+7.1f} %")
    for k in range(len(beams)):
        hybrid = total_pb - pb[k] + mc[k]
        print(
            f"   {'beam ' + str(k) + ' everywhere':<27}"
            f"{100 * (d_at_volume(hybrid, ptv, D95) / d95_mc - 1):>+7.1f} %"
        )

    if args.no_fine_grid:
        return
    factor = 2
    coarse_grid = case.ct.grid
    spacing = np.asarray(coarse_grid.spacing_mm) / factor
    corner = np.asarray(coarse_grid.origin_mm) - 0.5 * np.asarray(coarse_grid.spacing_mm)
    origin = corner + 0.5 * spacing
    grid = Grid(tuple(factor * n for n in coarse_grid.shape), tuple(spacing), tuple(origin))
    fine = calc_dose(
        case.ct, case.plan, case.model, dose_grid=grid, structures=case.structures, options=options
    ).dose_gy
    coarse = block_mean(fine, case.ct.grid.shape, factor)
    d95_f, _, mean_f = metrics(coarse, ptv)
    print(
        f"\n1.25 mm dose grid averaged onto 2.5 mm: D95 {d95_f:.3f} Gy "
        f"({100 * (d95_f / d95_mc - 1):+.1f} % vs MC; "
        f"2.5 mm grid {100 * (d95 / d95_mc - 1):+.1f} %),"
        f" mean {100 * (mean_f / mean_mc - 1):+.1f} %"
    )


if __name__ == "__main__":
    main()
