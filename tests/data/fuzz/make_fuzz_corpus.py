"""Write the fuzz corpus: corrupted DICOM folders, RT Ion Plans and plan files.

Run from the repository root: ``python tests/data/fuzz/make_fuzz_corpus.py``
(it replaces ``dicom/``, ``rtplan/`` and ``planfile/`` next to this script).
The files are committed; ``tests/unit/io/test_fuzz_corpus.py`` runs the
``ionbeam`` command on every case and requires a one-line error (exit status
2), no traceback and nothing written to ``--out``:

- ``valid/``: the base patient, the water phantom at 30 mm (6 × 6 × 6 voxels,
  CT slices and ``RS.dcm`` with Body and Target), written by ionbeam; the
  test checks that it reads, so that each case fails by its corruption;
- ``dicom/<case>/``: the base folder with one corruption, for
  ``ionbeam plan --dicom <case>``;
- ``rtplan/<case>.dcm``: a corrupted RT Ion Plan of the base patient, for
  ``ionbeam dose <case> --dicom valid``;
- ``planfile/<case>.toml``: a bad plan file, for ``ionbeam plan <case>``.

Each case is a few kB. The corruptions are the ones real folders show:
truncated files, wrong VRs, missing tags, NaN and huge values, inconsistent
slices, mixed series, stray files, structure sets of another scan.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from ionbeam.io.dicom import StudyInfo, rt_ion_plan_dataset, write_dicom_patient
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap

HERE = Path(__file__).resolve().parent
VALID = HERE / "valid"

DicomEdit = Callable[[Path], None]


# --- helpers ---------------------------------------------------------------------


def _edit_file(name: str, edit: Callable[[Dataset], None]) -> DicomEdit:
    def apply(folder: Path) -> None:
        ds = pydicom.dcmread(folder / name)
        edit(ds)
        ds.save_as(folder / name)

    return apply


def _edit_slices(edit: Callable[[Dataset, int], None], which: slice = slice(None)) -> DicomEdit:
    def apply(folder: Path) -> None:
        for k, path in enumerate(sorted(folder.glob("CT_*.dcm"))[which]):
            ds = pydicom.dcmread(path)
            edit(ds, k)
            ds.save_as(path)

    return apply


def _truncate(name: str, fraction: float) -> DicomEdit:
    def apply(folder: Path) -> None:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: int(fraction * len(data))])

    return apply


def _set(keyword: str, value: object) -> Callable[[Dataset, int], None]:
    def edit(ds: Dataset, k: int) -> None:
        setattr(ds, keyword, value)

    return edit


def _delete(keyword: str) -> Callable[[Dataset, int], None]:
    def edit(ds: Dataset, k: int) -> None:
        delattr(ds, keyword)

    return edit


def _wrong_vr(keyword: str, vr: str, value: object) -> Callable[[Dataset, int], None]:
    def edit(ds: Dataset, k: int) -> None:
        tag = pydicom.datadict.tag_for_keyword(keyword)
        ds[tag] = DataElement(tag, vr, value)

    return edit


def _contour(edit: Callable[[list], list], roi: int = 1) -> DicomEdit:
    def change(ds: Dataset) -> None:
        contour = ds.ROIContourSequence[roi].ContourSequence[0]
        contour.ContourData = edit(list(contour.ContourData))
        contour.NumberOfContourPoints = len(contour.ContourData) // 3

    return _edit_file("RS.dcm", change)


def _raw_replace(name: str, old: bytes, new: bytes) -> DicomEdit:
    def apply(folder: Path) -> None:
        data = (folder / name).read_bytes()
        if old not in data:
            raise RuntimeError(f"{old!r} not in {name}")
        (folder / name).write_bytes(data.replace(old, new.ljust(len(old)), 1))

    return apply


def _first_contour_value(folder: Path) -> bytes:
    ds = pydicom.dcmread(folder / "RS.dcm")
    return str(ds.ROIContourSequence[1].ContourSequence[0].ContourData[0]).encode()


def _nan_contour(folder: Path) -> None:
    _raw_replace("RS.dcm", _first_contour_value(folder), b"NaN")(folder)


def _inf_contour(folder: Path) -> None:
    _raw_replace("RS.dcm", _first_contour_value(folder), b"inf")(folder)


def _remove(pattern: str) -> DicomEdit:
    def apply(folder: Path) -> None:
        for path in folder.glob(pattern):
            path.unlink()

    return apply


def _only_readme(folder: Path) -> None:
    _remove("*.dcm")(folder)
    (folder / "README.txt").write_text("the images are on the other disk\n")


def _duplicate_slice(folder: Path) -> None:
    shutil.copy(folder / "CT_0003.dcm", folder / "CT_0003_copy.dcm")
    _edit_file("CT_0003_copy.dcm", _set_uid("SOPInstanceUID", "2.25.123"))(folder)


def _set_uid(keyword: str, value: str) -> Callable[[Dataset], None]:
    def edit(ds: Dataset) -> None:
        setattr(ds, keyword, value)

    return edit


def _pixel_nan(ds: Dataset, k: int) -> None:
    image = np.frombuffer(ds.PixelData, dtype="<i2").astype("<f4")
    image[3] = np.nan
    del ds.PixelData
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.FloatPixelData = image.tobytes()


def _scanner_slope_1000(ds: Dataset, k: int) -> None:
    """Stored as scanners do (unsigned, intercept -1024 HU), with slope 1000 instead of 1:
    water becomes ~1e6 HU."""
    pixels = np.frombuffer(ds.PixelData, dtype="<i2").astype(np.int32) + 1024
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1000


def _rows_too_many(ds: Dataset, k: int) -> None:
    ds.Rows = int(ds.Rows) + 3


def _undefined_roi(ds: Dataset) -> None:
    ds.ROIContourSequence[1].ReferencedROINumber = 99


def _tilted_contour(values: list) -> list:
    values[2] = float(values[2]) + 7.0
    return values


def _foreign_frame(ds: Dataset) -> None:
    ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = "2.25.777"
    for roi in ds.StructureSetROISequence:
        roi.ReferencedFrameOfReferenceUID = "2.25.777"


def _no_roi_sequence(ds: Dataset) -> None:
    del ds.StructureSetROISequence


def _contours_outside(ds: Dataset) -> None:
    for item in ds.ROIContourSequence:
        for contour in item.ContourSequence:
            values = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
            values[:, 2] += 5000.0
            contour.ContourData = [f"{v:.3f}" for v in values.reshape(-1)]


DICOM_CASES: dict[str, DicomEdit] = {
    "truncated_rtstruct_20": _truncate("RS.dcm", 0.2),
    "truncated_rtstruct_60": _truncate("RS.dcm", 0.6),
    "truncated_rtstruct_99": _truncate("RS.dcm", 0.99),
    "truncated_ct_header": _truncate("CT_0002.dcm", 0.25),
    "truncated_ct_pixels": _truncate("CT_0004.dcm", 0.97),
    "nan_contour": _nan_contour,
    "inf_contour": _inf_contour,
    "contour_not_triplets": _contour(lambda v: v[:-1]),
    "contour_not_axial": _contour(_tilted_contour),
    "contour_undefined_roi": _edit_file("RS.dcm", _undefined_roi),
    "rtstruct_without_roi_sequence": _edit_file("RS.dcm", _no_roi_sequence),
    "rtstruct_other_frame": _edit_file("RS.dcm", _foreign_frame),
    "contours_all_outside_ct": _edit_file("RS.dcm", _contours_outside),
    "no_rtstruct": _remove("RS.dcm"),
    "only_rtstruct": _remove("CT_*.dcm"),
    "only_a_readme": _only_readme,
    "rescale_slope_zero": _edit_slices(_set("RescaleSlope", 0), slice(2, 3)),
    "rescale_slope_1000": _edit_slices(_scanner_slope_1000),
    "rescale_slope_nan": _edit_slices(_set("RescaleSlope", "NaN"), slice(1, 2)),
    "rescale_inconsistent": _edit_slices(_set("RescaleIntercept", -1024), slice(3, 4)),
    "rescale_slope_wrong_vr": _edit_slices(
        _wrong_vr("RescaleSlope", "OB", b"\x01\x02"), slice(0, 1)
    ),
    "pixel_spacing_wrong_vr": _edit_slices(_wrong_vr("PixelSpacing", "OB", b"\x00\x01")),
    "pixel_spacing_zero": _edit_slices(_set("PixelSpacing", [0, 0])),
    "position_huge": _edit_slices(
        _set("ImagePositionPatient", ["1e308", "1e308", "1e308"]), slice(0, 1)
    ),
    "position_two_values": _edit_slices(_set("ImagePositionPatient", [0, 0]), slice(5, 6)),
    "missing_position": _edit_slices(_delete("ImagePositionPatient"), slice(2, 3)),
    "missing_orientation": _edit_slices(_delete("ImageOrientationPatient")),
    "missing_pixel_data": _edit_slices(_delete("PixelData"), slice(1, 2)),
    "pixel_nan": _edit_slices(_pixel_nan, slice(2, 3)),
    "rows_mismatch": _edit_slices(_rows_too_many, slice(0, 1)),
    "rows_zero": _edit_slices(_set("Rows", 0)),
    "patient_name_10000": _edit_slices(_set("PatientName", "A" * 10_000)),
    "mixed_series": _edit_slices(_set("SeriesInstanceUID", "2.25.42"), slice(0, 2)),
    "mixed_frame_of_reference": _edit_slices(_set("FrameOfReferenceUID", "2.25.43"), slice(0, 1)),
    "duplicate_slice": _duplicate_slice,
    "missing_slice": _remove("CT_0003.dcm"),
    "oblique": _edit_slices(_set("ImageOrientationPatient", [1, 0, 0, 0, 0.96, 0.28])),
}


# --- RT Ion Plans ----------------------------------------------------------------


def _plan_dataset() -> Dataset:
    headers = pydicom.dcmread(VALID / "CT_0001.dcm", stop_before_pixels=True)
    study = StudyInfo(
        patient_name=str(headers.PatientName).rstrip("^"),
        patient_id=str(headers.PatientID),
        study_instance_uid=str(headers.StudyInstanceUID),
        frame_of_reference_uid=str(headers.FrameOfReferenceUID),
        study_date=str(headers.StudyDate),
        study_time=str(headers.StudyTime),
    )
    spots = SpotMap(np.repeat([120.0, 110.0], 2), np.array([-10.0, 10.0, -10.0, 10.0]),
                    np.zeros(4), np.full(4, 1e7))  # fmt: skip
    beam = Beam("B1", BeamGeometry(0.0, 0.0, (0.0, 0.0, 0.0), (2000.0, 2300.0)), spots)
    plan = Plan("proton", (beam,), Prescription("Target", 60.0, 30), machine="cnao")
    return rt_ion_plan_dataset(plan, study=study, structure_set=pydicom.dcmread(VALID / "RS.dcm"))


def _cp(ds: Dataset, k: int = 0) -> Dataset:
    return ds.IonBeamSequence[0].IonControlPointSequence[k]


def _nan_weight(ds: Dataset) -> None:
    _cp(ds).ScanSpotMetersetWeights = [float("nan"), 1e7]


def _huge_energy(ds: Dataset) -> None:
    for cp in ds.IonBeamSequence[0].IonControlPointSequence:
        cp.NominalBeamEnergy = "1e300"


def _weights_wrong_vr(ds: Dataset) -> None:
    tag = pydicom.datadict.tag_for_keyword("ScanSpotMetersetWeights")
    _cp(ds)[tag] = DataElement(tag, "LO", "many")


def _no_control_points(ds: Dataset) -> None:
    del ds.IonBeamSequence[0].IonControlPointSequence


def _photon(ds: Dataset) -> None:
    ds.IonBeamSequence[0].RadiationType = "PHOTON"


def _no_beams(ds: Dataset) -> None:
    del ds.IonBeamSequence


def _huge_weight(ds: Dataset) -> None:
    _cp(ds).ScanSpotMetersetWeights = [1e38, 1e38]


PLAN_CASES: dict[str, Callable[[Dataset], None] | float] = {
    "truncated_30": 0.3,
    "truncated_80": 0.8,
    "nan_weight": _nan_weight,
    "huge_weight": _huge_weight,
    "huge_energy": _huge_energy,
    "weights_wrong_vr": _weights_wrong_vr,
    "no_control_points": _no_control_points,
    "photon_beam": _photon,
    "no_beams": _no_beams,
}


# --- plan files ------------------------------------------------------------------

_WATER = '[patient]\nphantom = "water"\nspacing_mm = 30.0\n'
PLAN_FILES: dict[str, str] = {
    "syntax_error": _WATER + "[plan\nparticle = proton\n",
    "unknown_key": _WATER + '[plan]\nparticle = "proton"\nparticel = "carbon"\n',
    "unknown_section": _WATER + '[planning]\nparticle = "proton"\n',
    "fractions_text": _WATER + '[prescription]\nfractions = "ten"\n',
    "fractions_negative": _WATER + "[prescription]\nfractions = -3\n",
    "dose_nan": _WATER + "[prescription]\ntotal_dose_gy = nan\n",
    "dose_huge": _WATER + '[prescription]\ntotal_dose_gy = 1e308\n[plan]\nparticle = "proton"\n',
    "gantry_inf": _WATER + '[plan]\nparticle = "proton"\n[[beams]]\ngantry_deg = inf\n',
    "unknown_particle": _WATER + '[plan]\nparticle = "neutron"\n',
    "unknown_target": '[patient]\nphantom = "water"\nspacing_mm = 30.0\ntarget = "Tumour"\n'
    '[plan]\nparticle = "proton"\n',
    "no_patient": '[plan]\nparticle = "proton"\n',
    "dicom_folder_missing": '[patient]\ndicom = "no/such/folder"\n[plan]\nparticle = "proton"\n',
    "phantom_and_dicom": _WATER.replace("[patient]\n", '[patient]\ndicom = "x"\n'),
    "spot_spacing_zero": _WATER + '[plan]\nparticle = "proton"\nspot_spacing_mm = 0.0\n',
    "beams_not_tables": _WATER + '[plan]\nparticle = "proton"\nbeams = [1, 2]\n',
    "objective_volume_200": _WATER + '[plan]\nparticle = "proton"\n[[objectives]]\n'
    'structure = "Target"\ntype = "min_dvh"\ndose_gy = 60.0\nvolume_percent = 200.0\n',
    "objective_unknown_type": _WATER + '[plan]\nparticle = "proton"\n[[objectives]]\n'
    'structure = "Target"\ntype = "maximum"\ndose_gy = 60.0\n',
    "empty_file": "",
}
BINARY_PLAN_FILE = b"\xff\xfe\x00garbage\x00\x81"


def main() -> None:
    warnings.simplefilter("ignore")  # pydicom warns about the invalid values written on purpose
    for name in ("valid", "dicom", "rtplan", "planfile"):
        shutil.rmtree(HERE / name, ignore_errors=True)
    write_dicom_patient(make_phantom("water", spacing_mm=30.0), VALID)
    for case, edit in DICOM_CASES.items():
        folder = HERE / "dicom" / case
        shutil.copytree(VALID, folder)
        edit(folder)
    (HERE / "rtplan").mkdir()
    for case, edit in PLAN_CASES.items():
        path = HERE / "rtplan" / f"{case}.dcm"
        ds = _plan_dataset()
        if callable(edit):
            edit(ds)
        ds.save_as(path, enforce_file_format=True)
        if not callable(edit):
            path.write_bytes(path.read_bytes()[: int(edit * path.stat().st_size)])
    (HERE / "planfile").mkdir()
    for case, text in PLAN_FILES.items():
        (HERE / "planfile" / f"{case}.toml").write_text(text, encoding="utf-8")
    (HERE / "planfile" / "binary.toml").write_bytes(BINARY_PLAN_FILE)


if __name__ == "__main__":
    main()
