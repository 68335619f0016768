"""The problem: structure checks, scaling, restriction to voxels with objectives."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError, GridMismatchError, StructureError, UnknownNameError
from ionbeam.planning.optimize import (
    ConstantRBEDose,
    RBEWeightedDose,
    SquaredDeviation,
    SquaredOverdose,
    build_problem,
)

OBJECTIVES = {"Target": SquaredDeviation(2.0, 1000.0), "OAR": SquaredOverdose(1.0, 100.0)}


def test_uniform_start_gives_the_target_its_level_on_average(influence, structure_masks):
    """x = 1 (uniform weights of ``weight_unit`` particles) gives the target a mean of the
    prescribed level, for a linear and for the LQ quantity."""
    for quantity in (ConstantRBEDose(1.1), RBEWeightedDose(0.3, 0.03)):
        problem = build_problem(influence, structure_masks, OBJECTIVES, quantity=quantity)
        q = problem.structure_values(problem.initial_weights())["Target"]
        assert q.mean() == pytest.approx(2.0, rel=1e-6)
        assert problem.reference == ("Target", 2.0)
        assert problem.value_scale == pytest.approx(1 / 4.0)


def test_only_voxels_with_objectives_are_kept(influence, structure_masks) -> None:
    problem = build_problem(influence, structure_masks, OBJECTIVES)
    expected = np.flatnonzero((structure_masks["Target"] | structure_masks["OAR"]).reshape(-1))
    np.testing.assert_array_equal(problem.rows.voxel_index, expected)
    w = problem.initial_weights() * np.linspace(0.5, 1.5, problem.n_spots)
    dose = (influence.dose.toarray().astype(float) @ w)[expected]
    np.testing.assert_allclose(problem.quantity_values(w), dose, rtol=1e-12)


def test_value_and_gradient_are_scaled_consistently(influence, structure_masks) -> None:
    """F(x) = value_scale · Σ weight · value(q(w = unit·x)): the objective of weights in
    particles equals the scaled value at x = w / unit."""
    problem = build_problem(influence, structure_masks, OBJECTIVES)
    x = np.linspace(0.2, 2.0, problem.n_spots)
    value, _ = problem.value_and_gradient(x)
    assert problem.objective_value(x * problem.weight_unit) == pytest.approx(value)
    q = problem.structure_values(x * problem.weight_unit)
    by_hand = 1000.0 * np.mean((q["Target"] - 2.0) ** 2) + 100.0 * np.mean(
        np.maximum(q["OAR"] - 1.0, 0) ** 2
    )
    assert value == pytest.approx(by_hand / 4.0)


def test_unknown_and_empty_structures_raise(influence, structure_masks) -> None:
    with pytest.raises(UnknownNameError, match="Body, OAR, Target"):
        build_problem(influence, structure_masks, {"PTV": SquaredDeviation(2.0)})
    empty = dict(structure_masks, Empty=np.zeros_like(structure_masks["OAR"]))
    with pytest.raises(StructureError, match="'Empty' has no voxel"):
        build_problem(influence, empty, {"Target": SquaredDeviation(2.0),
                                         "Empty": SquaredOverdose(1.0)})  # fmt: skip
    with pytest.raises(GridMismatchError, match="resample"):
        build_problem(influence, {"Target": np.ones(5, bool)}, {"Target": SquaredDeviation(2.0)})


def test_bad_objective_configurations_raise(influence, structure_masks) -> None:
    with pytest.raises(ConfigError, match="at least one objective"):
        build_problem(influence, structure_masks, {})
    with pytest.raises(ConfigError, match="expected an objective"):
        build_problem(influence, structure_masks, {"Target": ["SquaredDeviation"]})
    with pytest.raises(ConfigError, match="asks for a dose"):
        build_problem(influence, structure_masks, {"OAR": SquaredOverdose(1.0)})
    with pytest.raises(ConfigError, match="max_particles"):
        build_problem(influence, structure_masks, OBJECTIVES, max_particles=0.0)


def test_bounds_are_checked(influence, structure_masks) -> None:
    problem = build_problem(influence, structure_masks, OBJECTIVES)
    with pytest.raises(GridMismatchError, match="lower ≤ upper"):
        problem.with_bounds(np.ones(problem.n_spots), np.zeros(problem.n_spots))


def test_voxel_fractions_weigh_the_objective() -> None:
    """A structure given as voxel fractions counts each voxel by its fraction: with
    fractions (1, 0.5, 0.25) and doses (1, 2, 3) Gy a SquaredDeviation to 0 Gy is
    (1·1 + 0.5·4 + 0.25·9) / 1.75 Gy², and its gradient 2 f q / Σf per voxel."""
    from ionbeam.planning.optimize import SquaredDeviation

    q = np.array([1.0, 2.0, 3.0])
    f = np.array([1.0, 0.5, 0.25])
    objective = SquaredDeviation(0.0)
    assert objective.value(q, f) == pytest.approx((1.0 + 2.0 + 2.25) / 1.75)
    np.testing.assert_allclose(objective.gradient(q, f), 2.0 * f * q / 1.75)
    assert objective.value(q) == pytest.approx(14.0 / 3.0)  # no fractions: the plain mean


@pytest.mark.parametrize("kind", ["min", "max"])
def test_weighted_dvh_objectives_equal_duplicated_voxels(kind: str) -> None:
    """A voxel of fraction 1 beside voxels of fraction 0.5 weighs as two of them: the
    DVH objectives on (1, 2, 3) Gy with fractions (0.5, 0.5, 1) equal the unweighted
    ones on (1, 2, 3, 3) Gy (value and the gradient summed over the copies)."""
    from ionbeam.planning.optimize import MaxDVH, MinDVH

    objective = MinDVH(4.0, 0.5) if kind == "min" else MaxDVH(0.5, 0.5)
    q = np.array([1.0, 2.0, 3.0])
    f = np.array([0.5, 0.5, 1.0])
    copies = np.array([1.0, 2.0, 3.0, 3.0])
    assert objective.value(q, f) == pytest.approx(objective.value(copies))
    plain = objective.gradient(copies)
    np.testing.assert_allclose(objective.gradient(q, f), [plain[0], plain[1], plain[2] + plain[3]])
    assert objective.value(q, f) > 0


def test_offsets_added_to_a_built_problem_equal_offsets_in_the_influence(
    influence, structure_masks
) -> None:
    """``with_offsets`` gives the problem that ``build_problem`` builds from an influence
    carrying the same ``optimizer_offsets`` (same scaling, same quantity per voxel),
    sharing the kept rows; offsets that are not one value per grid voxel are refused."""
    import dataclasses

    objectives = {"Target": SquaredDeviation(2.0)}
    plain = build_problem(influence, structure_masks, objectives)
    extra = np.linspace(0.0, 0.3, influence.grid.size)
    held = build_problem(
        dataclasses.replace(influence, optimizer_offsets={"dose": extra}),
        structure_masks,
        objectives,
    )
    added = plain.with_offsets({"dose": extra}, grid_size=influence.grid.size)
    w = plain.initial_weights() * np.linspace(0.5, 1.5, plain.n_spots)
    assert added.weight_unit == held.weight_unit
    assert added.rows.row_indices is plain.rows.row_indices  # nothing re-restricted
    np.testing.assert_array_equal(added.quantity_values(w), held.quantity_values(w))
    assert not np.array_equal(added.quantity_values(w), plain.quantity_values(w))
    with pytest.raises(GridMismatchError, match="offsets have"):
        plain.with_offsets({"dose": extra[:-1]}, grid_size=influence.grid.size)
