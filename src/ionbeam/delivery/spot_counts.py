"""From plan weights (particles, real numbers) to the integer particle counts the DDS delivers.

A plan's spot weights are real numbers of particles per fraction; the DDS
counts whole particles. Each weight is rounded to the nearest integer (ties
to even, ``numpy.rint``). Counts of 0 are not scanned. Counts above 0 but
below the machine's minimum per spot are handled by a policy (refuse, round
to the nearer of 0 and the minimum, round up, drop); counts above the
maximum are always refused (the DDS cannot split a spot into repaintings
here). What the policy changed is kept in :class:`SpotCounts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ionbeam.delivery.options import BELOW_MINIMUM_POLICIES
from ionbeam.errors import MachineLimitError, UnknownNameError
from ionbeam.machine.facility import SpotLimits

__all__ = ["SpotCounts", "spot_counts"]


@dataclass(frozen=True, eq=False)
class SpotCounts:
    """Integer particle counts per spot and what the minimum-count policy changed.

    ``rounded``: each weight rounded to the nearest particle; ``target``: what
    the DDS delivers (``rounded`` after the policy); ``raised``/``lowered``:
    how many spots the policy moved up to the minimum / down to 0.
    """

    rounded: np.ndarray
    target: np.ndarray
    raised: int
    lowered: int

    @property
    def particles_added(self) -> int:
        """Particles the policy added (minus those it removed)."""
        return int(self.target.sum() - self.rounded.sum())


def _limit_error(
    quantity: str, value: float, limits: SpotLimits, count: int, hint: str
) -> MachineLimitError:
    error = MachineLimitError(quantity, value, limits.min_particles, limits.max_particles)
    error.args = (f"{error} ({count} spot{'s' if count != 1 else ''}); {hint}",)
    return error


def spot_counts(
    weight: np.ndarray, limits: SpotLimits, *, below_minimum: str = "refuse", particle: str = ""
) -> SpotCounts:
    """Integer counts for ``weight`` (particles, ≥ 0) under the machine's per-spot ``limits``.

    Raises :class:`MachineLimitError` for counts above the maximum, and for
    counts below the minimum when ``below_minimum="refuse"``.
    """
    if below_minimum not in BELOW_MINIMUM_POLICIES:
        raise UnknownNameError("below-minimum policy", below_minimum, BELOW_MINIMUM_POLICIES)
    rounded = np.rint(np.asarray(weight, dtype=float)).astype(np.int64)
    what = f"{particle} particles per spot".strip()
    too_many = rounded > limits.max_particles
    if np.any(too_many):
        raise _limit_error(
            what, float(rounded[too_many].max()), limits, int(too_many.sum()),
            "lower the spot weights or split the field (repainting)",
        )  # fmt: skip
    low = (rounded > 0) & (rounded < limits.min_particles)
    minimum = int(np.ceil(limits.min_particles))
    if below_minimum == "refuse" and np.any(low):
        raise _limit_error(
            what, float(rounded[low].min()), limits, int(low.sum()),
            "re-plan with a minimum spot weight, or choose below_minimum "
            "round, round-up or drop (--below-minimum)",
        )  # fmt: skip
    up = {
        "refuse": np.zeros_like(low),
        "round": low & (rounded >= 0.5 * limits.min_particles),
        "round-up": low,
        "drop": np.zeros_like(low),
    }[below_minimum]
    down = low & ~up
    target = rounded.copy()
    target[up] = minimum
    target[down] = 0
    for array in (rounded, target):
        array.setflags(write=False)
    return SpotCounts(rounded, target, int(up.sum()), int(down.sum()))
