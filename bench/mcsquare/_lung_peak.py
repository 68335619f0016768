"""Single proton spots whose Bragg peak lies in lung, in laterally uniform boxes: the
set-up shared by MCsquare and ionbeam (``bench/lung_peak_idd.py``,
``tests/validation/test_lung_peak_vs_mcsquare.py``).

Boxes of 1 mm voxels (81 × 220 × 81 mm, depth y from 0 at the isocentre plane, gantry 0°,
the spot on the axis), lung (−750 HU: 0.25 g/cm³, SPR 0.249) with water layers across the
whole width, so that no lateral heterogeneity can move dose and what is compared is the
depth–dose itself (``CASES``):

* ``tumour_slab``: the lung-edge layout (``_lung_edge.py``) with the tumour covering the
  whole width: water 0–20 mm, lung 20–40 mm, water 40–90 mm, lung beyond; the spot of
  peak WEPL 100 mm crosses the "tumour" and stops ~100 mm deep in the lung behind it;
* ``lung_peak``: water 0–20 mm, lung beyond; the spot of peak WEPL 35 mm stops in lung;
* ``water_ref``: the 100 mm spot in water.

Both codes convert the CT numbers with ionbeam's stoichiometric calibration (MCsquare
through ``_scanner.calibration_scanner``, as for the slabs). Pure numpy and ionbeam.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ionbeam.patient import CT, Grid
from ionbeam.patient.stoichiometric import stoichiometric_calibration
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

DEPTH_MM = 220
HALF_MM = 40
LUNG_HU = -750.0
#: The stored MC curves (``tests/data/mcsquare/README.md``).
STORED = Path(__file__).resolve().parents[2] / "tests" / "data" / "mcsquare" / "lung_peak_spots.npz"
#: MeV per (Gy · mm³) at 1 g/cm³ (1 mm³ of water is 10⁻⁶ kg).
MEV_PER_GY_MM3 = 1.0e-6 / 1.602176634e-13
#: MC's shares of each depth's energy far from the axis (``tests/data/mcsquare/README.md``).
STORED_TAILS = STORED.with_name("lung_peak_tails.npz")
#: Radii (mm) of :func:`tail_shares`.
TAIL_RADII_MM = (8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0)
#: Depths (mm, voxel centres) of :func:`tail_shares` per case: in the lung behind the
#: "tumour" at 1/3 … 5/6 of the way to the peak and inside the slab, in lung behind the
#: chest wall, and water at the same depths.
TAIL_DEPTHS_MM = {
    "tumour_slab": (64.5, 96.5, 128.5, 160.5, 192.5),
    "lung_peak": (40.5, 53.5, 66.5),
    "water_ref": (33.5, 50.5, 66.5, 83.5),
}


@dataclass(frozen=True)
class PeakCase:
    """Depth layers ``(start_mm, stop_mm, hu)`` over a lung background; a spot of peak
    WEPL ``peak_wepl_mm`` in water."""

    name: str
    layers: tuple[tuple[float, float, float], ...]
    peak_wepl_mm: float
    background_hu: float = LUNG_HU


CASES = (
    PeakCase("tumour_slab", ((0.0, 20.0, 0.0), (40.0, 90.0, 0.0)), 100.0),
    PeakCase("lung_peak", ((0.0, 20.0, 0.0),), 35.0),
    PeakCase("water_ref", (), 100.0, background_hu=0.0),
)


def box_grid() -> Grid:
    """1 mm voxels, the axis through voxel centres; depth y from 0 to DEPTH_MM."""
    n = 2 * HALF_MM + 1
    return Grid((n, DEPTH_MM, n), (1.0, 1.0, 1.0), (-float(HALF_MM), 0.5, -float(HALF_MM)))


def box_hu(case: PeakCase, grid: Grid) -> np.ndarray:
    """CT numbers [x, y, z]: the background with the case's layers across the width."""
    y = grid.axes_mm()[1]
    hu = np.full(grid.shape, case.background_hu, dtype=np.float32)
    for start, stop, value in case.layers:
        hu[:, (y > start) & (y < stop), :] = value
    return hu


def spot_energy(case: PeakCase, model: object) -> float:
    """The beam model's energy whose Bragg peak in water is nearest ``peak_wepl_mm``."""
    peaks = np.asarray(model.bragg_peak_mm)  # type: ignore[attr-defined]
    energies = np.asarray(model.energies_mev_u)  # type: ignore[attr-defined]
    return float(energies[int(np.argmin(np.abs(peaks - case.peak_wepl_mm)))])


def spot_plan(case: PeakCase, model: object) -> Plan:
    """One proton of the case's energy on the axis, gantry 0°, isocentre (0, 0, 0)."""
    sad = model.beam_line.sad_mm  # type: ignore[attr-defined]
    geometry = BeamGeometry(0.0, 0.0, (0.0, 0.0, 0.0), sad)
    spots = SpotMap([spot_energy(case, model)], [0.0], [0.0], [1.0])
    return Plan("proton", (Beam("spot", geometry, spots),), Prescription("box", 1.0))


def pb_dose(case: PeakCase, model: object, **options: object) -> np.ndarray:
    """ionbeam's dose (Gy per proton) of the case's spot on its box."""
    grid = box_grid()
    engine = DoseEngineOptions(with_let=False, **options)  # type: ignore[arg-type]
    return calc_dose(
        CT(box_hu(case, grid), grid),
        spot_plan(case, model),
        model,
        calibration=stoichiometric_calibration(),
        options=engine,
    ).dose_gy


def idd(dose_gy: np.ndarray) -> np.ndarray:
    """Laterally integrated depth–dose, MeV per mm per proton (1 mm voxels, 1 g/cm³)."""
    return dose_gy.sum(axis=(0, 2)) * MEV_PER_GY_MM3


def axis(dose_gy: np.ndarray) -> np.ndarray:
    """Mean dose of the 3 × 3 voxels around the axis at every depth (Gy per proton)."""
    return dose_gy[HALF_MM - 1 : HALF_MM + 2, :, HALF_MM - 1 : HALF_MM + 2].mean(axis=(0, 2))


def stored_curves() -> dict[str, np.ndarray]:
    """The arrays of :data:`STORED`, read into memory."""
    with np.load(STORED) as data:
        return {key: data[key] for key in data.files}


def tail_shares(
    dose_gy: np.ndarray, depths_mm: tuple[float, ...], radii_mm: tuple[float, ...] = TAIL_RADII_MM
) -> np.ndarray:
    """The share (%) of the energy of the three 1 mm planes around each depth (mm) that
    lies beyond each radius (mm) of the axis, [depth, radius] (the box's ±40 mm)."""
    x, y, z = box_grid().axes_mm()
    radius = np.hypot(x[:, None], z[None, :])
    out = np.zeros((len(depths_mm), len(radii_mm)))
    for i, depth in enumerate(depths_mm):
        j = int(np.argmin(np.abs(y - depth)))
        plane = dose_gy[:, j - 1 : j + 2, :].sum(axis=1)
        out[i] = [100.0 * plane[radius > r].sum() / plane.sum() for r in radii_mm]
    return out


def stored_beam_model(stored: dict[str, np.ndarray]) -> object:
    """ionbeam's proton beam model of the CNAO line at the stored spots' energies."""
    from ionbeam.machine import cnao_beam_line
    from ionbeam.machine.beam_model import build_beam_model

    cases = [str(c) for c in stored["cases"]]
    energies = sorted({float(stored[f"{c}_energy_mev"]) for c in cases})
    return build_beam_model("proton", energies, cnao_beam_line())


def case_by_name(name: str) -> PeakCase:
    """The case called ``name``."""
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


def distal_depth_mm(curve: np.ndarray, level: float) -> float:
    """Depth (mm, 1 mm voxel centres from 0.5 mm) beyond the maximum of ``curve`` where it
    falls to ``level`` × its maximum (linear between voxel centres)."""
    i = int(np.argmax(curve))
    top = float(curve[i])
    for k in range(i, curve.size - 1):
        if curve[k + 1] < level * top:
            return k + 0.5 + (curve[k] - level * top) / (curve[k] - curve[k + 1])
    return float("nan")
