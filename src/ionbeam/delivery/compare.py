"""One plan delivered on every machine and extraction method, side by side.

What differs and why (see :mod:`ionbeam.machine.facility`): the cycle (the
beam-off time between spills, from the ramps and the injection energy), the
spill length and the longest flat top (MedAustron's 5 s spills need fewer
cycles than CNAO's and PIMMS's 1 s spills), and the extraction: with a
betatron core the chopper dumps what is extracted while the magnets move
(spot scanning), so a spill empties sooner; RF knock-out stops the
extraction instead, and its feedback keeps the ripple lower. The ripple
levels per extraction are inputs (``ripple_rms``), ionbeam defaults of the
order reported for uncompensated betatron-core spills and for RF-KO with
feedback, not a facility's measurement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ionbeam.delivery.options import DeliveryOptions
from ionbeam.delivery.record import DeliveryRecord
from ionbeam.delivery.ripple import mains_ripple
from ionbeam.delivery.simulate import deliver_plan
from ionbeam.machine.facility import EXTRACTIONS, Machine
from ionbeam.planning.plan import Plan

__all__ = ["DEFAULT_RIPPLE_RMS", "MachineComparison", "compare_machines"]

#: Relative rms spill ripple per extraction method (ionbeam defaults).
DEFAULT_RIPPLE_RMS: Mapping[str, float] = {"betatron": 0.2, "rfko": 0.05}


@dataclass(frozen=True)
class MachineComparison:
    """One delivery of the comparison: the machine, the extraction and its record."""

    machine: str
    extraction: str
    record: DeliveryRecord

    def row(self) -> dict[str, Any]:
        """The figures printed side by side."""
        s = self.record.summary()
        return {
            "machine": self.machine,
            "extraction": self.extraction,
            "delivery_time_s": s["fraction_time_s"],
            "beam_on_s": s["beam_on_s"],
            "beam_on_fraction": s["beam_on_fraction"],
            "n_spills": s["n_spills"],
            "ripple_rms": s["ripple_rms"],
            "spot_error_rms": s["spot_error_rms"],
            "spot_error_max": s["spot_error_max"],
            "chopped_particles": s["chopped_particles"],
        }


def compare_machines(
    plan: Plan,
    machines: Sequence[Machine],
    *,
    extractions: Sequence[str] = EXTRACTIONS,
    options: DeliveryOptions | None = None,
    ripple_rms: Mapping[str, float] | None = None,
    seed: int = 0,
) -> tuple[MachineComparison, ...]:
    """Deliver ``plan`` on each machine with each extraction method (same options, same
    seed); the ripple of each method from ``ripple_rms`` (default
    :data:`DEFAULT_RIPPLE_RMS`)."""
    base = options or DeliveryOptions()
    levels = {**DEFAULT_RIPPLE_RMS, **(ripple_rms or {})}
    out = []
    for machine in machines:
        for extraction in extractions:
            opts = replace(base, extraction=extraction, ripple=mains_ripple(levels[extraction]))
            record = deliver_plan(plan, machine, options=opts, rng=np.random.default_rng(seed))
            out.append(MachineComparison(machine.name, extraction, record))
    return tuple(out)
