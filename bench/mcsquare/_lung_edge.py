"""Single proton spots at the lateral edge of a water-density tumour inside lung: the
set-up shared by MCsquare and ionbeam, and the figures the diagnosis compares.

One box (1 mm voxels, voxel faces at x = 0, depth y from 0 at the isocentre plane to
DEPTH_MM, gantry 0°): water (0 HU, a chest wall) at depths 0–20 mm, lung (−750 HU:
0.25 g/cm³, SPR 0.249) beyond, and a water "tumour" (0 HU) on the x < 0 side at depths
40–90 mm, infinite in z. The tumour's lateral face x = 0 is a lung–water interface
parallel to the beam. Both codes convert the CT numbers with ionbeam's stoichiometric
calibration, as for the slabs (``_slabs.py``).

Spots (``SPOTS``): a low energy whose Bragg peak lies in the tumour's distal part
(peak WEPL 60 mm along the tumour's rays) and a high one that crosses the tumour and
stops in the lung behind it (peak WEPL 100 mm), each aimed at the interface (x = 0)
or 4 mm to either side of it; and a spot in the lung 5 mm beside the tumour whose
peak lies at the tumour's depths along its own (lung) ray (peak WEPL 35 mm), as the
spots of a lung plan's margin: its lateral tail reaches tumour voxels whose own WEPL
lies beyond its range.

Pure numpy and ionbeam; no MCsquare here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ionbeam.patient import Grid

#: Depth of the box (mm), its half-width in x (mm) and in z (mm).
DEPTH_MM = 220
HALF_WIDTH_MM = 40
HALF_HEIGHT_MM = 30
#: Chest wall (water) up to this depth, lung beyond (mm).
WALL_MM = 20.0
#: The tumour (water, x < 0) between these depths (mm).
TUMOUR_MM = (40.0, 90.0)
LUNG_HU = -750.0


@dataclass(frozen=True)
class EdgeSpot:
    """A spot of the energy whose Bragg peak lies at ``peak_wepl_mm`` in water, aimed at
    ``x_mm`` (the interface is x = 0, the tumour at x < 0)."""

    name: str
    peak_wepl_mm: float
    x_mm: float


SPOTS: tuple[EdgeSpot, ...] = (
    EdgeSpot("low_edge", 60.0, 0.0),
    EdgeSpot("low_lung", 60.0, 4.0),
    EdgeSpot("low_tumour", 60.0, -4.0),
    EdgeSpot("high_edge", 100.0, 0.0),
    EdgeSpot("lung_matched", 35.0, 5.0),
)


def edge_grid() -> Grid:
    """1 mm voxels; voxel faces at x = 0; depth y from 0 to DEPTH_MM."""
    return Grid(
        (2 * HALF_WIDTH_MM, DEPTH_MM, 2 * HALF_HEIGHT_MM + 1),
        (1.0, 1.0, 1.0),
        (-HALF_WIDTH_MM + 0.5, 0.5, -float(HALF_HEIGHT_MM)),
    )


def edge_hu(grid: Grid) -> np.ndarray:
    """CT numbers [x, y, z]: chest wall, lung, and the water tumour at x < 0."""
    x, y, _ = grid.axes_mm()
    hu = np.full(grid.shape, LUNG_HU, dtype=np.float32)
    hu[:, y < WALL_MM, :] = 0.0
    in_tumour = (x[:, None] < 0.0) & (y[None, :] > TUMOUR_MM[0]) & (y[None, :] < TUMOUR_MM[1])
    hu[in_tumour, :] = 0.0
    return hu


def spot_energy_mev(spot: EdgeSpot, model: object) -> float:
    """The beam model's energy whose Bragg peak in water is nearest ``peak_wepl_mm``."""
    peaks = np.asarray(model.bragg_peak_mm)  # type: ignore[attr-defined]
    energies = np.asarray(model.energies_mev_u)  # type: ignore[attr-defined]
    return float(energies[int(np.argmin(np.abs(peaks - spot.peak_wepl_mm)))])


def spot_plan(spot: EdgeSpot, model: object) -> object:
    """One proton of the spot's energy at (x_mm, 0), gantry 0°, isocentre (0, 0, 0)."""
    from ionbeam.planning.geometry import BeamGeometry
    from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

    sad = model.beam_line.sad_mm  # type: ignore[attr-defined]
    geometry = BeamGeometry(0.0, 0.0, (0.0, 0.0, 0.0), sad)
    spots = SpotMap([spot_energy_mev(spot, model)], [spot.x_mm], [0.0], [1.0])
    return Plan("proton", (Beam("spot", geometry, spots),), Prescription("tumour", 1.0))


def ionbeam_plane(spot: EdgeSpot, model: object, **options: object) -> np.ndarray:
    """ionbeam's dose (Gy per proton) in the plane z = 0 [x, y] (``options`` for
    :class:`~ionbeam.planning.dose_engine.DoseEngineOptions`)."""
    from ionbeam.patient import CT
    from ionbeam.patient.stoichiometric import stoichiometric_calibration
    from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose

    grid = edge_grid()
    engine = DoseEngineOptions(with_let=False, **options)  # type: ignore[arg-type]
    dose = calc_dose(
        CT(edge_hu(grid), grid),
        spot_plan(spot, model),
        model,
        calibration=stoichiometric_calibration(),
        options=engine,
    ).dose_gy
    return central_plane(dose, grid)


def central_plane(dose_gy: np.ndarray, grid: Grid) -> np.ndarray:
    """Mean dose of the three planes |z| ≤ 1 mm [x, y] (Gy per proton)."""
    _, _, z = grid.axes_mm()
    return dose_gy[:, :, np.abs(z) < 1.1].mean(axis=2)


@dataclass(frozen=True)
class Regions:
    """Boolean masks [x, y] of the plane: the tumour, its 5 mm next to the interface,
    the lung beside it (x > 0, the tumour's depths) and the lung behind it."""

    tumour: np.ndarray
    tumour_edge: np.ndarray
    lung_beside: np.ndarray
    lung_behind: np.ndarray


def regions(grid: Grid) -> Regions:
    """The :class:`Regions` of the plane z = 0 of ``grid``."""
    x, y, _ = grid.axes_mm()
    depth = (y[None, :] > TUMOUR_MM[0]) & (y[None, :] < TUMOUR_MM[1])
    tumour = (x[:, None] < 0.0) & depth
    return Regions(
        tumour=tumour,
        tumour_edge=tumour & (x[:, None] > -5.0),
        lung_beside=(x[:, None] > 0.0) & depth,
        lung_behind=(x[:, None] < 0.0) & (y[None, :] > TUMOUR_MM[1]),
    )


def region_ratios(plane_gy: np.ndarray, mc_plane_gy: np.ndarray, grid: Grid) -> dict[str, float]:
    """Dose summed over each region, ionbeam / MC − 1 (%)."""
    out = {}
    for name, mask in vars(regions(grid)).items():
        mc = float(mc_plane_gy[mask].sum())
        out[name] = 100.0 * (float(plane_gy[mask].sum()) / mc - 1.0) if mc > 0 else float("nan")
    return out


def plane_rms_percent(plane_gy: np.ndarray, mc_plane_gy: np.ndarray) -> float:
    """RMS of the dose difference over the points above 10 % of the MC maximum, in % of
    that maximum."""
    top = float(mc_plane_gy.max())
    above = mc_plane_gy > 0.1 * top
    return float(np.sqrt(np.mean((plane_gy[above] - mc_plane_gy[above]) ** 2)) / top * 100.0)


def plane_gamma_percent(plane_gy: np.ndarray, mc_plane_gy: np.ndarray, grid: Grid) -> float:
    """Gamma 2 %/2 mm pass rate (global, 10 % cut-off) in the plane, MC the reference."""
    from ionbeam.evaluation.gamma import gamma_index

    plane = Grid((grid.shape[0], grid.shape[1], 1), grid.spacing_mm, grid.origin_mm)
    result = gamma_index(
        mc_plane_gy[:, :, None], plane, plane_gy[:, :, None], plane,
        dose_percent_threshold=2.0, distance_mm_threshold=2.0,
    )  # fmt: skip
    return 100.0 * result.n_passed / max(result.n_evaluated, 1)


#: The stored MCsquare planes of these spots (``tests/data/mcsquare/README.md``).
STORED = Path(__file__).resolve().parents[2] / "tests" / "data" / "mcsquare" / "lung_edge_spots.npz"


def stored_planes() -> dict[str, np.ndarray]:
    """The arrays of :data:`STORED` (each spot's energy and MC planes), read into memory."""
    with np.load(STORED) as data:
        return {key: data[key] for key in data.files}


def stored_beam_model(stored: dict[str, np.ndarray]) -> object:
    """ionbeam's proton beam model of the CNAO line at the stored spots' energies."""
    from ionbeam.machine import cnao_beam_line
    from ionbeam.machine.beam_model import build_beam_model

    energies = sorted({float(stored[f"{s.name}_energy_mev"]) for s in SPOTS})
    return build_beam_model("proton", energies, cnao_beam_line())
