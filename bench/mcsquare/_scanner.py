"""An MCsquare Scanner and materials built from an ionbeam HU calibration.

MCsquare turns a CT number into a mass density (piecewise linear) and a
material (piecewise constant); a material's stopping power is its mass
stopping-power table times the voxel's density. To make MCsquare see the same
patient as ionbeam's pencil beam, :func:`calibration_scanner`

* takes the density curve of the ionbeam calibration node for node, and
* cuts the HU axis into bins in which ionbeam's mass stopping-power ratio
  SPR/ρ varies by less than ``tolerance``; each bin gets a material of its own
  whose stopping-power table is MCsquare's water table (Geant4, I = 78 eV, as
  ionbeam's water) times that ratio, so that MCsquare's SPR equals ionbeam's at
  every HU (to ``tolerance``) and at every energy (ionbeam's SPR is energy
  independent);
* gives each material the elemental composition, radiation length and
  electron density per gram of the Schneider material that MCsquare's own
  UCL scanner assigns to that HU (for nuclear interactions and multiple
  scattering; ionbeam's pencil beam uses Gottschalk's scattering length of the
  Woodard–White tissue of the same density, see ``ionbeam.planning.scattering_power``).

What still differs from ionbeam is therefore the physics of transport, not the
stopping powers: nuclear cross sections and MCS of the real composition
against ionbeam's water-scaled tables.

The materials folder is MCsquare's own (symbolic links) plus the new
materials appended to ``list.dat``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
from _mcsquare import mcsquare_dir
from _mcsquare_inputs import Scanner

from ionbeam.patient.calibration import HUCalibration

#: MCsquare's UCL scanner: lower HU bound → Schneider material ID (its ``HU_Material_Conversion``).
_UCL_SCHNEIDER = (
    (-5000, 39),
    (-950, 40),
    (-120, 41),
    (-82, 42),
    (-52, 43),
    (-22, 44),
    (8, 45),
    (19, 46),
    (80, 47),
    (120, 48),
    (200, 49),
    (300, 50),
    (400, 51),
    (500, 52),
    (600, 53),
    (700, 54),
    (800, 55),
    (900, 56),
    (1000, 57),
    (1100, 58),
    (1200, 59),
    (1300, 60),
    (1400, 61),
    (1500, 62),
)
_HU_MIN, _HU_MAX, _HU_STEP = -1024.0, 3072.0, 1.0


def schneider_material(hu: np.ndarray) -> np.ndarray:
    """MCsquare Schneider material ID for each HU (UCL scanner)."""
    bounds = np.array([b for b, _ in _UCL_SCHNEIDER], dtype=float)
    ids = np.array([m for _, m in _UCL_SCHNEIDER])
    return ids[np.searchsorted(bounds, np.asarray(hu, dtype=float), side="right") - 1]


def hu_bins(
    calibration: HUCalibration, tolerance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower HU bound, SPR/ρ and Schneider material of each bin (see module docstring)."""
    hu = np.arange(_HU_MIN, _HU_MAX + _HU_STEP, _HU_STEP)
    ratio = calibration.hu_to_spr(hu) / calibration.hu_to_density_g_cm3(hu)
    schneider = schneider_material(hu)
    starts = [0]
    for i in range(1, hu.size):
        first = starts[-1]
        if schneider[i] != schneider[first] or abs(ratio[i] / ratio[first] - 1.0) > 2 * tolerance:
            starts.append(i)
    ends = [*starts[1:], hu.size]
    values = np.array(
        [0.5 * (ratio[s:e].max() + ratio[s:e].min()) for s, e in zip(starts, ends, strict=True)]
    )
    lower = hu[starts].copy()
    lower[0] = -5000.0
    return lower, values, schneider[starts]


def calibration_scanner(
    calibration: HUCalibration, folder: Path | None = None, *, tolerance: float = 5e-4
) -> Scanner:
    """The Scanner (and materials folder) reproducing ``calibration``'s SPR and density."""
    lower, ratio, schneider = hu_bins(calibration, tolerance)
    key = hashlib.sha256(np.concatenate([lower, ratio, schneider]).tobytes()).hexdigest()[:12]
    root = mcsquare_dir()
    folder = folder or root.parent / f"materials-{key}"
    if not (folder / "list.dat").exists():
        _write_materials(root / "Materials", folder, ratio, schneider)
    first_id = _first_free_id(root / "Materials")
    nodes = np.asarray(calibration.hu, dtype=float)
    density = np.asarray(calibration.density_g_cm3, dtype=float)
    density_hu = np.concatenate([[-5000.0], nodes, [5000.0]])
    density_values = np.concatenate([[density[0]], density, [density[-1]]])
    return Scanner(density_hu, density_values, lower, first_id + np.arange(lower.size), folder)


def _first_free_id(original: Path) -> int:
    ids = [
        int(m.group(1))
        for m in re.finditer(r"(?m)^\s*(\d+)\s", (original / "list.dat").read_text())
    ]
    return max(ids) + 1


def _write_materials(
    original: Path, folder: Path, ratio: np.ndarray, schneider: np.ndarray
) -> None:
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for entry in original.iterdir():
        if entry.is_dir():
            (staging / entry.name).symlink_to(entry.resolve())
    names = _names_by_id(original)
    water = np.loadtxt(original / "Water" / "G4_Stop_Pow.dat")
    first = _first_free_id(original)
    listing = (original / "list.dat").read_text().rstrip("\n") + "\n\n"
    for k, (r, sid) in enumerate(zip(ratio, schneider, strict=True)):
        name = f"ionbeam_{k:03d}"
        listing += f"{first + k} {name}\n"
        target = staging / name
        target.mkdir()
        properties = (original / names[int(sid)] / "Material_Properties.dat").read_text()
        properties = re.sub(r"(?m)^Name\s+\S+", f"Name \t\t\t{name}", properties)
        (target / "Material_Properties.dat").write_text(properties)
        table = water.copy()
        table[:, 1] *= r
        np.savetxt(target / "G4_Stop_Pow.dat", table, fmt="%.8f", delimiter="\t ")
    (staging / "list.dat").write_text(listing)
    staging.rename(folder)


def _names_by_id(original: Path) -> dict[int, str]:
    return {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r"(?m)^\s*(\d+)\s+(\S+)", (original / "list.dat").read_text())
    }
