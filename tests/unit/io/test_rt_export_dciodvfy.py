"""A whole export (CT, RT Structure Set, RT Ion Plan, RT Doses) is valid DICOM with
consistent UIDs, and ionbeam reads all of it back.

Validity is checked with dciodvfy (dicom3tools; the ``dciodvfy_errors`` fixture of
``tests/conftest.py``, which also explains how 32-bit RT Doses are checked): zero
errors are required.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from ionbeam.io.dicom import (
    StudyInfo,
    ct_datasets,
    read_dicom_patient,
    read_rt_dose,
    read_rt_ion_plan,
    rt_dose_dataset,
    rt_ion_plan_dataset,
    rtstruct_dataset,
)
from ionbeam.io.dicom._files import atomic_directory, write_dataset
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap


def _plan(particle: str) -> Plan:
    rng = np.random.default_rng(7)
    n = 12
    spots = SpotMap(np.repeat([200.0, 190.0, 180.0], 4), rng.uniform(-20, 20, n),
                    rng.uniform(-20, 20, n), rng.uniform(1e6, 1e8, n))  # fmt: skip
    carbon = particle == "carbon"
    beams = (
        Beam("lateral", BeamGeometry(90.0, 0.0, (0.0, 0.0, 0.0), (6500.0, 7200.0)), spots,
             range_shifter_wet_mm=30.0 if carbon else 0.0, ripple_filter=carbon),
        Beam("couch 90", BeamGeometry.fixed_line("vertical", couch_deg=90.0), spots),
    )  # fmt: skip
    return Plan(particle, beams, Prescription("OuterTarget", 50.0, 25))


@pytest.fixture(scope="module")
def study() -> StudyInfo:
    return StudyInfo.new("tg119", seed="export")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory, study: StudyInfo) -> Path:
    """The TG-119 phantom with a carbon plan and its doses, written as one folder."""
    patient = make_phantom("tg119", spacing_mm=10.0)
    cts, series = ct_datasets(patient.ct, study)
    structure_set = rtstruct_dataset(patient.structures, series)
    plan = rt_ion_plan_dataset(_plan("carbon"), study=study, structure_set=structure_set,
                               spot_fwhm_mm=lambda e: (4.0, 4.5))  # fmt: skip
    grid = patient.grid
    dose = np.where(patient.structures["OuterTarget"].mask, 2.0, 0.1) * np.linspace(
        0.9, 1.1, grid.shape[2]
    )
    doses = {
        "RD_physical.dcm": rt_dose_dataset(dose, grid, study=study, rt_plan=plan),
        "RD_effective.dcm": rt_dose_dataset(3.0 * dose, grid, study=study, rt_plan=plan,
                                            dose_type="EFFECTIVE", series_number=5),
        "RD_beam.dcm": rt_dose_dataset(dose / 2, grid, study=study, rt_plan=plan,
                                       summation_type="BEAM", beam_name="lateral",
                                       series_number=7),
    }  # fmt: skip
    out = tmp_path_factory.mktemp("export") / "patient"
    with atomic_directory(out) as folder:
        for k, ds in enumerate(cts, start=1):
            write_dataset(ds, folder / f"CT_{k:04d}.dcm")
        write_dataset(structure_set, folder / "RS.dcm")
        write_dataset(plan, folder / "RP.dcm")
        for name, ds in doses.items():
            write_dataset(ds, folder / name)
    return out


@pytest.mark.parametrize(
    "name", ["CT_0001.dcm", "RS.dcm", "RP.dcm", "RD_physical.dcm", "RD_effective.dcm",
             "RD_beam.dcm"],
)  # fmt: skip
def test_every_file_passes_dciodvfy(
    export: Path, tmp_path: Path, name: str, dciodvfy_errors
) -> None:
    path = tmp_path / name
    shutil.copy(export / name, path)
    assert dciodvfy_errors(path) == []


def test_proton_plan_passes_dciodvfy(
    export: Path, study: StudyInfo, tmp_path: Path, dciodvfy_errors
) -> None:
    structure_set = pydicom.dcmread(export / "RS.dcm")
    plan = rt_ion_plan_dataset(_plan("proton"), study=study, structure_set=structure_set)
    plan.save_as(tmp_path / "RP_proton.dcm", enforce_file_format=True)
    assert dciodvfy_errors(tmp_path / "RP_proton.dcm") == []


def test_uids_are_consistent(export: Path) -> None:
    files = {p.name: pydicom.dcmread(p, stop_before_pixels=True) for p in export.iterdir()}
    ct, rs, rp = files["CT_0001.dcm"], files["RS.dcm"], files["RP.dcm"]
    for ds in files.values():
        assert ds.StudyInstanceUID == ct.StudyInstanceUID
        assert ds.FrameOfReferenceUID == ct.FrameOfReferenceUID
        assert (ds.PatientID, ds.PatientName) == (ct.PatientID, ct.PatientName)
    assert len({ds.SOPInstanceUID for ds in files.values()}) == len(files)
    assert rp.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID == rs.SOPInstanceUID
    rois = {r.ROINumber: r.ROIName for r in rs.StructureSetROISequence}
    assert rois[rp.DoseReferenceSequence[0].ReferencedROINumber] == "OuterTarget"
    for name in ("RD_physical.dcm", "RD_effective.dcm", "RD_beam.dcm"):
        assert files[name].ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID == rp.SOPInstanceUID
        assert files[name].ReferencedRTPlanSequence[0].ReferencedSOPClassUID == rp.SOPClassUID
    beam = files["RD_beam.dcm"].ReferencedRTPlanSequence[0].ReferencedFractionGroupSequence[0]
    lateral = next(b for b in rp.IonBeamSequence if b.BeamName == "lateral")
    assert beam.ReferencedBeamSequence[0].ReferencedBeamNumber == lateral.BeamNumber


def test_everything_reads_back(export: Path) -> None:
    patient = read_dicom_patient(export)  # plan and dose files in the folder are ignored
    plan = read_rt_ion_plan(export / "RP.dcm")
    expected = _plan("carbon")
    assert plan.prescription == expected.prescription
    assert [b.geometry for b in plan.beams] == [b.geometry for b in expected.beams]
    assert plan.n_spots == expected.n_spots
    kinds = {read_rt_dose(export / n).dose_type for n in export.glob("RD_*.dcm")}
    assert kinds == {"PHYSICAL", "EFFECTIVE"}
    dose = read_rt_dose(export / "RD_physical.dcm")
    assert dose.grid == patient.grid
    target = patient.structures["OuterTarget"].mask
    assert dose.values[target].min() > 1.7 and dose.values[~target].max() < 0.12
