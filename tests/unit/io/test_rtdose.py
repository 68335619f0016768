"""RT Dose export and import: [x, y, z] ↔ frames, quantisation, dose types,
plan references, layouts written by other systems, and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from ionbeam.errors import ConfigError, DicomError, GridMismatchError, UnknownNameError
from ionbeam.io.dicom import (
    StudyInfo,
    ct_datasets,
    read_rt_dose,
    rt_dose_dataset,
    rt_ion_plan_dataset,
    rtstruct_dataset,
    write_dicom_file,
)
from ionbeam.io.dicom.rtdose import LET_COMMENT
from ionbeam.patient import Grid
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap

GRID = Grid((7, 5, 4), (2.0, 2.5, 3.0), (-6.0, -5.0, 12.0))


@pytest.fixture(scope="module")
def study() -> StudyInfo:
    return StudyInfo.new("dose^test", seed="rt-dose")


@pytest.fixture(scope="module")
def rt_plan(study: StudyInfo) -> Dataset:
    """An RT Ion Plan dataset with beams 'left' and 'right'."""
    patient = make_phantom("water", spacing_mm=20.0)
    _, series = ct_datasets(patient.ct, study)
    structure_set = rtstruct_dataset(patient.structures, series)
    spots = SpotMap([150.0, 150.0], [0.0, 5.0], [0.0, 0.0], [1e7, 2e7])
    beams = tuple(
        Beam(name, BeamGeometry(gantry, 0.0, (0.0, 0.0, 0.0)), spots)
        for name, gantry in (("left", 90.0), ("right", 270.0))
    )
    plan = Plan("proton", beams, Prescription("Target", 2.0, 1))
    return rt_ion_plan_dataset(plan, study=study, structure_set=structure_set)


def _dose(seed: int = 0, grid: Grid = GRID) -> np.ndarray:
    """A dose with distinct values in every voxel, 0–2.3 Gy."""
    return np.random.default_rng(seed).uniform(0.0, 2.3, grid.shape)


def test_round_trip_within_quantisation(tmp_path: Path, study: StudyInfo, rt_plan: Dataset) -> None:
    dose = _dose()
    ds = rt_dose_dataset(dose, GRID, study=study, rt_plan=rt_plan)
    back = read_rt_dose(write_dicom_file(ds, tmp_path / "RD.dcm"))
    scaling = float(ds.DoseGridScaling)
    assert scaling <= dose.max() / (2**32 - 1) * (1 + 1e-8)  # 32-bit unsigned precision
    assert back.grid == GRID
    assert np.abs(back.values - dose).max() <= 0.5 * scaling * (1 + 1e-9)
    assert (back.dose_type, back.units, back.summation_type) == ("PHYSICAL", "GY", "PLAN")
    assert back.referenced_plan_uid == rt_plan.SOPInstanceUID


def test_frames_are_axial_slices_rows_along_y(study: StudyInfo, rt_plan: Dataset) -> None:
    """Independent of the reader: frame k, row j, column i holds dose[i, j, k]."""
    dose = _dose(1)
    ds = rt_dose_dataset(dose, GRID, study=study, rt_plan=rt_plan)
    frames = ds.pixel_array.astype(float) * float(ds.DoseGridScaling)
    assert frames.shape == (4, 5, 7)  # frames (z), rows (y), columns (x)
    np.testing.assert_allclose(frames[2, 3, 6], dose[6, 3, 2], atol=float(ds.DoseGridScaling))
    np.testing.assert_allclose(frames.transpose(2, 1, 0), dose, atol=float(ds.DoseGridScaling))
    assert [float(v) for v in ds.ImagePositionPatient] == [-6.0, -5.0, 12.0]
    assert [float(v) for v in ds.PixelSpacing] == [2.5, 2.0]  # row spacing (y), column (x)
    assert [float(v) for v in ds.GridFrameOffsetVector] == [0.0, 3.0, 6.0, 9.0]
    assert (ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation) == (32, 32, 0)


def test_effective_beam_dose_references_its_beam(
    tmp_path: Path, study: StudyInfo, rt_plan: Dataset
) -> None:
    ds = rt_dose_dataset(_dose(2), GRID, study=study, rt_plan=rt_plan, dose_type="effective",
                         summation_type="BEAM", beam_name="right")  # fmt: skip
    group = ds.ReferencedRTPlanSequence[0].ReferencedFractionGroupSequence[0]
    assert group.ReferencedBeamSequence[0].ReferencedBeamNumber == 2
    back = read_rt_dose(write_dicom_file(ds, tmp_path / "RD.dcm"))
    assert (back.dose_type, back.units, back.summation_type) == ("EFFECTIVE", "GY", "BEAM")


def test_let_written_by_older_versions_is_recognised(
    tmp_path: Path, study: StudyInfo, rt_plan: Dataset
) -> None:
    """ionbeam no longer writes LET_d as an RT Dose (it goes to LETd.mha), but reads
    the LET RT Doses of older versions (DoseUnits RELATIVE, DoseComment LETd…)."""
    let = _dose(3) * 40.0  # keV/µm
    ds = rt_dose_dataset(let, GRID, study=study, rt_plan=rt_plan, summation_type="FRACTION")
    ds.DoseUnits, ds.DoseComment = "RELATIVE", LET_COMMENT
    back = read_rt_dose(write_dicom_file(ds, tmp_path / "LET.dcm"))
    assert (back.dose_type, back.units, back.summation_type) == ("LET", "KEV/UM", "FRACTION")
    np.testing.assert_allclose(back.values, let, atol=float(ds.DoseGridScaling))


def test_single_slice_and_zero_dose(tmp_path: Path, study: StudyInfo, rt_plan: Dataset) -> None:
    grid = Grid((3, 2, 1), (1.0, 1.0, 2.5), (0.0, 0.0, 0.0))
    ds = rt_dose_dataset(np.zeros(grid.shape), grid, study=study, rt_plan=rt_plan)
    back = read_rt_dose(write_dicom_file(ds, tmp_path / "RD.dcm"))
    assert back.grid == grid
    assert not back.values.any()


def _written(tmp_path: Path, study: StudyInfo, rt_plan: Dataset, dose: np.ndarray) -> Dataset:
    ds = rt_dose_dataset(dose, GRID, study=study, rt_plan=rt_plan)
    return pydicom.dcmread(write_dicom_file(ds, tmp_path / "RD.dcm"))


def test_reads_absolute_offsets_and_descending_frames(
    tmp_path: Path, study: StudyInfo, rt_plan: Dataset
) -> None:
    """Other systems write absolute offsets (first = z of the first frame) and may
    order frames from superior to inferior."""
    dose = _dose(4)
    ds = _written(tmp_path, study, rt_plan, dose)
    frames = ds.pixel_array[::-1]  # superior first
    top = GRID.origin_mm[2] + 9.0
    ds.ImagePositionPatient = [-6.0, -5.0, top]
    ds.GridFrameOffsetVector = [top, top - 3.0, top - 6.0, top - 9.0]
    ds.PixelData = np.ascontiguousarray(frames).astype("<u4").tobytes()
    ds.save_as(tmp_path / "other.dcm")
    back = read_rt_dose(tmp_path / "other.dcm")
    assert back.grid == GRID
    np.testing.assert_allclose(back.values, dose, atol=float(ds.DoseGridScaling))


def test_reads_flipped_rows_and_columns(tmp_path: Path, study: StudyInfo, rt_plan: Dataset) -> None:
    dose = _dose(5)
    ds = _written(tmp_path, study, rt_plan, dose)
    frames = ds.pixel_array[:, ::-1, ::-1]
    (x0, y0, z0), (dx, dy, _) = GRID.origin_mm, GRID.spacing_mm
    ds.ImagePositionPatient = [x0 + 6 * dx, y0 + 4 * dy, z0]
    ds.ImageOrientationPatient = [-1, 0, 0, 0, -1, 0]
    ds.PixelData = np.ascontiguousarray(frames).astype("<u4").tobytes()
    ds.save_as(tmp_path / "flipped.dcm")
    back = read_rt_dose(tmp_path / "flipped.dcm")
    assert back.grid == GRID
    np.testing.assert_allclose(back.values, dose, atol=float(ds.DoseGridScaling))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ds: setattr(ds, "Modality", "CT"), "not an RT Dose"),
        (lambda ds: delattr(ds, "DoseGridScaling"), "DoseGridScaling"),
        (lambda ds: setattr(ds, "DoseGridScaling", "0"), "positive"),
        (lambda ds: setattr(ds, "GridFrameOffsetVector", [0, 3, 7, 9]), "uniformly spaced"),
        (lambda ds: setattr(ds, "GridFrameOffsetVector", [0, 3]), "GridFrameOffsetVector"),
        (lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 0, 1]), "not axial"),
        (lambda ds: delattr(ds, "PixelSpacing"), "lacks PixelSpacing"),
    ],
)
def test_malformed_doses_are_refused(
    tmp_path: Path, study: StudyInfo, rt_plan: Dataset, edit, message: str
) -> None:
    ds = _written(tmp_path, study, rt_plan, _dose())
    edit(ds)
    ds.save_as(tmp_path / "bad.dcm")
    with pytest.raises(DicomError, match=message) as error:
        read_rt_dose(tmp_path / "bad.dcm")
    assert "\n" not in str(error.value)


def test_bad_dose_input_is_refused(study: StudyInfo, rt_plan: Dataset) -> None:
    dose = _dose()
    with pytest.raises(GridMismatchError, match="shape"):
        rt_dose_dataset(dose[:, :, :2], GRID, study=study, rt_plan=rt_plan)
    for bad, message in ((math.nan, "NaN"), (-0.1, "≥ 0")):
        spoiled = dose.copy()
        spoiled[1, 2, 3] = bad
        with pytest.raises(DicomError, match=message):
            rt_dose_dataset(spoiled, GRID, study=study, rt_plan=rt_plan)
    with pytest.raises(UnknownNameError, match="EFFECTIVE, PHYSICAL"):
        rt_dose_dataset(dose, GRID, study=study, rt_plan=rt_plan, dose_type="biological")
    with pytest.raises(UnknownNameError, match="dose summation type"):
        rt_dose_dataset(dose, GRID, study=study, rt_plan=rt_plan, summation_type="SESSION")
    with pytest.raises(ConfigError, match="beam_name"):
        rt_dose_dataset(dose, GRID, study=study, rt_plan=rt_plan, summation_type="BEAM")
    with pytest.raises(UnknownNameError, match="left, right"):
        rt_dose_dataset(dose, GRID, study=study, rt_plan=rt_plan, summation_type="BEAM",
                        beam_name="centre")  # fmt: skip
    with pytest.raises(DicomError, match="StudyInstanceUID"):
        rt_dose_dataset(dose, GRID, study=StudyInfo.new("other", seed=1), rt_plan=rt_plan)
    assert np.array_equal(dose, _dose())  # inputs untouched
