"""IMPT and SFUD on a small synthetic two-beam influence."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.optimize import (
    PhysicalDose,
    RBEWeightedDose,
    SolverOptions,
    SquaredDeviation,
    SquaredOverdose,
    restrict_influence,
)
from ionbeam.planning.optimize.weights import optimize_impt, optimize_sfud
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

QUIET = SolverOptions(progress=False, relative_tolerance=1e-6, max_iterations=300)
OBJECTIVES = {"Target": SquaredDeviation(2.0, 1000.0), "OAR": SquaredOverdose(1.0, 10.0)}


def _plan() -> Plan:
    spots = SpotMap(np.full(12, 100.0), np.arange(12.0), np.zeros(12), np.zeros(12))
    beams = tuple(Beam(f"B{k}", BeamGeometry(gantry_deg=90.0 * k), spots) for k in range(2))
    return Plan("proton", beams, Prescription("Target", 2.0))


def _target_mean(influence, mask, quantity, weights) -> float:
    rows = restrict_influence(influence, np.flatnonzero(mask), matrices=quantity.matrices)
    return float(np.mean(quantity.bind(rows, grid_size=influence.grid.size).forward(weights)[0]))


def test_sfud_gives_each_field_half_the_dose(dense_influence, structure_masks) -> None:
    """Physical dose: each field alone gives the target about half of 2 Gy on average,
    and the sum about 2 Gy."""
    weights, results = optimize_sfud(
        dense_influence, structure_masks, {"Target": OBJECTIVES["Target"]},
        quantity=PhysicalDose(), plan=_plan(), target="Target", level=2.0,
        priority=("Target",), solver=QUIET,
    )  # fmt: skip
    assert len(results) == 2
    target = structure_masks["Target"]
    for k in range(2):
        alone = np.zeros_like(weights)
        alone[12 * k : 12 * (k + 1)] = weights[12 * k : 12 * (k + 1)]
        mean = _target_mean(dense_influence, target, PhysicalDose(), alone)
        assert mean == pytest.approx(1.0, rel=0.05)
    total = _target_mean(dense_influence, target, PhysicalDose(), weights)
    assert total == pytest.approx(2.0, rel=0.05)


def test_sfud_with_lq_meets_the_prescription_on_average(influence, structure_masks) -> None:
    """RBE-weighted doses of two fields do not add; the summed plan is scaled so that
    the target's mean RBE-weighted dose is the prescription."""
    quantity = RBEWeightedDose(0.1, 0.05)
    weights, _ = optimize_sfud(
        influence, structure_masks, OBJECTIVES, quantity=quantity, plan=_plan(),
        target="Target", level=2.0, priority=("Target", "OAR"), solver=QUIET,
        min_particles=1e5,
    )  # fmt: skip
    target = structure_masks["Target"]
    assert _target_mean(influence, target, quantity, weights) == pytest.approx(2.0, rel=1e-6)
    assert np.all((weights == 0) | (weights >= 1e5))


def test_impt_returns_one_result_and_all_weights(influence, structure_masks) -> None:
    weights, results = optimize_impt(
        influence, structure_masks, OBJECTIVES, quantity=PhysicalDose(), plan=_plan(),
        target="Target", level=2.0, priority=("Target",), solver=QUIET,
    )  # fmt: skip
    assert len(results) == 1 and weights.shape == (24,)
    np.testing.assert_array_equal(weights, results[0].x)


def test_impt_with_offsets_holds_those_of_its_first_leg(influence, structure_masks) -> None:
    """With weight-dependent ``offsets`` (the planner's full-width halo correction) IMPT
    runs two legs on one problem: the offsets are asked for once, with the first leg's
    weights, and the second leg optimizes the dose with them held fixed: its result is
    the optimum of that problem (the same weights as an optimization that starts from
    the first leg's weights with the offsets in the influence, within the solver's
    tolerance), and the target's mean dose with the offsets meets the prescription."""
    target = structure_masks["Target"]
    seen = []

    def offsets(weights: np.ndarray) -> dict[str, np.ndarray]:
        seen.append(weights.copy())
        extra = np.zeros(influence.grid.size)
        extra[np.flatnonzero(target)] = 0.1  # 5 % of the prescription, as a halo might add
        return {"dose": extra, "let_dose": extra}  # a matrix the problem lacks: ignored

    weights, results = optimize_impt(
        influence, structure_masks, {"Target": OBJECTIVES["Target"]}, quantity=PhysicalDose(),
        plan=_plan(), target="Target", level=2.0, priority=("Target",), solver=QUIET,
        offsets=offsets,
    )  # fmt: skip
    assert len(seen) == 1 and len(results) == 2
    np.testing.assert_array_equal(seen[0], results[0].x)
    held = dataclasses.replace(influence, optimizer_offsets=offsets(seen[0]))
    again, _ = optimize_impt(
        held, structure_masks, {"Target": OBJECTIVES["Target"]}, quantity=PhysicalDose(),
        plan=_plan(), target="Target", level=2.0, priority=("Target",), solver=QUIET,
        initial_weights=seen[0],
    )  # fmt: skip
    np.testing.assert_allclose(weights, again, rtol=1e-3, atol=1e-3 * weights.max())
    plain = _target_mean(influence, target, PhysicalDose(), weights)
    assert plain + 0.1 == pytest.approx(2.0, rel=0.01)
    assert _target_mean(influence, target, PhysicalDose(), results[0].x) == pytest.approx(
        2.0, rel=0.01
    )


@pytest.mark.parametrize("keep", [False, True])
def test_the_second_leg_keeps_the_first_leg_s_floor_when_asked(
    influence, structure_masks, monkeypatch, keep
) -> None:
    """``SECOND_LEG_KEEPS_FLOOR``: the leg with the offsets held floors its relative rule
    at ``FLOOR_FRACTION`` × the first leg's start (``floor_objective``); off (the
    default), at its own start as any run; the first leg always at its own."""
    from ionbeam.planning.optimize import weights as strategies

    assert strategies.SECOND_LEG_KEEPS_FLOOR is False
    monkeypatch.setattr(strategies, "SECOND_LEG_KEEPS_FLOOR", keep)
    asked = []
    run = strategies.optimize_weights

    def recorded(problem, **kwargs):
        asked.append(kwargs["options"])
        return run(problem, **kwargs)

    monkeypatch.setattr(strategies, "optimize_weights", recorded)
    extra = np.zeros(influence.grid.size)
    extra[np.flatnonzero(structure_masks["Target"])] = 0.1
    _, results = optimize_impt(
        influence, structure_masks, {"Target": OBJECTIVES["Target"]}, quantity=PhysicalDose(),
        plan=_plan(), target="Target", level=2.0, priority=("Target",),
        solver=SolverOptions(progress=False), offsets=lambda w: {"dose": extra},
    )  # fmt: skip
    assert len(asked) == 2 and asked[0].floor_objective is None
    expected = float(results[0].objective_history[0]) if keep else None
    assert asked[1].floor_objective == expected
