"""What ionbeam writes is read the same by other systems and by itself: only the spots
that deliver particles, LET_d apart from the doses, keyhole contours (one polygon per
region, holes joined by zero-width cuts), one UID per content, values that fit their VR."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pydicom
import pytest
from matplotlib.path import Path as MplPath
from pydicom.dataset import Dataset

from ionbeam.errors import DicomError
from ionbeam.io.dicom import (
    StudyInfo,
    ct_datasets,
    read_dicom_patient,
    read_rt_ion_plan,
    rt_ion_plan_dataset,
    rtstruct_dataset,
    write_dicom_patient,
)
from ionbeam.io.dicom.plan_export import PlanDoses, write_plan_dicom
from ionbeam.patient import CT, Grid
from ionbeam.patient.patient import Patient
from ionbeam.patient.phantoms import make_phantom
from ionbeam.patient.structures import Structure, StructureSet
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap


@pytest.fixture(scope="module")
def study() -> StudyInfo:
    return StudyInfo.new("export^fixes", seed="export-fixes")


@pytest.fixture(scope="module")
def water() -> Patient:
    return make_phantom("water", spacing_mm=20.0)


@pytest.fixture(scope="module")
def structure_set(water: Patient, study: StudyInfo) -> Dataset:
    _, series = ct_datasets(water.ct, study)
    return rtstruct_dataset(water.structures, series)


def _plan(weights: np.ndarray, energies: np.ndarray, target: str = "Target") -> Plan:
    n = weights.size
    spots = SpotMap(energies, np.linspace(-20, 20, n), np.linspace(10, -10, n), weights)
    geometry = BeamGeometry(90.0, 0.0, (0.0, 0.0, 0.0), (6500.0, 7200.0))
    return Plan("carbon", (Beam("lateral", geometry, spots),), Prescription(target, 60.0, 20))


# --- spots -----------------------------------------------------------------------


def test_zero_weight_spots_and_empty_layers_are_not_exported(study, structure_set) -> None:
    """Layers 200/190/180 MeV/u; the 190 layer has only zero weights, the others one
    zero-weight spot each: 2 layers (4 control points) and 4 spots are written, and the
    cumulative meterset steps by each layer's weight sum."""
    energies = np.repeat([200.0, 190.0, 180.0], 3)
    weights = np.array([1e6, 0.0, 2e6, 0.0, 0.0, 0.0, 3e6, 4e6, 0.0])
    ds = rt_ion_plan_dataset(_plan(weights, energies), study=study, structure_set=structure_set)
    beam = ds.IonBeamSequence[0]
    points = beam.IonControlPointSequence
    assert beam.NumberOfControlPoints == len(points) == 4
    assert [float(cp.NominalBeamEnergy) for cp in points] == [200.0, 200.0, 180.0, 180.0]
    assert [cp.NumberOfScanSpotPositions for cp in points] == [2, 2, 2, 2]
    assert [cp.ControlPointIndex for cp in points] == [0, 1, 2, 3]
    np.testing.assert_allclose(points[0].ScanSpotMetersetWeights, [1e6, 2e6])
    np.testing.assert_allclose(points[2].ScanSpotMetersetWeights, [3e6, 4e6])
    cumulative = [float(cp.CumulativeMetersetWeight) for cp in points]
    np.testing.assert_allclose(cumulative, [0.0, 3e6, 3e6, 10e6])
    assert float(beam.FinalCumulativeMetersetWeight) == pytest.approx(10e6)
    meterset = ds.FractionGroupSequence[0].ReferencedBeamSequence[0].BeamMeterset
    assert float(meterset) == pytest.approx(10e6)
    first = points[0]
    assert (float(first.GantryAngle), first.IsocenterPosition is not None) == (90.0, True)


def test_read_back_gives_the_delivered_spots(tmp_path, study, structure_set) -> None:
    energies = np.repeat([200.0, 190.0], 3)
    weights = np.array([0.0, 5e6, 1e6, 2e6, 0.0, 3e6])
    plan = _plan(weights, energies)
    ds = rt_ion_plan_dataset(plan, study=study, structure_set=structure_set)
    ds.save_as(tmp_path / "RP.dcm", enforce_file_format=True)
    back = read_rt_ion_plan(tmp_path / "RP.dcm").beams[0].spots
    kept = weights > 0
    np.testing.assert_allclose(back.weight, weights[kept], rtol=1e-7)
    np.testing.assert_allclose(back.energy_mev_u, energies[kept])
    np.testing.assert_allclose(back.x_mm, plan.beams[0].spots.x_mm[kept], atol=1e-5)


def test_a_beam_without_particles_is_refused(study, structure_set) -> None:
    plan = _plan(np.zeros(3), np.full(3, 200.0))
    with pytest.raises(DicomError, match="delivers no particles"):
        rt_ion_plan_dataset(plan, study=study, structure_set=structure_set)


def test_unnamed_roi_can_be_the_target(water, study) -> None:
    """An ROI without ROIName is read as "ROI <number>"; a plan targeting it exports."""
    _, series = ct_datasets(water.ct, study)
    structure_set = rtstruct_dataset(water.structures, series)
    structure_set.StructureSetROISequence[1].ROIName = ""
    ds = rt_ion_plan_dataset(_plan(np.ones(2) * 1e6, np.full(2, 200.0), target="ROI 2"),
                             study=study, structure_set=structure_set)  # fmt: skip
    assert ds.DoseReferenceSequence[0].ReferencedROINumber == 2


# --- LET_d -----------------------------------------------------------------------


def test_let_is_not_written_as_a_dose(tmp_path, water) -> None:
    """LET_d goes to LETd.mha (MetaImage, keV/µm, same grid); the folder's RT Doses are
    the physical and RBE-weighted doses only."""
    from ionbeam.io.metaimage import read_metaimage

    grid = water.grid
    rng = np.random.default_rng(3)
    let = rng.uniform(0.0, 80.0, grid.shape)
    doses = PlanDoses(grid, np.ones(grid.shape), 2 * np.ones(grid.shape), let)
    plan = _plan(np.ones(2) * 1e6, np.full(2, 200.0))
    written = write_plan_dicom(tmp_path, water, plan, doses)
    modalities = {
        p.name: pydicom.dcmread(p, stop_before_pixels=True).Modality for p in tmp_path.glob("*.dcm")
    }
    doses_written = sorted(n for n, m in modalities.items() if m == "RTDOSE")
    assert doses_written == ["RD_physical.dcm", "RD_rbe_weighted.dcm"]
    image = read_metaimage(written["let_d"])
    assert image.grid == grid
    np.testing.assert_allclose(image.values, let, rtol=1e-6)
    assert written["let_d"].name == "LETd.mha"


# --- contours --------------------------------------------------------------------


def _ring_patient() -> Patient:
    """A skull-like ring (outer radius 40 mm, inner 30 mm) with an island in its hole,
    and a body around it, on a 2 mm grid."""
    grid = Grid((60, 60, 3), (2.0, 2.0, 3.0), (-59.0, -59.0, 0.0))
    x, y, _ = np.meshgrid(*grid.axes_mm(), indexing="ij")
    r = np.hypot(x, y)
    ring = (r < 40) & (r >= 30)
    island = np.hypot(x - 6, y) < 8
    two_holes = (r < 50) & ~(np.hypot(x - 20, y) < 6) & ~(np.hypot(x + 20, y + 10) < 7)
    hu = np.where(r < 55, 0.0, -1000.0).astype(np.float32)
    structures = StructureSet(
        [
            Structure("Skull", ring | island, grid),
            Structure("Body", two_holes, grid),
        ]
    )
    return Patient("ring", CT(hu, grid), structures, target_name=None)


def _nonzero_union(ds: Dataset, number: int, grid: Grid, k: int) -> np.ndarray:
    """Each contour of the slice filled alone by the nonzero winding rule
    (matplotlib), then OR-ed: how systems that fill contours separately read them."""
    item = next(i for i in ds.ROIContourSequence if i.ReferencedROINumber == number)
    x, y = (axis for axis in grid.axes_mm()[:2])
    centres = np.column_stack([g.ravel() for g in np.meshgrid(x, y, indexing="ij")])
    z = grid.axes_mm()[2][k]
    mask = np.zeros(grid.shape[:2], dtype=bool)
    for contour in item.ContourSequence:
        points = np.reshape(np.asarray(contour.ContourData, dtype=float), (-1, 3))
        if abs(points[0, 2] - z) > 1e-3:
            continue
        path = MplPath(points[:, :2], closed=True)
        mask |= path.contains_points(centres).reshape(mask.shape)
    return mask


def test_rings_are_written_as_keyhole_contours(tmp_path, study) -> None:
    """Filling each contour separately (nonzero rule, then union) gives the ring, not
    the filled disc (Dice ≥ 0.99); the read-back mask is the same (Dice ≥ 0.99)."""
    patient = _ring_patient()
    _cts, series = ct_datasets(patient.ct, study)
    ds = rtstruct_dataset(patient.structures, series)
    numbers = {r.ROIName: r.ROINumber for r in ds.StructureSetROISequence}
    for name, structure in patient.structures.items():
        for k in range(patient.grid.shape[2]):
            union = _nonzero_union(ds, numbers[name], patient.grid, k)
            truth = structure.mask[:, :, k]
            dice = 2 * (union & truth).sum() / (union.sum() + truth.sum())
            assert dice >= 0.99, (name, k, dice)
    skull = next(i for i in ds.ROIContourSequence if i.ReferencedROINumber == numbers["Skull"])
    per_slice = len(skull.ContourSequence) / patient.grid.shape[2]
    assert per_slice == 2  # the ring (with its hole joined) and the island
    out = write_dicom_patient(patient, tmp_path / "ring")
    back = read_dicom_patient(out)
    for name, structure in patient.structures.items():
        assert structure.dice(back.structures[name]) >= 0.99, name
        np.testing.assert_array_equal(back.structures[name].mask, structure.mask)


# --- UIDs and value lengths ------------------------------------------------------


class _Clock(dt.datetime):
    moment = dt.datetime(2026, 1, 2, 3, 4, 5)

    @classmethod
    def now(cls, tz=None):
        return cls.moment


def test_same_uid_means_same_bytes(tmp_path, monkeypatch, water) -> None:
    """Exporting the same phantom at two clock times gives the same files, byte for
    byte; a plan whose written content differs (spot size) gets another UID."""
    monkeypatch.setattr("ionbeam.io.dicom._common.dt.datetime", _Clock)
    first = write_dicom_patient(water, tmp_path / "a")
    _Clock.moment = dt.datetime(2027, 6, 7, 8, 9, 10)
    second = write_dicom_patient(water, tmp_path / "b")
    for path in sorted(first.iterdir()):
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name
    study = StudyInfo.new("export^fixes", seed="export-fixes")
    _, series = ct_datasets(water.ct, study)
    structure_set = rtstruct_dataset(water.structures, series)
    plan = _plan(np.ones(2) * 1e6, np.full(2, 200.0))
    small = rt_ion_plan_dataset(plan, study=study, structure_set=structure_set,
                                spot_fwhm_mm=lambda e: (4.0, 4.0))  # fmt: skip
    large = rt_ion_plan_dataset(plan, study=study, structure_set=structure_set,
                                spot_fwhm_mm=lambda e: (9.0, 9.0))  # fmt: skip
    assert small.SOPInstanceUID != large.SOPInstanceUID


def test_values_too_long_for_their_vr_are_refused_or_clipped(tmp_path, water) -> None:
    long_name = Patient("A" * 10_000, water.ct, water.structures, water.target_name)
    with pytest.raises(DicomError, match="64"):
        write_dicom_patient(long_name, tmp_path / "long")
    assert not (tmp_path / "long").exists()
    study = StudyInfo.new("export^fixes", seed="export-fixes")
    _, series = ct_datasets(water.ct, study)
    renamed = StructureSet(
        [water.structures["Body"], Structure("T" * 64, water.structures["Target"].mask,
                                             water.grid)]
    )  # fmt: skip
    structure_set = rtstruct_dataset(renamed, series)
    plan = _plan(np.ones(2) * 1e6, np.full(2, 200.0), target="T" * 64)
    ds = rt_ion_plan_dataset(plan, study=study, structure_set=structure_set, label="L" * 16)
    for element in ds.iterall():
        if element.VR in ("LO", "SH", "PN") and isinstance(element.value, str):
            assert len(element.value) <= (16 if element.VR == "SH" else 64), element.keyword
