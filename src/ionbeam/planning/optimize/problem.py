"""The optimization problem: spot weights → quantity per voxel → objective and gradient.

:func:`build_problem` takes a dose-influence matrix, the structures' masks on its
grid and a mapping structure name → objectives, cuts the influence rows to the
voxels that carry an objective (once), and returns an :class:`OptimizationProblem`
whose :meth:`~OptimizationProblem.value_and_gradient` is what a solver calls: when
every objective is a sum of per-voxel penalties (squared deviation, under- and overdose),
one pass over the kept rows computes each row's quantity, its penalty and its share of the
gradient (:mod:`.fused_pass`); otherwise one forward product (D w, or the fused A w, B w),
the objectives on each structure's voxels, and one transposed product for the analytic
gradient. Value and gradient come from the same evaluation, so nothing is computed twice
per iteration.

Scaling: the solver's variable is x = w / ``weight_unit``, where ``weight_unit``
(particles) is the uniform spot weight that gives the reference structure (the
target) its prescribed level on average, so that x starts at 1; the objective is
divided by that level squared, so that it is dimensionless and O(1) at the start.
Objectives are means over their voxels (matRad's normalisation), so structure
size does not weigh in, only the objective weights do. A structure given as
fractions of each voxel inside it (its occupancy, 0–1) instead of a boolean mask
has every voxel it touches in its objectives, each counted by its fraction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq

from ionbeam.errors import ConfigError, GridMismatchError, StructureError, UnknownNameError
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize.fused_pass import FusedTerms, fused_evaluation, fused_terms
from ionbeam.planning.optimize.influence_rows import (
    InfluenceRows,
    restrict_influence,
    sorted_unique,
)
from ionbeam.planning.optimize.objective import Objective
from ionbeam.planning.optimize.quantities import BoundQuantity, PhysicalDose, Quantity
from ionbeam.planning.optimize.row_skip import RowSkip, skip_levels

__all__ = ["ObjectiveTerm", "OptimizationProblem", "StructureObjectives", "build_problem"]

#: Objectives per structure name: one objective or a sequence of them.
StructureObjectives = Mapping[str, Objective | Sequence[Objective]]


@dataclass(frozen=True, eq=False)
class ObjectiveTerm:
    """One objective on one structure: ``positions`` index the problem's kept voxels;
    the objective's levels are in the quantity's units; ``voxel_weights``: the fraction
    of each of those voxels inside the structure (None: all of each)."""

    structure: str
    objective: Objective
    positions: np.ndarray
    voxel_weights: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class OptimizationProblem:
    """A spot-weight optimization problem (see the module docstring).

    ``lower_particles`` / ``upper_particles``: bounds per spot (particles);
    ``reference``: (structure, level) that set ``weight_unit`` and ``value_scale``;
    ``skip``: the rows of D·w that :meth:`value_and_gradient` may skip (:mod:`.row_skip`;
    None: none); ``fused``: the terms per voxel for the one-pass evaluation
    (:mod:`.fused_pass`; None: two passes, D·w then Dᵀ·g).
    """

    rows: InfluenceRows
    quantity: Quantity
    bound: BoundQuantity
    terms: tuple[ObjectiveTerm, ...]
    weight_unit: float
    value_scale: float
    lower_particles: np.ndarray
    upper_particles: np.ndarray
    reference: tuple[str, float]
    skip: RowSkip | None = None
    fused: FusedTerms | None = None

    @property
    def n_spots(self) -> int:
        """Number of spot weights optimized."""
        return self.rows.n_spots

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Scaled objective and its gradient at x = w / ``weight_unit``."""
        w = np.asarray(x, dtype=np.float64) * self.weight_unit
        if self.fused is not None:  # one pass over the rows (:mod:`.fused_pass`)
            value, gradient = fused_evaluation(self.fused, self.bound, w, self.skip)
        else:
            q, cache = self.bound.forward(w) if self.skip is None else self.skip.forward(w)
            value, dq = self._objectives(q)
            gradient = self.bound.backward(cache, dq)
        return value * self.value_scale, gradient * (self.value_scale * self.weight_unit)

    def objective_value(self, weights: np.ndarray) -> float:
        """The scaled objective of spot weights in particles."""
        return self._objectives(self.bound.forward(self._weights(weights))[0])[0] * self.value_scale

    def quantity_values(self, weights: np.ndarray) -> np.ndarray:
        """The quantity on the kept voxels (``rows.voxel_index``) for weights in particles."""
        return self.bound.forward(self._weights(weights))[0]

    def structure_values(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The quantity on each structure's voxels that carry objectives."""
        q = self.quantity_values(weights)
        return {term.structure: q[term.positions] for term in self.terms}

    def with_bounds(
        self, lower_particles: np.ndarray, upper_particles: np.ndarray
    ) -> OptimizationProblem:
        """A copy with other per-spot bounds (particles)."""
        lower = np.asarray(lower_particles, dtype=float).reshape(-1)
        upper = np.asarray(upper_particles, dtype=float).reshape(-1)
        if lower.size != self.n_spots or upper.size != self.n_spots or np.any(lower > upper):
            raise GridMismatchError(
                f"bounds need {self.n_spots} values each with lower ≤ upper; "
                f"got {lower.size} and {upper.size}"
            )
        return replace(self, lower_particles=lower, upper_particles=upper)

    def with_offsets(
        self, offsets: Mapping[str, np.ndarray], *, grid_size: int
    ) -> OptimizationProblem:
        """A copy whose matrices' products carry fixed ``offsets`` (flat arrays on the dose
        grid of ``grid_size`` voxels, by matrix name; those of matrices the quantity does
        not use are ignored), in place of any it had. The kept rows, objectives, bounds and
        scaling are shared: only the offsets at the kept voxels are new."""
        kept = {}
        for name, values in offsets.items():
            if not self.rows.has(name):
                continue
            flat = np.asarray(values, dtype=np.float64).reshape(-1)
            if flat.size != grid_size:
                raise GridMismatchError(
                    f"the {name} offsets have {flat.size} values but the dose grid has "
                    f"{grid_size} voxels"
                )
            kept[name] = flat[self.rows.voxel_index]
        rows = replace(self.rows, offsets=kept)
        bound = self.quantity.bind(rows, grid_size=grid_size)
        return replace(self, rows=rows, bound=bound, skip=_row_skip(bound, self.terms, self.skip))

    def initial_weights(self) -> np.ndarray:
        """Uniform weights (particles) giving the reference structure its level on average."""
        return np.full(self.n_spots, self.weight_unit)

    def _weights(self, weights: np.ndarray) -> np.ndarray:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size != self.n_spots:
            raise GridMismatchError(f"the problem has {self.n_spots} spots; got {w.size} weights")
        return w

    def _objectives(self, q: np.ndarray) -> tuple[float, np.ndarray]:
        total = 0.0
        dq = np.zeros_like(q)
        for term in self.terms:
            values = q[term.positions]
            weight = term.objective.weight
            both = getattr(term.objective, "value_and_gradient", None)
            if both is not None:  # one pass for both (the same numbers as value, gradient)
                value, gradient = both(values, term.voxel_weights)
                total += weight * value
                dq[term.positions] += weight * gradient
            elif term.voxel_weights is None:  # objectives without voxel weights keep working
                total += weight * term.objective.value(values)
                dq[term.positions] += weight * term.objective.gradient(values)
            else:
                total += weight * term.objective.value(values, term.voxel_weights)
                dq[term.positions] += weight * term.objective.gradient(values, term.voxel_weights)
        return total, dq


def build_problem(
    influence: DoseInfluence,
    masks: Mapping[str, np.ndarray],
    objectives: StructureObjectives,
    *,
    quantity: Quantity | None = None,
    spot_index: np.ndarray | None = None,
    max_particles: float = math.inf,
    reference: str | None = None,
) -> OptimizationProblem:
    """The problem of optimizing ``quantity`` (default physical dose) under ``objectives``.

    ``masks``: boolean masks (or voxel fractions 0–1) on the influence's dose grid by
    structure name (flat, with ``influence.n_rows`` values where it has sub-voxels);
    ``spot_index``: the spots optimized (default all; e.g. one beam for SFUD);
    ``max_particles``: the upper bound per spot; ``reference``: the structure whose
    level sets the scaling (default: the first with a dose to reach, the target).
    """
    quantity = PhysicalDose() if quantity is None else quantity
    grid_size = influence.n_rows  # the grid's voxels and any sub-voxels
    flat, fractions = _structure_voxels(masks, objectives, grid_size)
    voxels = sorted_unique(np.concatenate(list(flat.values())), grid_size)
    rows = restrict_influence(influence, voxels, spot_index=spot_index, matrices=quantity.matrices)
    terms = tuple(_terms(objectives, flat, fractions, voxels, quantity))
    bound = quantity.bind(rows, grid_size=grid_size)
    name, level = _reference(terms, reference)
    reference_positions = [t.positions for t in terms if t.structure == name]
    positions = sorted_unique(np.concatenate(reference_positions), rows.n_voxels)
    # the scale of the weights from the matrices alone (fixed offsets do not scale)
    plain = bound
    if rows.offsets:
        plain = quantity.bind(replace(rows, offsets={}), grid_size=grid_size)
    unit = _uniform_weight(plain, positions, level, rows.n_spots)
    if not (isinstance(max_particles, (int, float)) and max_particles > 0):
        raise ConfigError(f"max_particles must be > 0; got {max_particles!r}")
    return OptimizationProblem(
        rows=rows,
        quantity=quantity,
        bound=bound,
        terms=terms,
        weight_unit=unit,
        value_scale=1.0 / level**2,
        lower_particles=np.zeros(rows.n_spots),
        upper_particles=np.full(rows.n_spots, float(max_particles)),
        reference=(name, level),
        skip=_row_skip(bound, terms),
        fused=fused_terms(terms, rows, bound),
    )


def _row_skip(
    bound: BoundQuantity, terms: Sequence[ObjectiveTerm], like: RowSkip | None = None
) -> RowSkip | None:
    """The rows of the quantity's products that may be skipped (None: none, or a
    quantity that does not say how it is built from its products); ``like``: the skip
    of the same rows with other offsets (its levels and norms reused)."""
    if not (hasattr(bound, "from_products") and hasattr(bound, "products")):
        return None
    if like is not None:
        return RowSkip(bound, like.levels, like=like)
    skip = RowSkip(bound, skip_levels(terms, bound.rows.n_voxels))  # type: ignore[attr-defined]
    return skip if skip.useful else None


def _structure_voxels(
    masks: Mapping[str, np.ndarray], objectives: StructureObjectives, grid_size: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray | None]]:
    """Flat dose-grid indices of each structure that has objectives, and the fraction
    of each of those voxels inside it (None for a boolean mask)."""
    if not objectives:
        raise ConfigError("give at least one objective (a mapping structure name → objectives)")
    flat = {}
    fractions: dict[str, np.ndarray | None] = {}
    for name in objectives:
        if name not in masks:
            raise UnknownNameError("structure", name, masks)
        mask = np.asarray(masks[name])
        if mask.size != grid_size:
            raise GridMismatchError(
                f"the mask of {name!r} has {mask.size} voxels but the dose grid has {grid_size}; "
                "resample it with masks_on_grid"
            )
        flat[name] = np.flatnonzero(mask.reshape(-1))
        if flat[name].size == 0:
            raise StructureError(
                f"structure {name!r} has no voxel on the dose grid; "
                "remove its objectives or use a finer dose grid"
            )
        fractions[name] = _fractions(name, mask, flat[name])
    return flat, fractions


def _fractions(name: str, mask: np.ndarray, flat: np.ndarray) -> np.ndarray | None:
    """The voxel fractions of a non-boolean mask at ``flat`` (None when all are 1)."""
    if mask.dtype == np.bool_:
        return None
    values = mask.reshape(-1)[flat].astype(np.float64)
    if not (np.all(np.isfinite(values)) and values.min() > 0.0 and values.max() <= 1.0):
        raise StructureError(
            f"structure {name!r}: voxel fractions must lie in [0, 1]; got values in "
            f"[{np.nanmin(values):g}, {np.nanmax(values):g}]; pass a boolean mask or occupancies"
        )
    return None if np.all(values == 1.0) else values


def _terms(
    objectives: StructureObjectives,
    flat: dict[str, np.ndarray],
    fractions: dict[str, np.ndarray | None],
    voxels: np.ndarray,
    quantity: Quantity,
) -> list[ObjectiveTerm]:
    terms = []
    for name, given in objectives.items():
        items = [given] if isinstance(given, Objective) else list(given)
        if not items:
            raise ConfigError(f"structure {name!r}: empty list of objectives")
        convert = quantity.level_converter(flat[name])
        positions = np.searchsorted(voxels, flat[name])
        for item in items:
            if not isinstance(item, Objective):
                raise ConfigError(
                    f"structure {name!r}: expected an objective (SquaredDeviation, …); "
                    f"got {type(item).__name__}"
                )
            objective = item if convert is None else item.with_levels(convert)
            terms.append(ObjectiveTerm(name, objective, positions, fractions[name]))
    return terms


def _reference(terms: tuple[ObjectiveTerm, ...], wanted: str | None) -> tuple[str, float]:
    """(structure, level) of the objective with a dose to reach (the target)."""
    candidates = [(t.structure, float(getattr(t.objective, "lower_level_gy", 0.0))) for t in terms]
    if wanted is not None:
        if wanted not in {t.structure for t in terms}:
            raise UnknownNameError(
                "structure with objectives", wanted, {t.structure for t in terms}
            )
        candidates = [c for c in candidates if c[0] == wanted]
    candidates = [c for c in candidates if c[1] > 0]
    if not candidates:
        raise ConfigError(
            "no objective asks for a dose (SquaredDeviation, SquaredUnderdose or MinDVH "
            "with a level > 0); give the target one"
        )
    name = candidates[0][0]
    return name, max(level for s, level in candidates if s == name)


def _uniform_weight(bound: BoundQuantity, positions: np.ndarray, level: float, n: int) -> float:
    """The uniform spot weight (particles) whose mean quantity over ``positions`` is ``level``
    (exact for linear quantities after the first guess; a root search in log w otherwise).
    Each try reads only the rows of ``positions`` (:func:`_forward_at`)."""
    forward = _forward_at(bound, positions)

    def mean_at(log_w: float) -> float:
        return float(np.mean(forward(np.full(n, math.exp(log_w)))))

    at_one = mean_at(0.0)
    if not at_one > 0.0:
        raise StructureError(
            "no spot reaches the reference structure (the target); check the beams and spots"
        )
    guess = math.log(level / at_one)
    lo, hi = guess - 1.0, guess + 1.0
    while mean_at(hi) < level:
        lo, hi = hi, hi + 2.0
    while mean_at(lo) > level:
        lo, hi = lo - 2.0, lo
    return math.exp(brentq(lambda t: mean_at(t) - level, lo, hi, xtol=1e-6))


def _forward_at(bound: BoundQuantity, positions: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The quantity at the kept voxels ``positions`` (sorted) alone, for weights w: the
    products of those rows only, summed as the whole forward pass sums them (the same
    numbers there), for a quantity that says how it is built from its products; else the
    whole forward pass, cut. (The root search of :func:`_uniform_weight` takes ~12 tries:
    on the clinical-size case each whole pass read 162 M entries for the target's ~1 %.)"""
    names = tuple(getattr(bound, "products", ()))
    rows = getattr(bound, "rows", None)
    positions = np.asarray(positions, dtype=np.int64)
    if not (hasattr(bound, "from_products") and rows is not None and 1 <= len(names) <= 2):
        return lambda w: bound.forward(w)[0][positions]

    def forward(w: np.ndarray) -> np.ndarray:
        if len(names) == 1:
            parts: tuple[np.ndarray, ...] = (rows.times_rows(names[0], w, positions),)
        else:
            parts = rows.times_pair_rows(names[0], names[1], w, positions)
        full = []
        for part in parts:
            product = np.zeros(rows.n_voxels)
            product[positions] = part
            full.append(product)
        return bound.from_products(tuple(full))[0][positions]

    return forward
