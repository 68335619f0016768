"""Plan files: what to plan, in TOML, checked once at the boundary.

A plan file says which patient (a built-in phantom or a DICOM folder), the
prescription, the particle and machine, the beams, the RBE model and the
objectives. Every key is optional except where noted; unknown keys and
sections are errors (a typo must not be ignored). Dose levels in objectives
are **totals over all fractions** (Gy or Gy(RBE)), as a prescription is
written; the planner works per fraction. Example::

    [patient]
    phantom = "head"              # or: dicom = "path/to/folder" (CT + RTSTRUCT)
    target = "PTV"                # default: the phantom's target
    spacing_mm = 2.0              # phantoms only
    calibration = "hlut.txt"      # optional two-column HU, SPR table

    [prescription]
    total_dose_gy = 60.0          # or dose_per_fraction_gy
    fractions = 20

    [plan]
    particle = "carbon"
    machine = "cnao"
    technique = "impt"            # or "sfud"
    rbe_model = "mkm"             # none, constant, mcnamara2015, wedenberg2013, carabe2012, mkm
    dose_grid_mm = 2.0
    spot_spacing_mm = 3.0

    [[beams]]
    gantry_deg = 90.0
    couch_deg = 0.0
    [[beams]]
    line = "horizontal"           # CNAO's fixed lines: "horizontal" or "vertical"
    couch_deg = 30.0

    [[objectives]]
    structure = "Brainstem"
    type = "max_dose"             # see OBJECTIVE_TYPES
    dose_gy = 54.0
    weight = 3000.0

    [tissues]
    target = "tumour"
    normal = "late_normal"
    structures = { Brainstem = "late_normal" }
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ionbeam.errors import ConfigError

__all__ = [
    "OBJECTIVE_TYPES",
    "BeamRequest",
    "ObjectiveRequest",
    "PatientRequest",
    "PlanRequest",
    "load_plan_file",
    "plan_request_from_dict",
]

#: Objective types of a plan file and the level key each needs.
OBJECTIVE_TYPES: dict[str, tuple[str, ...]] = {
    "squared_deviation": ("dose_gy",),
    "max_dose": ("dose_gy",),
    "squared_overdose": ("dose_gy",),
    "min_dose": ("dose_gy",),
    "squared_underdose": ("dose_gy",),
    "mean_dose": ("dose_gy",),
    "min_dvh": ("dose_gy", "volume_percent"),
    "max_dvh": ("dose_gy", "volume_percent"),
}

_SECTIONS = {"patient", "prescription", "plan", "beams", "objectives", "tissues"}
_PATIENT_KEYS = {"phantom", "dicom", "target", "spacing_mm", "calibration"}
_PRESCRIPTION_KEYS = {"total_dose_gy", "dose_per_fraction_gy", "fractions"}
_PLAN_KEYS = {"particle", "machine", "technique", "rbe_model", "dose_grid_mm",
              "spot_spacing_mm", "fine_sampling"}  # fmt: skip
_BEAM_KEYS = {"gantry_deg", "couch_deg", "line", "name", "range_shifter_wet_mm"}
_OBJECTIVE_KEYS = {"structure", "type", "dose_gy", "volume_percent", "weight"}
_TISSUE_KEYS = {"target", "normal", "structures"}


@dataclass(frozen=True)
class PatientRequest:
    """A built-in ``phantom`` (with ``spacing_mm``) or a ``dicom`` folder; the ``target``."""

    phantom: str | None = None
    dicom: Path | None = None
    target: str | None = None
    spacing_mm: float | None = None
    calibration: Path | None = None


@dataclass(frozen=True)
class BeamRequest:
    """A beam by gantry and couch angle, or by CNAO's fixed ``line`` and couch angle."""

    gantry_deg: float | None = None
    couch_deg: float = 0.0
    line: str | None = None
    name: str | None = None
    range_shifter_wet_mm: float = 0.0


@dataclass(frozen=True)
class ObjectiveRequest:
    """One objective on one structure; ``dose_gy`` is a total over all fractions."""

    structure: str
    type: str
    dose_gy: float
    weight: float | None = None
    volume_percent: float | None = None


@dataclass(frozen=True)
class PlanRequest:
    """Everything a plan file (plus command-line defaults) asks for."""

    patient: PatientRequest = field(default_factory=PatientRequest)
    total_dose_gy: float | None = None
    dose_per_fraction_gy: float | None = None
    fractions: int | None = None
    particle: str | None = None
    machine: str | None = None
    technique: str | None = None
    rbe_model: str | None = None
    dose_grid_mm: float | None = None
    spot_spacing_mm: float | None = None
    fine_sampling: int | None = None
    beams: tuple[BeamRequest, ...] = ()
    objectives: tuple[ObjectiveRequest, ...] = ()
    target_tissue: str | None = None
    normal_tissue: str | None = None
    structure_tissues: Mapping[str, str] = field(default_factory=dict)


def load_plan_file(path: str | Path) -> PlanRequest:
    """Read and check a TOML plan file (see the module docstring)."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"plan file {source} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read plan file {source}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"plan file {source} is not valid TOML: {exc}") from None
    return plan_request_from_dict(data, source=str(source), base=source.parent)


def plan_request_from_dict(
    data: Mapping[str, Any], *, source: str = "plan file", base: Path | None = None
) -> PlanRequest:
    """A :class:`PlanRequest` from parsed TOML (paths relative to ``base``)."""
    _keys(data, _SECTIONS, source)
    patient = _section(data, "patient", _PATIENT_KEYS, source)
    prescription = _section(data, "prescription", _PRESCRIPTION_KEYS, source)
    plan = _section(data, "plan", _PLAN_KEYS, source)
    tissues = _section(data, "tissues", _TISSUE_KEYS, source)
    if "phantom" in patient and "dicom" in patient:
        raise ConfigError(f"{source} [patient]: give either phantom or dicom, not both")
    structure_tissues = tissues.get("structures", {})
    if not isinstance(structure_tissues, Mapping):
        raise ConfigError(f"{source} [tissues]: structures must be a table name = tissue")
    if "total_dose_gy" in prescription and "dose_per_fraction_gy" in prescription:
        raise ConfigError(
            f"{source} [prescription]: give total_dose_gy or dose_per_fraction_gy, not both"
        )
    return PlanRequest(
        patient=PatientRequest(
            phantom=_text(patient, "phantom", source),
            dicom=_path(patient, "dicom", base),
            target=_text(patient, "target", source),
            spacing_mm=_number(patient, "spacing_mm", source, positive=True),
            calibration=_path(patient, "calibration", base),
        ),
        total_dose_gy=_number(prescription, "total_dose_gy", source, positive=True),
        dose_per_fraction_gy=_number(prescription, "dose_per_fraction_gy", source, positive=True),
        fractions=_integer(prescription, "fractions", source),
        particle=_text(plan, "particle", source),
        machine=_text(plan, "machine", source),
        technique=_text(plan, "technique", source),
        rbe_model=_text(plan, "rbe_model", source),
        dose_grid_mm=_number(plan, "dose_grid_mm", source, positive=True),
        spot_spacing_mm=_number(plan, "spot_spacing_mm", source, positive=True),
        fine_sampling=_integer(plan, "fine_sampling", source, minimum=0),
        beams=tuple(
            _beam(b, f"{source} beam {i + 1}") for i, b in enumerate(_list(data, "beams", source))
        ),
        objectives=tuple(
            _objective(o, f"{source} objective {i + 1}")
            for i, o in enumerate(_list(data, "objectives", source))
        ),
        target_tissue=_text(tissues, "target", source),
        normal_tissue=_text(tissues, "normal", source),
        structure_tissues={str(k): str(v) for k, v in structure_tissues.items()},
    )


def _beam(data: Any, source: str) -> BeamRequest:
    _keys(data, _BEAM_KEYS, source)
    line = _text(data, "line", source)
    gantry = _number(data, "gantry_deg", source)
    if (line is None) == (gantry is None):
        raise ConfigError(f"{source}: give either gantry_deg or line (horizontal/vertical)")
    if line is not None and line.lower() not in ("horizontal", "vertical"):
        raise ConfigError(f"{source}: line must be 'horizontal' or 'vertical'; got {line!r}")
    return BeamRequest(
        gantry_deg=gantry,
        couch_deg=_number(data, "couch_deg", source) or 0.0,
        line=None if line is None else line.lower(),
        name=_text(data, "name", source),
        range_shifter_wet_mm=_number(data, "range_shifter_wet_mm", source, positive=True) or 0.0,
    )


def _objective(data: Any, source: str) -> ObjectiveRequest:
    _keys(data, _OBJECTIVE_KEYS, source)
    structure = _text(data, "structure", source)
    kind = _text(data, "type", source)
    if structure is None or kind is None:
        raise ConfigError(f"{source}: an objective needs a structure and a type")
    if kind not in OBJECTIVE_TYPES:
        raise ConfigError(
            f"{source}: unknown objective type {kind!r}; choose one of: "
            + ", ".join(OBJECTIVE_TYPES)
        )
    for key in OBJECTIVE_TYPES[kind]:
        if key not in data:
            raise ConfigError(f"{source}: a {kind} objective needs {key}")
    volume = _number(data, "volume_percent", source)
    if volume is not None and not 0.0 <= volume <= 100.0:
        raise ConfigError(f"{source}: volume_percent must be within 0–100; got {volume}")
    dose = _number(data, "dose_gy", source)
    if dose is None or dose < 0:
        raise ConfigError(f"{source}: dose_gy must be a dose ≥ 0 Gy; got {data.get('dose_gy')!r}")
    return ObjectiveRequest(structure, kind, dose, _number(data, "weight", source, positive=True),
                            volume)  # fmt: skip


def _keys(data: Any, allowed: set[str], source: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a table, got {type(data).__name__}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _section(data: Mapping[str, Any], name: str, allowed: set[str], source: str) -> Mapping:
    section = data.get(name, {})
    _keys(section, allowed, f"{source} [{name}]")
    return section


def _list(data: Mapping[str, Any], name: str, source: str) -> list:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise ConfigError(f"{source}: {name} must be an array of tables ([[{name}]])")
    return value


def _text(data: Mapping[str, Any], key: str, source: str) -> str | None:
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{source}: {key} must be a non-empty string; got {value!r}")
    return value.strip()


def _number(
    data: Mapping[str, Any], key: str, source: str, *, positive: bool = False
) -> float | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{source}: {key} must be a finite number; got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{source}: {key} must be > 0; got {value!r}")
    return float(value)


def _integer(data: Mapping[str, Any], key: str, source: str, *, minimum: int = 1) -> int | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{source}: {key} must be an integer ≥ {minimum}; got {value!r}")
    return int(value)


def _path(data: Mapping[str, Any], key: str, base: Path | None) -> Path | None:
    if key not in data:
        return None
    path = Path(str(data[key])).expanduser()
    return path if path.is_absolute() or base is None else base / path
