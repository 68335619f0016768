"""Robust optimization: one objective over several error scenarios.

:func:`build_robust_problem` takes one dose-influence matrix per scenario (the nominal
first; any iterable, consumed one at a time and cut to the voxels with objectives at
once, so that only the restricted rows of every scenario stay in memory) and gives
each objective term a robustness (matRad's per-objective ``robustness``; Wieser et al.
2017, *Med. Phys.* 44, e15):

``nominal``
    the term on the nominal scenario only;
``stochastic``
    the expected value Σ_s p_s f_t(q_s) (matRad's STOCH);
``minimax``
    composite worst case (matRad's COWC): all ``minimax`` terms are summed per scenario,
    F_s = Σ_t f_t(q_s), and the worst scenario is taken through a smooth maximum, the
    p-norm (Σ_s F_s^p)^(1/p) (p = ``sharpness``, default 8): every F_s ≥ 0, so it lies
    between max_s F_s and n^(1/p) max_s F_s (1.32 × for 9 scenarios), is differentiable,
    and does not depend on the objective's scale;
``voxelwise``
    voxel-wise worst case (matRad's VWWC): the term on the worst value of each voxel
    over the scenarios — the smallest where the objective asks for dose (a target:
    :class:`SquaredUnderdose`, :class:`MinDVH`), the largest where it limits dose
    (organs), and for a :class:`SquaredDeviation` whichever lies farther from its level.
    Minimum and maximum are smoothed by log-sum-exp at a temperature of
    ``voxel_temperature`` × the reference level (default 0.5 %: at most
    0.5 % × ln n ≈ 1.1 % of the prescription beyond the exact extreme for 9 scenarios,
    always on the safe side).

The gradients are exact (chain rule through the smoothing, then each scenario's own
quantity backward pass), for every quantity (physical, constant-RBE, LQ RBE-weighted
dose, biological effect). All scenarios share the nominal problem's scaling
(``weight_unit``, ``value_scale``) and bounds. A :class:`RobustProblem` has what
:func:`~ionbeam.planning.optimize.optimize_weights` and
:func:`~ionbeam.planning.optimize.apply_spot_limits` use.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ionbeam.errors import ConfigError, GridMismatchError, UnknownNameError
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize.max_dvh import MaxDVH
from ionbeam.planning.optimize.mean_dose import MeanDose
from ionbeam.planning.optimize.min_dvh import MinDVH
from ionbeam.planning.optimize.problem import (
    ObjectiveTerm,
    OptimizationProblem,
    StructureObjectives,
    build_problem,
)
from ionbeam.planning.optimize.quantities import Quantity
from ionbeam.planning.optimize.squared_deviation import SquaredDeviation
from ionbeam.planning.optimize.squared_overdose import SquaredOverdose
from ionbeam.planning.optimize.squared_underdose import SquaredUnderdose

__all__ = ["ROBUSTNESS", "RobustProblem", "build_robust_problem", "normalize_robustness"]

#: Robustness of an objective term, by name.
ROBUSTNESS = ("nominal", "stochastic", "minimax", "voxelwise")
#: Default exponent of the smooth maximum of the composite worst case.
DEFAULT_SHARPNESS = 8.0
#: Default temperature of the voxel-wise smooth min/max, relative to the reference level.
DEFAULT_VOXEL_TEMPERATURE = 0.005


@dataclass(frozen=True, eq=False)
class RobustProblem:
    """Spot weights → objective over scenarios (see the module docstring).

    ``scenarios``: one :class:`OptimizationProblem` per scenario, the nominal first,
    sharing terms, voxels, spots and scaling; ``probabilities`` (sum 1); ``modes``: the
    robustness of each term (same order as the problems' terms)."""

    scenarios: tuple[OptimizationProblem, ...]
    probabilities: np.ndarray
    modes: tuple[str, ...]
    sharpness: float = DEFAULT_SHARPNESS
    voxel_temperature: float = DEFAULT_VOXEL_TEMPERATURE

    @property
    def nominal(self) -> OptimizationProblem:
        """The nominal scenario's problem."""
        return self.scenarios[0]

    @property
    def n_spots(self) -> int:
        """Number of spot weights optimized."""
        return self.nominal.n_spots

    @property
    def weight_unit(self) -> float:
        """Particles per unit of the solver's variable (the nominal problem's)."""
        return self.nominal.weight_unit

    @property
    def lower_particles(self) -> np.ndarray:
        """Lower bound per spot (particles)."""
        return self.nominal.lower_particles

    @property
    def upper_particles(self) -> np.ndarray:
        """Upper bound per spot (particles)."""
        return self.nominal.upper_particles

    @property
    def reference(self) -> tuple[str, float]:
        """(structure, level) that set the scaling."""
        return self.nominal.reference

    def initial_weights(self) -> np.ndarray:
        """The nominal problem's uniform starting weights (particles)."""
        return self.nominal.initial_weights()

    def with_bounds(
        self, lower_particles: np.ndarray, upper_particles: np.ndarray
    ) -> RobustProblem:
        """A copy with other per-spot bounds (particles)."""
        problems = tuple(p.with_bounds(lower_particles, upper_particles) for p in self.scenarios)
        return replace(self, scenarios=problems)

    def with_offsets(self, offsets: Sequence[Mapping[str, np.ndarray]]) -> RobustProblem:
        """A copy whose scenario ``s`` adds the fixed ``offsets[s]`` (flat arrays on the
        whole dose grid by matrix name, e.g. the full-width halo's correction) to its
        products; scaling and bounds stay."""
        if len(offsets) != len(self.scenarios):
            raise GridMismatchError(
                f"need fixed offsets for each of the {len(self.scenarios)} scenarios; "
                f"got {len(offsets)}"
            )
        return replace(
            self,
            scenarios=tuple(
                _with_offsets(p, o) for p, o in zip(self.scenarios, offsets, strict=True)
            ),
        )

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Scaled robust objective and its gradient at x = w / ``weight_unit``."""
        w = np.asarray(x, dtype=np.float64) * self.weight_unit
        value, gradient = self._evaluate(w, with_gradient=True)
        scale = self.nominal.value_scale
        return value * scale, gradient * (scale * self.weight_unit)

    def objective_value(self, weights: np.ndarray) -> float:
        """The scaled robust objective of spot weights in particles."""
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size != self.n_spots:
            raise GridMismatchError(f"the problem has {self.n_spots} spots; got {w.size} weights")
        return self._evaluate(w, with_gradient=False)[0] * self.nominal.value_scale

    def scenario_values(self, weights: np.ndarray) -> np.ndarray:
        """The (scaled, non-robust) total objective of each scenario for weights in particles."""
        return np.array([p.objective_value(weights) for p in self.scenarios])

    def _evaluate(self, w: np.ndarray, *, with_gradient: bool) -> tuple[float, np.ndarray]:
        forwards = [p.bound.forward(w) for p in self.scenarios]
        q = [f[0] for f in forwards]
        dq = [np.zeros_like(qs) for qs in q]
        total = 0.0
        composite = np.zeros(len(q))
        composite_dq = [np.zeros_like(qs) for qs in q]
        for t, (term, mode) in enumerate(zip(self.nominal.terms, self.modes, strict=True)):
            pos = term.positions
            if mode == "nominal":
                value, grad = _term(term, q[0][pos])
                total += value
                dq[0][pos] += grad
            elif mode == "stochastic":
                for s, p in enumerate(self.probabilities):
                    value, grad = _term(term, q[s][pos])
                    total += p * value
                    dq[s][pos] += p * grad
            elif mode == "minimax":
                for s in range(len(q)):
                    value, grad = _term(term, q[s][pos])
                    composite[s] += value
                    composite_dq[s][pos] += grad
            else:
                total += self._voxelwise(t, [qs[pos] for qs in q], dq, pos)
        if np.any(np.asarray(self.modes) == "minimax"):
            value, share = _smooth_max(composite, self.sharpness)
            total += value
            for s in range(len(q)):
                dq[s] += share[s] * composite_dq[s]
        if not with_gradient:
            return total, np.empty(0)
        gradient = np.zeros(self.n_spots)
        for s, (problem, (_, cache)) in enumerate(zip(self.scenarios, forwards, strict=True)):
            if np.any(dq[s]):
                gradient += problem.bound.backward(cache, dq[s])
        return total, gradient

    def _voxelwise(
        self, t: int, values: list[np.ndarray], dq: list[np.ndarray], pos: np.ndarray
    ) -> float:
        """Add the voxel-wise worst-case gradient of term ``t`` to ``dq``; its value."""
        term = self.nominal.terms[t]
        tau = self.voxel_temperature * self.nominal.reference[1]
        stack = np.stack(values)  # [scenario, voxel]
        worst, share = _worst(term.objective, stack, tau)
        value, g = _term(term, worst)
        for s in range(stack.shape[0]):
            dq[s][pos] += g * share[s]
        return value


def _term(term: ObjectiveTerm, values: np.ndarray) -> tuple[float, np.ndarray]:
    """The weighted value of one term on its voxels' values and ∂/∂values, each voxel
    counted by the fraction of it inside the structure (as the nominal problem does)."""
    objective, weight = term.objective, term.objective.weight
    if term.voxel_weights is None:
        return weight * objective.value(values), weight * objective.gradient(values)
    fractions = term.voxel_weights
    return (
        weight * objective.value(values, fractions),
        weight * objective.gradient(values, fractions),
    )


def _with_offsets(
    problem: OptimizationProblem, offsets: Mapping[str, np.ndarray]
) -> OptimizationProblem:
    """One scenario's problem with fixed offsets (grid-sized arrays) on its kept voxels."""
    names = [n for n in problem.quantity.matrices if n in offsets]
    if not names:
        return problem
    sizes = {np.asarray(offsets[n]).size for n in names}
    if len(sizes) > 1:
        raise GridMismatchError("the fixed offsets of one scenario must share one dose grid")
    index = problem.rows.voxel_index
    kept = {n: np.asarray(offsets[n], dtype=np.float64)[index] for n in names}
    rows = replace(problem.rows, offsets=kept)
    bound = problem.quantity.bind(rows, grid_size=sizes.pop())
    # the nominal rows' skip would multiply without these offsets: the scenarios' products
    # go through ``bound`` (RobustProblem.value_and_gradient), none is skipped
    return replace(problem, rows=rows, bound=bound, skip=None)


def _smooth_max(values: np.ndarray, p: float) -> tuple[float, np.ndarray]:
    """(Σ v^p)^(1/p) of values ≥ 0 and its derivative per value."""
    top = float(values.max())
    if top <= 0.0:
        return 0.0, np.zeros_like(values)
    ratio = values / top
    norm = float(np.sum(ratio**p)) ** (1.0 / p)
    return top * norm, (ratio / norm) ** (p - 1.0)


def _log_sum_exp(stack: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Smooth maximum over axis 0 at temperature ``tau`` and its softmax weights."""
    top = stack.max(axis=0)
    e = np.exp((stack - top) / tau)
    total = e.sum(axis=0)
    return top + tau * np.log(total), e / total


def _worst(objective: object, stack: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """The smoothed worst value per voxel and ∂worst/∂q_s [scenario, voxel]."""
    high, high_share = _log_sum_exp(stack, tau)
    neg_low, low_share = _log_sum_exp(-stack, tau)
    low = -neg_low
    if isinstance(objective, (SquaredUnderdose, MinDVH)):
        return low, low_share
    if isinstance(objective, (SquaredOverdose, MaxDVH, MeanDose)):
        return high, high_share
    if isinstance(objective, SquaredDeviation):
        level = objective.dose_gy
        upper = high - level > level - low
        return np.where(upper, high, low), np.where(upper, high_share, low_share)
    raise ConfigError(
        f"voxel-wise worst case does not know which way {type(objective).__name__} is worse; "
        "give it another robustness (nominal, stochastic or minimax)"
    )


def build_robust_problem(
    influences: Iterable[DoseInfluence],
    masks: Mapping[str, np.ndarray],
    objectives: StructureObjectives,
    *,
    mode: str = "minimax",
    robustness: Mapping[str, str] | None = None,
    probabilities: np.ndarray | None = None,
    quantity: Quantity | None = None,
    spot_index: np.ndarray | None = None,
    max_particles: float = math.inf,
    reference: str | None = None,
    sharpness: float = DEFAULT_SHARPNESS,
    voxel_temperature: float = DEFAULT_VOXEL_TEMPERATURE,
) -> RobustProblem:
    """The robust problem over the scenarios of ``influences`` (the nominal first).

    ``mode``: the robustness of every term (:data:`ROBUSTNESS`); ``robustness``: per
    structure name, another one (e.g. ``{"Body": "nominal"}``); ``probabilities``: per
    scenario (default equal); the other arguments as in :func:`build_problem`.
    """
    modes_by_name = {str(k): normalize_robustness(v) for k, v in (robustness or {}).items()}
    default = normalize_robustness(mode)
    for name in modes_by_name:
        if name not in objectives:
            raise UnknownNameError("structure with objectives (in robustness)", name, objectives)
    if not (isinstance(sharpness, (int, float)) and 1.0 <= sharpness <= 64.0):
        raise ConfigError(f"the smooth-maximum exponent must be within 1–64; got {sharpness!r}")
    if not (isinstance(voxel_temperature, (int, float)) and 0.0 < voxel_temperature <= 0.1):
        raise ConfigError(f"voxel_temperature must be within (0, 0.1]; got {voxel_temperature!r}")
    problems: list[OptimizationProblem] = []
    for influence in influences:
        problem = build_problem(
            influence,
            masks,
            objectives,
            reference=reference,
            quantity=quantity,
            spot_index=spot_index,
            max_particles=max_particles,
        )
        if problems:
            problem = _like(problem, problems[0])
        problems.append(problem)
    if not problems:
        raise ConfigError("robust optimization needs at least the nominal scenario's matrix")
    n = len(problems)
    p = np.full(n, 1.0 / n) if probabilities is None else np.asarray(probabilities, float)
    if p.shape != (n,) or not np.all(np.isfinite(p) & (p >= 0)) or not p.sum() > 0:
        raise ConfigError(f"need {n} scenario probabilities ≥ 0; got {np.shape(p)}")
    modes = tuple(modes_by_name.get(t.structure, default) for t in problems[0].terms)
    return RobustProblem(
        tuple(problems), p / p.sum(), modes, float(sharpness), float(voxel_temperature)
    )


def normalize_robustness(name: str) -> str:
    """The canonical robustness name (:data:`ROBUSTNESS`; matRad's COWC, STOCH, VWWC too)."""
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    aliases = {
        "cowc": "minimax",
        "worstcase": "minimax",
        "stoch": "stochastic",
        "expected": "stochastic",
        "vwwc": "voxelwise",
        "none": "nominal",
    }
    key = aliases.get(key, key)
    if key not in ROBUSTNESS:
        raise UnknownNameError("robustness", name, ROBUSTNESS)
    return key


def _like(problem: OptimizationProblem, nominal: OptimizationProblem) -> OptimizationProblem:
    """A scenario's problem with the nominal one's scaling and bounds (checked alike)."""
    same = problem.rows.n_spots == nominal.rows.n_spots and np.array_equal(
        problem.rows.voxel_index, nominal.rows.voxel_index
    )
    if not same:
        raise GridMismatchError(
            "every scenario's dose-influence matrix must have the nominal one's spots and "
            "dose grid; compute them from the same plan and grid"
        )
    return replace(
        problem,
        weight_unit=nominal.weight_unit,
        value_scale=nominal.value_scale,
        reference=nominal.reference,
    )
