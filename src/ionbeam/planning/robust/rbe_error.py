"""RBE-uncertainty scenarios: a constant RBE scaled by (1 + e).

With a constant RBE the RBE-weighted dose is RBE × the physical dose, so a scenario
whose RBE is off by a relative ``e`` has the RBE-weighted dose of its geometry (range
error and set-up shift) times ``1 + e``, and its dose-influence matrix (for the
optimizer's :class:`~ionbeam.planning.optimize.ConstantRBEDose`) is the geometry's
matrix times ``1 + e``: nothing is recomputed. An LQ-based model (carbon's mMKM, LEM)
would need the tissues' (α/β)_x varied inside the model; that is not modelled and is
refused, as is an RBE error on a physical-dose plan (no RBE to be wrong).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from ionbeam.errors import ConfigError
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.robust.scenarios import Scenario

__all__ = ["check_rbe_errors", "geometry_runs", "scaled_influence", "scaled_runs"]

T = TypeVar("T")


def check_rbe_errors(scenarios: Iterable[Scenario], rbe_model: str) -> None:
    """Refuse RBE errors unless the plan's RBE model is the constant RBE."""
    if rbe_model != "constant" and any(s.rbe_error for s in scenarios):
        raise ConfigError(
            f"RBE-error scenarios scale a constant RBE; this plan's RBE model is "
            f"{rbe_model!r}: leave the RBE error out (variation of an LQ model's (α/β)_x "
            "is not modelled yet)"
        )


def geometry_runs(scenarios: Sequence[Scenario]) -> list[tuple[Scenario, list[float]]]:
    """Consecutive scenarios sharing a geometry: ``(geometry, [1 + e for each])`` in
    order, so that each geometry's dose or matrix is computed once and scaled."""
    runs: list[tuple[Scenario, list[float]]] = []
    for scenario in scenarios:
        geometry = scenario.geometry
        if runs and runs[-1][0] == geometry:
            runs[-1][1].append(1.0 + scenario.rbe_error)
        else:
            runs.append((geometry, [1.0 + scenario.rbe_error]))
    return runs


def scaled_influence(influence: DoseInfluence, factor: float) -> DoseInfluence:
    """``influence`` with its dose matrix times ``factor`` (the same object for 1)."""
    if factor == 1.0:
        return influence
    dose = influence.dose
    return dataclasses.replace(influence, dose=(dose * factor).astype(dose.dtype).tocsc())


def scaled_runs(
    base: Iterable[T],
    runs: Sequence[tuple[Scenario, list[float]]],
    scale: Callable[[T, float], T],
) -> Iterator[T]:
    """For each geometry's item of ``base`` (in the order of ``runs``) each scaled one."""
    for item, (_, factors) in zip(base, runs, strict=True):
        for factor in factors:
            yield scale(item, factor)
