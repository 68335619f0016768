"""Acceptance of issue 5: optimized TG-119 proton and skull-base chordoma carbon plans.

Both run on coarse grids to stay fast (4 mm TG-119 voxels and dose grid, 6 mm spots,
every second proton energy, at most 50 iterations; 3 mm head voxels, dose grid and
spots for carbon, whose spots are narrower).

* TG-119 (Ezzell et al. 2009, Med Phys 36:5359, the AAPM IMRT commissioning test):
  three proton beams at 0/120/240°, 2 Gy(RBE) per fraction (RBE 1.1) to the C-shaped
  OuterTarget. Issue 5 asks D95 ≥ 95 % and D5 ≤ 107 % of the prescription and a core
  mean well below it (TG-119's own goal is a core D10 below 50 % of the target dose;
  we ask the core mean below 50 %).
* Skull-base chordoma (the ``head`` phantom), carbon ions, two lateral SFUD fields
  optimized for the RBE-weighted dose of the mMKM (tumour tissue α/β 10 Gy in the PTV,
  late-responding α/β 2 Gy elsewhere), 4.4 Gy(RBE) per fraction (CNAO's 70.4 Gy(RBE)
  in 16): RBE-weighted dose uniform within ±5 % (D95 ≥ 95 %, D5 ≤ 105 %), a
  brainstem maximum of 90 % of the prescription honoured, and, as a correct
  biological optimization must give, a physical dose of each field that falls
  towards its distal end (the RBE rises with LET there). The PTV (GTV + 3 mm) overlaps
  the brainstem in 3 % of its volume; the overlap belongs to the brainstem (overlap
  priority), so coverage is judged on the PTV outside the brainstem, as clinics
  evaluate a PTV that overlaps a serial organ, and on the whole GTV.
"""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.evaluation import dose_metrics
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning.optimize import SolverOptions, SquaredDeviation, SquaredOverdose
from ionbeam.planning.plan import Prescription
from ionbeam.planning.planner import PlanningOptions, plan_patient

SOLVER = SolverOptions(progress=False, relative_tolerance=2e-3, max_iterations=200)
QUICK = SolverOptions(progress=False, relative_tolerance=5e-3, max_iterations=50)


def test_tg119_protons_three_beams() -> None:
    patient = make_phantom("tg119", spacing_mm=4.0)
    result = plan_patient(
        patient,
        Prescription("OuterTarget", 2.0),
        particle="proton",
        options=PlanningOptions(
            gantry_deg=(0.0, 120.0, 240.0),
            dose_grid_mm=4.0,
            spot_spacing_mm=6.0,
            energy_stride=2,
            solver=QUICK,
        ),
    )
    metrics = dose_metrics(result.evaluated_dose_gy, result.grid, dict(result.masks))
    target, core = metrics["OuterTarget"], metrics["Core"]
    assert target.d95_gy >= 0.95 * 2.0
    assert target.d5_gy <= 1.07 * 2.0
    assert core.mean_gy <= 0.5 * 2.0
    np.testing.assert_allclose(result.rbe_dose_gy, 1.1 * result.dose_gy)


@pytest.fixture(scope="module")
def chordoma():
    patient = make_phantom("head", spacing_mm=3.0)
    dose = 4.4
    objectives = {
        "PTV": SquaredDeviation(dose, 1000.0),
        "Brainstem": SquaredOverdose(0.9 * dose, 3000.0),
        "OpticChiasm": SquaredOverdose(0.9 * dose, 3000.0),
        "Brain": SquaredOverdose(0.5 * dose, 300.0),
        "Body": SquaredOverdose(0.6 * dose, 100.0),
    }
    options = PlanningOptions(
        gantry_deg=(90.0, 270.0),
        technique="sfud",
        dose_grid_mm=3.0,
        spot_spacing_mm=3.0,
        solver=SOLVER,
    )
    result = plan_patient(
        patient,
        Prescription("PTV", 16 * dose, 16),
        particle="carbon",
        objectives=objectives,
        options=options,
    )
    return result, dose


def test_chordoma_carbon_rbe_weighted_dose_is_uniform(chordoma) -> None:
    result, dose = chordoma
    masks = dict(result.masks)
    masks["PTV-Brainstem"] = masks["PTV"] & ~masks["Brainstem"]
    metrics = dose_metrics(result.rbe_dose_gy, result.grid, masks)
    for name in ("PTV-Brainstem", "GTV"):
        assert metrics[name].d95_gy >= 0.95 * dose, name
        assert metrics[name].d5_gy <= 1.05 * dose, name
    assert metrics["PTV"].d5_gy <= 1.05 * dose
    assert metrics["Brainstem"].max_gy <= 0.9 * dose * 1.001
    assert result.plan.rbe_model == "mkm"
    # carbon in a tumour at 4.4 Gy(RBE): an RBE well above 1
    rbe = (
        metrics["PTV-Brainstem"].mean_gy
        / dose_metrics(result.dose_gy, result.grid, masks)["PTV-Brainstem"].mean_gy
    )
    assert 1.4 < rbe < 3.5


def test_chordoma_physical_dose_falls_towards_each_fields_distal_end(chordoma) -> None:
    """Along each lateral field's central axis (x through the isocentre; the 90° field
    travels towards −x, the 270° one towards +x), the field's physical dose in the PTV
    falls from the proximal to the distal edge while the total RBE-weighted dose stays
    within ±5 %."""
    result, dose = chordoma
    ptv = result.masks["PTV"] & ~result.masks["Brainstem"]
    centre = result.grid.world_to_index(np.array(result.plan.beams[0].geometry.isocenter_mm))
    j, k = np.rint(np.asarray(centre)[1:]).astype(int)
    xs = np.flatnonzero(ptv[:, j, k])
    assert xs.size >= 8
    rbe_axis = result.rbe_dose_gy[xs, j, k]
    assert np.all(np.abs(rbe_axis / dose - 1.0) <= 0.05)
    third = xs.size // 3
    for index, distal_first in ((0, True), (1, False)):
        physical = result.beam_dose_gy(index)[xs, j, k]
        physical = physical if distal_first else physical[::-1]  # distal → proximal
        assert physical[:third].mean() < 0.85 * physical[-third:].mean()
        assert np.polyfit(np.arange(xs.size), physical, 1)[0] > 0  # rising from the distal end
