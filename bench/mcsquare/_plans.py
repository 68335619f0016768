"""The plans the Monte Carlo comparison simulates: TG-119 (ionbeam's and pyRadPlan's) and a head.

* :func:`ionbeam_tg119` — ionbeam's three-beam proton plan on pyRadPlan's TG-119
  CT (the geometry of ``bench/compare_pyradplan.py``: gantry 0/120/240°, 5 mm
  spots, 5 mm dose grid), weights optimized by ``ionbeam.planning.optimize``
  with its default objectives (TG-119: target 2 Gy, core and body as matRad's
  example).
* :func:`pyradplan_fields` / :func:`pyradplan_dose` — pyRadPlan's own plan as
  its worker exported it: its spots in ionbeam's beam's-eye view and
  MCsquare's terms, and its pencil-beam dose on its dose grid.
* :func:`head_plan` — the skull-base chordoma phantom (bone, air sinuses)
  with two lateral fields, optimized the same way.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _mcsquare_inputs import Field

from ionbeam.machine import cnao_machine
from ionbeam.machine.beam_model import BeamModel, build_beam_model
from ionbeam.patient import CT, Grid, HUCalibration
from ionbeam.patient.structures import Structure
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose_influence
from ionbeam.planning.dose_grid import make_dose_grid, masks_on_grid
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.optimize import SolverOptions, build_problem, optimize_weights
from ionbeam.planning.optimize.templates import (
    default_objectives,
    optimization_masks,
    overlap_priority,
)
from ionbeam.planning.plan import Beam, Plan, Prescription
from ionbeam.planning.spot_placement import place_spots

BENCH = Path(__file__).resolve().parents[1]
#: pyRadPlan's weights are in units of 10⁶ protons (matRad's MCsquare interface).
PYRADPLAN_PROTONS_PER_WEIGHT = 1.0e6
TG119_TARGET = "OuterTarget"


@dataclass(frozen=True, eq=False)
class Case:
    """A CT with structures, an optimized plan and the beam model it was planned with."""

    name: str
    ct: CT
    structures: tuple[Structure, ...]
    target: str
    plan: Plan
    model: BeamModel
    dose_grid: Grid


def load_tg119(npz: Path) -> tuple[CT, tuple[Structure, ...], np.ndarray]:
    """pyRadPlan's TG-119 CT (HU clipped at -1000), structures and isocentre."""
    data = np.load(npz)
    grid = Grid(data["hu"].shape, tuple(data["spacing_mm"]), tuple(data["origin_mm"]))
    ct = CT(np.maximum(data["hu"], -1000.0).astype(np.float32), grid)
    names = [k[5:] for k in data.files if k.startswith("mask_")]
    return ct, tuple(Structure(n, data[f"mask_{n}"], grid) for n in names), data["beam0_iso"]


def optimized(
    plan: Plan,
    influence: DoseInfluence,
    structures: tuple[Structure, ...],
    target: str,
    dose_gy: float,
) -> Plan:
    """``plan`` with weights from ionbeam's optimizer (default objectives, L-BFGS-B)."""
    masks = masks_on_grid(list(structures), influence.grid)
    names = list(masks)
    objectives = default_objectives(names, target, dose_gy)
    masks = optimization_masks(masks, overlap_priority(names, target))
    problem = build_problem(influence, masks, objectives)
    result = optimize_weights(problem, options=SolverOptions(progress=False, max_iterations=300))
    return plan.with_weights(result.x)


def _place(
    ct: CT,
    structures: tuple[Structure, ...],
    target: str,
    model: BeamModel,
    gantries: tuple[float, ...],
    iso: np.ndarray,
    spacing_mm: float,
) -> Plan:
    spr = ct.spr()
    mask = next(s for s in structures if s.name == target).mask
    beams = []
    for gantry in gantries:
        geometry = BeamGeometry(gantry, 0.0, tuple(float(v) for v in iso), model.beam_line.sad_mm)
        spots = place_spots(
            spr,
            ct.grid,
            mask,
            geometry,
            energies_mev_u=model.energies_mev_u,
            peak_depths_mm=model.bragg_peak_mm,
            spot_spacing_mm=spacing_mm,
        )
        beams.append(Beam(f"G{gantry:g}", geometry, spots))
    return Plan("proton", tuple(beams), Prescription(target, 2.0))


def _case(
    name: str,
    ct: CT,
    structures: tuple[Structure, ...],
    target: str,
    gantries: tuple[float, ...],
    iso: np.ndarray,
    spacing_mm: float,
    dose_grid_mm: float,
) -> Case:
    machine = cnao_machine()
    model = build_beam_model(
        "proton", machine.energy_library("proton").energies_mev_u, machine.beam_line
    )
    plan = _place(ct, structures, target, model, gantries, iso, spacing_mm)
    grid = make_dose_grid(ct.grid, dose_grid_mm)
    influence = calc_dose_influence(
        ct,
        plan,
        model,
        dose_grid=grid,
        structures=structures,
        options=DoseEngineOptions(with_let=False),
    )
    plan = optimized(plan, influence, structures, target, 2.0)
    return Case(name, ct, structures, target, plan, model, grid)


def ionbeam_tg119(npz: Path) -> Case:
    """ionbeam's optimized TG-119 proton plan (5 mm spots and dose grid)."""
    ct, structures, iso = load_tg119(npz)
    return _case("TG-119", ct, structures, TG119_TARGET, (0.0, 120.0, 240.0), iso, 5.0, 5.0)


def head_plan() -> Case:
    """The head phantom (2 mm CT and dose grid), PTV from gantry 90° and 270°, 4 mm spots."""
    sys.path.insert(0, str(BENCH))
    from ionbeam.patient.phantoms import make_phantom

    patient = make_phantom("head")
    structures = tuple(patient.structures[n] for n in patient.structures.names)
    target = patient.target_name or "PTV"
    iso = patient.structures[target].centroid_mm
    return _case("head", patient.ct, structures, target, (90.0, 270.0), iso, 4.0, 2.0)


def lung_plan() -> Case:
    """The lung phantom (tumour inside the right lung; 2.5 mm CT and dose grid), PTV from
    gantry 270° (through the lateral chest wall and lung) and 180° (through the back and
    lung), 4 mm spots."""
    from ionbeam.patient.phantoms import make_phantom

    patient = make_phantom("lung")
    structures = tuple(patient.structures[n] for n in patient.structures.names)
    target = patient.target_name or "PTV"
    iso = patient.structures[target].centroid_mm
    return _case("lung", patient.ct, structures, target, (270.0, 180.0), iso, 4.0, 2.5)


# -- pyRadPlan's plan -----------------------------------------------------------------------
def _ionbeam_angles(source: np.ndarray, couch: float) -> float:
    """The ionbeam gantry angle whose source lies along pyRadPlan's ``source`` (same couch)."""
    want = np.asarray(source, dtype=float) / np.linalg.norm(source)
    candidates = np.arange(0.0, 360.0, 0.5)
    scores = [BeamGeometry(g, couch).gantry_to_patient[:, 2] @ want for g in candidates]
    best = float(candidates[int(np.argmax(scores))])
    if max(scores) < 1.0 - 1e-6:
        raise ValueError(f"no ionbeam gantry angle matches pyRadPlan's source {source}")
    return best


def pyradplan_fields(npz: Path) -> tuple[list[Field], list[float]]:
    """pyRadPlan's spots as MCsquare fields (ionbeam BEV, weights in protons), and the
    ionbeam gantry angle of each beam."""
    data = np.load(npz)
    fields, gantries = [], []
    for b in range(int(data["n_beams"])):
        couch = float(data[f"beam{b}_couch"])
        gantry = _ionbeam_angles(data[f"beam{b}_source"], couch)
        geometry = BeamGeometry(gantry, couch, tuple(data[f"beam{b}_iso"]))
        offset = data[f"beam{b}_ray_bev"] @ data[f"beam{b}_rotation"].T  # LPS, from the isocentre
        x_axis, y_axis = geometry.bev_axes
        weight = data[f"beam{b}_weight"] * PYRADPLAN_PROTONS_PER_WEIGHT
        keep = weight > 0
        fields.append(
            Field(
                gantry,
                couch,
                geometry.isocenter_mm,
                data[f"beam{b}_energy"][keep],
                (offset @ x_axis)[keep],
                (offset @ y_axis)[keep],
                weight[keep],
            )
        )
        gantries.append(gantry)
    return fields, gantries


def pyradplan_dose(npz: Path) -> tuple[np.ndarray, Grid]:
    """pyRadPlan's dose (Gy, ``[x, y, z]``) on its dose grid."""
    data = np.load(npz)
    shape = tuple(int(n) for n in data["dose_dimensions"])
    grid = Grid(shape, tuple(data["dose_spacing_mm"]), tuple(data["dose_origin_mm"]))
    return data["dose_gy"].reshape(shape, order="F"), grid


def pyradplan_machine(npz: Path) -> dict[str, np.ndarray]:
    """The Generic machine's arrays as :func:`_beam_data.pyradplan_bdl` reads them."""
    data = np.load(npz)
    return {k[len("machine_") :]: data[k] for k in data.files if k.startswith("machine_")}


def pyradplan_calibration(reference: HUCalibration) -> HUCalibration:
    """pyRadPlan's default HLUT (HU → SPR) with ``reference``'s density curve."""
    hu = np.array([-1024.0, -999.0, -90.0, -45.0, 0.0, 100.0, 350.0, 3000.0])
    spr = np.array([0.001, 0.001, 0.95, 0.99, 1.0, 1.095, 1.199, 2.505])
    density = reference.hu_to_density_g_cm3(hu)
    return HUCalibration(hu, spr, density, source="pyRadPlan 0.5.0 default HLUT")
