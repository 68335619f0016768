"""The grid check: a plan's metrics on its grid against a finer grid."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.cli._grid_check import format_grid_check
from ionbeam.errors import ConfigError
from ionbeam.evaluation import dose_metrics
from ionbeam.evaluation.grid_check import compare_grids
from ionbeam.patient import Grid

GRID = Grid((10, 1, 1), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))


def _metrics(target_gy: list[float], organ_gy: list[float]):
    dose = np.array(target_gy + organ_gy, dtype=float).reshape(GRID.shape)
    target = np.zeros(GRID.shape, bool)
    target[:5] = True
    return dose_metrics(dose, GRID, {"PTV": target, "Cord": ~target}, prescription_gy=60.0,
                        targets=("PTV",))  # fmt: skip


def test_differences_and_tolerances() -> None:
    """D95 is held to 2 % and maxima to 3 % of the planned value, never of less than
    10 % of the prescription (6 Gy here): a low-dose organ going 1 → 1.1 Gy passes
    (0.1 / 6 = 1.7 %), the target's maximum going 62 → 64.5 Gy fails (+4.0 %)."""
    planned = _metrics([60, 60, 60, 61, 62], [1.0, 0.5, 0.2, 0.1, 0.0])
    finer = _metrics([59.5, 60, 60, 61, 64.5], [1.1, 0.5, 0.2, 0.1, 0.0])
    check = compare_grids(planned, finer, target="PTV", planned_mm=3.0, fine_mm=1.5)
    items = {(i.structure, i.metric): i for i in check.items}
    assert set(items) == {("PTV", "d95_gy"), ("PTV", "max_gy"), ("Cord", "max_gy")}
    assert items[("PTV", "d95_gy")].difference == pytest.approx(-0.5 / 60.0)
    assert items[("PTV", "d95_gy")].passed
    assert items[("PTV", "max_gy")].difference == pytest.approx(2.5 / 62.0)
    assert not items[("PTV", "max_gy")].passed
    assert items[("Cord", "max_gy")].difference == pytest.approx(0.1 / 6.0)
    assert items[("Cord", "max_gy")].passed
    assert not check.passed and check.failures == (items[("PTV", "max_gy")],)
    document = check.to_dict()
    assert document["passed"] is False and len(document["items"]) == 3
    lines = format_grid_check(check, "Gy(RBE)")
    assert lines[0].startswith("grid check: the plan recomputed on a 1.5 mm grid")
    assert len(lines) == 2 and lines[1].startswith("warning: PTV max changes by +4.0 %")


def test_bad_settings() -> None:
    planned = _metrics([60] * 5, [1.0] * 5)
    with pytest.raises(ConfigError, match="d95_tolerance"):
        compare_grids(planned, planned, target="PTV", planned_mm=3, fine_mm=1.5, d95_tolerance=2)
    with pytest.raises(ConfigError, match="target 'GTV'"):
        compare_grids(planned, planned, target="GTV", planned_mm=3, fine_mm=1.5)


def test_maximum_of_a_partial_volume_structure_is_that_of_its_voxels_half_inside() -> None:
    """A sliver (weight 0.1 or 0.3) of a hot voxel does not set an organ's maximum: the
    maximum and minimum are those of the voxels at least half inside (their centres
    inside); a boolean mask keeps its hottest and coldest voxel."""
    dose = np.array([80.0, 60.0, 50.0, 40.0, 10.0, 5.0, 0.0, 0.0, 0.0, 0.0]).reshape(GRID.shape)
    weights = np.array([0.1, 0.3, 1.0, 1.0, 0.5, 0.2, 0.0, 0.0, 0.0, 0.0]).reshape(GRID.shape)
    metrics = dose_metrics(dose, GRID, {"Organ": weights}).structures[0]
    assert (metrics.max_gy, metrics.min_gy) == (50.0, 10.0)
    # the DVH counts the same voxels (issue 11): before, the sliver counted by its volume
    # and D2 read 80 Gy, above the maximum of 50 Gy
    assert metrics.d2_gy == 50.0 and metrics.d98_gy == 10.0 and metrics.mean_gy == 100.0 / 3
    boolean = dose_metrics(dose, GRID, {"Organ": weights > 0}).structures[0]
    assert (boolean.max_gy, boolean.min_gy) == (80.0, 5.0)
