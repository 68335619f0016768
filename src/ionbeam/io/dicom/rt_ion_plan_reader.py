"""RT Ion Plan import: a DICOM RT Ion Plan (ionbeam's or another system's) as a
:class:`~ionbeam.planning.Plan`.

What is read: the particle, each treatment beam's spots (energy, position in
the isocentre plane, weight), gantry and couch angles, isocentre, virtual
source–axis distances, patient position, range shifter (water-equivalent
thickness) and ripple filter (a FIXED range modulator), the number of
fractions and the prescription. Setup beams are skipped. The spot size
(``ScanningSpotSize``) is not read: the dose engine takes it from its
machine model.

Spot weights become particles per fraction: a spot's meterset is its share
of the beam's ``BeamMeterset``; with ``PrimaryDosimeterUnit`` NP that is a
number of particles. Plans in MU need ``particles_per_mu`` (the machine's
calibration as a function of energy).

Anything ionbeam cannot model (photons, passive scattering, apertures,
compensators, boli, moving gantry or couch, table pitch or roll, more than
one fraction group) is refused with a :class:`~ionbeam.errors.DicomError`
rather than read approximately.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from ionbeam.errors import DicomError, IonbeamError
from ionbeam.io.dicom._files import read_dataset
from ionbeam.io.dicom._ion_control_points import beam_spots, number, numbers, present
from ionbeam.io.dicom._uids import RT_ION_PLAN_STORAGE
from ionbeam.io.dicom.rt_ion_plan import PARALLEL_SAD_MM
from ionbeam.physics.particles import PARTICLES
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

__all__ = ["read_rt_ion_plan"]

_RT_PLAN_STORAGE = "1.2.840.10008.5.1.4.1.1.481.5"  # photon/electron RT Plan
_SCANNED = ("MODULATED", "MODULATED_SPEC")
#: How far an angle (degrees) or isocentre coordinate (mm) may differ between control points.
_FIXED_TOLERANCE = 1e-3
_UNMODELLED_DEVICES = {
    "NumberOfWedges": "wedges",
    "NumberOfCompensators": "range compensators",
    "NumberOfBoli": "boli",
    "NumberOfBlocks": "blocks (apertures)",
}

ParticlesPerMU = Callable[[np.ndarray], np.ndarray]


def read_rt_ion_plan(
    path: str | Path,
    *,
    particles_per_mu: ParticlesPerMU | None = None,
    prescription: Prescription | None = None,
    patient_position: str | None = None,
) -> Plan:
    """Read the RT Ion Plan file ``path``.

    ``particles_per_mu``: for plans whose meterset is in MU, the machine's
    particles per MU as a function of energy (array of MeV/u → array).
    ``prescription``: replaces the plan's own (needed when the file has no
    target prescription dose). ``patient_position``: used only when the file
    does not say it (no RT Patient Setup module).
    """
    path = Path(path)
    ds = read_dataset(path)
    _check_is_ion_plan(ds, path)
    group = _fraction_group(ds, path)
    metersets = _beam_metersets(group, path)
    setups = _patient_setups(ds)
    beams = []
    particles = set()
    machines = set()
    for item in ds.IonBeamSequence:
        if str(item.get("TreatmentDeliveryType", "TREATMENT")).upper() == "SETUP":
            continue
        where = f"{path}: beam {item.get('BeamNumber', '?')} ({item.get('BeamName', '')})"
        number_ = int(number(item, "BeamNumber", where))
        if number_ not in metersets:
            raise DicomError(f"{where} has no BeamMeterset in the fraction group; cannot weigh it")
        particles.add(_particle(item, where))
        machines.add(str(item.get("TreatmentMachineName", "") or "unknown"))
        beams.append(_beam(item, metersets.pop(number_), setups, where,
                           particles_per_mu, patient_position))  # fmt: skip
    if metersets:
        raise DicomError(
            f"{path}: the fraction group refers to beams {sorted(metersets)} that are not "
            "treatment beams of the IonBeamSequence; the plan is inconsistent"
        )
    if not beams:
        raise DicomError(f"{path} has no treatment beams")
    for kind, found in (("particles", particles), ("treatment machines", machines)):
        if len(found) > 1:
            raise DicomError(
                f"{path} mixes {kind} {sorted(found)}; an ionbeam plan has one of each"
            )
    prescription = prescription or _prescription(ds, group, path)
    try:
        return Plan(particles.pop(), tuple(_unique_names(beams)), prescription,
                    machine=machines.pop())  # fmt: skip
    except IonbeamError as exc:
        raise DicomError(f"{path}: {exc}") from None


def _check_is_ion_plan(ds: Dataset, path: Path) -> None:
    sop_class = str(getattr(ds, "SOPClassUID", ""))
    if sop_class == _RT_PLAN_STORAGE or "BeamSequence" in ds:
        raise DicomError(
            f"{path} is a photon/electron RT Plan, not an RT Ion Plan; ionbeam plans ions"
        )
    if sop_class != RT_ION_PLAN_STORAGE or "IonBeamSequence" not in ds:
        raise DicomError(
            f"{path} is not an RT Ion Plan (SOP class {sop_class or 'missing'}, "
            f"{'with' if 'IonBeamSequence' in ds else 'without'} IonBeamSequence)"
        )


def _fraction_group(ds: Dataset, path: Path) -> Dataset:
    groups = list(getattr(ds, "FractionGroupSequence", []))
    if len(groups) != 1:
        raise DicomError(
            f"{path} has {len(groups)} fraction groups; ionbeam reads plans with exactly one "
            "(export each fraction group as its own plan)"
        )
    return groups[0]


def _beam_metersets(group: Dataset, path: Path) -> dict[int, float]:
    where = f"{path}: fraction group"
    referenced = list(getattr(group, "ReferencedBeamSequence", []))
    if present(group, "NumberOfBeams") and int(group.NumberOfBeams) != len(referenced):
        raise DicomError(
            f"{where}: NumberOfBeams is {int(group.NumberOfBeams)} but "
            f"{len(referenced)} beams are referenced; the plan is inconsistent"
        )
    metersets = {}
    for item in referenced:
        beam = int(number(item, "ReferencedBeamNumber", where))
        meterset = number(item, "BeamMeterset", f"{where}, beam {beam}")
        if meterset < 0:
            raise DicomError(f"{where}: BeamMeterset of beam {beam} is negative ({meterset})")
        metersets[beam] = meterset
    return metersets


def _patient_setups(ds: Dataset) -> dict[int, str]:
    return {
        int(s.PatientSetupNumber): str(s.PatientPosition)
        for s in getattr(ds, "PatientSetupSequence", [])
        if present(s, "PatientSetupNumber") and present(s, "PatientPosition")
    }


def _particle(item: Dataset, where: str) -> str:
    radiation = str(item.get("RadiationType", "")).upper()
    if radiation == "PROTON":
        return "proton"
    if radiation != "ION":
        raise DicomError(
            f"{where}: radiation type {radiation or 'missing'} is not an ion beam; ionbeam "
            "reads PROTON and ION beams"
        )
    z = int(number(item, "RadiationAtomicNumber", where))
    a = int(number(item, "RadiationMassNumber", where))
    for particle in PARTICLES.values():
        if (particle.z, particle.a) == (z, a):
            return particle.name
    known = ", ".join(f"{p.name} (Z={p.z}, A={p.a})" for p in PARTICLES.values())
    raise DicomError(f"{where}: ion Z={z}, A={a} is not one ionbeam models; it knows {known}")


def _beam(
    item: Dataset,
    meterset: float,
    setups: dict[int, str],
    where: str,
    particles_per_mu: ParticlesPerMU | None,
    patient_position: str | None,
) -> Beam:
    _check_scanned_without_devices(item, where)
    spots = beam_spots(item, where)
    # Meterset per unit of meterset weight (exactly 1 in ionbeam's own plans).
    scale = meterset / spots.final_weight if spots.final_weight > 0 else 0.0
    weight = _particles(item, spots.meterset_weight * scale, spots.energy_mev_u, where,
                        particles_per_mu)  # fmt: skip
    first = item.IonControlPointSequence[0]
    try:
        geometry = BeamGeometry(
            gantry_deg=number(first, "GantryAngle", f"{where}, control point 0"),
            couch_deg=number(first, "PatientSupportAngle", f"{where}, control point 0"),
            isocenter_mm=tuple(numbers(first, "IsocenterPosition", f"{where}, control point 0")),
            sad_mm=_source_axis_distances(item, where),
            patient_position=_position(item, setups, where, patient_position),
        )
        _check_fixed_geometry(item, where)
        return Beam(
            name=str(item.get("BeamName", "") or f"Beam {item.BeamNumber}"),
            geometry=geometry,
            spots=SpotMap(spots.energy_mev_u, spots.x_mm, spots.y_mm, weight),
            range_shifter_wet_mm=_range_shifter_wet_mm(item, where),
            ripple_filter=_ripple_filter(item, where),
        )
    except DicomError:
        raise
    except IonbeamError as exc:  # what the plan model refuses, named with the file
        raise DicomError(f"{where}: {exc}") from None


def _check_scanned_without_devices(item: Dataset, where: str) -> None:
    scan_mode = str(item.get("ScanMode", "")).upper()
    if scan_mode not in _SCANNED:
        raise DicomError(
            f"{where}: scan mode {scan_mode or 'missing'} is not modulated spot scanning; "
            "ionbeam reads pencil-beam scanning plans (ScanMode MODULATED)"
        )
    for keyword, name in _UNMODELLED_DEVICES.items():
        if present(item, keyword) and int(item[keyword].value) > 0:
            raise DicomError(
                f"{where} uses {int(item[keyword].value)} {name}, which ionbeam does not model; "
                "its dose would be wrong"
            )
    for device in getattr(item, "LateralSpreadingDeviceSequence", []):
        if str(device.get("LateralSpreadingDeviceType", "")).upper() != "MAGNET":
            raise DicomError(
                f"{where} uses a scattering foil ({device.get('LateralSpreadingDeviceID', '')}); "
                "ionbeam models scanned beams without scatterers"
            )


def _particles(
    item: Dataset,
    meterset: np.ndarray,
    energy_mev_u: np.ndarray,
    where: str,
    particles_per_mu: ParticlesPerMU | None,
) -> np.ndarray:
    unit = str(item.get("PrimaryDosimeterUnit", "")).upper()
    if unit == "NP":
        return np.asarray(meterset, dtype=float)
    if unit == "MU" and particles_per_mu is not None:
        per_mu = np.asarray(particles_per_mu(energy_mev_u), dtype=float)
        if per_mu.shape != energy_mev_u.shape or not np.all(np.isfinite(per_mu) & (per_mu > 0)):
            raise DicomError(
                f"{where}: particles_per_mu must return one positive number per spot energy; "
                f"got shape {per_mu.shape}"
            )
        return meterset * per_mu
    raise DicomError(
        f"{where}: the meterset is in {unit or 'unstated units'}, but ionbeam needs spot weights "
        "in particles (PrimaryDosimeterUnit NP); pass the machine's MU-to-particles "
        "calibration (ionbeam dose --particles-per-mu N|FILE; in Python particles_per_mu)"
    )


def _source_axis_distances(item: Dataset, where: str) -> tuple[float, float]:
    sad = numbers(item, "VirtualSourceAxisDistances", where)
    if sad.size != 2 or np.any(sad <= 0):
        raise DicomError(
            f"{where}: VirtualSourceAxisDistances must be two positive distances (x, y) in mm; "
            f"got {sad.tolist()}"
        )
    return tuple(math.inf if s >= PARALLEL_SAD_MM else float(s) for s in sad)  # type: ignore[return-value]


def _position(item: Dataset, setups: dict[int, str], where: str, fallback: str | None) -> str:
    if present(item, "ReferencedPatientSetupNumber"):
        setup = int(item.ReferencedPatientSetupNumber)
        if setup not in setups:
            raise DicomError(f"{where} refers to patient setup {setup}, which is not defined")
        return setups[setup]
    if len(set(setups.values())) == 1:
        return next(iter(setups.values()))
    if fallback is not None:
        return fallback
    raise DicomError(
        f"{where}: the plan does not say the patient position (PatientSetupSequence); "
        "pass patient_position (e.g. 'HFS')"
    )


def _check_fixed_geometry(item: Dataset, where: str) -> None:
    points = item.IonControlPointSequence
    for keyword in ("GantryAngle", "PatientSupportAngle", "IsocenterPosition"):
        reference = numbers(points[0], keyword, f"{where}, control point 0")
        for i, cp in enumerate(points[1:], start=1):
            if (
                present(cp, keyword)
                and np.abs(numbers(cp, keyword, f"{where}, control point {i}") - reference).max()
                > _FIXED_TOLERANCE
            ):
                raise DicomError(
                    f"{where}: {keyword} changes during the beam (control point {i}); ionbeam "
                    "reads fixed beams only"
                )
    for keyword in ("GantryPitchAngle", "TableTopPitchAngle", "TableTopRollAngle"):
        for i, cp in enumerate(points):
            if present(cp, keyword) and abs(number(cp, keyword, where)) > _FIXED_TOLERANCE:
                raise DicomError(
                    f"{where}: {keyword} is {number(cp, keyword, where):g}° at control point {i};"
                    " ionbeam models no pitch or roll"
                )


def _range_shifter_wet_mm(item: Dataset, where: str) -> float:
    """Total water-equivalent thickness of the range shifters set IN (mm)."""
    shifters = {
        int(s.RangeShifterNumber): str(s.get("RangeShifterID", s.RangeShifterNumber))
        for s in getattr(item, "RangeShifterSequence", [])
    }
    declared = int(item.NumberOfRangeShifters) if present(item, "NumberOfRangeShifters") else 0
    if declared != len(shifters):
        raise DicomError(
            f"{where}: NumberOfRangeShifters is {declared} but RangeShifterSequence holds "
            f"{len(shifters)}; the plan is inconsistent"
        )
    settings = [
        _range_shifter_settings(cp, shifters, where)
        for cp in item.IonControlPointSequence
        if "RangeShifterSettingsSequence" in cp
    ]
    if shifters and not settings:
        raise DicomError(f"{where} has range shifters but no RangeShifterSettingsSequence")
    if any(s != settings[0] for s in settings[1:]):
        raise DicomError(
            f"{where}: the range shifter setting changes between layers; ionbeam supports one "
            "range shifter setting per beam"
        )
    return settings[0] if settings else 0.0


def _range_shifter_settings(cp: Dataset, shifters: dict[int, str], where: str) -> float:
    wet = 0.0
    for setting in cp.RangeShifterSettingsSequence:
        number_ = int(number(setting, "ReferencedRangeShifterNumber", where))
        if number_ not in shifters:
            raise DicomError(f"{where}: settings refer to range shifter {number_}, not defined")
        if str(setting.get("RangeShifterSetting", "")).strip().upper() in ("OUT", "0", ""):
            continue
        if not present(setting, "RangeShifterWaterEquivalentThickness"):
            raise DicomError(
                f"{where}: range shifter {shifters[number_]} has no "
                "RangeShifterWaterEquivalentThickness; ionbeam needs its water-equivalent "
                "thickness"
            )
        value = number(setting, "RangeShifterWaterEquivalentThickness", where)
        if value < 0:
            raise DicomError(f"{where}: range shifter {shifters[number_]} has WET {value} mm < 0")
        wet += value
    return wet


def _ripple_filter(item: Dataset, where: str) -> bool:
    modulators = list(getattr(item, "RangeModulatorSequence", []))
    declared = int(item.NumberOfRangeModulators) if present(item, "NumberOfRangeModulators") else 0
    if declared != len(modulators):
        raise DicomError(
            f"{where}: NumberOfRangeModulators is {declared} but RangeModulatorSequence holds "
            f"{len(modulators)}; the plan is inconsistent"
        )
    for modulator in modulators:
        kind = str(modulator.get("RangeModulatorType", "")).upper()
        if kind != "FIXED":
            raise DicomError(
                f"{where}: range modulator {modulator.get('RangeModulatorID', '')} of type "
                f"{kind or 'missing'} is a modulator wheel (passive scattering); ionbeam reads "
                "only fixed ripple filters"
            )
    return bool(modulators)


def _prescription(ds: Dataset, group: Dataset, path: Path) -> Prescription:
    fractions = (
        int(group.NumberOfFractionsPlanned) if present(group, "NumberOfFractionsPlanned") else 1
    )
    for reference in getattr(ds, "DoseReferenceSequence", []):
        if str(reference.get("DoseReferenceType", "")).upper() != "TARGET":
            continue
        if not present(reference, "TargetPrescriptionDose"):
            continue
        where = f"{path}: dose reference {reference.get('DoseReferenceNumber', '?')}"
        target = str(reference.get("DoseReferenceDescription", "")).strip() or (
            f"ROI {reference.ReferencedROINumber}"
            if present(reference, "ReferencedROINumber")
            else "target"
        )
        dose_gy = number(reference, "TargetPrescriptionDose", where)
        try:
            return Prescription(target, dose_gy, fractions)
        except IonbeamError as exc:  # e.g. a dose of 0 Gy
            raise DicomError(f"{where}: {exc}; pass prescription= to replace it") from None
    raise DicomError(
        f"{path} has no target with a prescribed dose (DoseReferenceSequence); pass "
        "prescription=Prescription(target, total_dose_gy, fractions)"
    )


def _unique_names(beams: list[Beam]) -> list[Beam]:
    """Beams with unique names (a number is appended to repeated names)."""
    seen: dict[str, int] = {}
    unique = []
    for beam in beams:
        count = seen.get(beam.name, 0)
        seen[beam.name] = count + 1
        if count:
            beam = Beam(f"{beam.name} ({count + 1})", beam.geometry, beam.spots,
                        beam.range_shifter_wet_mm, beam.ripple_filter)  # fmt: skip
        unique.append(beam)
    return unique
