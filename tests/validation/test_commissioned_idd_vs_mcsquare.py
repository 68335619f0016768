"""A beam model commissioned with Monte Carlo depth–dose curves reproduces them.

Reference: MCsquare 1.1 (Souris et al., Med. Phys. 43 (2016) 2447) single proton spots
in water at 70, 120, 170 and 220 MeV, laterally integrated on 1 mm voxels
(``tests/data/mcsquare/water_spots.npz``, provenance in its README), the beam of
ionbeam's CNAO beam line with mean = nominal energy and a 0.2 % spread.

A clinic commissions ionbeam by giving such curves (measured or MC) per energy
(``docs/commissioning.md``). With them the beam model's IDD must be the reference's:
within 1 % of its maximum at every reference depth (linear resampling onto the
model's 1024-point grid; the worst case is in the distal fall-off) and R80 within
0.01 mm. ionbeam's own physics misses the reference by more than 10 % of the maximum in
the fall-off (R80 0.2–0.6 mm deeper, ``docs/validation.md``): the test can tell a curve
that reached the model from one that did not. One 120 MeV spot through the dose engine
then follows the reference in the plateau (1.5 %: the engine's own 1 % agreement with
its IDD plus the 2 mm dose grid) and its R80 lies within 1 mm (half a voxel of 2 mm)
of the reference's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ionbeam.machine import cnao_beam_line
from ionbeam.machine.beam_data import MeasuredDepthDose
from ionbeam.machine.beam_model import MEV_PER_MM_TO_GY_MM2, build_beam_model
from ionbeam.machine.commissioning import (
    beam_model_from_commissioning,
    commissioning_from_beam_model,
)
from ionbeam.patient.phantoms import make_phantom
from ionbeam.physics.depth_dose import distal_depth
from ionbeam.planning.dose_engine import calc_dose_influence
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

DATA = Path(__file__).resolve().parents[1] / "data" / "mcsquare" / "water_spots.npz"
REFERENCE = np.load(DATA)
ENERGIES = [float(e) for e in REFERENCE["energies_mev"]]


def _reference(energy: float) -> tuple[np.ndarray, np.ndarray]:
    key = f"e{energy:g}"
    idd = np.asarray(REFERENCE[f"{key}_idd_mev_mm"], dtype=float) * MEV_PER_MM_TO_GY_MM2
    return np.asarray(REFERENCE[f"{key}_depth_mm"], dtype=float), idd


@pytest.fixture(scope="module")
def models():
    generic = build_beam_model("proton", ENERGIES, cnao_beam_line())
    base = commissioning_from_beam_model(generic)
    curves = tuple(MeasuredDepthDose(*_reference(e), label=f"MCsquare {e:g} MeV") for e in ENERGIES)
    energies = dataclasses.replace(base.energies, depth_doses=curves)
    return generic, beam_model_from_commissioning(dataclasses.replace(base, energies=energies))


@pytest.mark.parametrize("index", range(len(ENERGIES)))
def test_commissioned_idd_is_the_monte_carlo_one(models, index: int) -> None:
    generic, model = models
    depth, reference = _reference(ENERGIES[index])
    ours = np.interp(depth, model.depth_mm(index), model.idd_gy_mm2[index])
    physics = np.interp(depth, generic.depth_mm(index), generic.idd_gy_mm2[index])
    scale = reference.max()
    assert np.max(np.abs(ours - reference)) < 0.01 * scale
    # The test discriminates: ionbeam's own physics (MODEL_VERSION 3, within 3 % of the
    # MC peak) still differs from the MC curve by more than the 1 % asked of the file's.
    assert np.max(np.abs(physics - reference)) > 0.02 * scale
    assert model.r80_mm[index] == pytest.approx(distal_depth(depth, reference, 0.8), abs=0.01)


def test_a_commissioned_spot_follows_the_monte_carlo_curve(models) -> None:
    _, model = models
    index = ENERGIES.index(120.0)
    water = make_phantom("water", spacing_mm=2.0, box_size_mm=140.0, target_size_mm=30.0)
    geometry = BeamGeometry(gantry_deg=0.0, isocenter_mm=(0.0, 0.0, 0.0), sad_mm=(6200.0, 5700.0))
    beam = Beam("B1", geometry, SpotMap([120.0], [0.0], [0.0], [1.0]))
    plan = Plan("proton", (beam,), Prescription("Target", 2.0))
    influence = calc_dose_influence(water.ct, plan, model, structures=water.structures.values())
    dx, dy, dz = water.grid.spacing_mm
    integrated = influence.dose_gy(plan.weights).sum(axis=(0, 2)) * dx * dz
    y = water.grid.axes_mm()[1]
    depth = y - y[0] + 0.5 * dy - 10.0  # the phantom has 10 mm of air before the water
    ref_depth, reference = _reference(120.0)
    expected = np.interp(depth, ref_depth, reference)
    plateau = (depth > 2.0) & (depth < 0.9 * model.bragg_peak_mm[index])
    np.testing.assert_allclose(integrated[plateau], expected[plateau], rtol=0.015)
    r80 = distal_depth(depth, integrated, 0.8)
    assert r80 == pytest.approx(distal_depth(ref_depth, reference, 0.8), abs=1.0)
