"""Deliver a planned fraction on the outcome's own synchrotron, spill by spill."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ionbeam.delivery import DeliveryOptions, DeliveryRecord
    from ionbeam.workflow.result import PlanOutcome

__all__ = ["deliver"]


def deliver(
    outcome: PlanOutcome,
    *,
    options: DeliveryOptions | None = None,
    rng: np.random.Generator | None = None,
) -> DeliveryRecord:
    """One fraction of the outcome's plan delivered on the machine it was planned on
    (``outcome.machine``, as it is: a custom machine is kept), by
    :func:`ionbeam.delivery.deliver_plan`: energy layers, spills, scanning, monitor
    chambers; ``rng`` draws the chambers' noise (default: seeded 0, reproducible).
    The record's ``summary()`` gives the delivery time per fraction (s) and the spills."""
    import numpy as np

    from ionbeam.delivery import deliver_plan

    rng = np.random.default_rng(0) if rng is None else rng
    return deliver_plan(outcome.plan, outcome.machine, options=options, rng=rng)
