"""Checks the MCsquare harness against ionbeam's own geometry and physics (a benchmark).

Small MCsquare runs (about a minute in all on 2 cores) that establish what the
harness's docstring states about the shipped binary:

1. geometry — an off-axis spot at several gantry/couch angles and an
   off-centre isocentre: the centroid of MCsquare's dose against ionbeam's
   pencil beam for the same plan (agreement within a voxel shows that CT
   orientation, isocentre, spot (x, y), gantry and couch map correctly);
2. energy — R80 of a spot at a non-integer energy (the 1 MeV BDL grid is
   interpolated correctly);
3. weights and units — a two-energy plan: the energy MCsquare deposits per
   primary against the sum of single-energy runs weighted by the spot weights
   (spots drawn ∝ weight), and against the beam energy (Dose.mhd is eV/g);
4. dose to water — a bone slab: MCsquare's dose-to-water / dose-to-medium in
   the bone against 1/(S/ρ relative to water) of the calibration's material.

Usage: python bench/mcsquare/check_conventions.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _beam_data import ionbeam_bdl
from _mcsquare import RunOptions, run
from _mcsquare_inputs import fields_from_plan, nozzle_distance_mm, water_scanner
from _scanner import calibration_scanner

from ionbeam.machine import cnao_machine
from ionbeam.machine.beam_model import build_beam_model
from ionbeam.patient import CT, Grid, stoichiometric_calibration
from ionbeam.physics.depth_dose import distal_depth
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

LINE = cnao_machine().beam_line


def _plan(
    energies: list[float],
    xs: list[float],
    ys: list[float],
    weights: list[float],
    gantry: float,
    couch: float,
    iso: tuple[float, float, float],
) -> Plan:
    geometry = BeamGeometry(gantry, couch, iso, LINE.sad_mm)
    return Plan(
        "proton", (Beam("B", geometry, SpotMap(energies, xs, ys, weights)),), Prescription("T", 1.0)
    )


def _both(ct: CT, plan: Plan, n: int, scanner=None, dose_to_water=False) -> tuple:
    beam = plan.beams[0]
    d = nozzle_distance_mm(ct.grid, beam.geometry.isocenter_mm, beam.geometry.direction)
    bdl = ionbeam_bdl(LINE, beam.spots.energy_mev_u, nozzle_to_isocenter_mm=d)
    mc = run(
        ct.hu,
        ct.grid,
        fields_from_plan(plan),
        bdl,
        scanner or water_scanner(),
        RunOptions(n_primaries=n, dose_to_water=dose_to_water),
    )
    model = build_beam_model("proton", np.unique(beam.spots.energy_mev_u), LINE)
    pb = calc_dose(ct, plan, model, options=DoseEngineOptions(with_let=False)).dose_gy
    return mc, pb


def _centroid(dose: np.ndarray, grid: Grid) -> np.ndarray:
    points = np.stack(np.meshgrid(*grid.axes_mm(), indexing="ij"), axis=-1)
    weight = np.where(dose > 0.2 * dose.max(), dose, 0.0)
    return (points * weight[..., None]).sum(axis=(0, 1, 2)) / weight.sum()


def check_geometry() -> None:
    grid = Grid((60, 70, 50), (2.0, 2.0, 2.0), (-70.0, -60.0, -40.0))
    ct = CT(np.zeros(grid.shape, np.float32), grid)
    print("1. geometry: centroid of the dose above 20 % of its maximum, MCsquare − ionbeam (mm):")
    print("   across the beam (tests CT orientation, isocentre, spot x/y, angles) and along it")
    print("   (the depth–dose shapes differ by physics, see accuracy_vs_mc.py)")
    for gantry, couch in ((0, 0), (90, 0), (120, 0), (240, 0), (0, 45)):
        plan = _plan([120.0], [15.0], [-10.0], [1.0], gantry, couch, (-10.0, 8.0, 6.0))
        mc, pb = _both(ct, plan, 30_000)
        delta = _centroid(mc.dose_gy, grid) - _centroid(pb, grid)
        direction = plan.beams[0].geometry.direction
        along = float(delta @ direction)
        across = float(np.linalg.norm(delta - along * direction))
        print(f"   gantry {gantry:3d} couch {couch:2d}: across {across:.2f}, along {along:+.2f}")


def check_energy_and_units() -> None:
    grid = Grid((41, 200, 41), (2.0, 1.0, 2.0), (-40.0, -99.5, -40.0))
    ct = CT(np.zeros(grid.shape, np.float32), grid)
    mass_g = np.prod(grid.spacing_mm) * 1e-3
    print("2. energy: R80 (mm) of a 150.5 MeV spot")
    plan = _plan([150.5], [0.0], [0.0], [1.0], 0, 0, (0.0, 0.0, 0.0))
    mc, pb = _both(ct, plan, 30_000)
    depth = grid.axes_mm()[1] + 100.0
    r80 = [distal_depth(depth, d.sum(axis=(0, 2)), 0.8) for d in (mc.dose_gy, pb)]
    print(f"   MCsquare {r80[0]:.2f}, ionbeam {r80[1]:.2f}")
    print("3. weights and units: energy deposited per primary (MeV)")
    single = {}
    for energy in (100.0, 180.0):
        one = _plan([energy], [0.0], [0.0], [1.0], 0, 0, (0.0, 0.0, 0.0))
        result, _ = _both(ct, one, 20_000)
        single[energy] = result.dose_gy.sum() * mass_g / 1.602176634e-13 * 1e-3
        print(f"   {energy:.0f} MeV alone: {single[energy]:.2f}")
    mixed = _plan([100.0, 180.0], [0.0, 0.0], [0.0, 0.0], [1.0, 3.0], 0, 0, (0.0, 0.0, 0.0))
    result, _ = _both(ct, mixed, 40_000)
    per_primary = result.dose_gy.sum() * mass_g / 1.602176634e-13 * 1e-3 / 4.0
    print(
        f"   1:3 plan: {per_primary:.2f} (expected {(single[100.0] + 3 * single[180.0]) / 4:.2f})"
    )


def check_dose_to_water() -> None:
    calibration = stoichiometric_calibration()
    grid = Grid((31, 150, 31), (2.0, 1.0, 2.0), (-30.0, -74.5, -30.0))
    hu = np.zeros(grid.shape, np.float32)
    depth = grid.axes_mm()[1]
    hu[:, (depth > -30) & (depth < 0), :] = 1200.0
    ct = CT(hu, grid)
    scanner = calibration_scanner(calibration)
    plan = _plan([120.0], [0.0], [0.0], [1.0], 0, 0, (0.0, 0.0, 0.0))
    medium, pb = _both(ct, plan, 30_000, scanner)
    water, _ = _both(ct, plan, 30_000, scanner, dose_to_water=True)
    bone = (depth > -25) & (depth < -5)
    ratio = water.dose_gy[:, bone].sum() / medium.dose_gy[:, bone].sum()
    r = calibration.hu_to_spr(1200.0) / calibration.hu_to_density_g_cm3(1200.0)
    print(f"4. dose to water / dose to medium in bone: {ratio:.4f} (1/(S/ρ)_rel = {1 / r:.4f})")
    r80 = [distal_depth(depth, d.sum(axis=(0, 2)), 0.8) for d in (water.dose_gy, pb)]
    print(f"   R80 behind 30 mm of bone: MCsquare {r80[0]:.2f}, ionbeam {r80[1]:.2f} mm")


def main() -> None:
    check_geometry()
    check_energy_and_units()
    check_dose_to_water()


if __name__ == "__main__":
    main()
