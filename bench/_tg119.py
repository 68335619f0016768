"""Shared set-up of the TG-119 benchmarks: a three-beam plan's spots and dose influence.

Used by ``bench/dij.py`` (ionbeam's own TG-119 phantom) and by
``bench/compare_pyradplan.py`` (pyRadPlan's TG-119 CT and structures, so that
both programs plan exactly the same voxels).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ionbeam.machine import cnao_machine
from ionbeam.machine.beam_model import BeamModel, build_beam_model
from ionbeam.patient import CT, Grid
from ionbeam.patient.structures import Structure
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose_influence
from ionbeam.planning.dose_grid import make_dose_grid
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription
from ionbeam.planning.spot_placement import place_spots


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass
class Timings:
    beam_model_s: float = 0.0
    placement_s: float = 0.0
    dij_s: float = 0.0
    dij_cpu_s: float = 0.0  # CPU time of all the process's threads (steadier on a busy machine)


def beam_model_for(particle: str) -> BeamModel:
    """The CNAO beam model of ``particle`` (cached on disk after the first call)."""
    machine = cnao_machine()
    library = machine.energy_library(particle)
    return build_beam_model(particle, library.energies_mev_u, machine.beam_line)


def load_exported(npz: str) -> tuple[CT, list[Structure], np.ndarray]:
    """The CT, structures and isocentre exported by ``bench/_pyradplan_worker.py``."""
    data = np.load(npz)
    grid = Grid(data["hu"].shape, tuple(data["spacing_mm"]), tuple(data["origin_mm"]))
    ct = CT(np.maximum(data["hu"], -1000.0), grid)
    names = [k[5:] for k in data.files if k.startswith("mask_")]
    structures = [Structure(n, data[f"mask_{n}"], grid) for n in names]
    return ct, structures, np.asarray(data["isocenter_mm"], dtype=float)


def tg119_plan_and_dij(
    ct: CT,
    structures: Sequence[Structure],
    particle: str,
    *,
    target: str,
    isocenter_mm: np.ndarray,
    gantry_deg: Sequence[float] = (0.0, 120.0, 240.0),
    spot_spacing_mm: float,
    dose_grid_mm: float,
    lateral_cutoff_sigma: float = 3.0,
    target_margin_mm: float = 0.0,
    range_mixing: bool = False,
) -> tuple[Plan, DoseInfluence, Timings]:
    """Spots and dose influence of a multi-beam plan, with the time of each stage.

    ``target_margin_mm``: spots are placed on the target grown by this margin (pyRadPlan
    grows it by the spot spacing, matRad's ``pbMargin``); 0: on the target itself.
    ``range_mixing``: the engine's option of that name."""
    timings = Timings()
    t = time.perf_counter()
    model = beam_model_for(particle)
    timings.beam_model_s = time.perf_counter() - t
    machine = cnao_machine()
    target_structure = next(s for s in structures if s.name == target)
    target_mask = target_structure.expand(target_margin_mm).mask
    spr = ct.spr()
    t = time.perf_counter()
    beams = []
    for gantry in gantry_deg:
        geometry = BeamGeometry(
            gantry_deg=gantry, isocenter_mm=tuple(isocenter_mm), sad_mm=machine.beam_line.sad_mm
        )
        spots = place_spots(
            spr,
            ct.grid,
            target_mask,
            geometry,
            energies_mev_u=model.energies_mev_u,
            peak_depths_mm=model.bragg_peak_mm,
            spot_spacing_mm=spot_spacing_mm,
        )
        beams.append(Beam(f"G{gantry:g}", geometry, spots))
    plan = Plan(particle, tuple(beams), Prescription(target, 2.0))
    timings.placement_s = time.perf_counter() - t
    dose_grid = make_dose_grid(ct.grid, dose_grid_mm)
    t, cpu = time.perf_counter(), time.process_time()
    influence = calc_dose_influence(
        ct,
        plan,
        model,
        dose_grid=dose_grid,
        structures=structures,
        options=DoseEngineOptions(
            lateral_cutoff_sigma=lateral_cutoff_sigma, range_mixing=range_mixing
        ),
    )
    timings.dij_s = time.perf_counter() - t
    timings.dij_cpu_s = time.process_time() - cpu
    return plan, influence, timings
