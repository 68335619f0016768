"""Spot-weight optimization: objectives, quantities, the problem, the solver.

Stages (one module each): objectives (:mod:`.squared_deviation`,
:mod:`.squared_overdose`, :mod:`.squared_underdose`, :mod:`.mean_dose`,
:mod:`.min_dvh`, :mod:`.max_dvh`), the optimized quantity (:mod:`.quantities`:
physical dose, constant-RBE dose, LQ RBE-weighted dose, biological effect), the
influence rows of the voxels with objectives (:mod:`.influence_rows`, numba
products in :mod:`._product_kernels`), the problem (:mod:`.problem`), the solver
front door (:mod:`.solver`) and the machine's spot limits (:mod:`.spot_limits`).

matRad readers: the mapping structure → objectives is the objective part of
``cst``; ``optimize_weights`` is ``fluenceOptimization``.
"""

from ionbeam.planning.optimize.influence_rows import InfluenceRows, restrict_influence
from ionbeam.planning.optimize.max_dvh import MaxDVH
from ionbeam.planning.optimize.mean_dose import MeanDose
from ionbeam.planning.optimize.min_dvh import MinDVH
from ionbeam.planning.optimize.objective import Objective
from ionbeam.planning.optimize.problem import (
    ObjectiveTerm,
    OptimizationProblem,
    StructureObjectives,
    build_problem,
)
from ionbeam.planning.optimize.quantities import (
    BiologicalEffect,
    ConstantRBEDose,
    PhysicalDose,
    Quantity,
    RBEWeightedDose,
)
from ionbeam.planning.optimize.solver import (
    SOLVERS,
    OptimizationResult,
    SolverOptions,
    optimize_weights,
)
from ionbeam.planning.optimize.spot_limits import apply_spot_limits
from ionbeam.planning.optimize.squared_deviation import SquaredDeviation
from ionbeam.planning.optimize.squared_overdose import SquaredOverdose
from ionbeam.planning.optimize.squared_underdose import SquaredUnderdose

__all__ = [
    "SOLVERS",
    "BiologicalEffect",
    "ConstantRBEDose",
    "InfluenceRows",
    "MaxDVH",
    "MeanDose",
    "MinDVH",
    "Objective",
    "ObjectiveTerm",
    "OptimizationProblem",
    "OptimizationResult",
    "PhysicalDose",
    "Quantity",
    "RBEWeightedDose",
    "SolverOptions",
    "SquaredDeviation",
    "SquaredOverdose",
    "SquaredUnderdose",
    "StructureObjectives",
    "apply_spot_limits",
    "build_problem",
    "optimize_weights",
    "restrict_influence",
]
