"""RBE-uncertainty scenarios: a constant RBE × (1 ± e) combined with the range and set-up
scenarios, evaluated by scaling and optimized like the others; refused where the RBE is
not a constant."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from ionbeam.errors import ConfigError
from ionbeam.evaluation.robust import robust_evaluation
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning.optimize import SolverOptions, SquaredOverdose, SquaredUnderdose
from ionbeam.planning.plan import Prescription
from ionbeam.planning.planner import PlanningOptions, plan_patient
from ionbeam.planning.robust import RobustOptions, Scenario, scenario_set
from ionbeam.planning.robust.cluster import scenario_doses
from ionbeam.planning.robust.rbe_error import geometry_runs, scaled_influence

OPTIONS = PlanningOptions(
    gantry_deg=(90.0,),
    dose_grid_mm=4.0,
    spot_spacing_mm=5.0,
    energy_stride=2,
    rbe_model="constant",
    solver=SolverOptions(progress=False, relative_tolerance=1e-4, max_iterations=300),
)
PRESCRIPTION = Prescription("Target", 60.0, 30)


@pytest.fixture(scope="module")
def water():
    return make_phantom("water", spacing_mm=4.0, box_size_mm=100.0, target_size_mm=24.0)


@pytest.fixture(scope="module")
def nominal(water):
    return plan_patient(water, PRESCRIPTION, particle="proton", options=OPTIONS)


def test_sets_with_an_rbe_error_take_each_scenario_three_times() -> None:
    """The 9-set with a 10 % RBE error: 27 scenarios, each geometry with RBE × 1, 1.1 and
    0.9 one after the other (so its dose is computed once), the nominal first."""
    plain = scenario_set("9").scenarios
    combined = scenario_set("9", rbe_error=0.1).scenarios
    assert len(combined) == 27 and combined[0].is_nominal
    assert [s.geometry for s in combined[::3]] == list(plain)
    assert [s.rbe_error for s in combined[:3]] == [0.0, 0.1, -0.1]
    assert combined[4].label == "X+3mm RBE+10%"
    runs = geometry_runs(combined)
    assert len(runs) == 9 and all(f == [1.0, 1.1, 0.9] for _, f in runs)
    with pytest.raises(ConfigError, match="RBE error"):
        Scenario(rbe_error=0.6)
    with pytest.raises(ConfigError, match="RBE error"):
        scenario_set("9", rbe_error=-0.1)


def test_scaled_influence_scales_only_the_dose() -> None:
    """A scenario's matrix under an RBE error is its geometry's dose matrix × (1 + e);
    the factor 1 returns the matrix itself (nothing copied)."""
    from ionbeam.patient.grid import Grid
    from ionbeam.planning.dose_influence import DoseInfluence

    dose = sp.csc_matrix(np.array([[1.0, 0.0], [2.0, 3.0]], dtype=np.float32))
    influence = DoseInfluence(Grid((2, 1, 1), (1, 1, 1), (0, 0, 0)), dose, np.array([0, 2]))
    assert scaled_influence(influence, 1.0) is influence
    scaled = scaled_influence(influence, 0.9).dose
    assert scaled.dtype == np.float32 and scaled.format == "csc"
    np.testing.assert_allclose(scaled.toarray(), 0.9 * dose.toarray(), rtol=1e-7)


def test_worst_case_under_rbe_error_is_the_scaled_worst_case(water, nominal) -> None:
    """With RBE 1.1 ± 10 % (27 scenarios) every RBE scenario's dose is its geometry's
    dose × 1.1 or × 0.9 exactly, so the target's worst D95 is 0.9 × the worst D95 of the
    9 geometric scenarios and the body's worst maximum 1.1 × theirs (D95 and the maximum
    scale with the dose; relative tolerance 1e-9 for the rounding of the scaling)."""
    plain = scenario_set("9").scenarios
    combined = scenario_set("9", rbe_error=0.1).scenarios
    doses9 = list(scenario_doses(water, nominal.plan, plain, options=OPTIONS))
    doses27 = list(scenario_doses(water, nominal.plan, combined, options=OPTIONS))
    for k, scenario in enumerate(combined):
        expected = doses9[k // 3] * (1.0 + scenario.rbe_error)
        np.testing.assert_allclose(doses27[k], expected, rtol=1e-12)

    def evaluate(doses, scenarios):
        return robust_evaluation(
            doses, nominal.grid, nominal.masks, labels=[s.label for s in scenarios],
            targets=["Target"], prescription_gy=PRESCRIPTION.dose_per_fraction_gy,
        )  # fmt: skip

    e9, e27 = evaluate(doses9, plain), evaluate(doses27, combined)
    target9, target27 = e9.structure("Target").worst, e27.structure("Target").worst
    assert target27["d95_gy"] == pytest.approx(0.9 * target9["d95_gy"], rel=1e-9)
    assert target27["d95_gy"] <= min(e27.structure("Target").metrics["d95_gy"])
    body9, body27 = e9.structure("Body").worst, e27.structure("Body").worst
    assert body27["max_gy"] == pytest.approx(1.1 * body9["max_gy"], rel=1e-9)


def test_minimax_over_rbe_error_balances_the_two_extremes(water) -> None:
    """Only an RBE error of 10 % (no range or set-up error); the target should lie within
    [p, 1.2 p] (under- and overdose penalties of equal weight). A nominal plan may put it
    anywhere in that band; the composite worst case over RBE × 1, 1.1, 0.9 balances the
    underdose at 0.9 d against the overdose at 1.1 d: p − 0.9 d = 1.1 d − 1.2 p, d = 1.1 p
    (the smooth maximum, p-norm 8, moves it by < 0.1 %). Median within 1 % of 1.1 p."""
    p = PRESCRIPTION.dose_per_fraction_gy
    objectives = {"Target": (SquaredUnderdose(p, weight=1000.0),
                             SquaredOverdose(1.2 * p, weight=1000.0)),
                  "Body": (SquaredOverdose(0.5 * p, weight=1.0),)}  # fmt: skip
    robust = RobustOptions(scenario_set="nominal", range_error=0.0, setup_error_mm=0.0,
                           rbe_error=0.1)  # fmt: skip
    result = plan_patient(water, PRESCRIPTION, particle="proton", options=OPTIONS,
                          objectives=objectives, robust=robust)  # fmt: skip
    median = float(np.median(result.rbe_dose_gy[result.masks["Target"]]))
    assert median == pytest.approx(1.1 * p, rel=0.01)
    assert result.plan.settings["robust"]["rbe_error"] == 0.1
    assert result.plan.settings["robust"]["scenarios"] == ["nominal", "RBE+10%", "RBE-10%"]


def test_rbe_error_needs_a_constant_rbe(water, nominal) -> None:
    """A physical-dose plan has no RBE to be wrong: RBE-error scenarios are refused in
    evaluation and in optimization."""
    physical = dataclasses.replace(nominal.plan, rbe_model="none")
    with pytest.raises(ConfigError, match="constant RBE"):
        list(scenario_doses(water, physical, scenario_set("nominal", rbe_error=0.1).scenarios,
                            options=OPTIONS))  # fmt: skip
    with pytest.raises(ConfigError, match="constant RBE"):
        plan_patient(water, PRESCRIPTION, particle="proton",
                     options=dataclasses.replace(OPTIONS, rbe_model="none"),
                     robust=RobustOptions(scenario_set="nominal", rbe_error=0.1))  # fmt: skip
