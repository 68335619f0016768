"""RT Ion Plan export: an ionbeam :class:`~ionbeam.planning.Plan` as a DICOM RT Ion Plan.

The dataset holds the modules of the RT Ion Plan IOD (DICOM PS3.3 A.50):
Patient, General Study, RT Series, Frame of Reference, General Equipment,
RT General Plan (C.8.8.9, referencing the RT Structure Set), RT
Prescription (C.8.8.10: the target and its prescribed dose), RT Patient
Setup (C.8.8.12: the patient position), RT Fraction Scheme (C.8.8.13: the
number of fractions and each beam's meterset), RT Ion Beams (C.8.8.25),
Approval and SOP Common.

Choices, each a reading of the standard:

- Spot weights are numbers of particles: ``PrimaryDosimeterUnit`` NP, each
  beam's ``BeamMeterset`` is its particles per fraction, and the meterset
  weights of the spots are particles too (so ``FinalCumulativeMetersetWeight``
  equals ``BeamMeterset``). ``ScanSpotMetersetWeights`` is a 32-bit float,
  so weights survive a round trip to float32 precision (7 digits).
- Only spots that deliver particles are written: spots of weight 0 (switched
  off by the optimizer) are left out, and so are layers left without spots, so
  that other systems count, time and deliver the plan as it is.
- Each energy layer (a run of consecutive spots with the same energy) is a
  pair of control points as C.8.8.25.7 lays out for modulated scanning: the
  first carries the spot positions and weights and the cumulative meterset
  before the layer, the second the same positions with zero weights and the
  cumulative meterset after it. ``NominalBeamEnergy`` is in MeV per nucleon
  (MeV/u) for ions, the kinetic energy in MeV for protons: ionbeam's
  ``energy_mev_u`` in both cases.
- A range shifter is a BINARY range shifter set IN, with its
  water-equivalent thickness in ``RangeShifterWaterEquivalentThickness``.
- A ripple filter (a mini ridge filter) is a range modulator of type FIXED,
  which the standard defines as a fixed modulation device such as a ridge
  filter; lateral spreading devices are scatterers or magnets, not filters.
- The ROI of the target is found by the names ionbeam gives ROIs on reading
  (an ROI without a name is ``ROI <number>``).
- The SOP Instance UID is derived from a hash of the whole content, so the same
  UID always means the same file.
- An infinite (parallel) virtual source–axis distance is written as
  :data:`PARALLEL_SAD_MM` (10 km, where divergence is below 1e-5 rad across a
  20 cm field); the reader turns that value and larger back into infinity.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
from pydicom.dataset import Dataset, FileDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.valuerep import format_number_as_ds

from ionbeam.errors import ConfigError, DicomError, UnknownNameError
from ionbeam.io.dicom._common import (
    StudyInfo,
    add_equipment,
    add_frame_of_reference,
    add_general_series,
    add_general_study,
    add_patient,
    check_referenced,
    new_dataset,
    set_content_uid,
)
from ionbeam.io.dicom._limits import clip_text
from ionbeam.io.dicom._uids import RT_ION_PLAN_STORAGE, RT_STRUCTURE_SET_STORAGE, make_uid
from ionbeam.io.dicom.rtstruct import roi_names
from ionbeam.physics.particles import get_particle
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan

__all__ = ["PARALLEL_SAD_MM", "SCAN_SPOT_TUNE_ID", "rt_ion_plan_dataset"]

#: Virtual source–axis distance written for a parallel (infinite-SAD) scanning direction, mm.
PARALLEL_SAD_MM = 1.0e7
#: Scan Spot Tune ID written in every control point (the machine's default spot tune).
SCAN_SPOT_TUNE_ID = "DEFAULT"
_RANGE_SHIFTER_ID = "RS"
_RIPPLE_FILTER_ID = "RiFi"

SpotSizeFunction = Callable[[float], tuple[float, float]]


def rt_ion_plan_dataset(
    plan: Plan,
    *,
    study: StudyInfo,
    structure_set: Dataset,
    label: str = "ionbeam",
    series_number: int = 3,
    spot_fwhm_mm: SpotSizeFunction | None = None,
) -> FileDataset:
    """The RT Ion Plan dataset of ``plan``.

    ``study``: the patient, study and frame of reference of the CT the plan
    was made on; ``structure_set``: the RT Structure Set dataset (as written
    by :func:`~ionbeam.io.dicom.rtstruct_dataset` or read with pydicom) that
    holds the prescription's target; ``label``: the RT Plan Label (≤ 16
    characters); ``spot_fwhm_mm``: optionally, the machine's spot size in air
    at the isocentre as a function of energy (MeV/u → (FWHM x, FWHM y) in mm),
    written as ``ScanningSpotSize``.
    """
    reference = _structure_set_reference(structure_set, study)
    target_roi = _target_roi_number(plan, reference[1])
    _check_exportable(plan)
    series_uid = make_uid(study.study_instance_uid, "rtplan-series", label)
    ds = new_dataset(RT_ION_PLAN_STORAGE, make_uid(series_uid, "instance"))
    add_patient(ds, study)
    add_general_study(ds, study)
    add_general_series(ds, modality="RTPLAN", series_instance_uid=series_uid,
                       series_number=series_number, description="ionbeam plan")  # fmt: skip
    ds.OperatorsName = ""
    add_frame_of_reference(ds, study)
    add_equipment(ds)
    _add_general_plan(ds, plan, study, label, reference[0])
    ds.DoseReferenceSequence = DicomSequence([_dose_reference(plan, target_roi)])
    positions = list(dict.fromkeys(beam.geometry.patient_position for beam in plan.beams))
    ds.PatientSetupSequence = DicomSequence(
        [_patient_setup(number, position) for number, position in enumerate(positions, start=1)]
    )
    beams, metersets = [], []
    for number, beam in enumerate(plan.beams, start=1):
        setup = positions.index(beam.geometry.patient_position) + 1
        item, meterset = _ion_beam(beam, number, plan, setup, spot_fwhm_mm)
        beams.append(item)
        metersets.append(meterset)
    ds.FractionGroupSequence = DicomSequence([_fraction_group(plan, metersets)])
    ds.IonBeamSequence = DicomSequence(beams)
    ds.ApprovalStatus = "UNAPPROVED"
    return set_content_uid(ds)


def _check_exportable(plan: Plan) -> None:
    """Refuse what DICOM cannot hold: empty beams and names too long for their VR."""
    if not plan.machine.strip() or len(plan.machine) > 16:
        raise ConfigError(
            f"the treatment machine name must have 1–16 characters (DICOM SH); got {plan.machine!r}"
        )
    for beam in plan.beams:
        if beam.spots.n_spots == 0:
            raise DicomError(f"beam {beam.name!r} has no spots; remove it before exporting")
        if not np.any(_delivered(beam.spots.weight)):
            raise DicomError(
                f"beam {beam.name!r} delivers no particles (all its spot weights are 0); "
                "remove it before exporting"
            )
        if not beam.name.strip() or len(beam.name) > 64:
            raise ConfigError(f"beam names must have 1–64 characters (DICOM LO); got {beam.name!r}")


def _structure_set_reference(structure_set: Dataset, study: StudyInfo) -> tuple[str, dict]:
    """The RTSTRUCT's SOP instance UID and its ROI numbers by name, after checking
    that it belongs to ``study``."""
    check_referenced(
        structure_set, "RTSTRUCT", study, what="the structure set",
        wrong_modality="structure_set must be an RT Structure Set dataset",
        advice="export the plan with the study of the CT the structures belong to",
    )  # fmt: skip
    rois = {name: number for number, name in roi_names(structure_set).items()}
    return str(structure_set.SOPInstanceUID), rois


def _target_roi_number(plan: Plan, rois: dict[str, int]) -> int:
    target = plan.prescription.target
    if target not in rois:
        raise UnknownNameError("target structure", target, rois)
    return rois[target]


def _ds(value: float) -> str:
    """A decimal string (≤ 16 characters) as close to ``value`` as DICOM allows."""
    return format_number_as_ds(float(value))


def _add_general_plan(
    ds: Dataset, plan: Plan, study: StudyInfo, label: str, structure_set_uid: str
) -> None:
    """RT General Plan module (C.8.8.9)."""
    if not label.strip() or len(label) > 16:
        raise ConfigError(f"the RT Plan Label must have 1–16 characters; got {label!r}")
    ds.RTPlanLabel = label
    ds.RTPlanName = label
    ds.RTPlanDescription = clip_text(
        f"ionbeam {plan.particle} plan for {plan.machine}; RBE model {plan.rbe_model}", "ST"
    )
    ds.InstanceNumber = 1
    ds.RTPlanDate = study.study_date
    ds.RTPlanTime = study.study_time
    ds.RTPlanGeometry = "PATIENT"
    referenced = Dataset()
    referenced.ReferencedSOPClassUID = RT_STRUCTURE_SET_STORAGE
    referenced.ReferencedSOPInstanceUID = structure_set_uid
    ds.ReferencedStructureSetSequence = DicomSequence([referenced])


def _dose_reference(plan: Plan, target_roi: int) -> Dataset:
    """The prescription as a TARGET dose reference (C.8.8.10); Gy, or Gy(RBE)
    when the plan is RBE-weighted (the standard has no separate unit)."""
    item = Dataset()
    item.DoseReferenceNumber = 1
    item.DoseReferenceStructureType = "VOLUME"
    item.DoseReferenceDescription = clip_text(plan.prescription.target, "LO")
    item.ReferencedROINumber = target_roi
    item.DoseReferenceType = "TARGET"
    item.TargetPrescriptionDose = _ds(plan.prescription.total_dose_gy)
    return item


def _patient_setup(number: int, position: str) -> Dataset:
    item = Dataset()
    item.PatientSetupNumber = number
    item.PatientPosition = position
    return item


def _fraction_group(plan: Plan, metersets: list[str]) -> Dataset:
    """RT Fraction Scheme (C.8.8.13): one fraction group, each beam's meterset in particles."""
    group = Dataset()
    group.FractionGroupNumber = 1
    group.NumberOfFractionsPlanned = int(plan.prescription.fractions)
    group.NumberOfBeams = len(plan.beams)
    group.NumberOfBrachyApplicationSetups = 0
    referenced = []
    for number, meterset in enumerate(metersets, start=1):
        item = Dataset()
        item.ReferencedBeamNumber = number
        item.BeamMeterset = meterset
        referenced.append(item)
    group.ReferencedBeamSequence = DicomSequence(referenced)
    return group


def _ion_beam(
    beam: Beam, number: int, plan: Plan, setup: int, spot_fwhm_mm: SpotSizeFunction | None
) -> tuple[Dataset, str]:
    """One Ion Beam Sequence item (C.8.8.25) and its meterset (particles) as a decimal string."""
    item = Dataset()
    item.BeamNumber = number
    item.BeamName = beam.name
    item.BeamType = "STATIC"
    _add_radiation(item, plan.particle)
    item.ScanMode = "MODULATED"
    item.ModulatedScanModeType = "STATIONARY"  # discrete spots, as the dose engine models them
    item.TreatmentMachineName = plan.machine
    item.PrimaryDosimeterUnit = "NP"
    item.VirtualSourceAxisDistances = [
        PARALLEL_SAD_MM if math.isinf(s) else s for s in beam.geometry.sad_mm
    ]
    item.ReferencedPatientSetupNumber = setup
    item.TreatmentDeliveryType = "TREATMENT"
    for keyword in ("NumberOfWedges", "NumberOfCompensators", "NumberOfBoli", "NumberOfBlocks"):
        setattr(item, keyword, 0)
    has_range_shifter = beam.range_shifter_wet_mm > 0
    item.NumberOfRangeShifters = int(has_range_shifter)
    if has_range_shifter:
        item.RangeShifterSequence = DicomSequence([_range_shifter()])
    item.NumberOfLateralSpreadingDevices = 0
    item.NumberOfRangeModulators = int(beam.ripple_filter)
    if beam.ripple_filter:
        item.RangeModulatorSequence = DicomSequence([_ripple_filter()])
    item.PatientSupportType = "TABLE"
    control_points, meterset = _control_points(beam, spot_fwhm_mm)
    _add_first_control_point_settings(control_points[0], beam)
    item.FinalCumulativeMetersetWeight = meterset
    item.NumberOfControlPoints = len(control_points)
    item.IonControlPointSequence = DicomSequence(control_points)
    return item, meterset


def _add_radiation(item: Dataset, particle_name: str) -> None:
    particle = get_particle(particle_name)
    if particle.z == 1 and particle.a == 1:
        item.RadiationType = "PROTON"
        return
    item.RadiationType = "ION"
    item.RadiationMassNumber = particle.a
    item.RadiationAtomicNumber = particle.z
    item.RadiationChargeState = particle.z  # bare nuclei


def _range_shifter() -> Dataset:
    item = Dataset()
    item.RangeShifterNumber = 1
    item.RangeShifterID = _RANGE_SHIFTER_ID
    item.RangeShifterType = "BINARY"
    return item


def _ripple_filter() -> Dataset:
    item = Dataset()
    item.RangeModulatorNumber = 1
    item.RangeModulatorID = _RIPPLE_FILTER_ID
    item.RangeModulatorType = "FIXED"
    item.RangeModulatorDescription = "ripple filter (mini ridge filter)"
    return item


def _delivered(weight: np.ndarray) -> np.ndarray:
    """Which spots deliver particles once written as 32-bit floats."""
    return np.asarray(weight, dtype=np.float32) > 0


def _layer_runs(energy_mev_u: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of consecutive spots with the same energy."""
    edges = np.flatnonzero(np.diff(energy_mev_u) != 0) + 1
    bounds = np.concatenate([[0], edges, [energy_mev_u.size]]).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def _control_points(beam: Beam, spot_fwhm_mm: SpotSizeFunction | None) -> tuple[list, str]:
    """Two control points per energy layer that delivers particles, and the beam's total
    meterset (particles). Spots of weight 0 are not written, nor layers left empty."""
    spots = beam.spots.select(np.flatnonzero(_delivered(beam.spots.weight)))
    control_points: list[Dataset] = []
    cumulative = 0.0
    for start, stop in _layer_runs(spots.energy_mev_u):
        energy = float(spots.energy_mev_u[start])
        positions = np.column_stack([spots.x_mm[start:stop], spots.y_mm[start:stop]])
        weights = spots.weight[start:stop].astype(np.float32)
        layer_total = float(weights.astype(np.float64).sum())
        pair = ((cumulative, weights), (cumulative + layer_total, np.zeros_like(weights)))
        for cumulative_weight, layer_weights in pair:
            cp = Dataset()
            cp.ControlPointIndex = len(control_points)
            cp.NominalBeamEnergy = _ds(energy)
            cp.CumulativeMetersetWeight = _ds(cumulative_weight)
            cp.ScanSpotTuneID = SCAN_SPOT_TUNE_ID
            cp.NumberOfScanSpotPositions = stop - start
            cp.ScanSpotPositionMap = positions.astype(np.float32).reshape(-1).tolist()
            cp.ScanSpotMetersetWeights = layer_weights.tolist()
            if spot_fwhm_mm is not None:
                cp.ScanningSpotSize = _spot_size(spot_fwhm_mm, energy)
            cp.NumberOfPaintings = 1
            control_points.append(cp)
        cumulative += layer_total
    return control_points, _ds(cumulative)


def _spot_size(spot_fwhm_mm: SpotSizeFunction, energy_mev_u: float) -> list[float]:
    size = np.asarray(spot_fwhm_mm(energy_mev_u), dtype=float).reshape(-1)
    if size.size != 2 or not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise ConfigError(
            f"spot_fwhm_mm must return two positive FWHM values (x, y) in mm; got {size} "
            f"at {energy_mev_u:g} MeV/u"
        )
    return size.tolist()


def _add_first_control_point_settings(cp: Dataset, beam: Beam) -> None:
    """Machine and patient-support settings of the first control point, kept for the beam."""
    geometry: BeamGeometry = beam.geometry
    if beam.range_shifter_wet_mm > 0:
        setting = Dataset()
        setting.RangeShifterSetting = "IN"
        setting.RangeShifterWaterEquivalentThickness = float(beam.range_shifter_wet_mm)
        setting.ReferencedRangeShifterNumber = 1
        cp.RangeShifterSettingsSequence = DicomSequence([setting])
    if beam.ripple_filter:
        setting = Dataset()
        setting.ReferencedRangeModulatorNumber = 1
        cp.RangeModulatorSettingsSequence = DicomSequence([setting])
    cp.GantryAngle = _ds(geometry.gantry_deg)
    cp.GantryRotationDirection = "NONE"
    cp.GantryPitchAngle = 0.0
    cp.GantryPitchRotationDirection = "NONE"
    cp.BeamLimitingDeviceAngle = "0"
    cp.BeamLimitingDeviceRotationDirection = "NONE"
    cp.PatientSupportAngle = _ds(geometry.couch_deg)
    cp.PatientSupportRotationDirection = "NONE"
    cp.TableTopPitchAngle = 0.0
    cp.TableTopPitchRotationDirection = "NONE"
    cp.TableTopRollAngle = 0.0
    cp.TableTopRollRotationDirection = "NONE"
    cp.TableTopVerticalPosition = ""
    cp.TableTopLongitudinalPosition = ""
    cp.TableTopLateralPosition = ""
    cp.IsocenterPosition = [_ds(v) for v in geometry.isocenter_mm]
