"""A projected L-BFGS for bound-constrained spot weights, with a curvature memory
that carries over from one run to the next.

Why not scipy's L-BFGS-B alone: a planner optimizes the same problem more than once
with a small change in between (the full-width halo's correction held as a fixed
offset, :func:`~ionbeam.planning.optimize.weights.optimize_impt`; the spot limits'
new bounds), and scipy's solver starts each run without its curvature pairs: it
takes its first steps along the bare gradient and needs some ten iterations to learn
the curvature again. The objectives are squared penalties of linear (or mildly
non-linear) products, so the pairs (s, y) of the first run still describe the
Hessian of the second; kept, they let the second run go on as if it had not stopped.

The method (a two-metric projection, Bertsekas 1982, SIAM J. Control Optim. 20:221,
with the L-BFGS inverse Hessian of Nocedal 1980 on the free variables, as in the
projected quasi-Newton of Kim, Sra & Dhillon 2010, Optim. Methods Softw. 25:1):

1. the ε-active set: variables within ε of a bound whose gradient pushes them out
   (ε = the norm of the projected gradient step, at most ``ACTIVE_EPSILON``), held;
2. the direction d = −H q on the others, q the gradient with the held ones zeroed
   (H: the two-loop recursion on the last ``history_size`` pairs, initial scaling
   γ = sᵀy / yᵀy), and d = −γ g on the held ones (which the projection then puts on
   their bound); gᵀd = −qᵀHq − γ Σ g² < 0 over the held, so d is a descent direction;
3. a backtracking (Armijo) search along the projected path clip(x + α d), α = 1
   first (the first step without pairs: α = 1/‖q‖), quadratic interpolation;
4. the pair (s, y) kept when sᵀy > ``CURVATURE_EPSILON`` · yᵀy.

Each iteration costs one objective-and-gradient evaluation when the unit step is
accepted (the rule once the pairs have learnt the scale), plus O(m n) vector work
with m pairs on n spots, nothing beside the two sparse products of an evaluation.
Pure numpy in a fixed order: the result does not depend on the thread count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["CURVATURE_EPSILON", "CurvatureMemory", "ProjectedLBFGSOutcome", "projected_lbfgs"]

#: A pair (s, y) is kept when sᵀy exceeds this fraction of yᵀy (positive curvature).
CURVATURE_EPSILON = 1.0e-10
#: Largest ε of the ε-active set (in the solver's variable, which is O(1)).
ACTIVE_EPSILON = 1.0e-3
#: Armijo's sufficient-decrease constant.
ARMIJO = 1.0e-4
#: Backtracking steps before the memory is dropped and the gradient step tried.
MAX_BACKTRACKS = 20


@dataclass(frozen=True, eq=False)
class CurvatureMemory:
    """The last curvature pairs of a run, oldest first: ``s`` and ``y`` (pairs × spots,
    in the solver's variable) — what a later run on the same spots starts from."""

    s: np.ndarray
    y: np.ndarray

    @property
    def size(self) -> int:
        """Number of pairs."""
        return int(self.s.shape[0])


@dataclass(frozen=True, eq=False)
class ProjectedLBFGSOutcome:
    """``x``, ``converged`` (projected gradient below the tolerance), ``stopped`` (the
    callback stopped it), ``message``, ``n_evaluations`` and the final ``memory``."""

    x: np.ndarray
    converged: bool
    stopped: bool
    message: str
    n_evaluations: int
    memory: CurvatureMemory


class _Pairs:
    """The curvature pairs, newest last, at most ``size``."""

    def __init__(self, size: int, memory: CurvatureMemory | None, n: int):
        self.size = size
        self.s: list[np.ndarray] = []
        self.y: list[np.ndarray] = []
        self.rho: list[float] = []
        if memory is not None and memory.size and memory.s.shape[1] == n:
            for s, y in zip(memory.s[-size:], memory.y[-size:], strict=True):
                self.push(s.copy(), y.copy())

    def push(self, s: np.ndarray, y: np.ndarray) -> bool:
        sy = float(s @ y)
        if not sy > CURVATURE_EPSILON * float(y @ y):
            return False
        if len(self.s) == self.size:
            del self.s[0], self.y[0], self.rho[0]
        self.s.append(s)
        self.y.append(y)
        self.rho.append(1.0 / sy)
        return True

    @property
    def scaling(self) -> float:
        """sᵀy / yᵀy of the newest pair: the initial inverse Hessian's scale."""
        return 1.0 / (self.rho[-1] * float(self.y[-1] @ self.y[-1]))

    def clear(self) -> None:
        self.s, self.y, self.rho = [], [], []

    def apply(self, q: np.ndarray, free: np.ndarray) -> np.ndarray:
        """H q on the ``free`` variables by the two-loop recursion on the pairs restricted
        to them (the secant pairs of the reduced Hessian where the held variables did not
        move), H₀ = γ (the pairs' sᵀy / yᵀy)."""
        q = q.copy()
        alphas = []
        restricted = []
        for s, y in zip(self.s, self.y, strict=True):
            s_free, y_free = np.where(free, s, 0.0), np.where(free, y, 0.0)
            sy = float(s_free @ y_free)
            if sy > CURVATURE_EPSILON * float(y_free @ y_free):
                restricted.append((s_free, y_free, 1.0 / sy))
        if not restricted:
            return self.scaling * q
        for s, y, rho in reversed(restricted):
            a = rho * float(s @ q)
            alphas.append(a)
            q -= a * y
        s, y, rho = restricted[-1]
        q *= 1.0 / (rho * float(y @ y))
        for (s, y, rho), a in zip(restricted, reversed(alphas), strict=True):
            b = rho * float(y @ q)
            q += (a - b) * s
        return q

    def memory(self, n: int) -> CurvatureMemory:
        if not self.s:
            return CurvatureMemory(np.empty((0, n)), np.empty((0, n)))
        return CurvatureMemory(np.stack(self.s), np.stack(self.y))


def _free(x: np.ndarray, g: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The variables not held at a bound (see the module docstring, step 1)."""
    step = np.clip(x - g, lower, upper) - x
    eps = min(ACTIVE_EPSILON, float(np.sqrt(step @ step)))
    held = ((x <= lower + eps) & (g > 0.0)) | ((x >= upper - eps) & (g < 0.0))
    return ~held


def projected_lbfgs(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    max_iterations: int,
    history_size: int,
    gradient_tolerance: float,
    callback: Callable[[float], bool],
    memory: CurvatureMemory | None = None,
    start: tuple[float, np.ndarray] | None = None,
) -> ProjectedLBFGSOutcome:
    """Minimize ``fun`` (value and gradient) over lower ≤ x ≤ upper from ``x0``.

    ``callback(f)`` runs after each iteration and returns True to stop; ``memory``:
    curvature pairs of an earlier run on the same variables; ``start``: (f, g) at x0
    when already known."""
    x = np.clip(np.asarray(x0, dtype=np.float64), lower, upper)
    n = x.size
    pairs = _Pairs(history_size, memory, n)
    if start is None:
        f, g = fun(x)
        evaluations = 1
    else:
        f, g = start[0], np.asarray(start[1], dtype=np.float64)
        evaluations = 0
    message = f"iteration limit {max_iterations} reached"
    converged = stopped = False
    for _ in range(max_iterations):
        free = _free(x, g, lower, upper)
        q = np.where(free, g, 0.0)
        projected = np.clip(x - g, lower, upper) - x
        if float(np.max(np.abs(projected))) <= gradient_tolerance:
            converged, message = True, "projected gradient below the tolerance"
            break
        step = _search(fun, x, f, g, q, free, pairs, lower, upper)
        evaluations += step[3]
        if step[0] is None:
            message = "no decrease along the projected path (line search failed)"
            break
        x_new, f_new, g_new = step[0], step[1], step[2]
        pairs.push(x_new - x, g_new - g)
        x, f, g = x_new, f_new, g_new
        if callback(f):
            stopped, message = True, "stopped by the callback"
            break
    return ProjectedLBFGSOutcome(x, converged, stopped, message, evaluations, pairs.memory(n))


def _search(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x: np.ndarray,
    f: float,
    g: np.ndarray,
    q: np.ndarray,
    free: np.ndarray,
    pairs: _Pairs,
    lower: np.ndarray,
    upper: np.ndarray,
) -> tuple[np.ndarray | None, float, np.ndarray, int]:
    """(x, f, g, evaluations) after a sufficient decrease along the projected path:
    with the quasi-Newton direction, else with the gradient's (and the pairs dropped);
    x None when neither decreases (the pairs are kept for a later run)."""
    evaluations = 0
    for attempt in range(2):
        if pairs.s and attempt == 0:
            # the held variables step along their own gradient (to their bound), scaled
            # as the initial inverse Hessian
            d = np.where(free, -pairs.apply(q, free), -pairs.scaling * g)
            alpha = 1.0
        else:
            d = -g
            alpha = 1.0 / max(float(np.sqrt(q @ q)), 1.0e-300)
        if not float(g @ d) < 0.0:
            continue
        for _ in range(MAX_BACKTRACKS):
            x_new = np.clip(x + alpha * d, lower, upper)
            s = x_new - x
            slope = float(g @ s)  # the first-order change along the projected step
            if not slope < 0.0:
                alpha *= 0.1
                continue
            f_new, g_new = fun(x_new)
            evaluations += 1
            if f_new <= f + ARMIJO * slope:
                if attempt == 1:  # the pairs gave no decrease: they describe another place
                    pairs.clear()
                return x_new, f_new, g_new, evaluations
            # the minimum of the quadratic through f, slope and f_new, kept in [0.1, 0.5] α
            curvature = f_new - f - slope
            shrink = -0.5 * slope / curvature if curvature > 0.0 else 0.5
            alpha *= min(max(shrink, 0.1), 0.5)
    return None, f, g, evaluations
