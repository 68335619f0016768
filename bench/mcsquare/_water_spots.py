"""Single proton spots in water: the set-up shared by MCsquare and ionbeam, and the metrics.

A spot aimed along +y (gantry 0°) at a water box whose upstream face is the
isocentre plane; voxels of 1 mm. From a dose cube (Gy per proton) the
functions below derive what ``tests/data/mcsquare/water_spots.npz`` stores
(the laterally integrated depth–dose and radial profiles) and what the
validation test and ``bench/accuracy_vs_mc.py`` compare: Bragg-peak depth,
R80, distal fall-off R80–R20, peak/plateau ratio, the core σ of the lateral
profile against depth and the low-dose halo (dose at 2, 3 and 4 σ relative to
the axis).

Pure numpy and ionbeam; no MCsquare here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ionbeam.machine.beam_model import MEV_PER_MM_TO_GY_MM2, BeamModel
from ionbeam.patient import CT, Grid
from ionbeam.physics.depth_dose import distal_depth
from ionbeam.planning.dose_engine import DoseEngineOptions, calc_dose
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap

#: Energies of the single spots, MeV (across CNAO's proton range).
ENERGIES_MEV = (70.0, 120.0, 170.0, 220.0)
#: Lateral half-width of the box (mm) and voxel size (mm).
HALF_WIDTH_MM = 60
VOXEL_MM = 1.0
#: Depth beyond ionbeam's R80 that the box extends to, mm.
DISTAL_MARGIN_MM = 25.0
#: Radial profiles are stored every this many depth voxels.
RADIAL_DEPTH_STRIDE = 2
#: MeV per J.
MEV_PER_J = 1.0 / 1.602176634e-13


def water_grid(r80_mm: float) -> Grid:
    """The water box of one energy: x, z in ±HALF_WIDTH_MM, depth y from 0 (the isocentre
    plane) to R80 + DISTAL_MARGIN_MM, voxel centres on the beam axis."""
    n_lateral = 2 * HALF_WIDTH_MM + 1
    n_depth = math.ceil(r80_mm + DISTAL_MARGIN_MM)
    return Grid(
        (n_lateral, n_depth, n_lateral),
        (VOXEL_MM,) * 3,
        (-float(HALF_WIDTH_MM), 0.5 * VOXEL_MM, -float(HALF_WIDTH_MM)),
    )


def water_ct(grid: Grid) -> CT:
    """Water (0 HU) everywhere."""
    return CT(np.zeros(grid.shape, dtype=np.float32), grid)


def spot_plan(energy_mev: float, sad_mm: tuple[float, float]) -> Plan:
    """One proton on the axis, gantry 0°, isocentre at the water surface's centre."""
    geometry = BeamGeometry(0.0, 0.0, (0.0, 0.0, 0.0), sad_mm)
    spots = SpotMap([energy_mev], [0.0], [0.0], [1.0])
    return Plan("proton", (Beam("spot", geometry, spots),), Prescription("water", 1.0))


def ionbeam_dose(energy_mev: float, grid: Grid, model: BeamModel, **options: object) -> np.ndarray:
    """ionbeam's dose (Gy per proton) of the spot on ``grid``."""
    plan = spot_plan(energy_mev, model.beam_line.sad_mm)
    engine = DoseEngineOptions(with_let=False, **options)  # type: ignore[arg-type]
    return calc_dose(water_ct(grid), plan, model, options=engine).dose_gy


def idd_mev_mm(dose_gy: np.ndarray, grid: Grid) -> np.ndarray:
    """Laterally integrated depth–dose, MeV/mm per proton (water, 1 g/cm³)."""
    dx, _, dz = grid.spacing_mm
    return dose_gy.sum(axis=(0, 2)) * dx * dz * 1e-6 * MEV_PER_J


def voxel_averaged_idd(
    model: BeamModel, energy_mev: float, depth_mm: np.ndarray, *, shift_mm: float = 0.0
) -> np.ndarray:
    """ionbeam's IDD (MeV/mm per proton, from the beam model's table) averaged over the
    1 mm depth voxels centred on ``depth_mm`` — what a Monte Carlo scores, whereas the
    dose engine samples the table at voxel centres (which matters in a Bragg peak whose
    range straggling is under a millimetre). ``shift_mm`` moves the curve deeper."""
    k = int(model.energy_index(np.array([energy_mev]))[0])
    table = model.idd_gy_mm2[k] / MEV_PER_MM_TO_GY_MM2
    return voxel_average(model.depth_mm(k) + shift_mm, table, depth_mm)


def voxel_average(depth_mm: np.ndarray, idd: np.ndarray, centres_mm: np.ndarray) -> np.ndarray:
    """Mean of the linear interpolant of (``depth_mm``, ``idd``) over the ``VOXEL_MM``
    voxels centred on ``centres_mm`` (zero beyond the curve's last depth)."""
    edges = np.concatenate([centres_mm - 0.5 * VOXEL_MM, [centres_mm[-1] + 0.5 * VOXEL_MM]])
    fine = np.linspace(edges[0], edges[-1], 100 * centres_mm.size + 1)
    values = np.interp(fine, depth_mm, idd, right=0.0)
    # trapezoidal mean over each voxel: the running integral at the edges, differenced
    running = np.concatenate([[0.0], np.cumsum(0.5 * (values[1:] + values[:-1]) * np.diff(fine))])
    return np.diff(np.interp(edges, fine, running)) / np.diff(edges)


@dataclass(frozen=True)
class PeakAtEqualR80:
    """ionbeam's IDD against MC's at the same R80 (PB/MC ratios of 1 mm voxel averages).

    ``shift_mm`` moves ionbeam's curve so that the R80 of its 1 mm voxel averages equals
    the R80 of MC's 1 mm voxels (one estimator on both); ``peak_ratio`` is the ratio in
    MC's highest voxel, ``pair_ratio`` over the two highest voxels together,
    ``mid_range_ratio`` the mean over 0.4–0.6 R80. ``centre_shift_mm`` and
    ``centre_peak_ratio``: the same with ionbeam's R80 read off its continuous curve
    instead (the two estimators differ by up to 0.2 mm at 70 MeV, where the fall-off is
    narrower than a voxel: R80 interpolated between voxel centres lies upstream of the
    curve's own)."""

    shift_mm: float
    peak_ratio: float
    pair_ratio: float
    mid_range_ratio: float
    centre_shift_mm: float
    centre_peak_ratio: float


def peak_at_equal_r80(
    model: BeamModel, energy_mev: float, depth_mm: np.ndarray, idd_mc: np.ndarray
) -> PeakAtEqualR80:
    """Peak and mid-range dose of ionbeam's beam-model IDD against MC's at equal R80."""
    r80_mc = distal_depth(depth_mm, idd_mc, 0.8)
    shift = 0.0
    for _ in range(8):  # the voxel R80 moves with the shift almost one to one
        ours = voxel_averaged_idd(model, energy_mev, depth_mm, shift_mm=shift)
        error = distal_depth(depth_mm, ours, 0.8) - r80_mc
        shift -= error
        if abs(error) < 1e-4:
            break
    ours = voxel_averaged_idd(model, energy_mev, depth_mm, shift_mm=shift)
    k = int(model.energy_index(np.array([energy_mev]))[0])
    table = model.idd_gy_mm2[k] / MEV_PER_MM_TO_GY_MM2
    centre_shift = r80_mc - distal_depth(model.depth_mm(k), table, 0.8)
    centred = voxel_averaged_idd(model, energy_mev, depth_mm, shift_mm=centre_shift)
    i = int(np.argmax(idd_mc))
    pair = [i - 1, i] if idd_mc[i - 1] > idd_mc[i + 1] else [i, i + 1]
    mid = (depth_mm >= 0.4 * r80_mc) & (depth_mm <= 0.6 * r80_mc)
    return PeakAtEqualR80(
        shift_mm=shift,
        peak_ratio=float(ours[i] / idd_mc[i]),
        pair_ratio=float(ours[pair].sum() / idd_mc[pair].sum()),
        mid_range_ratio=float(ours[mid].mean() / idd_mc[mid].mean()),
        centre_shift_mm=float(centre_shift),
        centre_peak_ratio=float(centred[i] / idd_mc[i]),
    )


def radial_bins(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Bin index of every (x, z) voxel (1 mm annuli centred on whole mm) and the mean
    radius of each bin, mm."""
    x, _, z = grid.axes_mm()
    r = np.hypot(x[:, None], z[None, :])
    index = np.rint(r / VOXEL_MM).astype(int)
    index[index > HALF_WIDTH_MM] = -1
    n = HALF_WIDTH_MM + 1
    inside = index >= 0
    mean_r = np.bincount(index[inside], weights=r[inside], minlength=n)
    return index, mean_r / np.bincount(index[inside], minlength=n)


def radial_profiles(
    dose_gy: np.ndarray, grid: Grid, stride: int = RADIAL_DEPTH_STRIDE
) -> np.ndarray:
    """Mean dose per annulus [n_depth // stride, n_bins] (Gy per proton) at every
    ``stride``-th depth voxel."""
    index, radius = radial_bins(grid)
    inside = index >= 0
    counts = np.bincount(index[inside], minlength=radius.size)
    out = np.empty((len(range(0, grid.shape[1], stride)), radius.size))
    for k, j in enumerate(range(0, grid.shape[1], stride)):
        out[k] = (
            np.bincount(index[inside], weights=dose_gy[:, j, :][inside], minlength=radius.size)
            / counts
        )
    return out


def core_sigma_mm(radius_mm: np.ndarray, profile: np.ndarray, level: float = 0.3) -> float:
    """σ of the Gaussian core: least squares of ln D against r² over the annuli above
    ``level`` × the axis dose (weights ∝ D, i.e. Poisson-like)."""
    top = profile[0]
    use = profile > level * top
    use[0] = True
    if use.sum() < 3:
        return math.nan
    slope = np.polyfit(radius_mm[use] ** 2, np.log(profile[use]), 1, w=np.sqrt(profile[use]))[0]
    return math.sqrt(-0.5 / slope) if slope < 0 else math.nan


def halo_ratios(radius_mm: np.ndarray, profile: np.ndarray, sigma_mm: float) -> np.ndarray:
    """Dose at 2, 3 and 4 σ relative to the dose on the axis (profile interpolated in r)."""
    return np.interp(np.array([2.0, 3.0, 4.0]) * sigma_mm, radius_mm, profile) / profile[0]


def energy_within(
    radius_mm: np.ndarray, profile: np.ndarray, radii_mm: tuple[float, ...] = (10.0, 20.0, 40.0)
) -> np.ndarray:
    """Share of the annuli's energy (Σ D·r, 1 mm annuli) inside each of ``radii_mm``: where
    a profile puts the energy its core and halo carry."""
    weight = np.cumsum(profile * radius_mm)
    return np.interp(np.asarray(radii_mm), radius_mm, weight) / weight[-1]


@dataclass(frozen=True)
class DepthDoseMetrics:
    """Bragg-peak depth, R80, R80−R20 (mm) and peak/plateau (plateau: mean IDD over
    depths 10–20 mm)."""

    peak_mm: float
    r80_mm: float
    falloff_mm: float
    peak_to_plateau: float


def depth_dose_metrics(depth_mm: np.ndarray, idd: np.ndarray) -> DepthDoseMetrics:
    """The metrics of a depth–dose curve sampled at ``depth_mm`` (voxel centres)."""
    i = int(np.argmax(idd))
    if 0 < i < idd.size - 1:
        a, b, _ = np.polyfit(depth_mm[i - 1 : i + 2] - depth_mm[i], idd[i - 1 : i + 2], 2)
        peak = float(depth_mm[i] - b / (2 * a)) if a < 0 else float(depth_mm[i])
    else:
        peak = float(depth_mm[i])
    r80 = distal_depth(depth_mm, idd, 0.8)
    r20 = distal_depth(depth_mm, idd, 0.2)
    plateau = float(idd[(depth_mm >= 10.0) & (depth_mm <= 20.0)].mean())
    return DepthDoseMetrics(peak, r80, r20 - r80, float(idd.max()) / plateau)
