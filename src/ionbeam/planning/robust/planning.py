"""The planning recipe's robust stage: scenario matrices and the robust field strategy.

:func:`robust_strategy` gives :func:`~ionbeam.planning.planner.plan_patient` a field
strategy with the signature of :func:`~ionbeam.planning.optimize.weights.optimize_impt`
that optimizes over the scenarios of a :class:`.RobustOptions`: the nominal matrix (the
recipe's own) first, then each scenario's, computed by the recipe's own influence
stage on the scenario's plan (isocentre shifted) and calibration (SPR scaled), with the
same beam model, dose grid, tissues and engine options. IMPT is then optimized once
more with the full-width halo's correction for its weights held fixed in every scenario
(:mod:`.halo_offsets`), as the nominal planner does; robust SFUD keeps the disc halo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.patient.patient import Patient
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.optimize.quantities import ConstantRBEDose
from ionbeam.planning.optimize.robust_weights import (
    RobustChoice,
    optimize_robust_impt,
    optimize_robust_sfud,
)
from ionbeam.planning.plan import Plan
from ionbeam.planning.robust.halo_offsets import scenario_halo_offsets
from ionbeam.planning.robust.options import RobustOptions
from ionbeam.planning.robust.rbe_error import geometry_runs, scaled_influence, scaled_runs
from ionbeam.planning.robust.scenario_inputs import scenario_calibration, scenario_plan

__all__ = ["robust_strategy"]


def robust_strategy(
    robust: RobustOptions,
    technique: str,
    patient: Patient,
    plan: Plan,
    nominal: DoseInfluence,
    influence_stage: Callable[..., DoseInfluence],
    stage_arguments: tuple[Any, Any, Any, Any, Any],
) -> Callable[..., tuple[Any, Any]]:
    """A field strategy (IMPT or SFUD) over ``robust``'s scenarios (see the module
    docstring). ``influence_stage(patient, plan, model, grid, calibration, tissue_map,
    options)`` is the recipe's matrix stage; ``stage_arguments`` its last five inputs."""
    for name in robust.structures:
        if name not in patient.structures:
            raise UnknownNameError("structure (in the robust settings)", name, patient.structures)
    scenarios = robust.scenarios()
    model, grid, calibration, tissue_map, options = stage_arguments

    runs = geometry_runs(scenarios.scenarios)

    def geometries() -> Iterator[DoseInfluence]:
        yield nominal
        for geometry, _ in runs[1:]:
            yield influence_stage(
                patient,
                scenario_plan(plan, geometry),
                model,
                grid,
                scenario_calibration(calibration, geometry),
                tissue_map,
                options,
            )

    def influences() -> Iterator[DoseInfluence]:
        return scaled_runs(geometries(), runs, scaled_influence)

    choice = RobustChoice(
        mode=robust.mode,
        robustness=dict(robust.structures),
        probabilities=scenarios.probabilities,
        sharpness=robust.sharpness,
    )

    def strategy(influence: DoseInfluence, masks: Any, objectives: Any, **kwargs: Any) -> Any:
        quantity = kwargs.get("quantity")
        if robust.rbe_error and not isinstance(quantity, ConstantRBEDose):
            name = getattr(quantity, "name", type(quantity).__name__)
            raise ConfigError(
                f"RBE-error scenarios scale a constant RBE; this plan optimizes {name}: "
                "leave the RBE error out (an LQ model's (α/β)_x variation is not modelled yet)"
            )
        if technique == "sfud":
            return optimize_robust_sfud(influences(), masks, objectives, choice=choice, **kwargs)

        def offsets_for(weights: np.ndarray) -> list[dict[str, np.ndarray]] | None:
            return scenario_halo_offsets(nominal, weights, scenarios.scenarios)

        return optimize_robust_impt(influences(), masks, objectives, choice=choice,
                                    offsets_for=offsets_for, **kwargs)  # fmt: skip

    return strategy
