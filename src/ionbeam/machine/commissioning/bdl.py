"""MCsquare's beam data library (BDL, the UPenn "double gaussian" text format), read into a
:class:`~ionbeam.machine.commissioning.description.Commissioning`.

A BDL (as MCsquare 1.x reads it) lists the nozzle exit to isocentre distance, the
two scanning magnets' distances to the isocentre (SMX, SMY), optional range-shifter
blocks (``RS_ID = …``, ``RS_type``, ``RS_material``, ``RS_density``, ``RS_WET``),
then ``Beam parameters``, ``N energies``, a header line and one row per nominal
energy (MeV): ``NominalEnergy MeanEnergy EnergySpread ProtonsMU Weight1 SpotSize1x
Divergence1x Correlation1x SpotSize1y Divergence1y Correlation1y Weight2 SpotSize2x
…`` with sizes in mm, divergences in rad and the energy spread in % (rms, of the
energy). The phase space is at the nozzle exit; MCsquare drifts it in vacuum to the
patient, and so does this reader, to the isocentre.

What ionbeam takes and what it does not:

* protons only (MCsquare transports protons); single-Gaussian spots only: a row with
  ``Weight2 > 0`` is refused (fit one Gaussian to the spot, or set Weight2 = 0);
* a BDL has no depth–dose curves: they come from ionbeam's physics at each mean
  energy and spread;
* a range shifter is its water-equivalent thickness ``RS_WET`` (ionbeam models it as
  water, Highland's scattering); its material and density are kept in MCsquare's
  file only. A BDL does not say where the range shifter is (the plan does): its
  downstream face is placed at ``range_shifter_distance_mm`` from the isocentre,
  by default at the nozzle exit. At most one range shifter per BDL;
* ``ProtonsMU`` is recorded (``protons_per_mu``), not used: ionbeam's spot weights
  are particles.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.machine.beam_data import BeamEnergyData
from ionbeam.machine.beamline import RangeShifter
from ionbeam.machine.commissioning.description import Commissioning, drift_phase_space

__all__ = ["BDL_COLUMNS", "read_mcsquare_bdl"]

#: The columns of a BDL's beam-parameter table, in order.
BDL_COLUMNS = [
    "NominalEnergy",
    "MeanEnergy",
    "EnergySpread",
    "ProtonsMU",
    "Weight1",
    "SpotSize1x",
    "Divergence1x",
    "Correlation1x",
    "SpotSize1y",
    "Divergence1y",
    "Correlation1y",
    "Weight2",
    "SpotSize2x",
    "Divergence2x",
    "Correlation2x",
    "SpotSize2y",
    "Divergence2y",
    "Correlation2y",
]
_OPTICS = ("SpotSize", "Divergence", "Correlation")
_DISTANCES = {
    "nozzle exit to isocenter distance": "nozzle",
    "smx to isocenter distance": "smx",
    "smy to isocenter distance": "smy",
}


def read_mcsquare_bdl(
    path: str | Path, *, name: str | None = None, range_shifter_distance_mm: float | None = None
) -> Commissioning:
    """Read an MCsquare BDL (see the module docstring). ``name`` defaults to the file's
    stem; ``range_shifter_distance_mm``: where the range shifter's downstream face is
    (default: the nozzle exit)."""
    source = Path(path)
    try:
        raw = source.read_bytes()
        text = raw.decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise ConfigError(f"BDL file {source} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read BDL file {source}: {exc}") from None
    where = f"BDL file {source}"
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    values, shifters, table = _sections(lines, where)
    rows = _rows(table, where)
    nozzle = values["nozzle"]
    spots = []
    for plane in "xy":
        sigma, divergence, rho = (
            rows[f"{k}1{plane}"] for k in ("SpotSize", "Divergence", "Correlation")
        )
        spots.append(drift_phase_space(sigma, divergence * 1e3, rho, nozzle))
    energies = BeamEnergyData(
        "proton", rows["NominalEnergy"], rows["MeanEnergy"], rows["EnergySpread"] / 100.0
    )
    return Commissioning(
        name=name or source.stem,
        energies=energies,
        spot_x=spots[0],
        spot_y=spots[1],
        sad_mm=(values["smx"], values["smy"]),
        nozzle_to_isocentre_mm=nozzle,
        range_shifter=_range_shifter(shifters, nozzle, range_shifter_distance_mm, where),
        protons_per_mu=rows["ProtonsMU"],
        description=f"MCsquare BDL {source.name}",
        source=str(source.resolve()),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def _sections(
    lines: list[str], where: str
) -> tuple[dict[str, float], list[dict[str, str]], list[str]]:
    """(the three distances, the range-shifter blocks, the lines after 'Beam parameters')."""
    values: dict[str, float] = {}
    shifters: list[dict[str, str]] = []
    i = 0
    while i < len(lines):
        key = lines[i].lower()
        if key in _DISTANCES and i + 1 < len(lines):
            values[_DISTANCES[key]] = _float(lines[i + 1], key, where)
            i += 2
        elif key == "beam parameters":
            break
        elif "=" in lines[i]:
            field, _, value = (part.strip() for part in lines[i].partition("="))
            if field.lower() == "rs_id":
                shifters.append({})
            if not shifters:
                raise ConfigError(f"{where}: {field} before any RS_ID line")
            shifters[-1][field.lower()] = value
            i += 1
        else:
            i += 1
    else:
        raise ConfigError(f"{where}: no 'Beam parameters' section; is this an MCsquare BDL?")
    missing = [k for k, v in _DISTANCES.items() if v not in values]
    if missing:
        raise ConfigError(f"{where}: missing {missing[0]!r} (a line followed by its value)")
    for key in ("smx", "smy"):
        if values[key] <= 0:
            raise ConfigError(f"{where}: the {key.upper()} distance must be > 0 mm")
    if values["nozzle"] < 0:
        raise ConfigError(f"{where}: the nozzle exit to isocentre distance must be ≥ 0 mm")
    return values, shifters, lines[i + 1 :]


def _rows(table: list[str], where: str) -> dict[str, np.ndarray]:
    if len(table) < 2 or not table[0].lower().endswith("energies"):
        raise ConfigError(f"{where}: 'Beam parameters' must be followed by 'N energies'")
    try:
        n = int(table[0].split()[0])
    except ValueError:
        raise ConfigError(
            f"{where}: cannot read the number of energies from {table[0]!r}"
        ) from None
    header = table[1].split()
    if header != BDL_COLUMNS:
        raise ConfigError(
            f"{where}: the beam-parameter header must be the 18 single/double-Gaussian "
            f"columns ({' '.join(BDL_COLUMNS[:4])} …); got {' '.join(header[:4])} …"
        )
    body = table[2:]
    if len(body) != n:
        raise ConfigError(f"{where}: says {n} energies but has {len(body)} rows")
    try:
        data = np.array([[float(v) for v in row.split()] for row in body])
    except ValueError:
        raise ConfigError(
            f"{where}: a beam-parameter row holds a value that is not a number"
        ) from None
    if data.ndim != 2 or data.shape[1] != len(BDL_COLUMNS) or not np.all(np.isfinite(data)):
        raise ConfigError(f"{where}: every row needs {len(BDL_COLUMNS)} finite numbers")
    rows = {name: data[:, k] for k, name in enumerate(BDL_COLUMNS)}
    if np.any(rows["Weight2"] > 0):
        energy = rows["NominalEnergy"][np.argmax(rows["Weight2"] > 0)]
        raise ConfigError(
            f"{where}: the spot at {energy:g} MeV is a double Gaussian (Weight2 > 0); ionbeam "
            "models single-Gaussian spots in air: fit one Gaussian or set Weight2 = 0"
        )
    return rows


def _range_shifter(
    shifters: list[dict[str, str]], nozzle: float, distance: float | None, where: str
) -> RangeShifter | None:
    if not shifters:
        return None
    if len(shifters) > 1:
        raise ConfigError(
            f"{where}: {len(shifters)} range shifters; ionbeam models one per beam line: keep "
            "the one you treat with"
        )
    if "rs_wet" not in shifters[0]:
        raise ConfigError(f"{where}: the range shifter has no RS_WET (mm of water)")
    wet = _float(shifters[0]["rs_wet"], "RS_WET", where)
    return RangeShifter(wet, nozzle if distance is None else float(distance))


def _float(text: str, key: str, where: str) -> float:
    try:
        value = float(text.split()[0])
    except (ValueError, IndexError):
        raise ConfigError(f"{where}: {key} must be a number; got {text!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{where}: {key} must be finite; got {text!r}")
    return value
