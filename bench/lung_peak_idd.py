"""The Bragg peak in lung: laterally integrated depth–dose of single spots, ionbeam vs MCsquare.

Laterally uniform boxes (``bench/mcsquare/_lung_peak.py``: a spot crossing a water
"tumour" slab and stopping in the lung behind it, a spot stopping in lung behind a water
chest wall, and the first spot in water), so that no lateral heterogeneity can move dose
and what is compared is the depth–dose itself.

For each: the energy deposited per primary (MeV, dose to water × 1 g/cm³ summed over the
box), the laterally integrated depth–dose (dose × voxel area summed over x and z) per
depth region, its peak, and the axis (3 × 3 voxels) dose. MCsquare runs (dose to water,
the Scanner of ``_scanner.calibration_scanner`` as for the slabs) are cached.

``--store`` writes MC's curves to ``tests/data/mcsquare/lung_peak_spots.npz``, the
reference of ``tests/validation/test_lung_peak_vs_mcsquare.py``; ``--store-tails`` MC's
shares of the energy beyond 8–30 mm of the axis (``tail_shares``) to
``lung_peak_tails.npz``, that of ``tests/validation/test_halo_tail_in_lung_vs_mcsquare.py``.

``--face`` runs the lung-edge spot on the tumour's face (``high_edge``) in 3-D instead and
splits the excess that its stored plane z = 0 shows in the lung behind the tumour into the
dose summed over the whole box, the tumour's side, and the plane (see ``face_spot``).

Usage: python bench/lung_peak_idd.py [--primaries N] [--cases ...] [--store] [--store-tails]
                                      [--face]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "mcsquare"), str(HERE)]

from _lung_peak import (  # noqa: E402
    CASES,
    STORED,
    STORED_TAILS,
    TAIL_DEPTHS_MM,
    TAIL_RADII_MM,
    PeakCase,
    axis,
    box_grid,
    box_hu,
    distal_depth_mm,
    idd,
    pb_dose,
    spot_energy,
    spot_plan,
    tail_shares,
)

from ionbeam.machine import cnao_machine  # noqa: E402
from ionbeam.machine.beam_model import build_beam_model  # noqa: E402
from ionbeam.patient.stoichiometric import stoichiometric_calibration  # noqa: E402


def mc_dose(
    case: PeakCase, model: object, n_primaries: int, seed: int, *, nuclear: bool = True
) -> tuple[np.ndarray, float]:
    """MCsquare's dose to water (Gy per proton) of the case's spot and its uncertainty (%)."""
    from _beam_data import ionbeam_bdl
    from _mcsquare import RunOptions, cached_run
    from _mcsquare_inputs import fields_from_plan, nozzle_distance_mm
    from _scanner import calibration_scanner
    from make_slab_spots import water_at_zero_hu

    grid = box_grid()
    plan = spot_plan(case, model)
    geometry = plan.beams[0].geometry
    distance = nozzle_distance_mm(grid, geometry.isocenter_mm, geometry.direction)
    line = model.beam_line  # type: ignore[attr-defined]
    bdl = ionbeam_bdl(line, [spot_energy(case, model)], nozzle_to_isocenter_mm=distance)
    scanner = water_at_zero_hu(calibration_scanner(stoichiometric_calibration()))
    options = RunOptions(n_primaries=n_primaries, seed=seed, dose_to_water=True, nuclear=nuclear)
    result = cached_run(box_hu(case, grid), grid, fields_from_plan(plan), bdl, scanner, options)
    print(
        f"MC {case.name}: {result.n_primaries:.1e} primaries, {result.seconds:.0f} s, "
        f"uncertainty {result.uncertainty_percent:.2f} %",
        flush=True,
    )
    return result.dose_gy, result.uncertainty_percent


def report(case: PeakCase, pb: np.ndarray, mc: np.ndarray) -> None:
    y = box_grid().axes_mm()[1]
    i_pb, i_mc = idd(pb), idd(mc)
    print(
        f"{case.name}: energy deposited PB {i_pb.sum():.2f} MeV, MC {i_mc.sum():.2f} MeV "
        f"({100 * (i_pb.sum() / i_mc.sum() - 1):+.1f} %); IDD peak PB {i_pb.max():.3f} at "
        f"{y[i_pb.argmax()]:.1f} mm, MC {i_mc.max():.3f} at {y[i_mc.argmax()]:.1f} mm "
        f"({100 * (i_pb.max() / i_mc.max() - 1):+.1f} %)"
    )
    r = {f"{m}{int(100 * lv)}": distal_depth_mm(c, lv) for m, c in (("PB", i_pb), ("MC", i_mc))
         for lv in (0.8, 0.2)}  # fmt: skip
    print(
        f"   R80 PB {r['PB80']:.2f} mm, MC {r['MC80']:.2f} mm; R80–R20 PB "
        f"{r['PB20'] - r['PB80']:.2f} mm, MC {r['MC20'] - r['MC80']:.2f} mm (geometric depths)"
    )
    edges = [0, 20, 40, 60, 80, 90, 100, 120, 140, 160, 170, 180, 190, 200, 220]
    print("   depths (mm)      IDD PB/MC−1   axis PB/MC−1   MC IDD share")
    for a, b in itertools.pairwise(edges):
        sel = (y > a) & (y < b)
        if i_mc[sel].sum() <= 1e-3 * i_mc.sum():
            continue
        ax_pb, ax_mc = axis(pb)[sel].sum(), axis(mc)[sel].sum()
        share = 100 * i_mc[sel].sum() / i_mc.sum()
        print(
            f"   {a:4d}–{b:<4d}      {100 * (i_pb[sel].sum() / i_mc[sel].sum() - 1):+7.1f} %"
            f"     {100 * (ax_pb / ax_mc - 1):+7.1f} %      {share:5.1f} %"
        )


def face_spot(n_primaries: int, seed: int) -> None:
    """The lung-edge spot on the tumour's face that stops in the lung behind it
    (``_lung_edge.py``, ``high_edge``), in 3-D: the dose summed over depth slabs across the
    whole box, over the tumour's side (x < 0) and over the plane z = 0 only (the stored
    planes' measure), ionbeam (plain and with range mixing) / MC − 1; and the core σ of the
    profile along z (summed over x), where the plane z = 0 holds what that σ leaves there."""
    from _beam_data import ionbeam_bdl
    from _lung_edge import SPOTS, edge_grid, edge_hu, spot_energy_mev
    from _lung_edge import spot_plan as edge_plan
    from _mcsquare import RunOptions, cached_run
    from _mcsquare_inputs import fields_from_plan, nozzle_distance_mm
    from _scanner import calibration_scanner
    from make_slab_spots import water_at_zero_hu

    from ionbeam.machine import cnao_beam_line
    from ionbeam.patient import CT
    from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose

    spot = next(s for s in SPOTS if s.name == "high_edge")
    machine = cnao_machine()
    full = build_beam_model(
        "proton", machine.energy_library("proton").energies_mev_u, machine.beam_line
    )
    model = build_beam_model("proton", [spot_energy_mev(spot, full)], cnao_beam_line())
    grid, plan = edge_grid(), edge_plan(spot, model)
    geometry = plan.beams[0].geometry  # type: ignore[attr-defined]
    distance = nozzle_distance_mm(grid, geometry.isocenter_mm, geometry.direction)
    bdl = ionbeam_bdl(
        model.beam_line, [spot_energy_mev(spot, model)], nozzle_to_isocenter_mm=distance
    )
    scanner = water_at_zero_hu(calibration_scanner(stoichiometric_calibration()))
    options = RunOptions(n_primaries=n_primaries, seed=seed, dose_to_water=True)
    hu = edge_hu(grid)
    result = cached_run(hu, grid, fields_from_plan(plan), bdl, scanner, options)
    mc = result.dose_gy
    print(f"face spot: MC {result.n_primaries:.1e} primaries, {result.uncertainty_percent:.2f} %")
    calibration = stoichiometric_calibration()
    doses = {
        label: calc_dose(CT(hu, grid), plan, model, calibration=calibration,  # type: ignore[arg-type]
                         options=DoseEngineOptions(with_let=False, **extra)).dose_gy
        for label, extra in (("plain", {}), ("mixing", {"range_mixing": True}))
    }  # fmt: skip
    x, y, z = grid.axes_mm()
    centre = int(np.argmin(np.abs(z)))
    print("   depth (mm)  [plain | mixing] / MC − 1 (%): box, x < 0, plane z = 0 (all x)")
    for a, b in itertools.pairwise([40, 90, 110, 130, 150, 170, 180, 190, 200, 220]):
        sel = (y > a) & (y < b)
        cells = []
        for dose in doses.values():
            for part in (dose[:, sel], dose[x < 0][:, sel], dose[:, sel, centre]):
                cells.append(part.sum())
        ref = [mc[:, sel].sum(), mc[x < 0][:, sel].sum(), mc[:, sel, centre].sum()]
        ratios = [100 * (c / ref[k % 3] - 1) for k, c in enumerate(cells)]
        print(f"   {a:3d}–{b:<3d}  " + " ".join(f"{r:+6.1f}" for r in ratios[:3]) + "  | "
              + " ".join(f"{r:+6.1f}" for r in ratios[3:]))  # fmt: skip
    print("   depth (mm)  core σ along z (mm) MC / plain PB; plane z = 0 share PB/MC − 1")
    for depth in (85, 120, 150, 170, 185, 192):
        j = int(np.argmin(np.abs(y - depth)))
        profiles = [d[:, j - 2 : j + 3, :].sum(axis=(0, 1)) for d in (mc, doses["plain"])]
        sigmas = [_core_sigma(z, p) for p in profiles]
        share = [p[centre] / p.sum() for p in profiles]
        ratio = 100 * (sigmas[1] / sigmas[0] - 1)
        print(f"   {depth:3d}         {sigmas[0]:.2f} / {sigmas[1]:.2f} "
              f"({ratio:+.1f} %); {100 * (share[1] / share[0] - 1):+.1f} %")  # fmt: skip


def _core_sigma(z: np.ndarray, profile: np.ndarray) -> float:
    """σ (mm) of the Gaussian fitted to ln(profile) above 30 % of its maximum."""
    use = profile > 0.3 * profile.max()
    slope = np.polyfit(z[use] ** 2, np.log(profile[use]), 1)[0]
    return float(np.sqrt(-0.5 / slope))


def tails(case: PeakCase, pb: np.ndarray, mc: np.ndarray) -> None:
    """The share (%) of each depth's energy (3 voxels deep) beyond 10, 15, 20 and 30 mm of
    the axis, MC / PB."""
    grid = box_grid()
    x, y, z = grid.axes_mm()
    radius = np.hypot(x[:, None], z[None, :])
    peak = int(np.argmax(idd(mc)))
    print("   depth (mm)   energy beyond r = 10, 15, 20, 30 mm (%), MC / PB")
    for j in sorted({peak // 3, peak // 2, (2 * peak) // 3, (5 * peak) // 6, peak}):
        planes = [d[:, j - 1 : j + 2, :].sum(axis=1) for d in (mc, pb)]
        cells = [
            f"{100 * planes[0][radius > r].sum() / planes[0].sum():5.2f} / "
            f"{100 * planes[1][radius > r].sum() / planes[1].sum():5.2f}"
            for r in (10.0, 15.0, 20.0, 30.0)
        ]
        print(f"   {y[j]:6.1f}       " + "   ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--primaries", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=20261208)
    parser.add_argument("--cases", nargs="*", default=[c.name for c in CASES])
    parser.add_argument("--save", type=Path, help="write the IDDs and axis doses here (npz)")
    parser.add_argument("--store", action="store_true", help=f"write MC's curves to {STORED.name}")
    parser.add_argument(
        "--store-tails", action="store_true", help=f"write MC's tail shares to {STORED_TAILS.name}"
    )
    parser.add_argument(
        "--no-nuclear",
        action="store_true",
        help="also MC without nuclear interactions (half the primaries): which tail is nuclear",
    )
    parser.add_argument(
        "--face",
        action="store_true",
        help="the lung-edge face spot in 3-D (docstring of face_spot)",
    )
    args = parser.parse_args()
    if args.face:
        face_spot(args.primaries, args.seed)
        return
    machine = cnao_machine()
    model = build_beam_model(
        "proton", machine.energy_library("proton").energies_mev_u, machine.beam_line
    )
    out: dict[str, np.ndarray] = {}
    tails_out: dict[str, np.ndarray] = {"radii_mm": np.array(TAIL_RADII_MM)}
    stored: dict[str, np.ndarray] = {
        "mcsquare": np.array("MCsquare Release 1.1 (opentps-core 2.0.0 wheel, MCsquare_linux)"),
        "created": np.array(datetime.date.today().isoformat()),
        "seed": np.array(args.seed),
        "cases": np.array(args.cases),
    }
    for case in (c for c in CASES if c.name in args.cases):
        mc, uncertainty = mc_dose(case, model, args.primaries, args.seed)
        pb = pb_dose(case, model)
        report(case, pb, mc)
        tails(case, pb, mc)
        if args.no_nuclear:
            bare, _ = mc_dose(case, model, args.primaries // 2, args.seed, nuclear=False)
            print("   the same, MC without nuclear interactions (MC no-nuclear / PB):")
            tails(case, pb, bare)
        out |= {f"{case.name}_mc_idd": idd(mc), f"{case.name}_pb_idd": idd(pb)}
        out |= {f"{case.name}_mc_axis": axis(mc), f"{case.name}_pb_axis": axis(pb)}
        stored |= {
            f"{case.name}_energy_mev": np.array(spot_energy(case, model)),
            f"{case.name}_layers": np.array(case.layers, dtype=float).reshape(-1, 3),
            f"{case.name}_background_hu": np.array(case.background_hu),
            f"{case.name}_idd_mev_mm": idd(mc).astype(np.float32),
            f"{case.name}_axis_dose_gy": axis(mc).astype(np.float32),
            f"{case.name}_primaries": np.array(args.primaries),
            f"{case.name}_uncertainty_percent": np.array(uncertainty),
        }
        tails_out |= {
            f"{case.name}_depths_mm": np.array(TAIL_DEPTHS_MM[case.name]),
            f"{case.name}_tail_percent": tail_shares(mc, TAIL_DEPTHS_MM[case.name]),
        }
    if args.store_tails:
        meta = {k: v for k, v in stored.items() if not k.endswith(("_idd_mev_mm", "_dose_gy"))}
        np.savez_compressed(STORED_TAILS, **meta, **tails_out)
        print(f"wrote {STORED_TAILS}")
    if args.save:
        np.savez_compressed(args.save, **out)
    if args.store:
        staging = STORED.with_suffix(".tmp.npz")
        np.savez_compressed(staging, **stored)
        staging.replace(STORED)
        print(f"wrote {STORED} ({STORED.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
