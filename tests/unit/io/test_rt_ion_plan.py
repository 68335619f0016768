"""RT Ion Plan export and import: the layout the standard asks for, round trips,
a plan laid out by another planning system, and malformed plans."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from ionbeam.errors import ConfigError, DicomError, UnknownNameError
from ionbeam.io.dicom import (
    StudyInfo,
    ct_datasets,
    read_rt_ion_plan,
    rt_ion_plan_dataset,
    rtstruct_dataset,
    write_dicom_file,
)
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap

FOREIGN_PLAN = Path(__file__).resolve().parents[2] / "data" / "dicom" / "foreign_rt_ion_plan.dcm"


@pytest.fixture(scope="module")
def study() -> StudyInfo:
    return StudyInfo.new("plan^test", seed="rt-ion-plan")


@pytest.fixture(scope="module")
def structure_set(study: StudyInfo) -> Dataset:
    """The RT Structure Set of the water phantom (ROIs Body, Target)."""
    patient = make_phantom("water", spacing_mm=20.0)
    _, series = ct_datasets(patient.ct, study)
    return rtstruct_dataset(patient.structures, series)


def _spots(energies: list[float], counts: list[int], seed: int) -> SpotMap:
    rng = np.random.default_rng(seed)
    n = sum(counts)
    weight = rng.uniform(1e5, 5e7, n)
    weight[1] = 0.0  # a spot switched off by the optimizer is not written
    return SpotMap(np.repeat(energies, counts), rng.uniform(-40, 40, n), rng.uniform(-40, 40, n),
                   weight)  # fmt: skip


def carbon_plan() -> Plan:
    """Two carbon beams: one with range shifter and ripple filter, one parallel and prone."""
    left = BeamGeometry(90.0, 10.0, (1.5, -2.25, 3.0), (6500.0, 7200.0), "HFS")
    top = BeamGeometry(0.0, 270.0, (1.5, -2.25, 3.0), (math.inf, math.inf), "HFP")
    beams = (
        Beam("left", left, _spots([280.5, 270.123456789012, 260.0], [3, 4, 2], 1), 40.0, True),
        Beam("top", top, _spots([250.0, 240.0], [2, 3], 2)),
    )
    return Plan("carbon", beams, Prescription("Target", 60.0, 20), rbe_model="mkm")


def proton_plan() -> Plan:
    """One proton beam whose layers are not in descending energy (order must survive)."""
    geometry = BeamGeometry(45.0, 0.0, (0.0, 10.0, -5.0), (2000.0, 2300.0))
    spots = _spots([150.0, 170.0, 150.0], [2, 2, 1], 3)
    return Plan("proton", (Beam("oblique", geometry, spots),), Prescription("Target", 2.0, 1),
                machine="gantry1")  # fmt: skip


def _write(plan: Plan, study: StudyInfo, structure_set: Dataset, path: Path, **options) -> Path:
    dataset = rt_ion_plan_dataset(plan, study=study, structure_set=structure_set, **options)
    return write_dicom_file(dataset, path)


@pytest.mark.parametrize("make_plan", [carbon_plan, proton_plan])
def test_round_trip_gives_the_same_plan(
    tmp_path: Path, study: StudyInfo, structure_set: Dataset, make_plan: Callable[[], Plan]
) -> None:
    plan = make_plan()
    back = read_rt_ion_plan(_write(plan, study, structure_set, tmp_path / "RP.dcm"))
    assert (back.particle, back.machine, back.prescription) == (
        plan.particle, plan.machine, plan.prescription,
    )  # fmt: skip
    assert [b.name for b in back.beams] == [b.name for b in plan.beams]
    for beam, read in zip(plan.beams, back.beams, strict=True):
        original = beam.with_spots(beam.spots.select(np.flatnonzero(beam.spots.weight > 0)))
        assert read.geometry == original.geometry  # angles, isocentre, SAD (inf too), position
        assert read.range_shifter_wet_mm == original.range_shifter_wet_mm
        assert read.ripple_filter == original.ripple_filter
        # Energies are decimal strings of 16 characters; positions and weights float32.
        np.testing.assert_allclose(read.spots.energy_mev_u, original.spots.energy_mev_u,
                                   rtol=1e-13)  # fmt: skip
        for name in ("x_mm", "y_mm", "weight"):
            expected = getattr(original.spots, name).astype(np.float32)
            np.testing.assert_array_equal(getattr(read.spots, name), expected)


def test_control_points_follow_the_standard(study: StudyInfo, structure_set: Dataset) -> None:
    plan = carbon_plan()
    ds = rt_ion_plan_dataset(plan, study=study, structure_set=structure_set,
                             spot_fwhm_mm=lambda e: (e / 50.0, e / 40.0))  # fmt: skip
    left = ds.IonBeamSequence[0]
    spots = plan.beams[0].spots
    assert (left.RadiationType, left.RadiationMassNumber, left.RadiationAtomicNumber) == (
        "ION", 12, 6,
    )  # fmt: skip
    assert (left.ScanMode, left.PrimaryDosimeterUnit) == ("MODULATED", "NP")
    assert left.NumberOfControlPoints == len(left.IonControlPointSequence) == 6  # 3 layers × 2
    cumulative = 0.0
    for k, energy in enumerate([280.5, 270.123456789012, 260.0]):
        first, second = left.IonControlPointSequence[2 * k : 2 * k + 2]
        layer = (spots.energy_mev_u == energy) & (spots.weight > 0)
        assert float(first.NominalBeamEnergy) == pytest.approx(energy, rel=1e-13)
        assert first.NumberOfScanSpotPositions == second.NumberOfScanSpotPositions == layer.sum()
        np.testing.assert_allclose(first.ScanSpotMetersetWeights, spots.weight[layer], rtol=1e-7)
        assert not np.any(second.ScanSpotMetersetWeights)
        xy = np.reshape(first.ScanSpotPositionMap, (-1, 2))
        np.testing.assert_allclose(xy, np.column_stack([spots.x_mm, spots.y_mm])[layer], atol=1e-5)
        np.testing.assert_allclose(first.ScanningSpotSize, [energy / 50.0, energy / 40.0])
        assert float(first.CumulativeMetersetWeight) == pytest.approx(cumulative, rel=1e-7)
        cumulative += spots.weight[layer].sum()
        assert float(second.CumulativeMetersetWeight) == pytest.approx(cumulative, rel=1e-7)
    assert float(left.FinalCumulativeMetersetWeight) == pytest.approx(spots.total_particles)
    meterset = ds.FractionGroupSequence[0].ReferencedBeamSequence[0].BeamMeterset
    assert float(meterset) == pytest.approx(spots.total_particles, rel=1e-7)
    first = left.IonControlPointSequence[0]
    assert (float(first.GantryAngle), float(first.PatientSupportAngle)) == (90.0, 10.0)
    assert [float(v) for v in first.IsocenterPosition] == [1.5, -2.25, 3.0]
    assert first.RangeShifterSettingsSequence[0].RangeShifterWaterEquivalentThickness == 40.0
    assert left.RangeModulatorSequence[0].RangeModulatorType == "FIXED"
    top = ds.IonBeamSequence[1]
    assert list(top.VirtualSourceAxisDistances) == [1.0e7, 1.0e7]  # parallel beam
    assert top.NumberOfRangeShifters == top.NumberOfRangeModulators == 0
    positions = {s.PatientSetupNumber: s.PatientPosition for s in ds.PatientSetupSequence}
    assert [positions[b.ReferencedPatientSetupNumber] for b in ds.IonBeamSequence] == [
        "HFS", "HFP",
    ]  # fmt: skip


def test_plan_references_study_and_structure_set(study: StudyInfo, structure_set: Dataset) -> None:
    ds = rt_ion_plan_dataset(carbon_plan(), study=study, structure_set=structure_set)
    assert ds.StudyInstanceUID == study.study_instance_uid
    assert ds.FrameOfReferenceUID == study.frame_of_reference_uid
    referenced = ds.ReferencedStructureSetSequence[0]
    assert referenced.ReferencedSOPInstanceUID == structure_set.SOPInstanceUID
    target = ds.DoseReferenceSequence[0]
    roi_numbers = {r.ROIName: r.ROINumber for r in structure_set.StructureSetROISequence}
    assert target.ReferencedROINumber == roi_numbers["Target"]
    assert (target.DoseReferenceType, float(target.TargetPrescriptionDose)) == ("TARGET", 60.0)
    assert ds.FractionGroupSequence[0].NumberOfFractionsPlanned == 20


def test_same_plan_same_uids_other_plan_other_uids(
    study: StudyInfo, structure_set: Dataset
) -> None:
    plan = carbon_plan()
    first = rt_ion_plan_dataset(plan, study=study, structure_set=structure_set)
    again = rt_ion_plan_dataset(carbon_plan(), study=study, structure_set=structure_set)
    changed = rt_ion_plan_dataset(plan.with_weights(plan.weights * 1.01), study=study,
                                  structure_set=structure_set)  # fmt: skip
    assert again.SOPInstanceUID == first.SOPInstanceUID
    assert changed.SOPInstanceUID != first.SOPInstanceUID


def test_reads_a_plan_laid_out_by_another_system() -> None:
    """The hand-built fixture (see tests/data/dicom/make_foreign_rt_ion_plan.py): MU,
    weights in the second control point of each pair, two paintings, one control
    point per layer in beam 2, a setup beam, scanning magnets as devices."""
    per_mu = 1e5  # particles per MU per MeV/u, an invented calibration
    plan = read_rt_ion_plan(FOREIGN_PLAN, particles_per_mu=lambda e: per_mu * e)
    assert (plan.particle, plan.machine) == ("carbon", "SR1")
    assert plan.prescription == Prescription("CTV_HR", 70.4, 16)
    assert [b.name for b in plan.beams] == ["HOR_RT", "VER"]  # the setup beam is skipped
    horizontal, vertical = plan.beams
    assert horizontal.geometry == BeamGeometry(90.0, 15.0, (12.5, -30.25, 4.0),
                                               (6500.0, 7300.0), "HFS")  # fmt: skip
    assert (horizontal.range_shifter_wet_mm, horizontal.ripple_filter) == (30.0, True)
    assert (vertical.geometry.gantry_deg, vertical.geometry.couch_deg) == (0.0, 90.0)
    assert (vertical.range_shifter_wet_mm, vertical.ripple_filter) == (0.0, False)
    energy = np.repeat([290.21, 285.03, 279.80], [3, 4, 2])
    relative = np.array([0.10, 0.15, 0.05, 0.08, 0.12, 0.10, 0.05, 0.20, 0.15])  # sum 1
    np.testing.assert_allclose(horizontal.spots.energy_mev_u, energy)
    np.testing.assert_allclose(horizontal.spots.x_mm, [-10, -5, 0, -10, -5, 0, 5, -7.5, 2.5])
    np.testing.assert_allclose(horizontal.spots.y_mm, [-5, -5, -5, 0, 0, 0, 0, 2.5, 2.5])
    np.testing.assert_allclose(horizontal.spots.weight, relative * 123.456 * per_mu * energy,
                               rtol=1e-6)  # fmt: skip
    mu = np.array([10.0, 20.0, 30.0, 0.0, 38.7])  # absolute weights; their sum is the meterset
    np.testing.assert_allclose(vertical.spots.energy_mev_u, [250.5, 250.5, 245.25, 245.25, 245.25])
    np.testing.assert_allclose(vertical.spots.x_mm, [0, 3, 0, 3, 6])
    np.testing.assert_allclose(vertical.spots.weight, mu * per_mu * vertical.spots.energy_mev_u,
                               rtol=1e-6)  # fmt: skip


def test_plan_in_mu_without_calibration_is_refused() -> None:
    with pytest.raises(DicomError, match="particles_per_mu") as error:
        read_rt_ion_plan(FOREIGN_PLAN)
    assert "\n" not in str(error.value)
    with pytest.raises(DicomError, match="one positive number per spot"):
        read_rt_ion_plan(FOREIGN_PLAN, particles_per_mu=lambda e: -np.ones_like(e))


def _cp(ds: Dataset, k: int = 0) -> Dataset:
    return ds.IonBeamSequence[0].IonControlPointSequence[k]


def _set(item: Callable[[Dataset], Dataset], keyword: str, value: object):
    def edit(ds: Dataset) -> None:
        setattr(item(ds), keyword, value)

    return edit


def _delete(item: Callable[[Dataset], Dataset], keyword: str):
    def edit(ds: Dataset) -> None:
        delattr(item(ds), keyword)

    return edit


def _root(ds: Dataset) -> Dataset:
    return ds


def _beam(ds: Dataset) -> Dataset:
    return ds.IonBeamSequence[0]


def _nan_position(ds: Dataset) -> None:
    positions = list(_cp(ds).ScanSpotPositionMap)
    positions[3] = float("nan")
    _cp(ds).ScanSpotPositionMap = positions


def _negative_weight(ds: Dataset) -> None:
    weights = list(_cp(ds).ScanSpotMetersetWeights)
    weights[0] = -weights[0]
    _cp(ds).ScanSpotMetersetWeights = weights


def _moving_gantry(ds: Dataset) -> None:
    _cp(ds, 3).GantryAngle = "95"


MALFORMED = {
    "no ion beams": (_delete(_root, "IonBeamSequence"), "not an RT Ion Plan"),
    "photon plan": (_set(_root, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.481.5"), "photon"),
    "photon beam": (_set(_beam, "RadiationType", "PHOTON"), "not an ion beam"),
    "unknown ion": (_set(_beam, "RadiationAtomicNumber", 10), "not one ionbeam models"),
    "spot count": (_set(_cp, "NumberOfScanSpotPositions", 4), "inconsistent"),
    "NaN position": (_nan_position, "NaN"),
    "negative weight": (_negative_weight, "≥ 0"),
    "final weight": (_set(_beam, "FinalCumulativeMetersetWeight", "1e12"), "inconsistent"),
    "cumulative": (_set(lambda ds: _cp(ds, 1), "CumulativeMetersetWeight", "7"), "do not match"),
    "control points": (_set(_beam, "NumberOfControlPoints", 9), "NumberOfControlPoints"),
    "MU": (_set(_beam, "PrimaryDosimeterUnit", "MU"), "particles_per_mu"),
    "no fractions": (_delete(_root, "FractionGroupSequence"), "fraction groups"),
    "no meterset": (
        _delete(lambda ds: ds.FractionGroupSequence[0].ReferencedBeamSequence[0], "BeamMeterset"),
        "BeamMeterset",
    ),
    "moving gantry": (_moving_gantry, "changes during the beam"),
    "aperture": (_set(_beam, "NumberOfBlocks", 1), "blocks"),
    "range shifter WET": (
        _delete(
            lambda ds: _cp(ds).RangeShifterSettingsSequence[0],
            "RangeShifterWaterEquivalentThickness",
        ),
        "water-equivalent thickness",
    ),
    "range shifter count": (_set(_beam, "NumberOfRangeShifters", 2), "inconsistent"),
    "uniform scanning": (_set(_beam, "ScanMode", "UNIFORM"), "scan mode"),
    "modulator wheel": (
        _set(
            lambda ds: _beam(ds).RangeModulatorSequence[0], "RangeModulatorType", "WHL_FIXEDWEIGHTS"
        ),
        "wheel",
    ),
    "negative energy": (_set(_cp, "NominalBeamEnergy", "-5"), "must be > 0"),
    "one SAD": (_set(_beam, "VirtualSourceAxisDistances", 6500.0), "two positive"),
    "table roll": (_set(_cp, "TableTopRollAngle", 3.0), "pitch or roll"),
    "zero prescription": (
        _set(lambda ds: ds.DoseReferenceSequence[0], "TargetPrescriptionDose", "0"),
        "must be > 0 Gy",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_plans_are_refused(
    tmp_path: Path, study: StudyInfo, structure_set: Dataset, case: str
) -> None:
    edit, message = MALFORMED[case]
    path = _write(carbon_plan(), study, structure_set, tmp_path / "RP.dcm")
    ds = pydicom.dcmread(path)
    edit(ds)
    ds.save_as(path)
    with pytest.raises(DicomError, match=message) as error:
        read_rt_ion_plan(path)
    assert "\n" not in str(error.value)


def test_not_a_dicom_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.dcm"
    path.write_text("not DICOM")
    with pytest.raises(DicomError, match="not a readable DICOM file"):
        read_rt_ion_plan(path)


def test_missing_position_and_prescription_can_be_supplied(
    tmp_path: Path, study: StudyInfo, structure_set: Dataset
) -> None:
    path = _write(proton_plan(), study, structure_set, tmp_path / "RP.dcm")
    ds = pydicom.dcmread(path)
    del ds.PatientSetupSequence, ds.IonBeamSequence[0].ReferencedPatientSetupNumber
    del ds.DoseReferenceSequence
    ds.save_as(path)
    with pytest.raises(DicomError, match="patient_position"):
        read_rt_ion_plan(path)
    with pytest.raises(DicomError, match="prescription="):
        read_rt_ion_plan(path, patient_position="FFS")
    prescription = Prescription("PTV", 3.0, 5)
    plan = read_rt_ion_plan(path, patient_position="FFS", prescription=prescription)
    assert plan.beams[0].geometry.patient_position == "FFS"
    assert plan.prescription == prescription


def test_export_refuses_what_it_cannot_write(study: StudyInfo, structure_set: Dataset) -> None:
    plan = carbon_plan()
    wrong_target = Plan("carbon", plan.beams, Prescription("Tumour", 60.0, 20))
    with pytest.raises(UnknownNameError, match="Body, Target"):
        rt_ion_plan_dataset(wrong_target, study=study, structure_set=structure_set)
    other_study = StudyInfo.new("someone^else", seed="other")
    with pytest.raises(DicomError, match="StudyInstanceUID"):
        rt_ion_plan_dataset(plan, study=other_study, structure_set=structure_set)
    empty = Plan("carbon", (plan.beams[0].with_spots(SpotMap.empty()),), plan.prescription)
    with pytest.raises(DicomError, match="no spots"):
        rt_ion_plan_dataset(empty, study=study, structure_set=structure_set)
    with pytest.raises(ConfigError, match="RT Plan Label must have 1–16 characters"):
        rt_ion_plan_dataset(plan, study=study, structure_set=structure_set,
                            label="a label far too long")  # fmt: skip
    long_machine = Plan("carbon", plan.beams, plan.prescription, machine="a" * 17)
    with pytest.raises(ConfigError, match="machine name must have 1–16 characters"):
        rt_ion_plan_dataset(long_machine, study=study, structure_set=structure_set)
    with pytest.raises(ConfigError, match="two positive FWHM"):
        rt_ion_plan_dataset(plan, study=study, structure_set=structure_set,
                            spot_fwhm_mm=lambda e: (5.0,))  # fmt: skip


def test_file_writing_is_atomic(
    tmp_path: Path, study: StudyInfo, structure_set: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(proton_plan(), study, structure_set, tmp_path / "RP.dcm")
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="exists"):
        _write(carbon_plan(), study, structure_set, path)

    def fail_half_way(dataset: Dataset, target: Path) -> None:
        Path(target).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr("ionbeam.io.dicom._files.write_dataset", fail_half_way)
    dataset = rt_ion_plan_dataset(carbon_plan(), study=study, structure_set=structure_set)
    with pytest.raises(OSError, match="disk full"):
        write_dicom_file(dataset, path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RP.dcm"]


def test_repeated_beam_names_are_made_unique(
    tmp_path: Path, study: StudyInfo, structure_set: Dataset
) -> None:
    path = _write(carbon_plan(), study, structure_set, tmp_path / "RP.dcm")
    ds = pydicom.dcmread(path)
    ds.IonBeamSequence[1].BeamName = "left"
    ds.save_as(path)
    assert [b.name for b in read_rt_ion_plan(path).beams] == ["left", "left (2)"]
