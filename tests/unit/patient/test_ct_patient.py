"""CT and Patient: validation, SPR through a calibration, target lookup."""

import numpy as np
import pytest

from ionbeam.errors import GridMismatchError, OutOfRangeError, StructureError, UnknownNameError
from ionbeam.patient import CT, Grid, HUCalibration, Patient, Structure, StructureSet


def _ct() -> CT:
    grid = Grid((4, 3, 2), (1.0, 1.0, 1.0))
    hu = np.zeros(grid.shape)
    hu[0] = -1000.0
    hu[1] = 1000.0
    return CT(hu, grid)


def test_spr_density_and_tissue_follow_the_calibration() -> None:
    cal = HUCalibration([-1000, 0, 1000], [0.0, 1.0, 1.5], [0.001, 1.0, 1.6])
    ct = _ct()
    spr = ct.spr(cal)
    assert spr.dtype == np.float32 and spr.shape == ct.grid.shape
    assert np.allclose(spr[0], 0.0) and np.allclose(spr[1], 1.5) and np.allclose(spr[2], 1.0)
    assert np.allclose(ct.density(cal)[1], 1.6)
    assert cal.tissue_names[ct.tissue(cal)[1, 0, 0]] == "bone"


def test_default_calibration_is_stoichiometric() -> None:
    spr = _ct().spr()
    assert 1.0 <= spr[2, 0, 0] <= 1.04 and spr[0, 0, 0] < 0.01


def test_ct_is_read_only_and_refuses_nan_or_non_physical_hu() -> None:
    ct = _ct()
    with pytest.raises(ValueError):
        ct.hu[0, 0, 0] = 5.0
    grid = ct.grid
    with pytest.raises(OutOfRangeError):
        CT(np.full(grid.shape, np.nan), grid)
    with pytest.raises(OutOfRangeError):
        CT(np.full(grid.shape, -3000.0), grid)
    with pytest.raises(GridMismatchError):
        CT(np.zeros((2, 2, 2)), grid)


def test_patient_target_lookup_and_checks() -> None:
    ct = _ct()
    mask = np.zeros(ct.grid.shape, bool)
    mask[2, 1, 1] = True
    structures = StructureSet([Structure("PTV", mask, ct.grid)])
    patient = Patient("p", ct, structures, target_name="PTV", metadata={"a": 1})
    assert patient.target.n_voxels == 1 and patient.metadata["a"] == 1
    with pytest.raises(TypeError):
        patient.metadata["b"] = 2  # type: ignore[index]
    with pytest.raises(UnknownNameError):
        Patient("p", ct, structures, target_name="CTV")
    empty = StructureSet([Structure("PTV", np.zeros(ct.grid.shape, bool), ct.grid)])
    with pytest.raises(StructureError, match="empty"):
        Patient("p", ct, empty, target_name="PTV")
    other = Grid((4, 3, 2), (2.0, 1.0, 1.0))
    with pytest.raises(GridMismatchError):
        Patient("p", ct, StructureSet([Structure("X", np.ones(other.shape, bool), other)]))
