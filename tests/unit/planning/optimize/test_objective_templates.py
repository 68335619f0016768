"""Default objectives by structure name, overlap priority and optimization masks."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import UnknownNameError
from ionbeam.planning.optimize import SquaredDeviation, SquaredOverdose
from ionbeam.planning.optimize.templates import (
    SERIAL_MAX_FRACTION,
    default_objectives,
    optimization_masks,
    overlap_priority,
)

HEAD = ["Body", "Brain", "Skull", "Eye_L", "Eye_R", "Brainstem", "OpticChiasm", "GTV", "PTV"]


def test_head_template() -> None:
    objectives = default_objectives(HEAD, "PTV", 3.0)
    assert objectives["PTV"] == (SquaredDeviation(3.0, 1000.0),)
    assert objectives["Brainstem"] == (SquaredOverdose(SERIAL_MAX_FRACTION * 3.0, 3000.0),)
    assert objectives["OpticChiasm"][0].weight == 3000.0
    assert objectives["Body"][0].max_dose_gy == pytest.approx(1.8)
    assert objectives["Body"][0].weight == 100.0
    assert objectives["Eye_L"] == (SquaredOverdose(1.5, 300.0),)
    assert "GTV" not in objectives and "Skull" not in objectives


def test_tg119_template_is_that_of_matrad() -> None:
    """matRad/pyRadPlan TG-119: target 50 Gy (weight 1000), core ≤ 25 Gy (300), body
    ≤ 30 Gy (100), i.e. 0.5 and 0.6 of the prescription."""
    objectives = default_objectives(["Core", "OuterTarget", "BODY"], "OuterTarget", 50.0)
    assert objectives == {
        "Core": (SquaredOverdose(25.0, 300.0),),
        "OuterTarget": (SquaredDeviation(50.0, 1000.0),),
        "BODY": (SquaredOverdose(30.0, 100.0),),
    }
    with pytest.raises(UnknownNameError, match="BODY, Core, OuterTarget"):
        default_objectives(["Core", "OuterTarget", "BODY"], "PTV", 2.0)


def test_overlap_priority_serial_organs_target_organs_body() -> None:
    names = ["Body", "PTV", "Brainstem", "Brain", "Eye_L"]
    assert overlap_priority(names, "PTV") == ("Brainstem", "PTV", "Brain", "Eye_L", "Body")


def test_optimization_masks_remove_earlier_structures() -> None:
    ptv = np.zeros((4, 4, 1), dtype=bool)
    ptv[1:3, 1:3] = True
    stem = np.zeros_like(ptv)
    stem[2:4, 2:4] = True
    body = np.ones_like(ptv)
    masks = optimization_masks({"PTV": ptv, "Brainstem": stem, "Body": body},
                               ("Brainstem", "PTV", "Body"))  # fmt: skip
    assert masks["Brainstem"].sum() == 4
    assert masks["PTV"].sum() == 3 and not masks["PTV"][2, 2, 0]
    assert masks["Body"].sum() == 16 - 4 - 3
    assert not np.any(masks["Body"] & (ptv | stem))
