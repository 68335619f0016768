"""Depth–dose curve files: one CSV per energy, with the unit in every column name.

A header line names the columns; lines starting with ``#`` are comments. Columns:
``depth_mm`` (required), exactly one of ``idd_gy_mm2`` (Gy·mm² per primary particle)
or ``idd_mev_mm`` (MeV/mm per primary particle), and optionally ``sigma_mcs_mm``,
``halo_weight``, ``halo_sigma_mm``, ``let_d_kev_um``, ``halo_narrow_weight``,
``halo_narrow_sigma_mm``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.machine.beam_data import OPTIONAL_COLUMNS, MeasuredDepthDose
from ionbeam.machine.beam_model import MEV_PER_MM_TO_GY_MM2

__all__ = ["CURVE_COLUMNS", "curve_text", "read_curve"]

#: Column name → what it holds (for messages and docs).
CURVE_COLUMNS = {
    "depth_mm": "depth in water from the surface, mm",
    "idd_gy_mm2": "laterally integrated dose per primary particle, Gy·mm²",
    "idd_mev_mm": "laterally integrated dose per primary particle, MeV/mm (of water)",
    "sigma_mcs_mm": "rms lateral width from multiple scattering in water, mm",
    "halo_weight": "fraction of the dose in the nuclear halo, 0–1",
    "halo_sigma_mm": "rms width of the nuclear halo, mm",
    "let_d_kev_um": "dose-averaged LET, keV/µm",
    "halo_narrow_weight": "fraction of the dose in the halo's narrow Gaussian, ≤ halo_weight",
    "halo_narrow_sigma_mm": "rms width of the halo's narrow Gaussian, mm",
}


def read_curve(path: Path) -> MeasuredDepthDose:
    """Read and check one curve file (see the module docstring)."""
    label = f"depth-dose file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{label} does not exist; check depth_dose_file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {label}: {exc}") from None
    lines = [line for line in text.splitlines() if line.strip() and line.lstrip()[0] != "#"]
    if len(lines) < 2:
        raise ConfigError(f"{label} needs a header line and rows of numbers")
    header = [name.strip() for name in next(csv.reader([lines[0]]))]
    _check_header(header, label)
    table = _numbers(lines[1:], len(header), label)
    columns = {name: table[:, k] for k, name in enumerate(header)}
    if "idd_mev_mm" in columns:
        columns["idd_gy_mm2"] = columns.pop("idd_mev_mm") * MEV_PER_MM_TO_GY_MM2
    return MeasuredDepthDose(label=label, **columns)


def _numbers(lines: list[str], width: int, label: str) -> np.ndarray:
    """The rows as a float table (numpy's C parser); a bad row is named by its line."""
    try:
        return np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", ndmin=2)
    except ValueError:
        pass
    for number, row in enumerate(csv.reader(lines), start=2):
        if len(row) != width:
            raise ConfigError(f"{label}: data line {number} has {len(row)} values, not {width}")
        try:
            [float(v) for v in row]
        except ValueError:
            raise ConfigError(
                f"{label}: data line {number} holds a value that is not a number"
            ) from None
    raise ConfigError(f"{label}: the rows must be numbers separated by commas")


def _check_header(header: list[str], label: str) -> None:
    unknown = [name for name in header if name not in CURVE_COLUMNS]
    if unknown:
        raise ConfigError(
            f"{label}: unknown column {unknown[0]!r} (wrong unit?); columns are "
            + ", ".join(CURVE_COLUMNS)
        )
    if len(set(header)) != len(header):
        raise ConfigError(f"{label}: a column appears twice in the header")
    if "depth_mm" not in header:
        raise ConfigError(f"{label}: the header needs a depth_mm column")
    if ("idd_gy_mm2" in header) == ("idd_mev_mm" in header):
        raise ConfigError(f"{label}: give exactly one of idd_gy_mm2 and idd_mev_mm")


def curve_text(curve: MeasuredDepthDose, comment: str = "") -> str:
    """The CSV text of ``curve`` (IDD in Gy·mm²; float32-exact digits)."""
    given = [n for n in OPTIONAL_COLUMNS if getattr(curve, n) is not None]
    names = ["depth_mm", "idd_gy_mm2", *given]
    columns = [np.asarray(getattr(curve, n), dtype=float) for n in names]
    out = io.StringIO()
    if comment:
        out.write(f"# {comment}\n")
    out.write(",".join(names) + "\n")
    for row in zip(*columns, strict=True):
        out.write(repr(float(row[0])) + "," + ",".join(f"{v:.9g}" for v in row[1:]) + "\n")
    return out.getvalue()
