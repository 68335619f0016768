"""Robust objectives (composite worst case, voxel-wise worst case, expected value):
analytic gradients against central differences, and what each one means."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ionbeam.errors import ConfigError, GridMismatchError, UnknownNameError
from ionbeam.planning.optimize import (
    BiologicalEffect,
    ConstantRBEDose,
    MaxDVH,
    MinDVH,
    PhysicalDose,
    RBEWeightedDose,
    SolverOptions,
    SquaredDeviation,
    SquaredOverdose,
    SquaredUnderdose,
    build_problem,
    optimize_weights,
)
from ionbeam.planning.optimize.robust_problem import build_robust_problem

GRID_SIZE = 6 * 5 * 4  # the conftest grid
ALPHA_X = np.where(np.arange(GRID_SIZE) % 2 == 0, 0.1, 0.2)
BETA_X = np.full(GRID_SIZE, 0.05)
QUANTITIES = [
    PhysicalDose(),
    ConstantRBEDose(1.1),
    RBEWeightedDose(ALPHA_X, BETA_X),
    BiologicalEffect(ALPHA_X, BETA_X),
]
OBJECTIVES = {
    "Target": [SquaredDeviation(2.0, weight=100.0), MinDVH(1.9, 0.95, weight=10.0)],
    "OAR": [SquaredOverdose(1.0, weight=30.0), MaxDVH(1.2, 0.2, weight=5.0)],
    "Body": SquaredUnderdose(0.1, weight=1.0),
}


@pytest.fixture
def scenarios(influence_factory):
    """Influences of 5 scenarios: seeds 0 (nominal) to 4 (as different as scenarios get)."""
    return [influence_factory(seed) for seed in range(5)]


def _fractions(masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The masks as voxel fractions (the planner's occupancy): each structure's voxels at
    1, with one more layer along x partly inside (0.3–0.7), as a contour cutting voxels."""
    fractions = {}
    for k, (name, mask) in enumerate(masks.items()):
        f = mask.astype(float)
        rim = np.roll(mask, 1, axis=0) & ~mask
        f[rim] = 0.3 + 0.2 * k
        fractions[name] = f
    return fractions


def _central_differences(problem, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    numeric = np.empty(x.size)
    for j in range(x.size):
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        numeric[j] = (problem.value_and_gradient(up)[0] - problem.value_and_gradient(down)[0]) / (
            2 * h
        )
    return numeric


@pytest.mark.parametrize("fractional", [False, True], ids=["masks", "fractions"])
@pytest.mark.parametrize("quantity", QUANTITIES, ids=lambda q: q.name)
@pytest.mark.parametrize("mode", ["minimax", "voxelwise", "stochastic", "mixed"])
def test_robust_gradient_matches_central_differences(
    scenarios, structure_masks, quantity, mode, fractional
):
    """Issue 13: the analytic gradient of every robust objective (smooth maximum over
    scenarios, voxel-wise smooth min/max, expected value; and all three at once, per
    structure) equals central differences within 1e-4 relative, for physical,
    constant-RBE, LQ RBE-weighted dose and effect, on boolean masks and on voxel
    fractions (the planner's occupancy). Steps of 1e-6 of a weight keep the
    piecewise objectives on one piece (as in the nominal problem's test)."""
    if fractional:
        structure_masks = _fractions(structure_masks)
    per_structure = (
        {"Target": "voxelwise", "OAR": "minimax", "Body": "stochastic"} if mode == "mixed" else None
    )
    problem = build_robust_problem(
        scenarios[:4],
        structure_masks,
        OBJECTIVES,
        mode="minimax" if mode == "mixed" else mode,
        robustness=per_structure,
        quantity=quantity,
    )
    x = np.random.default_rng(13).uniform(0.5, 1.5, problem.n_spots)
    value, gradient = problem.value_and_gradient(x)
    numeric = _central_differences(problem, x)
    assert value > 0
    np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-4 * np.abs(numeric).max())


@pytest.mark.parametrize("fractional", [False, True], ids=["masks", "fractions"])
def test_one_scenario_is_the_nominal_problem(influence, structure_masks, fractional) -> None:
    """With only the nominal scenario, every robustness gives the nominal objective
    (the smooth maximum of one value is that value; voxel-wise extremes of one scenario
    are its values up to the smoothing, which is exact for one value) — also on voxel
    fractions, where each voxel counts by the fraction of it inside its structure (a
    robust problem that counted every touched voxel whole would differ here)."""
    if fractional:
        structure_masks = _fractions(structure_masks)
    nominal = build_problem(influence, structure_masks, OBJECTIVES)
    x = np.random.default_rng(2).uniform(0.5, 1.5, nominal.n_spots)
    expected = nominal.value_and_gradient(x)
    for mode in ("minimax", "voxelwise", "stochastic", "nominal"):
        robust = build_robust_problem([influence], structure_masks, OBJECTIVES, mode=mode)
        value, gradient = robust.value_and_gradient(x)
        assert value == pytest.approx(expected[0], rel=1e-12)
        np.testing.assert_allclose(gradient, expected[1], rtol=1e-10, atol=1e-14)


def test_worst_case_bounds_and_expected_value(scenarios, structure_masks) -> None:
    """Composite worst case lies between the largest scenario objective and n^(1/p)
    times it; the expected value is the probability-weighted mean of the scenarios."""
    w = np.random.default_rng(3).uniform(0.5, 1.5, 24)
    minimax = build_robust_problem(scenarios, structure_masks, OBJECTIVES, mode="minimax")
    w = w * minimax.weight_unit
    per_scenario = minimax.scenario_values(w)
    worst = minimax.objective_value(w)
    assert per_scenario.max() <= worst <= 5 ** (1 / 8) * per_scenario.max() * (1 + 1e-12)
    p = np.array([0.4, 0.3, 0.1, 0.1, 0.1])
    stochastic = build_robust_problem(
        scenarios, structure_masks, OBJECTIVES, mode="stochastic", probabilities=p
    )
    assert stochastic.objective_value(w) == pytest.approx(float(p @ per_scenario), rel=1e-12)


def test_robust_optimum_is_worse_nominally_but_better_in_its_worst_scenario(
    scenarios, structure_masks
) -> None:
    """The principle on a small case: optimizing the composite worst case trades some
    nominal objective for a lower worst-scenario objective than the nominal optimum."""
    solver = SolverOptions(progress=False, max_iterations=300, relative_tolerance=1e-6)
    nominal = build_problem(scenarios[0], structure_masks, OBJECTIVES)
    robust = build_robust_problem(scenarios, structure_masks, OBJECTIVES, mode="minimax")
    w_nominal = optimize_weights(nominal, options=solver).x
    w_robust = optimize_weights(robust, options=solver).x
    assert robust.scenario_values(w_robust).max() < robust.scenario_values(w_nominal).max()
    assert nominal.objective_value(w_robust) >= nominal.objective_value(w_nominal)


def test_bad_robust_settings_raise(scenarios, structure_masks) -> None:
    """Unknown robustness names, structures and mismatched scenarios are refused."""
    with pytest.raises(UnknownNameError, match="robustness"):
        build_robust_problem(scenarios, structure_masks, OBJECTIVES, mode="maximin")
    with pytest.raises(UnknownNameError, match="Liver"):
        build_robust_problem(
            scenarios, structure_masks, OBJECTIVES, robustness={"Liver": "minimax"}
        )
    with pytest.raises(ConfigError, match="probabilities"):
        build_robust_problem(scenarios, structure_masks, OBJECTIVES, probabilities=[1.0])
    with pytest.raises(ConfigError, match="nominal scenario"):
        build_robust_problem([], structure_masks, OBJECTIVES)
    with pytest.raises(ConfigError, match="exponent"):
        build_robust_problem(scenarios, structure_masks, OBJECTIVES, sharpness=0.5)
    shrunk = _drop_spot(scenarios[1])
    with pytest.raises(GridMismatchError, match="same plan"):
        build_robust_problem([scenarios[0], shrunk], structure_masks, OBJECTIVES)
    with pytest.raises(ConfigError, match="voxel-wise"):
        build_robust_problem(
            scenarios[:2], structure_masks, {"Target": _Custom()}, mode="voxelwise"
        ).value_and_gradient(np.ones(24))


def _drop_spot(influence):
    """The influence without its last spot (a scenario of another plan)."""
    import dataclasses

    return dataclasses.replace(
        influence,
        dose=influence.dose[:, :-1],
        alpha_dose=None,
        sqrt_beta_dose=None,
        beam_offsets=np.array([0, 12, 23]),
    )


@dataclasses.dataclass(frozen=True)
class _Custom:
    """An objective the voxel-wise worst case cannot orient."""

    weight: float = 1.0
    lower_level_gy: float = 2.0

    def value(self, q):
        return float(np.mean(q))

    def gradient(self, q):
        return np.full(q.size, 1.0 / q.size)

    def with_levels(self, convert):
        return self


def _strategy_inputs(plan_spots: int = 24):
    from ionbeam.planning.geometry import BeamGeometry
    from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

    def beam(name: str) -> Beam:
        n = plan_spots // 2
        return Beam(
            name, BeamGeometry(), SpotMap(np.full(n, 100.0), np.zeros(n), np.zeros(n), np.zeros(n))
        )

    return Plan("proton", (beam("B1"), beam("B2")), Prescription("Target", 2.0))


@pytest.mark.parametrize("technique", ["impt", "sfud"])
def test_robust_strategies_with_one_scenario_are_the_nominal_ones(
    dense_influence, structure_masks, technique, monkeypatch
) -> None:
    """IMPT and SFUD over the nominal scenario alone give the nominal strategies' weights
    (the smooth maximum of one value is that value, exactly). The nominal problems are
    evaluated in two passes as the robust ones are (the one-pass evaluation groups its
    sums otherwise: equal to rounding, which 100 iterations amplify to ~10⁻⁶)."""
    import ionbeam.planning.optimize.problem as problem_module

    monkeypatch.setattr(problem_module, "fused_terms", lambda *args: None)
    from ionbeam.planning.optimize.robust_weights import (
        RobustChoice,
        optimize_robust_impt,
        optimize_robust_sfud,
    )
    from ionbeam.planning.optimize.weights import optimize_impt, optimize_sfud

    plan = _strategy_inputs()
    objectives = {"Target": SquaredDeviation(2.0, weight=100.0), "OAR": SquaredOverdose(1.0)}
    kwargs = dict(
        quantity=PhysicalDose(), plan=plan, target="Target", level=2.0,
        priority=("OAR", "Target"), solver=SolverOptions(progress=False, max_iterations=100),
    )  # fmt: skip
    nominal = (optimize_sfud if technique == "sfud" else optimize_impt)(
        dense_influence, structure_masks, objectives, **kwargs
    )[0]
    robust = (optimize_robust_sfud if technique == "sfud" else optimize_robust_impt)(
        [dense_influence], structure_masks, objectives, choice=RobustChoice("minimax"), **kwargs
    )[0]
    np.testing.assert_allclose(robust, nominal, rtol=1e-10, atol=1e-12 * nominal.max())
    assert nominal.max() > 0


def test_robust_impt_with_fixed_offsets_is_the_nominal_halo_pass(
    dense_influence, structure_masks, monkeypatch
) -> None:
    """The full-width halo's second pass: robust IMPT over the nominal scenario alone with
    fixed offsets gives the nominal planner's weights (optimize_impt from the first pass's
    weights on the influence with those ``optimizer_offsets``, to 1e-8), and the target's
    mean of matrix dose + offset meets the level (2 Gy) within 2 %, where the matrix dose
    alone would put it 10 % high (offset mean 0.2 Gy). Nominal problems in two passes,
    as the robust ones (see the test above)."""
    import ionbeam.planning.optimize.problem as problem_module
    from ionbeam.planning.optimize.robust_weights import RobustChoice, optimize_robust_impt
    from ionbeam.planning.optimize.weights import optimize_impt

    monkeypatch.setattr(problem_module, "fused_terms", lambda *args: None)

    offsets = {"dose": np.random.default_rng(5).uniform(0.1, 0.3, GRID_SIZE)}
    objectives = {"Target": SquaredDeviation(2.0, weight=100.0), "OAR": SquaredOverdose(1.0)}
    kwargs = dict(
        quantity=PhysicalDose(), plan=_strategy_inputs(), target="Target", level=2.0,
        priority=("OAR", "Target"), solver=SolverOptions(progress=False, max_iterations=200),
    )  # fmt: skip
    robust, results = optimize_robust_impt(
        [dense_influence], structure_masks, objectives, choice=RobustChoice(),
        offsets_for=lambda w: [offsets], **kwargs,
    )  # fmt: skip
    first, _ = optimize_impt(dense_influence, structure_masks, objectives, **kwargs)
    corrected = dataclasses.replace(dense_influence, optimizer_offsets=offsets)
    nominal, _ = optimize_impt(
        corrected, structure_masks, objectives, initial_weights=first, **kwargs
    )
    assert len(results) == 2
    np.testing.assert_allclose(robust, nominal, rtol=1e-8, atol=1e-8 * nominal.max())
    target = structure_masks["Target"].reshape(-1)
    total = dense_influence.dose @ robust + offsets["dose"]
    assert np.mean(total[target]) == pytest.approx(2.0, rel=0.02)
    assert np.mean(offsets["dose"][target]) > 0.15


def test_with_offsets_needs_one_set_per_scenario(scenarios, structure_masks) -> None:
    """Fixed offsets are per scenario: a wrong count is refused with what to give."""
    problem = build_robust_problem(scenarios[:3], structure_masks, OBJECTIVES)
    with pytest.raises(GridMismatchError, match="each of the 3 scenarios"):
        problem.with_offsets([{"dose": np.zeros(GRID_SIZE)}])


def test_a_robust_problem_takes_its_nominal_scenarios_spot_scales(scenarios, structure_masks):
    """Scaled solvers on a robust problem scale the spots as on its nominal scenario."""
    from ionbeam.planning.optimize.solver import spot_scales

    robust = build_robust_problem(scenarios, structure_masks, OBJECTIVES, mode="minimax")
    for scaling in ("jacobi", "gauss_newton"):
        scales = spot_scales(robust, scaling)
        np.testing.assert_array_equal(scales, spot_scales(robust.nominal, scaling))
        assert not np.all(scales == 1.0)
