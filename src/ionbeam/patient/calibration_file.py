"""Clinical HU calibration tables read from text files (HU, SPR [, density]).

Apart from :mod:`ionbeam.patient.calibration` because a table without a density
column takes its densities from the stoichiometric calibration, which itself
builds :class:`~ionbeam.patient.calibration.HUCalibration` objects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.stoichiometric import default_density_curve

__all__ = ["load_calibration"]


def load_calibration(path: str | Path) -> HUCalibration:
    """Read a calibration table: text with columns HU, SPR [, density g/cm³].

    Columns are separated by white space, commas or semicolons; ``#`` starts a
    comment. Without a density column, mass density comes from the default
    stoichiometric calibration. Malformed files raise ``ConfigError`` naming
    the line.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read calibration file {path}: {exc}") from None
    rows = _parse_rows(text, path)
    if len(rows) < 2:
        raise ConfigError(
            f"calibration file {path} needs at least two rows (HU, SPR); got {len(rows)}"
        )
    widths = {len(r) for r in rows}
    if len(widths) != 1 or widths.pop() not in (2, 3):
        raise ConfigError(
            f"calibration file {path}: every row needs 2 (HU, SPR) or 3 (HU, SPR, density) "
            "columns, the same in all rows"
        )
    table = np.array(rows)
    density = table[:, 2] if table.shape[1] == 3 else default_density_curve(table[:, 0])
    return HUCalibration(table[:, 0], table[:, 1], density, source=str(path))


def _parse_rows(text: str, path: Path) -> list[list[float]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].replace(",", " ").replace(";", " ").split()
        if not content:
            continue
        try:
            values = [float(v) for v in content]
        except ValueError:
            raise ConfigError(
                f"calibration file {path}, line {number}: expected numbers (HU, SPR); "
                f"got {line.strip()!r}"
            ) from None
        if not all(np.isfinite(values)):
            raise ConfigError(f"calibration file {path}, line {number}: NaN or infinity")
        rows.append(values)
    return rows
