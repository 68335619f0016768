"""Plan files: what to plan, in TOML, checked once at the boundary.

A plan file says which patient (a built-in phantom or a DICOM folder), the
prescription, the particle and machine, the beams, the RBE model and the
objectives. Every key is optional except where noted; unknown keys and
sections are errors (a typo must not be ignored), and every key read is
honoured by ``ionbeam plan``. Dose levels in objectives are **totals over all
fractions** (``total_dose_gy``, Gy or Gy(RBE)), as a prescription is written;
the planner works per fraction. Angles are degrees in [0, 360). Example::

    [patient]
    phantom = "head"              # or: dicom = "path/to/folder" (CT + RTSTRUCT)
    target = "PTV"                # default: the phantom's target
    spacing_mm = 2.0              # phantoms only
    calibration = "hlut.txt"      # optional two-column HU, SPR table
    ct_series = "1.2.3"           # DICOM only: the CT series, where the folder has several

    [prescription]
    total_dose_gy = 60.0          # or dose_per_fraction_gy
    fractions = 20

    [plan]
    particle = "carbon"
    machine = "cnao"              # cnao (fixed lines) or pimms (gantry)
    beam_model = "room1/beam_model.toml"   # optional commissioned beam model (or a BDL)
    technique = "impt"            # or "sfud"
    rbe_model = "mkm"             # none, constant (protons), mcnamara2015, ..., mkm (ions)
    dose_grid_mm = 2.0
    spot_spacing_mm = 3.0
    fine_sampling = 0             # 0 (off) or 2–9 sub-beams per side
    dose_engine = "pencil_beam"   # or "fine_sampling" (default: from fine_sampling)
    ripple_filter = true          # default: true for carbon (CNAO's 3 mm filter), else false
    oar_supersampling_mm = 4.0    # sub-voxels for the optimizer within 4 mm of the target (0: off)

    [[beams]]
    name = "Left"                 # optional; default B1_G90
    gantry_deg = 90.0
    couch_deg = 0.0
    range_shifter_wet_mm = 30.0   # optional; 0: none; default: inserted where needed
    [[beams]]
    line = "horizontal"           # CNAO's fixed lines: "horizontal" or "vertical"
    couch_deg = 30.0

    [[objectives]]
    structure = "Brainstem"
    type = "max_dose"             # see objective_types()
    total_dose_gy = 54.0
    weight = 3000.0

    [tissues]
    target = "tumour"
    normal = "late_normal"
    structures = { Brainstem = "late_normal" }

    [[goals]]                     # clinical goals, checked after planning (--strict)
    structure = "OpticChiasm"
    metric = "D0.03cc"            # D95, D98, D2, D0.03cc, D1cc, D2cc, V95, mean, max
    at_most = 54.0                # or at_least
    unit = "Gy"                   # or "%" (of the prescription; default)
    severity = "limit"            # or "objective" (reported, never fails --strict)

    [hot_spot]                    # dose outside the target (defaults shown)
    threshold_percent = 107.0     # % of the prescription
    volume_cm3 = 0.03             # tolerated volume above it

    [robust]                      # robust optimization (defaults shown)
    mode = "minimax"              # composite worst case; "voxelwise", "stochastic"
    scenarios = "9"               # or "21" (matRad-like sets)
    range_error_percent = 3.5     # SPR scaling ±
    setup_error_mm = 3.0          # rigid shifts ± along x, y, z
    rbe_error_percent = 0.0       # constant RBE × (1 ± it) with every scenario (e.g. 10)
    structures = { Body = "nominal" }   # per-structure robustness

Goals replace the default goals (:func:`ionbeam.evaluation.default_goals`) of the
same structure and metric; ``max_dose`` objectives also become limits (D0.03cc).
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ionbeam.errors import ConfigError
from ionbeam.evaluation.goals import Goal

__all__ = [
    "BeamRequest",
    "ObjectiveRequest",
    "PatientRequest",
    "PlanRequest",
    "check_angle",
    "load_plan_file",
    "objective_types",
    "plan_request_from_dict",
]


@functools.cache
def objective_types() -> Mapping[str, tuple[str, ...]]:
    """The objective types of a plan file (the registry
    :data:`ionbeam.planning.optimize.registry.OBJECTIVES`) and the keys each needs.
    Looked up when needed: importing the optimizer is slow and a plan file without
    objectives does not need it."""
    from ionbeam.planning.optimize.registry import OBJECTIVES

    return MappingProxyType(
        {
            name: ("total_dose_gy", "volume_percent") if entry.needs_volume else ("total_dose_gy",)
            for name, entry in OBJECTIVES.items()
        }
    )


#: Keys of earlier versions, refused with what to write instead.
_RENAMED = {
    "dose_gy": "total_dose_gy (the objective's dose level, a total over all fractions)",
}

_SECTIONS = {"patient", "prescription", "plan", "beams", "objectives", "tissues", "goals",
             "hot_spot", "robust"}  # fmt: skip
_PATIENT_KEYS = {"phantom", "dicom", "target", "spacing_mm", "calibration", "ct_series"}
_PRESCRIPTION_KEYS = {"total_dose_gy", "dose_per_fraction_gy", "fractions"}
_PLAN_KEYS = {"particle", "machine", "technique", "rbe_model", "dose_grid_mm",
              "spot_spacing_mm", "fine_sampling", "dose_engine", "beam_model",
              "ripple_filter", "oar_supersampling_mm"}  # fmt: skip
_BEAM_KEYS = {"gantry_deg", "couch_deg", "line", "name", "range_shifter_wet_mm"}
_OBJECTIVE_KEYS = {"structure", "type", "total_dose_gy", "volume_percent", "weight"}
_TISSUE_KEYS = {"target", "normal", "structures"}
_GOAL_KEYS = {"structure", "metric", "at_least", "at_most", "unit", "severity"}
_HOT_SPOT_KEYS = {"threshold_percent", "volume_cm3"}
_ROBUST_KEYS = {"mode", "scenarios", "range_error_percent", "setup_error_mm", "structures",
                "sharpness", "rbe_error_percent"}  # fmt: skip


@dataclass(frozen=True)
class PatientRequest:
    """A built-in ``phantom`` (with ``spacing_mm``) or a ``dicom`` folder; the ``target``."""

    phantom: str | None = None
    dicom: Path | None = None
    target: str | None = None
    spacing_mm: float | None = None
    calibration: Path | None = None
    ct_series: str | None = None


@dataclass(frozen=True)
class BeamRequest:
    """A beam by gantry and couch angle, or by CNAO's fixed ``line`` and couch angle;
    ``range_shifter_wet_mm``: None lets the planner insert the machine's where needed,
    0 means none."""

    gantry_deg: float | None = None
    couch_deg: float = 0.0
    line: str | None = None
    name: str | None = None
    range_shifter_wet_mm: float | None = None


@dataclass(frozen=True)
class ObjectiveRequest:
    """One objective on one structure; ``total_dose_gy`` is a total over all fractions."""

    structure: str
    type: str
    total_dose_gy: float
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
    dose_engine: str | None = None
    beam_model: Path | None = None
    ripple_filter: bool | None = None
    oar_supersampling_mm: float | None = None
    beams: tuple[BeamRequest, ...] = ()
    #: Every beam's range shifter (mm WET), overriding the beams' (``ionbeam plan
    #: --range-shifter-wet-mm``; a plan file gives it per beam).
    range_shifter_wet_mm: float | None = None
    objectives: tuple[ObjectiveRequest, ...] = ()
    target_tissue: str | None = None
    normal_tissue: str | None = None
    structure_tissues: Mapping[str, str] = field(default_factory=dict)
    goals: tuple[Goal, ...] = ()
    hot_spot_percent: float | None = None
    hot_spot_volume_cm3: float | None = None
    robust: Mapping[str, Any] | None = None


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
    hot_spot = _section(data, "hot_spot", _HOT_SPOT_KEYS, source)
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
            ct_series=_text(patient, "ct_series", source),
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
        fine_sampling=_fine_sampling(plan, source),
        dose_engine=_dose_engine(plan, source),
        beam_model=_path(plan, "beam_model", base),
        ripple_filter=_boolean(plan, "ripple_filter", source),
        oar_supersampling_mm=_number(plan, "oar_supersampling_mm", source),
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
        goals=tuple(
            _goal(g, f"{source} goal {i + 1}") for i, g in enumerate(_list(data, "goals", source))
        ),
        hot_spot_percent=_number(hot_spot, "threshold_percent", source, positive=True),
        hot_spot_volume_cm3=_number(hot_spot, "volume_cm3", source, positive=True),
        robust=_robust(data, source),
    )


def _robust(data: Mapping[str, Any], source: str) -> dict[str, Any] | None:
    """The ``[robust]`` section as :class:`~ionbeam.planning.robust.RobustOptions` keywords."""
    if "robust" not in data:
        return None
    section = _section(data, "robust", _ROBUST_KEYS, source)
    out: dict[str, Any] = {"mode": _text(section, "mode", source) or "minimax"}
    if "scenarios" in section:
        out["scenario_set"] = str(section["scenarios"])
    for key in ("range_error", "rbe_error"):
        percent = _number(section, f"{key}_percent", source)
        if percent is not None:
            out[key] = percent / 100.0
    for key in ("setup_error_mm", "sharpness"):
        value = _number(section, key, source)
        if value is not None:
            out[key] = value
    structures = section.get("structures", {})
    if not isinstance(structures, Mapping):
        raise ConfigError(f"{source} [robust]: structures must be a table name = robustness")
    out["structures"] = {str(k): str(v) for k, v in structures.items()}
    return out


def _goal(data: Any, source: str) -> Goal:
    _keys(data, _GOAL_KEYS, source)
    structure = _text(data, "structure", source)
    metric = _text(data, "metric", source)
    if structure is None or metric is None:
        raise ConfigError(f"{source}: a goal needs a structure and a metric")
    if ("at_least" in data) == ("at_most" in data):
        raise ConfigError(f"{source}: give either at_least or at_most")
    bound = "at_least" if "at_least" in data else "at_most"
    value = _number(data, bound, source)
    try:
        return Goal(structure, metric, bound, value if value is not None else math.nan,
                    _text(data, "unit", source) or "%",
                    _text(data, "severity", source) or "limit")  # fmt: skip
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def check_angle(angle: float, source: str) -> float:
    """``angle`` if it is a number of degrees in [0, 360), else :class:`ConfigError`."""
    if not (math.isfinite(angle) and 0.0 <= angle < 360.0):
        raise ConfigError(
            f"{source}: angles must be degrees in [0, 360) (e.g. 270 rather than -90); "
            f"got {angle:g}"
        )
    return float(angle)


def _beam(data: Any, source: str) -> BeamRequest:
    _keys(data, _BEAM_KEYS, source)
    line = _text(data, "line", source)
    gantry = _number(data, "gantry_deg", source)
    if (line is None) == (gantry is None):
        raise ConfigError(f"{source}: give either gantry_deg or line (horizontal/vertical)")
    if line is not None and line.lower() not in ("horizontal", "vertical"):
        raise ConfigError(f"{source}: line must be 'horizontal' or 'vertical'; got {line!r}")
    couch = _number(data, "couch_deg", source) or 0.0
    for angle in (couch,) if gantry is None else (gantry, couch):
        check_angle(angle, source)
    shifter = _number(data, "range_shifter_wet_mm", source)
    if shifter is not None and shifter < 0:
        raise ConfigError(f"{source}: range_shifter_wet_mm must be ≥ 0 mm (0: none); got {shifter}")
    return BeamRequest(
        gantry_deg=gantry,
        couch_deg=couch,
        line=None if line is None else line.lower(),
        name=_text(data, "name", source),
        range_shifter_wet_mm=shifter,
    )


def _objective(data: Any, source: str) -> ObjectiveRequest:
    for old, new in _RENAMED.items():
        if isinstance(data, Mapping) and old in data:
            raise ConfigError(f"{source}: the key {old} is no longer accepted; write {new}")
    _keys(data, _OBJECTIVE_KEYS, source)
    structure = _text(data, "structure", source)
    kind = _text(data, "type", source)
    if structure is None or kind is None:
        raise ConfigError(f"{source}: an objective needs a structure and a type")
    types = objective_types()
    if kind not in types:
        raise ConfigError(
            f"{source}: unknown objective type {kind!r}; choose one of: " + ", ".join(types)
        )
    for key in types[kind]:
        if key not in data:
            raise ConfigError(f"{source}: a {kind} objective needs {key}")
    volume = _number(data, "volume_percent", source)
    if volume is not None and not 0.0 <= volume <= 100.0:
        raise ConfigError(f"{source}: volume_percent must be within 0–100; got {volume}")
    if volume is not None and "volume_percent" not in types[kind]:
        raise ConfigError(
            f"{source}: a {kind} objective takes no volume_percent; remove it "
            "(min_dvh and max_dvh take one)"
        )
    dose = _number(data, "total_dose_gy", source)
    if dose is None or dose < 0:
        raise ConfigError(
            f"{source}: total_dose_gy must be a dose ≥ 0 Gy; got {data.get('total_dose_gy')!r}"
        )
    return ObjectiveRequest(structure, kind, dose, _number(data, "weight", source, positive=True),
                            volume)  # fmt: skip


def _fine_sampling(plan: Mapping[str, Any], source: str) -> int | None:
    value = _integer(plan, "fine_sampling", source, minimum=0)
    if value is not None and value not in (0, *range(2, 10)):
        raise ConfigError(
            f"{source} [plan]: fine_sampling must be 0 (off) or 2–9 sub-beams per side; got {value}"
        )
    return value


def _dose_engine(plan: Mapping[str, Any], source: str) -> str | None:
    from ionbeam.planning.engines import DOSE_ENGINES

    value = _text(plan, "dose_engine", source)
    return None if value is None else DOSE_ENGINES.canonical(value)


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


def _boolean(data: Mapping[str, Any], key: str, source: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{source}: {key} must be true or false; got {value!r}")
    return value


def _path(data: Mapping[str, Any], key: str, base: Path | None) -> Path | None:
    if key not in data:
        return None
    path = Path(str(data[key])).expanduser()
    return path if path.is_absolute() or base is None else base / path
