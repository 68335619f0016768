"""The solver front door: ``optimize_weights(problem, method=...)`` → one result type.

Methods (:data:`SOLVERS`, by name; an unknown name raises):

``lbfgsb``
    scipy's L-BFGS-B on the scaled weights x = w / ``weight_unit`` with the bounds
    lower ≤ w ≤ upper (particles), analytic gradients, value and gradient from one
    pass. scipy's own ``ftol`` test compares the change with max(|f|, 1), which is an
    absolute test once f < 1 (and our f is scaled to the prescription); it is switched
    off and replaced by a relative one: stop when the objective fell by less than
    ``relative_tolerance`` × max(f, ``FLOOR_FRACTION`` f₀) per iteration, on average
    over the last ``window`` iterations (f₀: the starting objective; the floor stops a
    plan whose objective heads for 0 once it is a hundredth of where it started).

``projected_lbfgs``
    ionbeam's own projected L-BFGS (:mod:`.projected_lbfgs`) on the same scaled
    variable, bounds and stopping rule, whose result keeps its curvature pairs
    (``OptimizationResult.memory``) so that a later run on the same spots starts from
    them (``warm_start``): :func:`~.weights.optimize_impt` passes the first leg's to the
    leg with the halo's correction held, :func:`~.spot_limits.apply_spot_limits` the
    optimum's to the polish. Measured (``bench/optimizer_legs.py``, TG-119 protons on
    3 mm, 34 153 spots, 72 M non-zeros, the halo leg as the planner runs it;
    iterations first + second leg with polish, final objective, target D95/D5, core
    mean): L-BFGS-B 180 + 30, 0.338, 0.968/1.031, 0.274; projected with the memory
    kept 184 + 70, 0.318, 0.968/1.030, 0.271; with the first leg's rule 3× looser
    123 + 163, 0.305 (L-BFGS-B) and 130 + 124, 0.312 (projected); with the rule
    2.5e-3 instead of 1e-3, 135 + 20, 0.373, 0.966/1.035, 0.283 and 137 + 17, 0.376,
    0.968/1.035, 0.285. The objective after n iterations is the same for both solvers
    and every split of the legs within a few per cent: the kept memory lets the second
    leg go on descending (a lower objective) but does not end the run sooner, so
    L-BFGS-B stays the default.

Scaling (``SolverOptions.scaling``): with ``"jacobi"`` the solver's variable
is y = x / s with sⱼ = 1/√(Σᵢ Dᵢⱼ²) over the reference structure's voxels (the target),
normalised to a median of 1: the diagonal of the target term's Gauss–Newton Hessian
becomes uniform, so that a distal spot (a few voxels at high dose) and a proximal one
(many voxels at low dose) take steps of the same scale and L-BFGS-B's scalar initial
Hessian fits both. Spots that reach no target voxel keep the largest scale. ``"none"``
(the default): y = x. The plan's objective, bounds and stopping rule are the same either
way; only the path to the optimum changes. Measured (``bench/optimizer_convergence.py``,
lung phantom, protons): 101 → 101 iterations on a 3 mm grid, 108 → 93 on 2 mm, with
the same D95/D5 (±0.001) but a final objective 0.5–0.8 % higher; TG-119 at 3 mm 176 →
175. Not (yet) a clear gain, so it is not the default. ``"gauss_newton"``: sⱼ =
1/√(Σᵢ cᵢ Dᵢⱼ²) over every kept voxel, cᵢ = Σ over the voxel's objective terms of the
term's weight × the voxel's share of the term's mean (its occupancy included), every
term counted as if active: the diagonal of the whole objective's Gauss–Newton Hessian
made uniform. Measured as the planner runs (occupancies, halo leg, spot limits;
iterations of the legs, target D95 / D5): TG-119 protons, pyRadPlan's CT, 5 mm spots
and grid, 201 + 49 → 168 + 45 (CT grid 0.929 / 1.004 → 0.934 / 1.004, core mean 0.292
→ 0.294); carbon 108 + 142 + 14 → 104 + 144 + 15 (the same plan within 0.001); head
phantom protons 2 mm 130 + 11 → 109 + 11 (the same D95 / D5); but lung phantom 3 mm
85 + 57 → 86 + 11 with D5 1.019 → 1.021, and the demo's proton plan 152 + 37 → 160 + 41
with a 2 % higher objective (``bench/optimizer_scaling.py``, ``bench/_tg119_diagnose.py``,
``bench/demo_planning.py``). Not a gain everywhere, so not the default either.

L-BFGS memory (``SolverOptions.history_size``, scipy's ``maxcor``): 30 pairs by
default (was 10). The extra pairs cost O(30 n) per iteration on n ≈ 10⁴ spots, nothing
beside the two sparse products. Measured (``bench/optimizer_convergence.py``, protons,
default stopping rule): lung phantom 3 mm 89 → 87 iterations with the final objective
1.254 → 1.212 (the converged optimum, 600 iterations: 1.103); 2 mm 115 → 120 iterations,
1.726 → 1.685 (optimum 1.637); with the stopping rule off, the 3 mm objective is within
4 % of the optimum after 150 iterations instead of 5.5 %; TG-119 at 3 mm 192 → 180
iterations, 0.343 → 0.336. The target's D95/D5 are equal or better (±0.003).

The default stopping rule ends 5-14 % above the converged objective, and the target's
D95 within 0.003-0.005 of the converged plan's, on the 2 mm grid as on the 3 mm one: it
does not lose more on fine grids. The lower D95 on 2 mm than on 3 mm (lung phantom,
0.934 vs 0.955 for D·w) is not the optimizer's: with the same 2 mm CT, the plan
optimized on a 3 mm dose grid has D95 0.954 on that grid but 0.906 on the 2 mm grid,
below the 2 mm plan's 0.934 (``bench/optimizer_convergence.py --cross-grid``): a coarse
dose grid flatters its own plan. A projected Newton-CG (Hessian-vector products from
gradient differences, 20 CG steps, Armijo search on the projected path) needed ~6× the
evaluations of L-BFGS-B for the same objective on the lung phantom, so it was not kept.

Convergence is reported by a progress counter (iteration, objective; no total, since
the stopping rule, not ``max_iterations``, ends a run) and in the result:
iterations, evaluations, the objective after each iteration, and wall time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rich.progress import Progress
from scipy.optimize import Bounds, OptimizeResult, minimize
from threadpoolctl import threadpool_limits

from ionbeam._progress import make_counter
from ionbeam.errors import ConfigError, GridMismatchError, UnknownNameError
from ionbeam.planning.optimize.problem import OptimizationProblem
from ionbeam.planning.optimize.projected_lbfgs import CurvatureMemory, projected_lbfgs

if TYPE_CHECKING:  # a robust problem quacks like a problem; no import cycle
    from ionbeam.planning.optimize.robust_problem import RobustProblem

__all__ = [
    "FLOOR_FRACTION",
    "SCALINGS",
    "SOLVERS",
    "OptimizationResult",
    "SolverOptions",
    "optimize_weights",
    "spot_scales",
]

#: The relative stopping rule compares changes with at least this fraction of f₀.
FLOOR_FRACTION = 1.0e-2
#: Scalings of the spot weights (see the module docstring).
SCALINGS = ("none", "jacobi", "gauss_newton")


@dataclass(frozen=True)
class SolverOptions:
    """Stopping rule and reporting of a solver (see the module docstring).

    ``max_iterations``; ``relative_tolerance`` and ``window`` (the relative stopping
    rule); ``gradient_tolerance`` (projected-gradient norm of the scaled problem);
    ``history_size`` (L-BFGS memory); ``scaling`` (of the spot weights: ``"none"``,
    ``"jacobi"`` or ``"gauss_newton"``, see the module docstring); ``progress`` and
    ``description`` (the bar); ``floor_objective``: the objective whose
    :data:`FLOOR_FRACTION` floors the relative rule when it is above the run's own start
    (a run that goes on with an earlier run's problem keeps that run's floor; None: the
    run's start alone).
    """

    max_iterations: int = 500
    relative_tolerance: float = 1.0e-3
    window: int = 5
    gradient_tolerance: float = 1.0e-10
    history_size: int = 30
    scaling: str = "none"
    progress: bool = True
    description: str = "optimizing"
    floor_objective: float | None = None

    def __post_init__(self) -> None:
        if self.scaling not in SCALINGS:
            raise UnknownNameError("solver scaling", self.scaling, SCALINGS)
        for name in ("max_iterations", "window", "history_size"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ConfigError(f"solver option {name} must be an integer ≥ 1; got {value!r}")
        for name in ("relative_tolerance", "gradient_tolerance"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"solver option {name} must be a number ≥ 0; got {value!r}")
        floor = self.floor_objective
        if floor is not None and not (isinstance(floor, (int, float)) and math.isfinite(floor)):
            raise ConfigError(f"solver option floor_objective must be finite; got {floor!r}")


@dataclass(frozen=True, eq=False)
class OptimizationResult:
    """Result of :func:`optimize_weights`: ``x`` (spot weights, particles), ``success``,
    ``message``, ``nit`` (iterations), ``n_evaluations`` (objective + gradient
    evaluations), ``objective_history`` (scaled objective at the start and after each
    iteration), ``time_s`` (wall time) and ``method``."""

    x: np.ndarray
    success: bool
    message: str
    nit: int
    n_evaluations: int
    objective_history: np.ndarray
    time_s: float
    method: str
    memory: CurvatureMemory | None = None

    @property
    def fun(self) -> float:
        """The final (scaled) objective."""
        return float(self.objective_history[-1])


class _Monitor:
    """Keeps the objective history, drives the progress bar, applies the stopping rule."""

    def __init__(
        self,
        options: SolverOptions,
        first: float,
        advance: Callable[[float], None],
        start: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.options = options
        given = options.floor_objective
        self.floor = FLOOR_FRACTION * max(abs(first), 0.0 if given is None else abs(given))
        self.history = [first]
        self.advance = advance
        self.converged = False
        self.start = start  # (x₀, gradient there): the solver's first call, if it asks for x₀
        self.reused = False

    def first_evaluation(self, x: np.ndarray) -> tuple[float, np.ndarray] | None:
        """The objective and gradient at x₀, once, when ``x`` is x₀ (they are computed
        for the stopping rule before the solver starts: one evaluation fewer)."""
        if self.start is None or self.reused or not np.array_equal(x, self.start[0]):
            return None
        self.reused = True
        return self.history[0], self.start[1].copy()

    def __call__(self, intermediate_result: OptimizeResult) -> None:
        self.history.append(float(intermediate_result.fun))
        self.advance(self.history[-1])
        k = self.options.window
        if len(self.history) > k:
            drop = self.history[-1 - k] - self.history[-1]
            scale = max(abs(self.history[-1]), self.floor)
            if drop <= self.options.relative_tolerance * k * scale:
                self.converged = True
                raise StopIteration


def spot_scales(problem: OptimizationProblem | RobustProblem, scaling: str) -> np.ndarray:
    """The per-spot scale s of the solver's variable y = x / s (see the module docstring)."""
    if scaling == "none":
        return np.ones(problem.n_spots)
    if not isinstance(problem, OptimizationProblem):  # a robust problem: its nominal's
        problem = problem.nominal
    rows = problem.rows
    matrix = "dose" if rows.has("dose") else next(iter(rows.values))
    if scaling == "gauss_newton":
        squares = rows.weighted_column_squares(matrix, _term_weights(problem))
    else:
        name = problem.reference[0]
        terms = [t.positions for t in problem.terms if t.structure == name]
        positions = np.unique(np.concatenate(terms))
        squares = rows.column_squares(matrix, positions)
    reached = squares > 0.0
    if not np.any(reached):
        return np.ones(problem.n_spots)
    scale = np.empty(problem.n_spots)
    scale[reached] = 1.0 / np.sqrt(squares[reached])
    scale /= np.median(scale[reached])
    scale[~reached] = scale[reached].max()
    return scale


def _term_weights(problem: OptimizationProblem) -> np.ndarray:
    """Per kept voxel: Σ over its objective terms of the term's weight × the voxel's share
    of the term's mean (the Gauss–Newton Hessian's voxel weights, every term active)."""
    weights = np.zeros(problem.rows.n_voxels)
    for term in problem.terms:
        given = term.voxel_weights
        share = 1.0 / term.positions.size if given is None else given / np.sum(given)
        np.add.at(weights, term.positions, term.objective.weight * share)
    return weights


def _scaled_objective(
    problem: OptimizationProblem, scale: np.ndarray, monitor: _Monitor
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """Value and gradient in the solver's variable y = x / scale."""

    def scaled(y: np.ndarray) -> tuple[float, np.ndarray]:
        x = y * scale
        known = monitor.first_evaluation(x)
        value, gradient = problem.value_and_gradient(x) if known is None else known
        return value, gradient * scale

    return scaled


def _lbfgsb(
    problem: OptimizationProblem,
    x0: np.ndarray,
    options: SolverOptions,
    monitor: _Monitor,
    memory: CurvatureMemory | None,
) -> _Solved:
    if memory is not None:
        raise ConfigError(
            "scipy's L-BFGS-B cannot start from an earlier run's curvature memory; "
            "use method='projected_lbfgs' or drop warm_start"
        )
    scale = spot_scales(problem, options.scaling)
    unit = problem.weight_unit
    scaled = _scaled_objective(problem, scale, monitor)
    bounds = Bounds(problem.lower_particles / unit / scale, problem.upper_particles / unit / scale)
    # L-BFGS-B's BLAS calls are vector operations of a few 10⁴ numbers: threads only
    # cost (OpenBLAS's spinning threads made it 100× slower on a busy 2-core machine).
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            scaled,
            x0 / scale,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            callback=monitor,
            options={
                "maxiter": options.max_iterations,
                "maxfun": 5 * options.max_iterations,
                "ftol": 0.0,
                "gtol": options.gradient_tolerance,
                "maxcor": options.history_size,
            },
        )
    nit, nfev = len(monitor.history) - 1, int(result.get("nfev", 0))
    if monitor.converged:
        message = (
            f"relative objective change below {options.relative_tolerance:g} per "
            f"iteration over {options.window} iterations"
        )
        return _Solved(result.x * scale, True, message, nit, nfev, None)
    return _Solved(result.x * scale, bool(result.success), str(result.message), nit, nfev, None)


def _projected(
    problem: OptimizationProblem,
    x0: np.ndarray,
    options: SolverOptions,
    monitor: _Monitor,
    memory: CurvatureMemory | None,
) -> _Solved:
    scale = spot_scales(problem, options.scaling)
    unit = problem.weight_unit
    lower = problem.lower_particles / unit / scale
    upper = problem.upper_particles / unit / scale

    def stop(value: float) -> bool:
        try:
            monitor(OptimizeResult(fun=value))
        except StopIteration:
            return True
        return False

    with threadpool_limits(limits=1, user_api="blas"):  # vector work: threads only cost
        out = projected_lbfgs(
            _scaled_objective(problem, scale, monitor),
            x0 / scale,
            lower,
            upper,
            max_iterations=options.max_iterations,
            history_size=options.history_size,
            gradient_tolerance=options.gradient_tolerance,
            callback=stop,
            memory=memory,
        )
    nit = len(monitor.history) - 1
    message = out.message
    if monitor.converged:
        message = (
            f"relative objective change below {options.relative_tolerance:g} per "
            f"iteration over {options.window} iterations"
        )
    success = monitor.converged or out.converged
    return _Solved(out.x * scale, success, message, nit, out.n_evaluations, out.memory)


@dataclass(frozen=True, eq=False)
class _Solved:
    x: np.ndarray
    success: bool
    message: str
    nit: int
    n_evaluations: int
    memory: CurvatureMemory | None


#: Solvers by name: each takes (problem, scaled x0, options, monitor, curvature memory).
SOLVERS: dict[str, Callable[..., _Solved]] = {"lbfgsb": _lbfgsb, "projectedlbfgs": _projected}


def optimize_weights(
    problem: OptimizationProblem | RobustProblem,
    *,
    method: str = "lbfgsb",
    initial_weights: np.ndarray | None = None,
    options: SolverOptions | None = None,
    warm_start: OptimizationResult | None = None,
) -> OptimizationResult:
    """Optimize the spot weights of ``problem`` with ``method`` (see :data:`SOLVERS`),
    starting from ``initial_weights`` (particles; default: the problem's uniform weights).

    ``warm_start``: an earlier result on the same spots and scaling (e.g. the same
    problem with other offsets or bounds) whose curvature memory the solver starts
    from; only ``projected_lbfgs`` keeps one (a result without memory starts afresh)."""
    key = str(method).strip().lower().replace("-", "").replace("_", "")
    if key not in SOLVERS:
        raise UnknownNameError("optimization method", method, SOLVERS)
    options = SolverOptions() if options is None else options
    w0 = problem.initial_weights() if initial_weights is None else initial_weights
    w0 = np.asarray(w0, dtype=float).reshape(-1)
    if w0.size != problem.n_spots or not np.all(np.isfinite(w0)):
        raise GridMismatchError(
            f"initial weights must be {problem.n_spots} finite values; got {w0.size}"
        )
    w0 = np.clip(w0, problem.lower_particles, problem.upper_particles)
    x0 = w0 / problem.weight_unit
    start = time.perf_counter()
    # The solver stops when it converges, long before max_iterations: count the
    # iterations without a total (a bar to max_iterations would stop short, its ETA false).
    with make_counter() if options.progress else Progress(disable=True) as bar:
        task = bar.add_task(options.description, total=None)

        def advance(value: float) -> None:
            bar.update(task, advance=1, description=f"{options.description} f={value:.4g}")

        with threadpool_limits(limits=1, user_api="blas"):  # as in the solver: same f₀
            first, gradient = problem.value_and_gradient(x0)
        monitor = _Monitor(options, first, advance, start=(x0, gradient))
        solved = SOLVERS[key](problem, x0, options, monitor, _memory(warm_start, problem))
    weights = np.clip(
        np.asarray(solved.x) * problem.weight_unit,
        problem.lower_particles,
        problem.upper_particles,
    )
    return OptimizationResult(
        x=weights,
        success=solved.success,
        message=solved.message,
        nit=solved.nit,
        n_evaluations=solved.n_evaluations + (0 if monitor.reused else 1),
        objective_history=np.asarray(monitor.history),
        time_s=time.perf_counter() - start,
        method=key,
        memory=solved.memory,
    )


def _memory(
    warm_start: OptimizationResult | None, problem: OptimizationProblem | RobustProblem
) -> CurvatureMemory | None:
    """The curvature memory of ``warm_start`` (None without one), checked against the spots."""
    if warm_start is None or warm_start.memory is None or warm_start.memory.size == 0:
        return None
    if warm_start.memory.s.shape[1] != problem.n_spots:
        raise GridMismatchError(
            f"warm_start is a run on {warm_start.memory.s.shape[1]} spots but the problem "
            f"has {problem.n_spots}; warm-start only the same spots"
        )
    return warm_start.memory
