"""Accuracy of ionbeam's (and pyRadPlan's) proton pencil beam against Monte Carlo (MCsquare).

A benchmark, not a test. MCsquare 1.1 (the binaries in the ``opentps-core==2.0.0``
wheel, fetched into ``~/.cache/ionbeam-bench/mcsquare``; see
``bench/mcsquare/_mcsquare.py``) is the reference throughout:

1. single spots in water (70–220 MeV; MC from ``tests/data/mcsquare/water_spots.npz``):
   Bragg peak, R80, R80–R20, peak/plateau, plateau IDD, core σ against depth and
   the low-dose halo at 2/3/4 σ;
2. TG-119 with three proton beams (gantry 0/120/240°, 5 mm spots, 5 mm dose grid,
   pyRadPlan's TG-119 CT): ionbeam's optimized plan, pencil beam with and without
   fine sampling vs MCsquare (BDL of ionbeam's CNAO beam, Scanner from ionbeam's HU
   calibration, dose to water): gamma 2 %/2 mm and 3 %/3 mm (10 % cut-off), target
   D95 and mean;
3. pyRadPlan 0.5.0's own plan and pencil-beam dose vs MCsquare with a BDL of
   pyRadPlan's Generic proton machine and its default HLUT — the same metrics;
4. a heterogeneous case: the head phantom (skull, clivus, air sinuses), two
   lateral fields, pencil beam with and without fine sampling vs MCsquare;
5. a proton IMPT plan in water (50 mm cube, gantry 0/90°, 2 mm grid;
   ``bench/mcsquare/_water_impt.py``): the same metrics and gamma 1 %/1 mm.
6. single 150 MeV spots through 30 mm of lung, 20 mm of bone and a half bone slab
   with its edge on the axis (MC from ``tests/data/mcsquare/slab_spots.npz``, made by
   ``bench/mcsquare/make_slab_spots.py``): core σ and axis dose beyond the slab, alone
   and relative to the same beam in water; R80 beside the edge, gamma and RMS in the
   plane through it, with and without fine sampling;
7. a heterogeneous IMPT plan: the lung phantom (tumour inside a lung), gantry 270° and
   180°, pencil beam with and without fine sampling vs MCsquare.

Parts 2, 4, 5, 6 and 7 also print the plain pencil beam with lateral range mixing
(``DoseEngineOptions(range_mixing=True)``, an option, off by default).

MC runs are cached (``~/.cache/ionbeam-bench/mcsquare/runs``), so a second report
is quick. Usage::

    python bench/accuracy_vs_mc.py [--parts spots tg119 pyradplan head water slabs lung]
                                   [--primaries-tg119 N] [--primaries-head N]
                                   [--primaries-water N] [--venv DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "mcsquare"), str(HERE)]
from _beam_data import ionbeam_bdl, pyradplan_bdl  # noqa: E402
from _compare import Agreement, agreement  # noqa: E402
from _mcsquare import DEFAULT_CACHE, McResult, RunOptions, cached_run  # noqa: E402
from _mcsquare_inputs import Field, body_box, fields_from_plan, nozzle_distance_mm  # noqa: E402
from _plans import (  # noqa: E402
    Case,
    head_plan,
    ionbeam_tg119,
    lung_plan,
    pyradplan_calibration,
    pyradplan_dose,
    pyradplan_fields,
    pyradplan_machine,
)
from _scanner import calibration_scanner  # noqa: E402
from _water_spots import (  # noqa: E402
    core_sigma_mm,
    depth_dose_metrics,
    energy_within,
    halo_ratios,
    idd_mev_mm,
    ionbeam_dose,
    peak_at_equal_r80,
    radial_profiles,
    voxel_averaged_idd,
)

from compare_pyradplan import DEFAULT_VENV, ensure_venv  # noqa: E402
from ionbeam.machine import cnao_machine  # noqa: E402
from ionbeam.machine.beam_model import build_beam_model  # noqa: E402
from ionbeam.patient import CT, Grid, stoichiometric_calibration  # noqa: E402
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose  # noqa: E402
from ionbeam.planning.geometry import BeamGeometry  # noqa: E402

WATER_SPOTS = HERE.parent / "tests" / "data" / "mcsquare" / "water_spots.npz"
SLAB_SPOTS = HERE.parent / "tests" / "data" / "mcsquare" / "slab_spots.npz"
PYRADPLAN_EXPORT = DEFAULT_CACHE / "pyradplan_tg119_plan.npz"
FINE_SAMPLING = 3


# -- 1. single spots --------------------------------------------------------------------------
def _spot(data: np.lib.npyio.NpzFile, energy: float) -> dict[str, object]:
    """MC and ionbeam curves of one energy and their metrics."""
    p = f"e{energy:.0f}_"
    grid = Grid(
        tuple(data[p + "grid_shape"]),
        tuple(data[p + "grid_spacing_mm"]),
        tuple(data[p + "grid_origin_mm"]),
    )
    model = build_beam_model("proton", [energy], cnao_machine().beam_line)
    depth, idd_mc = data[p + "depth_mm"], data[p + "idd_mev_mm"]
    pb = {cut: ionbeam_dose(energy, grid, model, lateral_cutoff_sigma=cut) for cut in (3.0, 6.0)}
    idd_pb = idd_mev_mm(pb[3.0], grid)
    mc = depth_dose_metrics(depth, idd_mc)
    plateau = (depth >= 10.0) & (depth <= 0.8 * mc.r80_mm)
    radius, rd = data[p + "radius_mm"], data[p + "radial_depth_mm"]
    profiles = {"MC": data[p + "radial_dose_gy"]}
    profiles.update({cut: radial_profiles(dose, grid) for cut, dose in pb.items()})
    lateral = []
    for fraction in (0.1, 0.5, 0.9):
        k = int(np.argmin(np.abs(rd - fraction * mc.r80_mm)))
        s_mc = core_sigma_mm(radius, profiles["MC"][k])
        halos = [halo_ratios(radius, profiles[key][k], s_mc) for key in ("MC", 3.0, 6.0)]
        axis = [profiles[cut][k][0] / profiles["MC"][k][0] for cut in (3.0, 6.0)]
        inside = [energy_within(radius, profiles[key][k]) for key in ("MC", 6.0)]
        lateral.append((rd[k], s_mc, core_sigma_mm(radius, profiles[3.0][k]), halos, axis, inside))
    return {
        "mc": mc,
        "pb": depth_dose_metrics(depth, idd_pb),
        "pb_1mm": depth_dose_metrics(depth, voxel_averaged_idd(model, energy, depth)),
        "equal_r80": peak_at_equal_r80(model, energy, depth, idd_mc),
        "engine_peak": float(idd_pb[np.argmax(idd_mc)] / idd_mc[np.argmax(idd_mc)]),
        "plateau": idd_pb[plateau] / idd_mc[plateau],
        "primaries": int(data[p + "primaries"]),
        "uncertainty": float(data[p + "uncertainty_percent"]),
        "lateral": lateral,
    }


def report_spots() -> None:
    data = np.load(WATER_SPOTS)
    spots = {float(e): _spot(data, float(e)) for e in data["energies_mev"]}
    print(
        f"\n1. Single proton spots in water: MCsquare ({data['mcsquare']}, {data['created']}) "
        "vs ionbeam's pencil beam (PB)"
    )
    print(
        f"{'E MeV':>6}{'primaries':>11}{'MC unc %':>9} | {'peak MC':>8}{'Δ PB':>6} | "
        f"{'R80 MC':>7}{'Δ PB':>6} | {'R80-R20 MC':>10}{'PB':>6} | {'peak/plateau MC':>15}"
        f"{'PB':>6}{'PB 1mm':>7} | {'IDD PB/MC, 10 mm–0.8 R80':>25}"
    )
    for energy, r in spots.items():
        mc, pb, ratio = r["mc"], r["pb"], r["plateau"]
        print(
            f"{energy:>6.0f}{r['primaries']:>11.2e}{r['uncertainty']:>9.2f} | {mc.peak_mm:>8.1f}"
            f"{pb.peak_mm - mc.peak_mm:>+6.2f} | {mc.r80_mm:>7.1f}{pb.r80_mm - mc.r80_mm:>+6.2f} | "
            f"{mc.falloff_mm:>10.2f}{pb.falloff_mm:>6.2f} | {mc.peak_to_plateau:>15.2f}"
            f"{pb.peak_to_plateau:>6.2f}{r['pb_1mm'].peak_to_plateau:>7.2f} | "
            f"{ratio.mean():>10.3f} [{ratio.min():.3f}, {ratio.max():.3f}]"
        )
    print(
        "   (peak/plateau: maximum over the mean IDD at 10–20 mm; 'PB' the engine's 1 mm voxels "
        "(each the mean over its WEPL span), 'PB 1mm' the beam model's IDD averaged over the "
        "MC's 1 mm voxels)"
    )
    _print_equal_r80(spots)
    _print_lateral(spots)


def _print_equal_r80(spots: dict[float, dict[str, object]]) -> None:
    print(
        "\n   At the same R80 (the beam model's IDD averaged over MC's 1 mm voxels, shifted until "
        "the R80 of those voxels equals MC's;\n   targets: peak 3 %, mid-range 1.5 %): PB/MC - 1 "
        "in MC's highest voxel, the two highest, 0.4-0.6 R80; the engine's own dose in MC's\n   "
        "highest voxel (no shift); and, for comparison, the peak when the curve's continuous R80 "
        "is put at MC's voxel R80"
    )
    print(
        f"   {'E MeV':>5}{'shift':>8}{'peak':>8}{'two':>8}{'mid':>8} |{'engine':>8} |"
        f"{'shift':>8}{'peak':>8}  (continuous R80)"
    )
    for energy, r in spots.items():
        q = r["equal_r80"]
        print(
            f"   {energy:>5.0f}{q.shift_mm:>+7.2f}m{100 * (q.peak_ratio - 1):>+7.1f}%"
            f"{100 * (q.pair_ratio - 1):>+7.1f}%{100 * (q.mid_range_ratio - 1):>+7.1f}% |"
            f"{100 * (r['engine_peak'] - 1):>+7.1f}% |{q.centre_shift_mm:>+7.2f}m"
            f"{100 * (q.centre_peak_ratio - 1):>+7.1f}%"
        )


def _print_lateral(spots: dict[float, dict[str, object]]) -> None:
    print(
        "\n   Lateral profile: core σ (mm; fit of ln D vs r² above 30 % of the axis dose); "
        "dose at 2σ / 3σ / 4σ (σ of MC) relative to the axis, %;\n   PB with the default 3σ "
        "cut-off and with 6σ; axis dose PB/MC; share of the energy (annuli to 60 mm)\n   "
        "within 10 / 20 / 40 mm of the axis, MC and PB (6σ): where core and halo put it"
    )
    print(
        f"   {'E MeV':>5}{'depth':>6}{'σ MC':>6}{'σ PB':>6}{'Δσ':>6} |{'halo MC':>20} |"
        f"{'halo PB (3σ cut)':>20} |{'halo PB (6σ cut)':>20} |{'axis 3σ':>8}{'6σ':>6} |"
        f"{'energy within, MC':>20} |{'PB':>18}"
    )
    for energy, r in spots.items():
        for depth, s_mc, s_pb, halos, axis, inside in r["lateral"]:
            text = " |".join(
                f"{100 * h[0]:>7.2f}{100 * h[1]:>6.2f}{100 * h[2]:>7.3f}" for h in halos
            )
            print(
                f"   {energy:>5.0f}{depth:>6.0f}{s_mc:>6.2f}{s_pb:>6.2f}"
                f"{100 * (s_pb / s_mc - 1):>+5.1f}% |{text} |{axis[0]:>8.3f}{axis[1]:>6.3f} |"
                + " |".join("".join(f"{100 * v:>6.1f}" for v in share) for share in inside)
            )


# -- 5. slabs ----------------------------------------------------------------------------------
def report_slabs() -> None:
    from _slabs import (
        ENERGY_MEV,
        case_by_name,
        central_plane,
        edge_agreement,
        ionbeam_slab_dose,
        slab_grid,
        spot_agreement,
    )

    data = dict(np.load(SLAB_SPOTS))
    model = build_beam_model("proton", [ENERGY_MEV], cnao_machine().beam_line)
    print(f"\n5. {ENERGY_MEV:.0f} MeV spots through slabs: MCsquare ({data['created']}) vs PB")

    def span(x: np.ndarray) -> str:
        return f"{100 * (x.min() - 1):+.1f} … {100 * (x.max() - 1):+.1f} %"

    for cut, mix in ((3.0, False), (6.0, False), (3.0, True)):
        water = ionbeam_slab_dose(case_by_name("water"), model, lateral_cutoff_sigma=cut)
        for name in ("water", "lung", "bone"):
            case = case_by_name(name)
            dose = (
                water
                if name == "water"
                else ionbeam_slab_dose(case, model, lateral_cutoff_sigma=cut, range_mixing=mix)
            )
            a = spot_agreement(case, dose, water, data)
            label = ", range mixing" if mix else ""
            print(
                f"   {name:>5} (cut-off {cut:.0f}σ{label}), "
                f"{a.depth_mm[0]:.0f}–{a.depth_mm[-1]:.0f} mm: "
                f"σ PB/MC {span(a.sigma_ratio)}, axis dose {span(a.axis_ratio)}; relative to "
                f"water at equal WEPL: σ {span(a.sigma_vs_water)}, axis {span(a.axis_vs_water)}"
            )
    case = case_by_name("half_bone")
    grid = slab_grid(case)
    mc = data["half_bone_plane_dose_gy"].astype(float)
    for n in (0, 3, 5, -1):  # -1: the plain PB with range mixing
        if n < 0:
            dose = ionbeam_slab_dose(case, model, range_mixing=True)
        else:
            dose = ionbeam_slab_dose(case, model, fine_sampling=n)
        e = edge_agreement(central_plane(dose, grid), mc, grid)
        label = "plain PB" if n == 0 else ("PB mixed" if n < 0 else f"fine {n}×{n}")
        print(
            f"   half bone, {label:>8}: ΔR80 bone side {e.r80_shift_bone_mm:+.2f} mm, water side "
            f"{e.r80_shift_water_mm:+.2f} mm; γ 2%/2mm {e.gamma_2_2:.1f} %, 3%/3mm "
            f"{e.gamma_3_3:.1f} %; RMS {e.rms_percent:.1f} % of max"
        )


# -- MC of a plan -----------------------------------------------------------------------------
def simulate_fields(
    ct: CT, fields: list[Field], make_bdl, scanner, n_primaries: int, label: str
) -> McResult:
    """One MCsquare run per field (nozzle just outside the patient's box for each), summed;
    primaries shared in proportion to the fields' weights."""
    box, grid = body_box(ct.hu, ct.grid)
    hu = np.ascontiguousarray(ct.hu[box])
    total = sum(float(f.weight.sum()) for f in fields)
    dose = np.zeros(ct.grid.shape)
    n, seconds, uncertainties = 0, 0.0, []
    for k, f in enumerate(fields):
        direction = BeamGeometry(f.gantry_deg, f.couch_deg, f.isocenter_mm).direction
        distance = nozzle_distance_mm(grid, f.isocenter_mm, direction)
        share = max(int(n_primaries * float(f.weight.sum()) / total), 100_000)
        options = RunOptions(n_primaries=share, dose_to_water=True, seed=11 + k)
        start = time.perf_counter()
        result = cached_run(hu, grid, [f], make_bdl(f, distance), scanner, options)
        cached = " (cached)" if time.perf_counter() - start < 0.5 * result.seconds else ""
        print(
            f"   MC {label} field {k + 1} (gantry {f.gantry_deg:g}°): {result.n_primaries:.2e} "
            f"primaries, {result.seconds:.0f} s{cached}, MCsquare uncertainty "
            f"{result.uncertainty_percent:.2f} %",
            flush=True,
        )
        dose[box] += result.dose_gy
        n += result.n_primaries
        seconds += result.seconds
        uncertainties.append(result.uncertainty_percent)
    combined = float(np.sqrt(np.sum(np.square(uncertainties))) / len(uncertainties))
    return McResult(dose, n, seconds, combined, "")


def _body(structures) -> np.ndarray:
    """The patient: the union of all structures (the body contour includes the others)."""
    return np.logical_or.reduce([s.mask for s in structures])


def _print_agreements(rows: list[tuple[str, Agreement]], mc: McResult) -> None:
    print(
        f"   MC: {mc.n_primaries:.2e} primaries in {mc.seconds / 60:.1f} min; MCsquare's "
        f"statistical uncertainty (high-dose voxels; fields combined as if equal dose) "
        f"{mc.uncertainty_percent:.2f} %"
    )
    print(
        f"   {'dose engine':<34}{'γ 2%/2mm':>9}{'γ 3%/3mm':>9}{'voxels':>9}"
        f"{'D95 Gy':>8}{'ΔD95':>7}{'mean Gy':>8}{'Δmean':>7}"
    )
    for name, a in rows:
        print(
            f"   {name:<34}{a.pass_2mm2pct:>8.1f}%{a.pass_3mm3pct:>8.1f}%{a.n_evaluated:>9}"
            f"{a.d95_gy:>8.3f}{a.d95_diff_percent:>+6.1f}%{a.mean_gy:>8.3f}"
            f"{a.mean_diff_percent:>+6.1f}%"
        )


def report_case(case: Case, n_primaries: int, title: str, *, fine: bool = True) -> McResult:
    print(f"\n{title}")
    line = case.model.beam_line
    scanner = calibration_scanner(stoichiometric_calibration())

    def bdl(f: Field, distance: float):
        return ionbeam_bdl(line, f.energy_mev, nozzle_to_isocenter_mm=distance)

    mc = simulate_fields(case.ct, fields_from_plan(case.plan), bdl, scanner, n_primaries, case.name)
    target = next(s for s in case.structures if s.name == case.target)
    body = _body(case.structures)
    rows = []
    plain = DoseEngineOptions(with_let=False)
    runs = [("ionbeam PB", plain, case.dose_grid)]
    if fine:
        fine_options = DoseEngineOptions(with_let=False, fine_sampling=FINE_SAMPLING)
        name = f"ionbeam PB, fine sampling {FINE_SAMPLING}x{FINE_SAMPLING}"
        runs.append((name, fine_options, case.dose_grid))
    mixing = DoseEngineOptions(with_let=False, range_mixing=True)
    runs.append(("ionbeam PB, range mixing", mixing, case.dose_grid))
    if case.dose_grid != case.ct.grid:
        runs.append(("ionbeam PB on the MC's CT grid", plain, case.ct.grid))
    for name, options, grid in runs:
        start = time.perf_counter()
        dose = calc_dose(
            case.ct, case.plan, case.model, dose_grid=grid, structures=case.structures,
            options=options,
        ).dose_gy  # fmt: skip
        seconds = time.perf_counter() - start
        rows.append(
            (
                f"{name} ({seconds:.1f} s)",
                agreement(mc.dose_gy, case.ct.grid, dose, grid, target, body),
            )
        )
        if grid == case.ct.grid and options is plain:
            ratio = dose[body].sum() / mc.dose_gy[body].sum()
            print(f"   energy inside the body, PB / MC: {ratio:.3f}")
    print(
        f"   plan: {case.plan.n_spots} spots, {len(case.plan.beams)} beams, dose grid "
        f"{case.dose_grid.spacing_mm[0]:g} mm; MC on the CT grid {case.ct.grid.spacing_mm} mm"
    )
    _print_agreements(rows, mc)
    return mc


def report_water(n_primaries: int) -> None:
    from _water_impt import gamma_pass_percent, water_impt_case

    case = water_impt_case()
    title = "5. IMPT in water: 50 mm cube, gantry 0/90°, ionbeam's optimized plan vs MCsquare"
    mc = report_case(case, n_primaries, title, fine=False)  # no heterogeneity to sample
    target = next(s for s in case.structures if s.name == case.target)
    body = _body(case.structures)
    for cut in (3.0, 6.0):
        dose = calc_dose(
            case.ct, case.plan, case.model, dose_grid=case.dose_grid, structures=case.structures,
            options=DoseEngineOptions(with_let=False, lateral_cutoff_sigma=cut),
        ).dose_gy  # fmt: skip
        a = agreement(mc.dose_gy, case.ct.grid, dose, case.dose_grid, target, body)
        rates = [gamma_pass_percent(mc.dose_gy, dose, case, c) for c in (2.0, 1.0)]
        print(
            f"   ionbeam PB, {cut:g}σ lateral cut-off: target mean {a.mean_diff_percent:+.1f} %, "
            f"D95 {a.d95_diff_percent:+.1f} %, γ 2%/2mm {rates[0]:.1f} %, γ 1%/1mm {rates[1]:.1f} %"
        )


# -- 3. pyRadPlan -----------------------------------------------------------------------------
def export_pyradplan(venv: Path) -> Path:
    if PYRADPLAN_EXPORT.exists():
        return PYRADPLAN_EXPORT
    python = ensure_venv(venv)
    PYRADPLAN_EXPORT.parent.mkdir(parents=True, exist_ok=True)
    print("   planning TG-119 with pyRadPlan (its own venv) ...", flush=True)
    staging = PYRADPLAN_EXPORT.with_name("staging.npz")
    subprocess.run(
        [str(python), str(HERE / "mcsquare" / "_pyradplan_mc_worker.py"), str(staging)],
        check=True,
        capture_output=True,
    )
    staging.replace(PYRADPLAN_EXPORT)
    return PYRADPLAN_EXPORT


def report_pyradplan(npz: Path, n_primaries: int) -> None:
    print(
        "\n3. pyRadPlan 0.5.0 (its own plan and pencil beam) vs MCsquare with pyRadPlan's "
        "Generic machine"
    )
    from _plans import load_tg119

    ct, structures, _ = load_tg119(npz)
    fields, gantries = pyradplan_fields(npz)
    machine = pyradplan_machine(npz)
    scanner = calibration_scanner(pyradplan_calibration(stoichiometric_calibration()))

    def bdl(f: Field, distance: float):
        return pyradplan_bdl(machine, nozzle_to_isocenter_mm=distance)

    mc = simulate_fields(ct, fields, bdl, scanner, n_primaries, "pyRadPlan")
    dose, grid = pyradplan_dose(npz)
    target = next(s for s in structures if s.name == "OuterTarget")
    body = _body(structures)
    integral = (dose.sum() * grid.voxel_volume_mm3) / (
        mc.dose_gy[body].sum() * ct.grid.voxel_volume_mm3
    )
    print(
        f"   plan: {sum(f.energy_mev.size for f in fields)} spots, gantry {gantries} "
        f"(ionbeam/IEC angles); integral dose pyRadPlan / MC = {integral:.3f}"
    )
    _print_agreements(
        [("pyRadPlan PB", agreement(mc.dose_gy, ct.grid, dose, grid, target, body))], mc
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["spots", "tg119", "pyradplan", "head", "water", "slabs", "lung"],
        choices=["spots", "tg119", "pyradplan", "head", "water", "slabs", "lung"],
    )
    parser.add_argument("--primaries-tg119", type=float, default=2e7)
    parser.add_argument("--primaries-head", type=float, default=1e7, help="also the lung plan")
    parser.add_argument("--primaries-water", type=float, default=1e7)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    args = parser.parse_args()
    if "spots" in args.parts:
        report_spots()
    if {"tg119", "pyradplan"} & set(args.parts):
        npz = export_pyradplan(args.venv)
        if "tg119" in args.parts:
            report_case(
                ionbeam_tg119(npz),
                int(args.primaries_tg119),
                "2. TG-119, three proton beams: ionbeam's optimized plan vs MCsquare",
            )
        if "pyradplan" in args.parts:
            report_pyradplan(npz, int(args.primaries_tg119))
    if "head" in args.parts:
        report_case(
            head_plan(),
            int(args.primaries_head),
            "4. Heterogeneous: head phantom (skull, clivus, sinuses), gantry 90/270°",
        )
    if "water" in args.parts:
        report_water(int(args.primaries_water))
    if "slabs" in args.parts:
        report_slabs()
    if "lung" in args.parts:
        report_case(
            lung_plan(),
            int(args.primaries_head),
            "7. Heterogeneous: lung phantom (tumour in the right lung), gantry 270/180°",
        )


if __name__ == "__main__":
    main()
