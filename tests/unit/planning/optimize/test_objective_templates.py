"""Default objectives by structure name, overlap priority and optimization masks."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.patient.grid import Grid
from ionbeam.patient.structures import Structure
from ionbeam.planning.optimize import SquaredDeviation, SquaredOverdose
from ionbeam.planning.optimize.templates import (
    RING_MAX_FRACTION,
    SERIAL_MAX_FRACTION,
    default_objectives,
    optimization_masks,
    overlap_priority,
    ring_structure,
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


def test_a_ring_gets_a_hot_spot_objective_and_comes_before_the_other_organs() -> None:
    """A ring around the target: max the prescription (RING_MAX_FRACTION), weight 1000,
    ranked right after the target so that the brain's objective does not take its
    voxels; a ring around a box is the box grown by its width minus the box, inside
    the body."""
    names = [*HEAD, "Ring_PTV"]
    objectives = default_objectives(names, "PTV", 3.0)
    assert objectives["Ring_PTV"] == (SquaredOverdose(RING_MAX_FRACTION * 3.0, 1000.0),)
    priority = overlap_priority(names, "PTV")
    assert priority.index("Ring_PTV") == priority.index("PTV") + 1
    assert priority[-1] == "Body"
    grid = Grid((20, 20, 20), (2.0, 2.0, 2.0))
    box = np.zeros(grid.shape, dtype=bool)
    box[8:12, 8:12, 8:12] = True
    body = np.zeros(grid.shape, dtype=bool)
    body[:, :, :15] = True  # the ring is cut at the body's edge
    ring = ring_structure(Structure("PTV", box, grid), Structure("Body", body, grid), width_mm=4.0)
    assert ring.name == "Ring_PTV"
    assert not (ring.mask & box).any() and not (ring.mask & ~body).any()
    assert ring.mask[10, 10, 13] and ring.mask[10, 10, 6] and not ring.mask[10, 10, 5]
    assert not ring.mask[10, 10, 14 + 1]
    with pytest.raises(ConfigError, match="width"):
        ring_structure(Structure("PTV", box, grid), Structure("Body", body, grid), width_mm=0)
    with pytest.raises(ConfigError, match="Ring"):
        ring_structure(Structure("PTV", box, grid), Structure("Body", body, grid), name="Shell")
