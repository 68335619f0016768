"""Write ``foreign_rt_ion_plan.dcm``: an RT Ion Plan laid out the way commercial
planning systems write them, built by hand with pydicom (not with ionbeam).

Run from the repository root: ``python tests/data/dicom/make_foreign_rt_ion_plan.py``.
The file is committed; ``tests/unit/io/test_rt_ion_plan.py`` checks that ionbeam
reads back the numbers written here. Its layout differs from ionbeam's own on
purpose:

- Implicit VR Little Endian; meterset in MU (``PrimaryDosimeterUnit`` MU);
- beam 1 (carbon, horizontal line, couch 15°): a pair of control points per
  layer with the weights in the *second* control point of the pair and zeros in
  the first, relative meterset weights (final cumulative weight 1), two
  paintings in the first layer, a ``ScanSpotTuneID`` per layer, a 30 mm WET
  binary range shifter, a 3 mm ripple filter (FIXED range modulator) and the two
  scanning magnets listed as lateral spreading devices of type MAGNET;
- beam 2 (vertical line, couch 90°): one control point per layer plus a final
  control point with zero weights, ``NominalBeamEnergy`` only where it changes,
  absolute meterset weights, a zero-weight spot, no ``ModulatedScanModeType``;
- a setup beam (no spots) that is not part of the fraction group;
- an organ-at-risk dose reference before the target's.

It is not meant to pass dciodvfy in every detail (beam 2 lacks
``ModulatedScanModeType`` as plans from before its introduction do, and the
setup beam has a single control point), only to be readable.
"""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian

OUT = Path(__file__).with_name("foreign_rt_ion_plan.dcm")
ROOT = "1.2.826.0.1.3680043.8.498.99"  # an example root, not a real organisation's

# Beam 1: (energy MeV/u, [(x, y), ...], [weight, ...]) per layer; weights relative, sum 1.
BEAM1_LAYERS = [
    (290.21, [(-10.0, -5.0), (-5.0, -5.0), (0.0, -5.0)], [0.10, 0.15, 0.05]),
    (285.03, [(-10.0, 0.0), (-5.0, 0.0), (0.0, 0.0), (5.0, 0.0)], [0.08, 0.12, 0.10, 0.05]),
    (279.80, [(-7.5, 2.5), (2.5, 2.5)], [0.20, 0.15]),
]
BEAM1_METERSET_MU = 123.456
# Beam 2: absolute weights (MU), final cumulative weight = their sum = the beam meterset.
BEAM2_LAYERS = [
    (250.5, [(0.0, 0.0), (3.0, 0.0)], [10.0, 20.0]),
    (245.25, [(0.0, 3.0), (3.0, 3.0), (6.0, 3.0)], [30.0, 0.0, 38.7]),
]
BEAM2_METERSET_MU = 98.7


def _item(**attributes: object) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def _geometry(gantry: float, couch: float) -> dict:
    return {
        "GantryAngle": gantry,
        "GantryRotationDirection": "NONE",
        "BeamLimitingDeviceAngle": 0,
        "BeamLimitingDeviceRotationDirection": "NONE",
        "PatientSupportAngle": couch,
        "PatientSupportRotationDirection": "NONE",
        "TableTopPitchAngle": 0.0,
        "TableTopPitchRotationDirection": "NONE",
        "TableTopRollAngle": 0.0,
        "TableTopRollRotationDirection": "NONE",
        "IsocenterPosition": [12.5, -30.25, 4.0],
    }


def _spots(positions: list, weights: list) -> dict:
    return {
        "NumberOfScanSpotPositions": len(weights),
        "ScanSpotPositionMap": [v for xy in positions for v in xy],
        "ScanSpotMetersetWeights": list(weights),
    }


def _beam1_control_points() -> list[Dataset]:
    points, cumulative = [], 0.0
    for k, (energy, positions, weights) in enumerate(BEAM1_LAYERS):
        tune = "4.5" if k == 2 else "4.0"
        common = {"NominalBeamEnergy": energy, "ScanSpotTuneID": tune,
                  "NumberOfPaintings": 2 if k == 0 else 1}  # fmt: skip
        first = _item(ControlPointIndex=len(points), CumulativeMetersetWeight=round(cumulative, 6),
                      **common, **_spots(positions, [0.0] * len(weights)))  # fmt: skip
        if k == 0:
            for keyword, value in _geometry(90.0, 15.0).items():
                setattr(first, keyword, value)
            setting = _item(
                RangeShifterSetting="IN",
                IsocenterToRangeShifterDistance=300.0,
                RangeShifterWaterEquivalentThickness=30.0,
                ReferencedRangeShifterNumber=1,
            )
            first.RangeShifterSettingsSequence = Sequence([setting])
            first.RangeModulatorSettingsSequence = Sequence(
                [_item(ReferencedRangeModulatorNumber=1)]
            )
        cumulative += sum(weights)
        second = _item(ControlPointIndex=len(points) + 1,
                       CumulativeMetersetWeight=round(cumulative, 6),
                       **common, **_spots(positions, weights))  # fmt: skip
        points += [first, second]
    return points


def _beam2_control_points() -> list[Dataset]:
    points, cumulative = [], 0.0
    for k, (energy, positions, weights) in enumerate(BEAM2_LAYERS):
        cp = _item(ControlPointIndex=k, NominalBeamEnergy=energy, ScanSpotTuneID="3.0",
                   CumulativeMetersetWeight=round(cumulative, 6), NumberOfPaintings=1,
                   **_spots(positions, weights))  # fmt: skip
        if k == 0:
            for keyword, value in _geometry(0.0, 90.0).items():
                setattr(cp, keyword, value)
        cumulative += sum(weights)
        points.append(cp)
    last_positions = BEAM2_LAYERS[-1][1]
    points.append(_item(ControlPointIndex=len(points), ScanSpotTuneID="3.0",
                        CumulativeMetersetWeight=round(cumulative, 6), NumberOfPaintings=1,
                        **_spots(last_positions, [0.0] * len(last_positions))))  # fmt: skip
    return points


def _beam(number: int, name: str, points: list[Dataset], **extra: object) -> Dataset:
    beam = _item(
        BeamNumber=number, BeamName=name, BeamType="STATIC", RadiationType="ION",
        RadiationMassNumber=12, RadiationAtomicNumber=6, RadiationChargeState=6,
        ScanMode="MODULATED", TreatmentMachineName="SR1", PrimaryDosimeterUnit="MU",
        VirtualSourceAxisDistances=[6500.0, 7300.0], ReferencedPatientSetupNumber=1,
        TreatmentDeliveryType="TREATMENT", NumberOfWedges=0, NumberOfCompensators=0,
        NumberOfBoli=0, NumberOfBlocks=0, NumberOfRangeShifters=0,
        NumberOfLateralSpreadingDevices=0, NumberOfRangeModulators=0,
        PatientSupportType="TABLE", NumberOfControlPoints=len(points),
        FinalCumulativeMetersetWeight=points[-1].CumulativeMetersetWeight,
        IonControlPointSequence=Sequence(points),
    )  # fmt: skip
    for keyword, value in extra.items():
        setattr(beam, keyword, value)
    return beam


def _beams() -> list[Dataset]:
    magnets = Sequence([
        _item(LateralSpreadingDeviceNumber=n, LateralSpreadingDeviceID=name,
              LateralSpreadingDeviceType="MAGNET") for n, name in ((1, "SMX"), (2, "SMY"))
    ])  # fmt: skip
    beam1 = _beam(
        1, "HOR_RT", _beam1_control_points(), ModulatedScanModeType="STATIONARY",
        NumberOfRangeShifters=1, RangeShifterSequence=Sequence([_item(
            RangeShifterNumber=1, RangeShifterID="RS_30mm", RangeShifterType="BINARY")]),
        NumberOfRangeModulators=1, RangeModulatorSequence=Sequence([_item(
            RangeModulatorNumber=1, RangeModulatorID="RiFi_3mm", RangeModulatorType="FIXED")]),
        NumberOfLateralSpreadingDevices=2, LateralSpreadingDeviceSequence=magnets,
    )  # fmt: skip
    beam2 = _beam(2, "VER", _beam2_control_points())
    setup_cp = _item(ControlPointIndex=0, NominalBeamEnergy=250.5,
                     CumulativeMetersetWeight=None, **_geometry(0.0, 90.0))  # fmt: skip
    setup = _beam(3, "SETUP kV", [setup_cp], TreatmentDeliveryType="SETUP")
    del setup.FinalCumulativeMetersetWeight
    return [beam1, beam2, setup]


def build() -> FileDataset:
    """The plan as a pydicom dataset."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.8"
    meta.MediaStorageSOPInstanceUID = f"{ROOT}.3"
    meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds = FileDataset(str(OUT), {}, file_meta=meta, preamble=b"\0" * 128)
    for keyword, value in {
        "SOPClassUID": meta.MediaStorageSOPClassUID, "SOPInstanceUID": f"{ROOT}.3",
        "Modality": "RTPLAN", "PatientName": "Foreign^Plan", "PatientID": "F001",
        "StudyInstanceUID": f"{ROOT}.1", "SeriesInstanceUID": f"{ROOT}.2",
        "FrameOfReferenceUID": f"{ROOT}.4", "Manufacturer": "Some TPS", "RTPlanLabel": "SKULLBASE",
        "RTPlanGeometry": "PATIENT", "ApprovalStatus": "APPROVED", "PatientBirthDate": "",
        "PatientSex": "O", "StudyDate": "20240102", "StudyTime": "101500",
        "ReferringPhysicianName": "", "StudyID": "1", "AccessionNumber": "", "SeriesNumber": 7,
        "OperatorsName": "", "PositionReferenceIndicator": "", "RTPlanDate": "20240103",
        "RTPlanTime": "093000",
    }.items():  # fmt: skip
        setattr(ds, keyword, value)
    ds.ReferencedStructureSetSequence = Sequence([_item(
        ReferencedSOPClassUID="1.2.840.10008.5.1.4.1.1.481.3",
        ReferencedSOPInstanceUID=f"{ROOT}.5")])  # fmt: skip
    ds.DoseReferenceSequence = Sequence([
        _item(DoseReferenceNumber=1, DoseReferenceStructureType="VOLUME", ReferencedROINumber=4,
              DoseReferenceDescription="Brainstem", DoseReferenceType="ORGAN_AT_RISK",
              OrganAtRiskMaximumDose=54.0),
        _item(DoseReferenceNumber=2, DoseReferenceStructureType="VOLUME", ReferencedROINumber=2,
              DoseReferenceDescription="CTV_HR", DoseReferenceType="TARGET",
              TargetPrescriptionDose=70.4),
    ])  # fmt: skip
    ds.PatientSetupSequence = Sequence(
        [_item(PatientSetupNumber=1, PatientPosition="HFS", SetupTechnique="ISOCENTRIC")]
    )
    ds.FractionGroupSequence = Sequence([_item(
        FractionGroupNumber=1, NumberOfFractionsPlanned=16, NumberOfBeams=2,
        NumberOfBrachyApplicationSetups=0,
        ReferencedBeamSequence=Sequence([
            _item(ReferencedBeamNumber=1, BeamMeterset=BEAM1_METERSET_MU, BeamDose=2.4),
            _item(ReferencedBeamNumber=2, BeamMeterset=BEAM2_METERSET_MU, BeamDose=2.0),
        ]),
    )])  # fmt: skip
    ds.IonBeamSequence = Sequence(_beams())
    return ds


if __name__ == "__main__":
    build().save_as(OUT, enforce_file_format=True)
    print(f"wrote {OUT}")
