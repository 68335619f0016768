"""Single 150 MeV proton spots through slabs of lung and bone in water: the set-up shared by
MCsquare and ionbeam, and the metrics the validation compares.

Three water boxes (voxels of 1 mm, depth y from 0 at the isocentre plane to 200 mm, the
spot on the axis, gantry 0°), each with one slab whose CT numbers both codes convert
with ionbeam's stoichiometric calibration (MCsquare through
:func:`_scanner.calibration_scanner`: the same density and SPR at every HU, the
elemental composition and radiation length of MCsquare's Schneider material there):

* ``water``: no slab (the reference of the same beam in water; depths compared as
  for the lung);
* ``lung``: 30 mm of lung (−750 HU: 0.25 g/cm³, SPR 0.249) at depths 20–50 mm;
* ``bone``: 20 mm of bone (+1000 HU: 1.62 g/cm³, SPR 1.470) at depths 20–40 mm;
* ``half_bone``: the same bone slab on the x < 0 side only, its edge on the beam axis
  (the box's voxel faces lie at x = 0, so the axis runs along the interface).

Pure numpy and ionbeam; no MCsquare here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ionbeam.patient import Grid

#: The spot's energy, MeV.
ENERGY_MEV = 150.0
#: Depth of the boxes (mm) and their lateral half-width (mm).
DEPTH_MM = 200
HALF_WIDTH_MM = 40


@dataclass(frozen=True)
class SlabCase:
    """A slab of ``hu`` between depths ``start_mm`` and ``stop_mm``; ``half``: only at
    x < 0 (its edge on the beam axis)."""

    name: str
    hu: float
    start_mm: float
    stop_mm: float
    half: bool = False


CASES: tuple[SlabCase, ...] = (
    SlabCase("water", 0.0, 20.0, 50.0),
    SlabCase("lung", -750.0, 20.0, 50.0),
    SlabCase("bone", 1000.0, 20.0, 40.0),
    SlabCase("half_bone", 1000.0, 20.0, 40.0, half=True),
)


def case_by_name(name: str) -> SlabCase:
    """The case called ``name``."""
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


def slab_grid(case: SlabCase) -> Grid:
    """1 mm voxels; depth y from 0 to DEPTH_MM; a voxel centre on the axis in z, and in x
    too except for the half slab (voxel faces at x = 0)."""
    n_x = 2 * HALF_WIDTH_MM if case.half else 2 * HALF_WIDTH_MM + 1
    x0 = -HALF_WIDTH_MM + 0.5 if case.half else -float(HALF_WIDTH_MM)
    return Grid(
        (n_x, DEPTH_MM, 2 * HALF_WIDTH_MM + 1),
        (1.0, 1.0, 1.0),
        (x0, 0.5, -float(HALF_WIDTH_MM)),
    )


def slab_hu(case: SlabCase, grid: Grid) -> np.ndarray:
    """CT numbers [x, y, z]: water (0 HU) with the case's slab."""
    x, y, _ = grid.axes_mm()
    hu = np.zeros(grid.shape, dtype=np.float32)
    in_depth = (y > case.start_mm) & (y < case.stop_mm)
    in_x = x < 0.0 if case.half else np.ones(x.size, dtype=bool)
    hu[np.ix_(in_x, in_depth, np.ones(grid.shape[2], dtype=bool))] = case.hu
    return hu


def axis_dose(dose_gy: np.ndarray, grid: Grid) -> np.ndarray:
    """Mean dose of the 3 × 3 voxels around the beam axis at every depth (Gy per proton)."""
    x, _, z = grid.axes_mm()
    near_x = np.abs(x) < 1.6
    near_z = np.abs(z) < 1.1
    return dose_gy[near_x][:, :, near_z].mean(axis=(0, 2))


def central_plane(dose_gy: np.ndarray, grid: Grid) -> np.ndarray:
    """The dose in the plane z = 0 (through the axis, across a half slab's edge) [x, y]."""
    _, _, z = grid.axes_mm()
    return dose_gy[:, :, int(np.argmin(np.abs(z)))]


def radial_profiles(dose_gy: np.ndarray, grid: Grid, stride: int = 2) -> tuple[np.ndarray, ...]:
    """Depths (every ``stride`` mm), mean radius of 1 mm annuli and the mean dose per
    annulus [n_depth, n_radius] (Gy per proton): for the slabs that cover the beam."""
    x, y, z = grid.axes_mm()
    r = np.hypot(x[:, None], z[None, :])
    index = np.rint(r).astype(int)
    index[index > HALF_WIDTH_MM] = -1
    inside = index >= 0
    n = HALF_WIDTH_MM + 1
    counts = np.bincount(index[inside], minlength=n)
    radius = np.bincount(index[inside], weights=r[inside], minlength=n) / counts
    rows = range(0, grid.shape[1], stride)
    out = np.empty((len(rows), n))
    for k, j in enumerate(rows):
        out[k] = np.bincount(index[inside], weights=dose_gy[:, j, :][inside], minlength=n) / counts
    return y[::stride], radius, out


def core_sigma_mm(radius_mm: np.ndarray, profile: np.ndarray, level: float = 0.3) -> float:
    """σ of the Gaussian core: least squares of ln D against r² over the annuli above
    ``level`` × the axis dose (weights ∝ √D)."""
    use = profile > level * profile[0]
    use[0] = True
    if use.sum() < 3 or profile[0] <= 0:
        return math.nan
    slope = np.polyfit(radius_mm[use] ** 2, np.log(profile[use]), 1, w=np.sqrt(profile[use]))[0]
    return math.sqrt(-0.5 / slope) if slope < 0 else math.nan


def ionbeam_slab_dose(case: SlabCase, model: object, **options: object) -> np.ndarray:
    """ionbeam's dose (Gy per proton) of the 150 MeV spot on the case's box (pencil beam;
    ``options`` for :class:`~ionbeam.planning.dose_engine.DoseEngineOptions`)."""
    from ionbeam.patient import CT
    from ionbeam.patient.stoichiometric import stoichiometric_calibration
    from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose
    from ionbeam.planning.geometry import BeamGeometry
    from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

    grid = slab_grid(case)
    geometry = BeamGeometry(0.0, 0.0, (0.0, 0.0, 0.0), model.beam_line.sad_mm)  # type: ignore[attr-defined]
    plan = Plan(
        "proton",
        (Beam("spot", geometry, SpotMap([ENERGY_MEV], [0.0], [0.0], [1.0])),),
        Prescription("water", 1.0),
    )
    engine = DoseEngineOptions(with_let=False, **options)  # type: ignore[arg-type]
    ct = CT(slab_hu(case, grid), grid)
    return calc_dose(
        ct, plan, model, calibration=stoichiometric_calibration(), options=engine
    ).dose_gy


def sigma_and_axis(
    radial_depth_mm: np.ndarray,
    radius_mm: np.ndarray,
    radial_dose: np.ndarray,
    depth_mm: np.ndarray,
    axis_dose_gy: np.ndarray,
    depths_mm: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Core σ (mm) and 3 × 3 axis dose (Gy per proton) at ``depths_mm`` (on the radial
    depth grid)."""
    sigma = np.array(
        [core_sigma_mm(radius_mm, radial_dose[int(np.argmin(np.abs(radial_depth_mm - d)))])
         for d in depths_mm]
    )  # fmt: skip
    axis = np.array([axis_dose_gy[int(np.argmin(np.abs(depth_mm - d)))] for d in depths_mm])
    return sigma, axis


def compared_depths(case: SlabCase, mc_axis_gy: np.ndarray, depth_mm: np.ndarray) -> np.ndarray:
    """Depths beyond the slab where both are compared: every 2 mm from 3 mm behind the
    slab to where the MC axis dose, past its maximum, falls to 90 % of it."""
    peak = int(np.argmax(mc_axis_gy))
    beyond = np.flatnonzero(mc_axis_gy[peak:] < 0.9 * mc_axis_gy[peak])
    end = float(depth_mm[peak + beyond[0]]) if beyond.size else float(depth_mm[-1])
    first = math.ceil(case.stop_mm + 3.0)
    first += first % 2  # the radial profiles sit at odd half-millimetre depths: 0.5, 2.5, …
    return np.arange(first + 0.5, end, 2.0)


@dataclass(frozen=True)
class EdgeAgreement:
    """A dose in the plane through a half slab's edge against MC: the shift of R80 (mm,
    dose − MC) on the lines next to the edge (x = −0.5 mm, in the bone's shadow, and
    +0.5 mm, beside it), the gamma pass rates (%, global, 10 % cut-off) at 2 %/2 mm and
    3 %/3 mm in the plane, and the RMS dose difference (% of the MC maximum) over the
    points above 10 % of it."""

    r80_shift_bone_mm: float
    r80_shift_water_mm: float
    gamma_2_2: float
    gamma_3_3: float
    rms_percent: float


def edge_agreement(plane_gy: np.ndarray, mc_plane_gy: np.ndarray, grid: Grid) -> EdgeAgreement:
    """:class:`EdgeAgreement` of ``plane_gy`` (the dose in the plane z = 0) with MC's."""
    from ionbeam.evaluation.gamma import gamma_index
    from ionbeam.physics.depth_dose import distal_depth

    x, y, _ = grid.axes_mm()
    shifts = []
    for side in (-0.5, 0.5):
        i = int(np.argmin(np.abs(x - side)))
        shifts.append(distal_depth(y, plane_gy[i], 0.8) - distal_depth(y, mc_plane_gy[i], 0.8))
    plane = Grid((grid.shape[0], grid.shape[1], 1), grid.spacing_mm, grid.origin_mm)
    rates = []
    for criterion in (2.0, 3.0):
        result = gamma_index(
            mc_plane_gy[:, :, None], plane, plane_gy[:, :, None], plane,
            dose_percent_threshold=criterion, distance_mm_threshold=criterion,
        )  # fmt: skip
        rates.append(100.0 * result.n_passed / max(result.n_evaluated, 1))
    top = float(mc_plane_gy.max())
    above = mc_plane_gy > 0.1 * top
    rms = float(np.sqrt(np.mean((plane_gy[above] - mc_plane_gy[above]) ** 2)) / top * 100.0)
    return EdgeAgreement(shifts[0], shifts[1], rates[0], rates[1], rms)


def wepl_shift_mm(case: SlabCase) -> float:
    """WEPL minus geometric depth behind the slab (mm): (SPR − 1) × thickness, with SPR from
    ionbeam's stoichiometric calibration (water: 0)."""
    from ionbeam.patient.stoichiometric import stoichiometric_calibration

    spr = float(stoichiometric_calibration().hu_to_spr(case.hu))
    return (spr - 1.0) * (case.stop_mm - case.start_mm)


@dataclass(frozen=True, eq=False)
class SpotAgreement:
    """σ and axis dose of the pencil beam against MC at ``depth_mm`` (beyond the slab):
    ``sigma_ratio`` and ``axis_ratio`` (PB / MC), and both divided by the same ratio of
    the water case at the same WEPL (``*_vs_water``: what the slab adds to the error of
    the beam model in water)."""

    depth_mm: np.ndarray
    sigma_ratio: np.ndarray
    axis_ratio: np.ndarray
    sigma_vs_water: np.ndarray
    axis_vs_water: np.ndarray


def spot_agreement(
    case: SlabCase, pb_gy: np.ndarray, water_pb_gy: np.ndarray, stored: object
) -> SpotAgreement:
    """Compare the pencil-beam doses (``pb_gy`` of the case, ``water_pb_gy`` of the water
    box) with the stored MC curves (``slab_spots.npz``)."""
    grid = slab_grid(case)
    depth = grid.axes_mm()[1]

    def mc(name: str, key: str) -> np.ndarray:
        return np.asarray(stored[f"{name}_{key}"], dtype=float)  # type: ignore[index]

    def ratios(name: str, dose: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s_mc, a_mc = sigma_and_axis(
            mc(name, "radial_depth_mm"), mc(name, "radius_mm"), mc(name, "radial_dose_gy"),
            depth, mc(name, "axis_dose_gy"), at,
        )  # fmt: skip
        s_pb, a_pb = sigma_and_axis(*radial_profiles(dose, grid), depth, axis_dose(dose, grid), at)
        return s_pb / s_mc, a_pb / a_mc

    at = compared_depths(case, mc(case.name, "axis_dose_gy"), depth)
    sigma, axis = ratios(case.name, pb_gy, at)
    water_sigma, water_axis = ratios("water", water_pb_gy, at + wepl_shift_mm(case))
    return SpotAgreement(at, sigma, axis, sigma / water_sigma, axis / water_axis)
