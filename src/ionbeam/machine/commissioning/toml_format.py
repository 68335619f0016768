"""ionbeam's beam-model file: one TOML file plus one CSV depth–dose curve per energy.

Every key carries its unit; unknown keys are errors; the format is versioned
(``format_version``). The full description with an example is in
``docs/commissioning.md``; in short::

    format = "ionbeam-beam-model"
    format_version = 1
    name = "room1-proton"
    particle = "proton"
    description = "..."                      # optional

    [beam_line]
    sad_x_mm = 6200.0
    sad_y_mm = 5700.0
    spot_plane = "isocentre"                 # or "nozzle_exit" (drifted to the isocentre)
    nozzle_to_isocentre_mm = 500.0           # required with spot_plane = "nozzle_exit"

    [range_shifter]                          # optional
    wet_mm = 40.0
    distance_to_isocentre_mm = 300.0         # downstream face to the isocentre

    [ripple_filter]                          # optional
    wet_mm = 2.0
    modulation_mm = 3.0
    distance_to_isocentre_mm = 500.0         # optional, downstream face to the isocentre
    curves_include_filter = true             # required with depth_dose_files: were the
                                             # curves measured with this filter in the beam?

    [[energies]]                             # one per nominal energy, ascending
    nominal_energy_mev_u = 150.0
    mean_energy_mev_u = 150.1
    energy_spread_rel = 0.004                # rms σ_E / E, a fraction
    spot_sigma_x_mm = 3.0
    spot_divergence_x_mrad = 1.9
    spot_correlation_x = 0.0
    spot_sigma_y_mm = 3.0
    spot_divergence_y_mrad = 1.9
    spot_correlation_y = 0.0
    depth_dose_file = "idd/proton_150.000.csv"   # optional (relative to this file)
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ionbeam._atomic import atomic_directory
from ionbeam.errors import ConfigError
from ionbeam.machine.beam_data import BeamEnergyData, MeasuredDepthDose
from ionbeam.machine.beamline import RangeShifter, RippleFilter
from ionbeam.machine.commissioning._curves import curve_text, read_curve
from ionbeam.machine.commissioning.description import (
    Commissioning,
    SpotPhaseSpace,
    drift_phase_space,
)

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "read_beam_model_file", "write_beam_model_file"]

FORMAT_NAME = "ionbeam-beam-model"
FORMAT_VERSION = 1
#: File name of the TOML file inside a folder written by :func:`write_beam_model_file`.
MAIN_FILE = "beam_model.toml"

_TOP = {"format", "format_version", "name", "particle", "description", "beam_line",
        "range_shifter", "ripple_filter", "energies"}  # fmt: skip
_REQUIRED_TOP = ("format", "format_version", "name", "particle", "beam_line", "energies")
_BEAM_LINE = {"sad_x_mm", "sad_y_mm", "spot_plane", "nozzle_to_isocentre_mm"}
_RANGE_SHIFTER = {"wet_mm", "distance_to_isocentre_mm"}
_RIPPLE_FILTER = {"wet_mm", "modulation_mm", "distance_to_isocentre_mm", "curves_include_filter"}
_SPOT = ("spot_sigma_{}_mm", "spot_divergence_{}_mrad", "spot_correlation_{}")
_ENERGY_REQUIRED = ("nominal_energy_mev_u", "mean_energy_mev_u", "energy_spread_rel",
                    *(k.format(p) for p in "xy" for k in _SPOT))  # fmt: skip
_ENERGY = {*_ENERGY_REQUIRED, "depth_dose_file"}
_PLANES = ("isocentre", "nozzle_exit")


def read_beam_model_file(path: str | Path) -> Commissioning:
    """Read and check a beam-model TOML file and its depth–dose curves."""
    source = Path(path)
    if source.is_dir():
        source = source / MAIN_FILE
    try:
        raw = source.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"beam-model file {source} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read beam-model file {source}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"beam-model file {source} is not valid TOML: {exc}") from None
    where = f"beam-model file {source}"
    _keys(data, _TOP, _REQUIRED_TOP, where)
    if data["format"] != FORMAT_NAME:
        raise ConfigError(f"{where}: format must be {FORMAT_NAME!r}; got {data['format']!r}")
    if data["format_version"] != FORMAT_VERSION:
        raise ConfigError(
            f"{where}: format_version {data['format_version']!r} is not one this ionbeam "
            f"reads ({FORMAT_VERSION}); convert the file or update ionbeam"
        )
    beam_line = _table(data, "beam_line", _BEAM_LINE, ("sad_x_mm", "sad_y_mm"), where)
    rows = data["energies"]
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{where}: give at least one [[energies]] table")
    for k, row in enumerate(rows):
        _keys(row, _ENERGY, _ENERGY_REQUIRED, f"{where} [[energies]] {k + 1}")
    digest = hashlib.sha256(raw)
    curves = _curves(rows, source.parent, digest)
    ripple_filter, curves_include_filter = _ripple_filter(data, bool(curves), where)
    column = {key: np.array([_number(r, key, where) for r in rows]) for key in _ENERGY_REQUIRED}
    particle = _text(data, "particle", where)
    energies = BeamEnergyData(
        particle,
        column["nominal_energy_mev_u"],
        column["mean_energy_mev_u"],
        column["energy_spread_rel"],
        curves,
        curves_include_filter,
    )
    nozzle = (
        _number(beam_line, "nozzle_to_isocentre_mm", where)
        if "nozzle_to_isocentre_mm" in beam_line
        else None
    )
    spot_x, spot_y = _spots(column, beam_line, nozzle, where)
    return Commissioning(
        name=_text(data, "name", where),
        energies=energies,
        spot_x=spot_x,
        spot_y=spot_y,
        sad_mm=(_number(beam_line, "sad_x_mm", where), _number(beam_line, "sad_y_mm", where)),
        nozzle_to_isocentre_mm=None
        if nozzle is None
        else _number(beam_line, "nozzle_to_isocentre_mm", where),
        range_shifter=_range_shifter(data, where),
        ripple_filter=ripple_filter,
        description=str(data.get("description", "")),
        source=str(source.resolve()),
        sha256=digest.hexdigest(),
    )


def _curves(
    rows: list[Mapping[str, Any]], base: Path, digest: Any
) -> tuple[MeasuredDepthDose | None, ...]:
    files = [row.get("depth_dose_file") for row in rows]
    if not any(files):
        return ()
    curves: list[MeasuredDepthDose | None] = []
    for name in files:
        if name is None:
            curves.append(None)
            continue
        path = base / str(name)
        curves.append(read_curve(path))
        digest.update(path.read_bytes())
    return tuple(curves)


def _spots(
    column: Mapping[str, np.ndarray],
    beam_line: Mapping[str, Any],
    nozzle: Any,
    where: str,
) -> tuple[SpotPhaseSpace, SpotPhaseSpace]:
    plane = beam_line.get("spot_plane", "isocentre")
    if plane not in _PLANES:
        raise ConfigError(
            f"{where} [beam_line]: spot_plane must be one of {_PLANES}; got {plane!r}"
        )
    spots = []
    for p in "xy":
        sigma, divergence, correlation = (column[k.format(p)] for k in _SPOT)
        if plane == "isocentre":
            spots.append(SpotPhaseSpace(sigma, divergence, correlation))
            continue
        if nozzle is None:
            raise ConfigError(
                f"{where} [beam_line]: spot_plane = 'nozzle_exit' needs nozzle_to_isocentre_mm"
            )
        spots.append(drift_phase_space(sigma, divergence, correlation, float(nozzle)))
    return spots[0], spots[1]


def _range_shifter(data: Mapping[str, Any], where: str) -> RangeShifter | None:
    if "range_shifter" not in data:
        return None
    table = _table(data, "range_shifter", _RANGE_SHIFTER, tuple(_RANGE_SHIFTER), where)
    return RangeShifter(
        _number(table, "wet_mm", where), _number(table, "distance_to_isocentre_mm", where)
    )


def _ripple_filter(
    data: Mapping[str, Any], has_curves: bool, where: str
) -> tuple[RippleFilter | None, bool]:
    """The mounted ripple filter and whether the file's curves were measured with it
    (``curves_include_filter``: required when the file has a filter and curves)."""
    if "ripple_filter" not in data:
        return None, False
    table = _table(data, "ripple_filter", _RIPPLE_FILTER, ("wet_mm", "modulation_mm"), where)
    if has_curves and "curves_include_filter" not in table:
        raise ConfigError(
            f"{where} [ripple_filter]: say whether the depth-dose curves were measured with "
            "this filter in the beam: add curves_include_filter = true (with it) or false "
            "(without it)"
        )
    included = table.get("curves_include_filter", False)
    if not isinstance(included, bool):
        raise ConfigError(
            f"{where} [ripple_filter]: curves_include_filter must be true or false; "
            f"got {included!r}"
        )
    if included and not has_curves:
        raise ConfigError(
            f"{where} [ripple_filter]: curves_include_filter = true but no energy has a "
            "depth_dose_file; set it false or add the measured curves"
        )
    distance = (
        {"distance_to_isocentre_mm": _number(table, "distance_to_isocentre_mm", where)}
        if "distance_to_isocentre_mm" in table
        else {}
    )
    wet, modulation = _number(table, "wet_mm", where), _number(table, "modulation_mm", where)
    return RippleFilter(wet, modulation, **distance), included


def _keys(data: Any, allowed: set[str], required: tuple[str, ...], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a TOML table")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (wrong unit or a typo?); allowed: "
            + ", ".join(sorted(allowed))
        )
    missing = [k for k in required if k not in data]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r}")


def _table(
    data: Mapping[str, Any], name: str, allowed: set[str], required: tuple[str, ...], where: str
) -> Mapping[str, Any]:
    table = data[name]
    _keys(table, allowed, required, f"{where} [{name}]")
    return table


def _number(data: Mapping[str, Any], key: str, where: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: {key} must be a finite number; got {value!r}")
    return float(value)


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string; got {value!r}")
    return value


# -- writing -----------------------------------------------------------------------------------
def write_beam_model_file(
    commissioning: Commissioning, folder: str | Path, *, overwrite: bool = False
) -> Path:
    """Write ``commissioning`` as ``folder/beam_model.toml`` plus ``folder/idd/*.csv``
    (atomically: the folder appears complete or not at all). Spots are written at the
    isocentre. Returns the TOML file's path."""
    with atomic_directory(folder, overwrite=overwrite) as temporary:
        curves = commissioning.energies.depth_doses
        names = [_curve_name(commissioning, i) if c is not None else None
                 for i, c in enumerate(curves)]  # fmt: skip
        if any(names):
            (temporary / "idd").mkdir()
        for name, curve in zip(names, curves, strict=True):
            if curve is not None and name is not None:
                comment = f"{commissioning.name}: per primary {commissioning.particle}"
                (temporary / name).write_text(curve_text(curve, comment), encoding="utf-8")
        text = _toml_text(commissioning, names)
        (temporary / MAIN_FILE).write_text(text, encoding="utf-8")
    return Path(folder) / MAIN_FILE


def _curve_name(commissioning: Commissioning, index: int) -> str:
    energy = commissioning.energies.nominal_energies_mev_u[index]
    return f"idd/{commissioning.particle}_{energy:08.3f}.csv"


def _toml_text(commissioning: Commissioning, curve_names: list[str | None]) -> str:
    c = commissioning
    lines = [
        f"# ionbeam beam-model file (see docs/commissioning.md); {c.particle}",
        f'format = "{FORMAT_NAME}"',
        f"format_version = {FORMAT_VERSION}",
        f"name = {_quote(c.name)}",
        f'particle = "{c.particle}"',
    ]
    if c.description:
        lines.append(f"description = {_quote(c.description)}")
    lines += ["", "[beam_line]", f"sad_x_mm = {c.sad_mm[0]!r}", f"sad_y_mm = {c.sad_mm[1]!r}",
              'spot_plane = "isocentre"']  # fmt: skip
    if c.nozzle_to_isocentre_mm is not None:
        lines.append(f"nozzle_to_isocentre_mm = {float(c.nozzle_to_isocentre_mm)!r}")
    if c.range_shifter is not None:
        rs = c.range_shifter
        lines += ["", "[range_shifter]", f"wet_mm = {float(rs.wet_mm)!r}",
                  f"distance_to_isocentre_mm = {float(rs.distance_to_isocentre_mm)!r}"]  # fmt: skip
    if c.ripple_filter is not None:
        rf = c.ripple_filter
        included = "true" if c.energies.curves_include_filter else "false"
        lines += ["", "[ripple_filter]", f"wet_mm = {float(rf.wet_mm)!r}",
                  f"modulation_mm = {float(rf.modulation_mm)!r}",
                  f"distance_to_isocentre_mm = {float(rf.distance_to_isocentre_mm)!r}",
                  "# were the depth-dose curves measured with this filter in the beam?",
                  f"curves_include_filter = {included}"]  # fmt: skip
    e = c.energies
    for i in range(e.n_energies):
        values = {
            "nominal_energy_mev_u": e.nominal_energies_mev_u[i],
            "mean_energy_mev_u": e.mean_energies_mev_u[i],
            "energy_spread_rel": e.energy_spread_rel[i],
        }
        for plane, spot in (("x", c.spot_x), ("y", c.spot_y)):
            values[f"spot_sigma_{plane}_mm"] = spot.sigma_mm[i]
            values[f"spot_divergence_{plane}_mrad"] = spot.divergence_mrad[i]
            values[f"spot_correlation_{plane}"] = spot.correlation[i]
        lines += ["", "[[energies]]", *(f"{k} = {float(v)!r}" for k, v in values.items())]
        if curve_names[i] is not None:
            lines.append(f'depth_dose_file = "{curve_names[i]}"')
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
