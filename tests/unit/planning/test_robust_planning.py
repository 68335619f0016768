"""The principle of robust planning on a small water case (issue 13's "done when", small):
the nominal plan's target D95 falls below 95 % of the prescription in some of the 9
standard scenarios, the robust plan's stays above it in all of them."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.evaluation.robust import robust_evaluation
from ionbeam.patient.phantoms import make_phantom
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


@pytest.fixture(scope="module")
def water():
    return make_phantom("water", spacing_mm=4.0, box_size_mm=100.0, target_size_mm=24.0)


def _worst_d95(patient, result) -> tuple[float, list[str]]:
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
    return evaluation.structure("Target").worst["d95_gy"], evaluation.underdosed_scenarios()[
        "Target"
    ]


def test_robust_plan_covers_the_target_in_every_scenario(water) -> None:
    """±3.5 % range and ±3 mm set-up errors (9 scenarios), one proton field, no PTV
    margin: the nominal plan loses coverage (D95 < 95 % in at least one scenario), the
    composite-worst-case plan keeps D95 ≥ 95 % of the 2 Gy per fraction in all nine;
    its spots reach further (margin + set-up error, layers for the range error)."""
    nominal = plan_patient(water, PRESCRIPTION, particle="proton", options=OPTIONS)
    robust = plan_patient(
        water, PRESCRIPTION, particle="proton", options=OPTIONS, robust=RobustOptions()
    )
    worst_nominal, failing = _worst_d95(water, nominal)
    worst_robust, robust_failing = _worst_d95(water, robust)
    assert failing and worst_nominal < 0.95 * 2.0
    assert robust_failing == [] and worst_robust >= 0.95 * 2.0
    assert robust.plan.n_spots > nominal.plan.n_spots
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
