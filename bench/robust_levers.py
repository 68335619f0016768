"""One robust problem of the head phantom, optimized with one thing changed at a time.

Builds the robust problem of ``bench/robust_head.py``'s robust plan once (its settings:
--particle, --energy-stride, --rbe-model, --target-tissue), then optimizes it per
variant and prints, per variant, the CTV's D95 in each of the 9 scenarios and the
brainstem's maximum (over voxels at least half inside it), as fractions of the
prescription, read on the optimizer's own rows (the matrices' disc halo: within about
1 % of robust_head.py's full evaluation). Variants, joined with '+':

  base            the problem as planned
  p=32            smooth-maximum exponent of the composite worst case (default 8)
  tol=1e-6, it=N  stopping rule
  bw=300, cw=W    brainstem / CTV objective weight
  mode=stochastic every term's robustness; ctv=voxelwise only the CTV's
  warm            start from the weights saved by an earlier run's --save-weights of
                  the same spots (e.g. the physical-dose plan), scaled to the CTV's level

docs/robust.md ("Carbon ions: why 79 %") has the figures of 7 Dec: carbon, every 2nd
energy: base 79.2 %, 501 iterations at 1e-6 78.4 %, p=32 79.3 %, p=2 74.4 %, CTV
voxel-wise 76.3 %, stochastic 73.3 %, bw=300 88.5 %, warm start from the physical-dose
plan 78.2 %; --rbe-model none 93.3 % (bw=300: 95.7 %); --target-tissue late_normal
93.3 % (bw=300: 96.1 %).

Usage: python bench/robust_levers.py --particle carbon [--rbe-model none]
       [--target-tissue late_normal] [--save-weights FILE] [--warm-weights FILE]
       base p=32 bw=300 ...
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET, ORGAN = "GTV", "Brainstem"


class _Captured(Exception):
    """Raised to stop the planner once the robust problem is built."""

    def __init__(self, problem: object) -> None:
        super().__init__("captured")
        self.problem = problem


def capture(args: argparse.Namespace):
    """The robust problem that ``robust_head.py`` would optimize (first pass)."""
    import robust_head
    from ionbeam.planning.optimize import robust_weights
    from ionbeam.planning.planner import plan_patient
    from ionbeam.planning.robust import RobustOptions

    patient, prescription, objectives, options = robust_head._setup(args)

    def grab(problem, **_):
        raise _Captured(problem)

    original = robust_weights.optimize_weights
    robust_weights.optimize_weights = grab
    try:
        plan_patient(patient, prescription, particle=args.particle, objectives=objectives,
                     options=options, robust=RobustOptions())  # fmt: skip
    except _Captured as done:
        return done.problem
    finally:
        robust_weights.optimize_weights = original
    raise RuntimeError("the planner did not reach the robust optimization")


def d95(values: np.ndarray, fractions: np.ndarray) -> float:
    """The level that 95 % of the volume (fractions of voxels) reaches."""
    order = np.argsort(values)[::-1]
    cumulative = np.cumsum(fractions[order]) / fractions.sum()
    return float(values[order][np.searchsorted(cumulative, 0.95)])


def metrics(problem, weights: np.ndarray) -> tuple[list[float], list[float]]:
    """Per scenario the CTV's D95 and the brainstem's maximum, / the prescription."""
    level = problem.reference[1]
    d, b = [], []
    for scenario in problem.scenarios:
        q = scenario.quantity_values(weights)
        for term in scenario.terms:
            v = q[term.positions]
            f = term.voxel_weights if term.voxel_weights is not None else np.ones(v.size)
            if term.structure == TARGET:
                d.append(d95(v, f) / level)
            elif term.structure == ORGAN:
                b.append(float(v[f >= 0.5].max()) / level)
    return d, b


def variant(problem, name: str, warm: np.ndarray | None):
    """The problem and solver options of one variant, and its starting weights."""
    from ionbeam.planning.optimize import SolverOptions

    options = {"progress": False, "relative_tolerance": 1e-3, "max_iterations": 300}
    start = None
    for part in name.split("+"):
        key, _, value = part.partition("=")
        if key == "p":
            problem = dataclasses.replace(problem, sharpness=float(value))
        elif key == "tol":
            options["relative_tolerance"] = float(value)
        elif key == "it":
            options["max_iterations"] = int(value)
        elif key in ("bw", "cw"):
            problem = _reweighted(problem, ORGAN if key == "bw" else TARGET, float(value))
        elif key == "mode":
            modes = tuple(value if m != "nominal" else m for m in problem.modes)
            problem = dataclasses.replace(problem, modes=modes)
        elif key == "ctv":
            terms = problem.nominal.terms
            modes = tuple(
                value if t.structure == TARGET else m
                for t, m in zip(terms, problem.modes, strict=True)
            )
            problem = dataclasses.replace(problem, modes=modes)
        elif key == "warm":
            if warm is None:
                raise SystemExit("warm needs --warm-weights FILE")
            start = _scaled_to_level(problem, warm)
        elif key != "base":
            raise SystemExit(f"unknown variant {part!r}")
    return problem, SolverOptions(**options), start


def _reweighted(problem, structure: str, weight: float):
    terms = tuple(
        dataclasses.replace(t, objective=dataclasses.replace(t.objective, weight=weight))
        if t.structure == structure
        else t
        for t in problem.nominal.terms
    )
    scenarios = tuple(dataclasses.replace(s, terms=terms) for s in problem.scenarios)
    return dataclasses.replace(problem, scenarios=scenarios)


def _scaled_to_level(problem, weights: np.ndarray) -> np.ndarray:
    """``weights`` × k with the CTV's mean at the prescription in the nominal scenario."""
    from scipy.optimize import brentq

    level = problem.reference[1]
    ctv = next(t for t in problem.nominal.terms if t.structure == TARGET)

    def excess(k: float) -> float:
        return float(np.mean(problem.nominal.quantity_values(k * weights)[ctv.positions])) - level

    return brentq(excess, 0.01, 100.0) * weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", default=["base"])
    parser.add_argument("--particle", default="carbon")
    parser.add_argument("--energy-stride", type=int, default=2)
    parser.add_argument("--rbe-model", help="default: the particle's (carbon: mMKM)")
    parser.add_argument("--target-tissue", help="the CTV's LQ tissue (default 'tumour')")
    parser.add_argument("--save-weights", help="save the first variant's weights (.npy)")
    parser.add_argument("--warm-weights", help="weights (.npy) for the 'warm' variant")
    args = parser.parse_args()
    setup = argparse.Namespace(
        particle=args.particle, ct_spacing=3.0, grid=3.0, energy_stride=args.energy_stride,
        spot_spacing=None, rbe_model=args.rbe_model, ripple_filter=None, tolerance=1e-3,
        max_iterations=300, brainstem_weight=None, coverage=False,
        target_tissue=args.target_tissue,
    )  # fmt: skip
    from ionbeam.planning.optimize import optimize_weights

    start = time.perf_counter()
    problem = capture(setup)
    print(f"robust problem: {problem.n_spots} spots, {len(problem.scenarios)} scenarios, "
          f"built in {time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    warm = None if args.warm_weights is None else np.load(args.warm_weights)
    for k, name in enumerate(args.variants):
        changed, options, initial = variant(problem, name, warm)
        start = time.perf_counter()
        result = optimize_weights(changed, options=options, initial_weights=initial)
        seconds = time.perf_counter() - start
        d, b = metrics(problem, result.x)
        below = sum(x < 0.95 for x in d)
        print(f"{name}: worst CTV D95 {100 * min(d):.1f} % ({below} of {len(d)} below 95 %), "
              f"per scenario {' '.join(f'{100 * x:.1f}' for x in d)}; brainstem max worst "
              f"{100 * max(b):.1f} % (nominal {100 * b[0]:.1f}); objective "
              f"{problem.objective_value(result.x):.3f}; {result.nit} iterations, "
              f"{seconds:.0f} s", flush=True)  # fmt: skip
        if k == 0 and args.save_weights:
            np.save(args.save_weights, result.x)


if __name__ == "__main__":
    main()
