"""``plan.json``: a plan as a JSON document that is enough to recompute it.

Layout (``format`` = ``"ionbeam-plan"``, ``format_version`` = 1)::

    {"format": "ionbeam-plan", "format_version": 1, "ionbeam_version": "...",
     "particle": "carbon", "machine": "cnao", "rbe_model": "mkm",
     "prescription": {"target": "PTV", "total_dose_gy": 60.0, "fractions": 20},
     "beams": [{"name": "B1", "gantry_deg": 90.0, "couch_deg": 0.0,
                "isocenter_mm": [x, y, z], "sad_mm": [sad_x, sad_y] (null = parallel),
                "patient_position": "HFS", "range_shifter_wet_mm": 0.0,
                "ripple_filter": false,
                "layers": [{"energy_mev_u": E, "x_mm": [...], "y_mm": [...],
                            "weight": [...]}, ...]}],
     "settings": {...}}

Weights are particles per fraction; layers are listed in delivery order with
their spots in scan order. ``settings`` holds what else the plan was made
with (patient source, dose grid, engine and optimizer options, model
versions); it must be JSON-serialisable. Files are written atomically.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import numpy as np

from ionbeam import __version__
from ionbeam._atomic import write_text_atomically
from ionbeam.errors import ConfigError, IonbeamError
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

__all__ = ["FORMAT", "FORMAT_VERSION", "plan_from_dict", "plan_to_dict", "read_plan_json",
           "write_plan_json"]  # fmt: skip

FORMAT = "ionbeam-plan"
FORMAT_VERSION = 1
_PLAN_KEYS = {"format", "format_version", "ionbeam_version", "particle", "machine", "rbe_model",
              "prescription", "beams", "settings"}  # fmt: skip
_BEAM_KEYS = {"name", "gantry_deg", "couch_deg", "isocenter_mm", "sad_mm", "patient_position",
              "range_shifter_wet_mm", "ripple_filter", "layers"}  # fmt: skip
_LAYER_KEYS = {"energy_mev_u", "x_mm", "y_mm", "weight"}
_PRESCRIPTION_KEYS = {"target", "total_dose_gy", "fractions"}


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The JSON-ready dictionary of ``plan``."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ionbeam_version": __version__,
        "particle": plan.particle,
        "machine": plan.machine,
        "rbe_model": plan.rbe_model,
        "prescription": {
            "target": plan.prescription.target,
            "total_dose_gy": float(plan.prescription.total_dose_gy),
            "fractions": int(plan.prescription.fractions),
        },
        "beams": [_beam_to_dict(beam) for beam in plan.beams],
        "settings": _jsonable(dict(plan.settings)),
    }


def _beam_to_dict(beam: Beam) -> dict[str, Any]:
    g = beam.geometry
    layers = []
    for index in beam.spots.layer_indices():
        spots = beam.spots.select(index)
        layers.append({
            "energy_mev_u": float(spots.energy_mev_u[0]),
            "x_mm": spots.x_mm.tolist(),
            "y_mm": spots.y_mm.tolist(),
            "weight": spots.weight.tolist(),
        })  # fmt: skip
    return {
        "name": beam.name,
        "gantry_deg": g.gantry_deg,
        "couch_deg": g.couch_deg,
        "isocenter_mm": list(g.isocenter_mm),
        "sad_mm": [None if math.isinf(s) else s for s in g.sad_mm],
        "patient_position": g.patient_position,
        "range_shifter_wet_mm": float(beam.range_shifter_wet_mm),
        "ripple_filter": bool(beam.ripple_filter),
        "layers": layers,
    }


def plan_from_dict(data: dict[str, Any], *, source: str = "plan") -> Plan:
    """The plan described by ``data`` (unknown or missing keys are errors)."""
    _keys(data, _PLAN_KEYS, source, optional={"settings", "ionbeam_version"})
    if data["format"] != FORMAT:
        raise ConfigError(f"{source}: not an ionbeam plan (format {data['format']!r})")
    if data["format_version"] != FORMAT_VERSION:
        raise ConfigError(
            f"{source}: plan format version {data['format_version']} is not supported "
            f"(this ionbeam reads version {FORMAT_VERSION})"
        )
    _keys(data["prescription"], _PRESCRIPTION_KEYS, f"{source} prescription")
    prescription = Prescription(**data["prescription"])
    beams = tuple(_beam_from_dict(b, f"{source} beam {i + 1}") for i, b in enumerate(data["beams"]))
    return Plan(
        particle=data["particle"],
        beams=beams,
        prescription=prescription,
        machine=data["machine"],
        rbe_model=data["rbe_model"],
        settings=dict(data.get("settings") or {}),
    )


def _beam_from_dict(data: dict[str, Any], source: str) -> Beam:
    _keys(data, _BEAM_KEYS, source)
    sad_x, sad_y = (math.inf if s is None else float(s) for s in data["sad_mm"])
    sad = (sad_x, sad_y)
    geometry = BeamGeometry(
        gantry_deg=data["gantry_deg"],
        couch_deg=data["couch_deg"],
        isocenter_mm=tuple(data["isocenter_mm"]),
        sad_mm=sad,
        patient_position=data["patient_position"],
    )
    columns: dict[str, list[np.ndarray]] = {
        k: [] for k in ("energy_mev_u", "x_mm", "y_mm", "weight")
    }
    for k, layer in enumerate(data["layers"]):
        _keys(layer, _LAYER_KEYS, f"{source} layer {k + 1}")
        n = len(layer["x_mm"])
        if not (len(layer["y_mm"]) == n == len(layer["weight"])):
            raise ConfigError(f"{source} layer {k + 1}: x_mm, y_mm and weight differ in length")
        columns["energy_mev_u"].append(np.full(n, float(layer["energy_mev_u"])))
        for name in ("x_mm", "y_mm", "weight"):
            columns[name].append(np.asarray(layer[name], dtype=float))
    arrays = {k: np.concatenate(v) if v else np.empty(0) for k, v in columns.items()}
    return Beam(
        name=data["name"],
        geometry=geometry,
        spots=SpotMap(**arrays),
        range_shifter_wet_mm=float(data["range_shifter_wet_mm"]),
        ripple_filter=bool(data["ripple_filter"]),
    )


def write_plan_json(plan: Plan, path: str | os.PathLike[str]) -> Path:
    """Write ``plan`` to ``path`` atomically; returns the path."""
    return write_text_atomically(path, json.dumps(plan_to_dict(plan), indent=1, allow_nan=False))


def read_plan_json(path: str | os.PathLike[str]) -> Plan:
    """Read a ``plan.json`` (a folder containing one is accepted too)."""
    source = Path(path)
    if source.is_dir():
        source = source / "plan.json"
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no plan file at {source}; give a plan folder or plan.json") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read plan file {source}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a plan file holds a JSON object")
    try:
        return plan_from_dict(data, source=str(source))
    except IonbeamError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"{source}: malformed plan ({exc})") from None


def _keys(
    data: Any, allowed: set[str], source: str, optional: AbstractSet[str] = frozenset()
) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object, got {type(data).__name__}")
    unknown = set(data) - allowed
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = allowed - set(optional) - set(data)
    if missing:
        raise ConfigError(f"{source}: missing key(s) {sorted(missing)}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
