"""The principle of robust planning on a small water case (issue 13's "done when", small):
the nominal plan's target D95 falls below 95 % of the prescription in some of the 9
standard scenarios, the robust plan's stays above it in all of them, with a serial
organ beside the target kept within its limit in all of them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.evaluation.robust import robust_evaluation
from ionbeam.patient.phantoms import make_phantom
from ionbeam.patient.structures import Structure, StructureSet
from ionbeam.planning.optimize import SolverOptions
from ionbeam.planning.plan import Prescription
from ionbeam.planning.planner import PlanningOptions, plan_patient
from ionbeam.planning.robust import RobustOptions
from ionbeam.planning.robust.cluster import scenario_doses

OPTIONS = PlanningOptions(
    gantry_deg=(90.0,),
    dose_grid_mm=4.0,
    spot_spacing_mm=5.0,
    energy_stride=2,
    rbe_model="none",
    solver=SolverOptions(progress=False, relative_tolerance=1e-3, max_iterations=200),
)
PRESCRIPTION = Prescription("Target", 60.0, 30)


#: The organ's limit: the planner's serial-organ maximum, 90 % of the prescription.
ORGAN_LIMIT_GY = 0.9 * 2.0


@pytest.fixture(scope="module")
def water():
    """The water box with a 24 mm target at the centre and a "Brainstem" (a serial organ
    for the planner's objectives) of the same width 8 mm from it across the field (+y):
    farther than the 3 mm set-up error plus a proton field's 95 % → 90 % fall-off, so
    that, unlike the head phantom, both goals can be met (measured: the robust plan's
    organ maximum 1.10 Gy in its worst scenario against the 1.8 Gy limit, its target D95
    1.97 Gy in the worst; the nominal plan's target D95 1.16 Gy in its worst)."""
    patient = make_phantom("water", spacing_mm=4.0, box_size_mm=100.0, target_size_mm=24.0)
    grid = patient.grid
    x, y, z = grid.axes_mm()
    organ = (
        (np.abs(x)[:, None, None] < 12.0)
        & ((y > 20.0) & (y < 48.0))[None, :, None]
        & (np.abs(z)[None, None, :] < 12.0)
    )
    structures = [*patient.structures.values(), Structure("Brainstem", organ, grid)]
    return dataclasses.replace(patient, structures=StructureSet(structures))


def _worst_d95(patient, result) -> tuple[float, list[str], float]:
    scenarios = RobustOptions().scenarios().scenarios
    doses = scenario_doses(patient, result.plan, scenarios, options=OPTIONS)
    evaluation = robust_evaluation(
        doses,
        result.grid,
        result.masks,
        labels=[s.label for s in scenarios],
        targets=["Target"],
        prescription_gy=PRESCRIPTION.dose_per_fraction_gy,
    )
    organ = evaluation.structure("Brainstem").worst["max_gy"]
    return (
        evaluation.structure("Target").worst["d95_gy"],
        evaluation.underdosed_scenarios()["Target"],
        organ,
    )


def test_robust_plan_covers_the_target_in_every_scenario(water) -> None:
    """±3.5 % range and ±3 mm set-up errors (9 scenarios), one proton field, no PTV
    margin: the nominal plan loses coverage (D95 < 95 % in at least one scenario), the
    composite-worst-case plan keeps D95 ≥ 95 % of the 2 Gy per fraction in all nine and
    the organ beside the target at or below its limit (90 %) in all nine (issue 13's
    criterion, met here because the organ is 8 mm away); its spots reach further
    (margin + set-up error, layers for the range error), and it is optimized a second
    time with the full-width halo's correction held fixed in every scenario."""
    nominal = plan_patient(water, PRESCRIPTION, particle="proton", options=OPTIONS)
    robust = plan_patient(
        water, PRESCRIPTION, particle="proton", options=OPTIONS, robust=RobustOptions()
    )
    worst_nominal, failing, _ = _worst_d95(water, nominal)
    worst_robust, robust_failing, organ_robust = _worst_d95(water, robust)
    assert failing and worst_nominal < 0.95 * 2.0
    assert robust_failing == [] and worst_robust >= 0.95 * 2.0
    assert organ_robust <= ORGAN_LIMIT_GY
    assert robust.plan.n_spots > nominal.plan.n_spots
    assert len(robust.optimization) == 2  # the second pass with the full-width halo
    recorded = robust.plan.settings["robust"]
    assert recorded["mode"] == "minimax" and len(recorded["scenarios"]) == 9
    assert robust.plan.settings["planning"]["range_margin_fraction"] == 0.035


def test_bad_robust_options_are_refused(water) -> None:
    with pytest.raises(UnknownNameError, match="robustness"):
        RobustOptions(mode="maximin")
    with pytest.raises(ConfigError, match="range error"):
        RobustOptions(range_error=3.5)
    with pytest.raises(UnknownNameError, match="Liver"):
        plan_patient(
            water,
            PRESCRIPTION,
            particle="proton",
            options=OPTIONS,
            robust=RobustOptions(structures={"Liver": "nominal"}),
        )
    assert np.isclose(RobustOptions(range_error=0.02).scenarios().scenarios[7].range_error, 0.02)
