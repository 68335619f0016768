"""dose_metrics: per-structure values match the single metrics; JSON shape for metrics.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ionbeam.errors import StructureError, UnknownNameError
from ionbeam.evaluation import (
    d_at_volume,
    dose_metrics,
    homogeneity_index,
    mean_dose,
    paddick_conformity_index,
    v_at_dose,
)
from ionbeam.patient import Grid

GRID = Grid((12, 12, 12), (2.0, 2.0, 2.0))


def _plan() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    ptv = np.zeros(GRID.shape, dtype=bool)
    ptv[3:9, 3:9, 3:9] = True
    oar = np.zeros(GRID.shape, dtype=bool)
    oar[9:12, 3:9, 3:9] = True
    body = np.ones(GRID.shape, dtype=bool)
    dose = np.where(ptv, rng.normal(2.0, 0.03, GRID.shape), 0.0)
    dose[9] = 1.5
    dose[10:] = 0.3
    return dose, {"PTV": ptv, "Brainstem": oar, "Body": body}


def test_metrics_match_the_single_metric_functions() -> None:
    dose, structures = _plan()
    metrics = dose_metrics(
        dose, GRID, structures, prescription_gy=2.0, targets=["PTV"], dose_levels_gy=[1.0],
        body="Body",
    )  # fmt: skip
    assert metrics.names == ("PTV", "Brainstem", "Body")
    ptv, oar = metrics["PTV"], metrics["Brainstem"]
    mask = structures["PTV"]
    assert ptv.d95_gy == d_at_volume(dose, mask, 0.95)
    assert ptv.d2_gy == d_at_volume(dose, mask, 0.02)
    assert ptv.mean_gy == pytest.approx(mean_dose(dose, mask))
    assert ptv.volume_cm3 == pytest.approx(216 * 8.0 / 1000.0)
    assert ptv.v95_percent == pytest.approx(100.0 * v_at_dose(dose, mask, 1.9))
    assert ptv.homogeneity_index == pytest.approx(homogeneity_index(dose, mask))
    ci = paddick_conformity_index(dose, mask, prescription_gy=2.0, body=structures["Body"])
    assert ptv.paddick_conformity_index == pytest.approx(ci)
    # The brainstem: one slice at 1.5 Gy, two at 0.3 Gy
    assert oar.max_gy == 1.5 and oar.min_gy == 0.3
    assert oar.volume_percent_at_dose_gy == ((1.0, pytest.approx(100.0 / 3.0)),)
    assert oar.homogeneity_index is None and oar.paddick_conformity_index is None


def test_to_dict_has_the_metrics_json_shape() -> None:
    dose, structures = _plan()
    metrics = dose_metrics(dose, GRID, structures, prescription_gy=2.0, dose_levels_gy=[20.0])
    data = json.loads(json.dumps(metrics.to_dict(), allow_nan=False))
    assert data["prescription_gy"] == 2.0
    ptv = data["structures"]["PTV"]
    for key in ("d95_gy", "d5_gy", "mean_gy", "max_gy", "v95_percent", "v20gy_percent"):
        assert isinstance(ptv[key], float), key
    assert ptv["d95_gy"] < 2.0 < ptv["d5_gy"]
    assert ptv["homogeneity_index"] is None  # not named a target


def test_metrics_without_prescription_leave_relative_values_empty() -> None:
    dose, structures = _plan()
    metrics = dose_metrics(dose, GRID, structures, targets=["PTV"])
    assert metrics.prescription_gy is None
    assert metrics["PTV"].v95_percent is None and metrics["PTV"].paddick_conformity_index is None
    assert metrics["PTV"].homogeneity_index is not None


def test_structure_objects_are_accepted() -> None:
    dose, structures = _plan()

    class Structure:
        def __init__(self, name: str, mask: np.ndarray) -> None:
            self.name, self.mask = name, mask

    metrics = dose_metrics(dose, GRID, [Structure(n, m) for n, m in structures.items()])
    assert metrics.names == ("PTV", "Brainstem", "Body")


def test_bad_structures_are_refused() -> None:
    dose, structures = _plan()
    with pytest.raises(UnknownNameError, match="GTV"):
        dose_metrics(dose, GRID, structures, targets=["GTV"])
    with pytest.raises(UnknownNameError, match="Lung"):
        dose_metrics(dose, GRID, structures)["Lung"]
    with pytest.raises(StructureError, match="empty"):
        dose_metrics(dose, GRID, {"PTV": np.zeros(GRID.shape, dtype=bool)})
    with pytest.raises(StructureError, match="no structures"):
        dose_metrics(dose, GRID, {})
    with pytest.raises(StructureError):
        dose_metrics(dose, GRID, [structures["PTV"]])


def test_patient_structure_sets_are_accepted_and_their_grid_checked() -> None:
    from ionbeam.errors import GridMismatchError
    from ionbeam.patient import Structure, StructureSet

    dose, masks = _plan()
    structure_set = StructureSet(Structure(name, mask, GRID) for name, mask in masks.items())
    metrics = dose_metrics(dose, GRID, structure_set, prescription_gy=2.0, targets=["PTV"])
    assert metrics.names == ("PTV", "Brainstem", "Body")
    assert metrics["PTV"].d95_gy == d_at_volume(dose, masks["PTV"], 0.95)
    shifted = Grid(GRID.shape, GRID.spacing_mm, (5.0, 0.0, 0.0))
    with pytest.raises(GridMismatchError, match="resample"):
        dose_metrics(dose, GRID, [Structure("PTV", masks["PTV"], shifted)])
