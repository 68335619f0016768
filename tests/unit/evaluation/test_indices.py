"""Homogeneity (ICRU 83) and Paddick conformity indices on doses with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import OutOfRangeError, StructureError
from ionbeam.evaluation import homogeneity_index, paddick_conformity_index


def test_homogeneity_index_is_d2_minus_d98_over_d50() -> None:
    dose = np.arange(1.0, 101.0).reshape(10, 10, 1)
    # D2 = 99, D98 = 3, D50 = 51 (nearest-rank convention of ionbeam.evaluation.dvh)
    assert homogeneity_index(dose, np.ones(dose.shape, dtype=bool)) == pytest.approx(96.0 / 51.0)
    assert homogeneity_index(np.full((4, 4, 4), 2.0), np.ones((4, 4, 4), dtype=bool)) == 0.0


def test_homogeneity_index_refuses_a_structure_without_dose() -> None:
    with pytest.raises(StructureError, match="D50"):
        homogeneity_index(np.zeros((4, 4, 4)), np.ones((4, 4, 4), dtype=bool))


def _cube(shape: tuple[int, int, int], start: int, stop: int, shift: int = 0) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[start + shift : stop + shift, start:stop, start:stop] = True
    return mask


def test_paddick_index_of_a_shifted_isodose() -> None:
    shape = (20, 20, 20)
    target = _cube(shape, 5, 15)  # 1000 voxels
    dose = np.where(_cube(shape, 5, 15, shift=2), 2.0, 0.5)  # isodose shifted 2 voxels
    # TV = PIV = 1000, TV_PIV = 8 × 10 × 10 = 800 → CI = 800² / 1000² = 0.64
    ci = paddick_conformity_index(dose, target, prescription_gy=2.0)
    assert ci == pytest.approx(0.64)
    perfect = np.where(target, 2.0, 0.5)
    assert paddick_conformity_index(perfect, target, prescription_gy=2.0) == pytest.approx(1.0)


def test_paddick_index_penalises_spill_and_counts_it_inside_the_body_only() -> None:
    shape = (20, 20, 20)
    target = _cube(shape, 5, 15)
    dose = np.where(target, 2.0, 0.0)
    dose[0:2] = 2.0  # 800 voxels of spill outside the target
    assert paddick_conformity_index(dose, target, prescription_gy=2.0) == pytest.approx(
        1000.0 / 1800.0
    )
    body = np.zeros(shape, dtype=bool)
    body[3:] = True  # the spill lies outside the body (in air)
    assert paddick_conformity_index(dose, target, prescription_gy=2.0, body=body) == 1.0
    assert paddick_conformity_index(dose * 0.5, target, prescription_gy=2.0) == 0.0


def test_paddick_index_refuses_a_bad_prescription() -> None:
    target = _cube((8, 8, 8), 2, 6)
    with pytest.raises(OutOfRangeError):
        paddick_conformity_index(np.ones((8, 8, 8)), target, prescription_gy=0.0)
