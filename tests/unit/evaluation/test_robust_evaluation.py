"""Robust evaluation: per-scenario metrics, worst cases and DVH bands on known doses."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import GridMismatchError, UnknownNameError
from ionbeam.evaluation import d_at_volume
from ionbeam.evaluation.robust import robust_evaluation
from ionbeam.patient import Grid

GRID = Grid((10, 10, 10), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0))


def _case():
    target = np.zeros(GRID.shape, dtype=bool)
    target[2:8, 2:8, 2:8] = True
    organ = np.zeros(GRID.shape, dtype=bool)
    organ[8:10, 2:8, 2:8] = True
    rng = np.random.default_rng(1)
    nominal = np.where(target, 2.0, 0.5) + rng.uniform(0, 0.01, GRID.shape)
    cold = nominal.copy()
    cold[2:4, 2:8, 2:8] *= 0.8  # a third of the target cold: D95 drops
    hot = nominal.copy()
    hot[9, 4, 4] = 3.0  # one hot organ voxel (0.008 cm³)
    return {"Target": target, "Organ": organ}, [nominal, cold, hot]


def test_worst_cases_and_bands_are_the_scenario_extremes() -> None:
    """Target: the lowest D95/D98 over the scenarios and the highest max; organ: the
    highest D0.03cc and max; each scenario's metric equals the single-dose evaluation;
    the DVH band brackets every scenario's DVH; the cold scenario is flagged."""
    structures, doses = _case()
    result = robust_evaluation(
        iter(doses),
        GRID,
        structures,
        labels=["nominal", "cold", "hot"],
        targets=["Target"],
        prescription_gy=2.0,
    )
    target, organ = result.structure("Target"), result.structure("Organ")
    for k, dose in enumerate(doses):
        assert target.metrics["d95_gy"][k] == d_at_volume(dose, structures["Target"], 0.95)
    assert target.worst["d95_gy"] == pytest.approx(0.8 * 2.0, rel=0.01)
    assert target.worst["max_gy"] == target.metrics["max_gy"].max()
    assert organ.worst["max_gy"] == 3.0
    # 0.03 cm³ = 3.75 voxels of 0.008 cm³: the 4th hottest voxel, not the hot one
    assert organ.worst["d0_03cc_gy"] < 0.52
    assert result.underdosed_scenarios() == {"Target": ["cold"]}
    assert np.all(target.volume_low <= target.volume_nominal)
    assert np.all(target.volume_high >= target.volume_nominal)
    assert np.any(target.volume_low < target.volume_nominal)
    document = result.to_dict()
    assert document["targets_d95_below_95_percent"] == {"Target": ["cold"]}
    assert document["structures"]["Organ"]["worst"]["max_gy"] == 3.0
    assert any("D95 < 95 % in cold" in line for line in result.lines())


def test_mismatched_inputs_are_refused() -> None:
    structures, doses = _case()
    with pytest.raises(GridMismatchError, match="one dose per scenario"):
        robust_evaluation(doses, GRID, structures, labels=["nominal"])
    result = robust_evaluation(doses[:1], GRID, structures, labels=["nominal"])
    with pytest.raises(UnknownNameError):
        result.structure("Liver")
