"""What the dose kernels need to average each spot's dose over a whole voxel.

The dose of a voxel is its mean over the voxel, not a sample at its centre
(DESIGN.md, "What the dose means"): a Bragg peak narrower than a voxel must
count in full wherever it falls, or an optimizer can hide hot and cold spots
between grid points. The pencil-beam dose is separable, IDD(WEPL) × lateral
profile, and so is its average over a voxel, to second order in the voxel's
size (the lateral width and the IDD change little across one voxel, so the
cross terms are small):

* **along the beam** the voxel spans a WEPL interval [WEPL(w − L/2),
  WEPL(w + L/2)] read from the beam's WEPL lattice (so the local SPR of the
  voxel, bone or air, sets its width), with L the length of the voxel along the
  beam: L² = Σᵢ (dᵢ Δᵢ)² for the unit direction d and the voxel size Δ, the
  width of the uniform distribution with the variance of the voxel's
  projection onto the beam axis (exactly Δ for a beam along a grid axis). The
  kernels average the linear interpolant of each depth table (IDD, and IDD ×
  LET_d, IDD × α, IDD × √β per tissue) over that interval exactly, from the
  tables' cumulative integrals built here;
* **across the beam** averaging a Gaussian of variance σ² over a box of width
  a gives, to within about 1 % of its peak for σ ≥ a/2, a Gaussian of variance
  σ² + a²/12 (the variance of the box): the projection of the voxel onto the
  beam's two lateral axes adds Σᵢ (eᵢ Δᵢ)² / 12 per axis, and the kernels add
  the mean of the two axes to the spot's variance in air (isotropic, exact for
  cubic voxels and beams along a grid axis). The profile keeps its unit
  integral, so energy is conserved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ionbeam.patient.grid import Grid
from ionbeam.physics.depth_dose import wide_halo
from ionbeam.planning.geometry import BeamGeometry

__all__ = ["VoxelExtent", "depth_tables", "halo_components", "voxel_extent"]


@dataclass(frozen=True)
class VoxelExtent:
    """A dose-grid voxel seen by a beam: its length along the beam (mm) and the variance
    (mm²) its lateral extent adds to the spot's lateral profile."""

    length_mm: float
    lateral_variance_mm2: float


def voxel_extent(geometry: BeamGeometry, grid: Grid) -> VoxelExtent:
    """The extent of a voxel of ``grid`` along and across the central axis of ``geometry``
    (see the module docstring)."""
    spacing = np.asarray(grid.spacing_mm, dtype=float)
    along = float(np.sqrt(np.sum((geometry.direction * spacing) ** 2)))
    axis_u, axis_v = geometry.bev_axes
    variance_u = float(np.sum((axis_u * spacing) ** 2)) / 12.0
    variance_v = float(np.sum((axis_v * spacing) ** 2)) / 12.0
    return VoxelExtent(along, 0.5 * (variance_u + variance_v))


def depth_tables(
    idd: np.ndarray,
    let_d: np.ndarray,
    alpha: np.ndarray,
    sqrt_beta: np.ndarray,
    with_biology: bool,
    halo_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Depth tables for voxel averages, on the beam model's depth grids [rows, n_depth]:
    (IDD cumulative, IDD × LET_d, its cumulative, IDD × α, its cumulative, IDD × √β, its
    cumulative, IDD × halo weight, its cumulative). Cumulative tables hold ∫₀^k of the
    table's linear interpolant in units of table × depth bins (trapezoids, exact for that
    interpolant); the biology tables have one row per (tissue, energy): row
    t · n_energy + e."""
    idd64 = np.asarray(idd, dtype=np.float64)
    let_dose = idd64 * np.asarray(let_d, dtype=np.float64)
    if with_biology:
        n_t, n_e, n_k = np.shape(alpha)
        alpha_dose = (np.asarray(alpha, dtype=np.float64) * idd64[None]).reshape(n_t * n_e, n_k)
        beta_dose = (np.asarray(sqrt_beta, dtype=np.float64) * idd64[None]).reshape(n_t * n_e, n_k)
    else:
        alpha_dose = beta_dose = np.zeros((1, 2))
    halo_dose = idd64 * (0.0 if halo_weight is None else np.asarray(halo_weight, np.float64))
    return (
        _cumulative(idd64),
        let_dose,
        _cumulative(let_dose),
        alpha_dose,
        _cumulative(alpha_dose),
        beta_dose,
        _cumulative(beta_dose),
        halo_dose,
        _cumulative(halo_dose),
    )


def halo_components(
    idd: np.ndarray,
    halo_weight: np.ndarray,
    halo_sigma2: np.ndarray,
    narrow_weight: np.ndarray | None,
    narrow_sigma2: np.ndarray | None,
) -> tuple[tuple[np.ndarray, ...], ...]:
    """The halo's Gaussians as the halo kernels read them: per Gaussian (weight table,
    σ² table, IDD × weight, its cumulative), on the beam model's depth grids. One
    Gaussian, the whole halo, without narrow tables; else the narrow one and the wide
    one (the rest of the halo's weight and second moment:
    :func:`ionbeam.physics.depth_dose.wide_halo`)."""
    idd64 = np.asarray(idd, dtype=np.float64)
    if narrow_weight is None or narrow_sigma2 is None:
        parts = [(np.asarray(halo_weight, np.float64), np.asarray(halo_sigma2, np.float64))]
    else:
        narrow = np.minimum(np.asarray(narrow_weight, np.float64), halo_weight)
        wide, wide_sigma2 = wide_halo(halo_weight, halo_sigma2, narrow, narrow_sigma2)
        parts = [(narrow, np.asarray(narrow_sigma2, np.float64)), (wide, wide_sigma2)]
    out = []
    for weight, sigma2 in parts:
        dose = idd64 * weight
        # the types of the tables they stand in for (the kernels compile once)
        out.append((_read_only32(weight), _read_only32(sigma2), dose, _cumulative(dose)))
    return tuple(out)


def _read_only32(array: np.ndarray) -> np.ndarray:
    view = np.ascontiguousarray(array, dtype=np.float32).view()
    view.setflags(write=False)
    return view


def _cumulative(table: np.ndarray) -> np.ndarray:
    """∫₀^k of the linear interpolant of each row, in table × bins (trapezoid rule)."""
    out = np.zeros_like(table, dtype=np.float64)
    np.cumsum(0.5 * (table[:, 1:] + table[:, :-1]), axis=1, out=out[:, 1:])
    return out
