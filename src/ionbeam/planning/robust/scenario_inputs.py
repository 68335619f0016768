"""The two inputs an error scenario changes (see :mod:`.scenario_dose`).

* range error r: the HU → SPR calibration's SPR values times (1 + r), so every WEPL
  scales by (1 + r) (:func:`scenario_calibration`);
* set-up shift s (the patient moved by s in the room): the beams' isocentre, fixed in
  the room, lands at ``isocenter − s`` in patient coordinates (:func:`scenario_plan`).

Apart from the planner, so that the planner's robust strategy can use them without an
import cycle (:mod:`.scenario_dose` calls the planner's ``dose_of_plan``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.stoichiometric import stoichiometric_calibration
from ionbeam.planning.plan import Plan
from ionbeam.planning.robust.scenarios import Scenario

__all__ = ["scenario_calibration", "scenario_plan"]


def scenario_plan(plan: Plan, scenario: Scenario) -> Plan:
    """``plan`` with every beam's isocentre moved by −``scenario.shift_mm`` (patient LPS)."""
    if scenario.shift_mm == (0.0, 0.0, 0.0):
        return plan
    shift = np.asarray(scenario.shift_mm)
    beams = tuple(
        dataclasses.replace(
            beam,
            geometry=dataclasses.replace(
                beam.geometry,
                isocenter_mm=_shifted(beam.geometry.isocenter_mm, shift),
            ),
        )
        for beam in plan.beams
    )
    return dataclasses.replace(plan, beams=beams)


def scenario_calibration(
    calibration: HUCalibration | None, scenario: Scenario
) -> HUCalibration | None:
    """``calibration`` (None: the stoichiometric one) with SPR × (1 + range error)."""
    if scenario.range_error == 0.0:
        return calibration
    base = stoichiometric_calibration() if calibration is None else calibration
    label = f"{base.source or 'calibration'} × {1.0 + scenario.range_error:.4g} (range error)"
    return dataclasses.replace(base, spr=base.spr * (1.0 + scenario.range_error), source=label)


def _shifted(point_mm: tuple[float, float, float], shift: np.ndarray) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in np.asarray(point_mm, dtype=float) - shift)
    return (x, y, z)
