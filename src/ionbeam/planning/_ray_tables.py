"""WEPL and lateral variance along each spot's (and sub-beam's) own ray through the CT.

The pencil beam's multiple-scattering variance at depth is the Fermi–Eyges moment
σ²(z) = ∫₀^z T(z') (z − z')² dz' along the spot's central ray (Hong et al. 1996;
Gottschalk 2010), with

* the scattering power T(z') = (relative scattering power of the voxel at z', per
  geometric mm; :mod:`ionbeam.planning.scattering_power`) × (water's scattering power at
  the energy the ion has after the WEPL travelled to z'; Gottschalk's differential
  Molière form, :mod:`ionbeam.physics.scattering`), and
* the lever arm z − z' in geometric mm,

so that 30 mm of lung (a quarter of water's stopping and scattering per mm, but four
times the lever arm per water-equivalent mm) and bone (more scattering per
water-equivalent mm than water) widen the beam as they should, where a water table
read at the WEPL does not. In water the result equals the beam model's σ_MCS table
(same scattering power, same integral).

Every ray is traced as a *pair* of rays ``PAIR_OFFSET_MM`` on either side of its axis
(diagonally in u, v): a ray that runs along a voxel face (a slab edge on the spot's
axis) then samples both sides half and half — the WEPL of each side, never one
interpolated across the face — and its σ² is the mean of the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ionbeam.machine.beam_model import BeamModel
from ionbeam.patient.grid import Grid
from ionbeam.physics.materials import get_material
from ionbeam.physics.particles import get_particle
from ionbeam.physics.ranges import range_table
from ionbeam.physics.scattering import scattering_power_per_mm
from ionbeam.planning import _raytrace_kernels as kernels
from ionbeam.planning.geometry import BeamGeometry

__all__ = ["PAIR_OFFSET_MM", "RayTables", "trace_ray_tables", "water_scattering_power"]

#: Offset (mm, in u and in v) of the two rays of a pair from the nominal axis: far below
#: any physical scale, far above the rounding of positions.
PAIR_OFFSET_MM = 1.0e-3
#: Lowest energy (MeV/u) at which water's scattering power is evaluated (its value
#: diverges at the end of range, where the lever arm left is nil).
_MIN_ENERGY_MEV_U = 1.0


@dataclass(frozen=True, eq=False)
class RayTables:
    """Along each ray, at depths ``w_start + k × w_step`` (k < nw; mm downstream of the
    isocentre plane): ``sigma2_mm2`` [n_rays, nw] (MCS variance, mean of the pair),
    ``wepl_mm`` [n_rays, 2, nw] (WEPL of each ray of the pair, range shifter included;
    [0, 2, 1] when not traced) and ``m1_mm`` [n_rays, nw] (the angle–position covariance
    M₁(w) = ∫ T(z) (w − z) dz, mean of the pair: the covariance of an ion's lateral
    position at depths w' < w is σ²(w') + (w − w') M₁(w'))."""

    sigma2_mm2: np.ndarray
    wepl_mm: np.ndarray
    w_start: float
    w_step: float
    m1_mm: np.ndarray

    def as_kernel_tuple(self, rays_per_spot: int) -> tuple:
        """The ``rays`` tuple of :mod:`._dose_kernels`."""
        return (self.sigma2_mm2, self.wepl_mm, self.w_start, self.w_step, rays_per_spot)


def water_scattering_power(beam_model: BeamModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Water's scattering power (rad²/mm) of each energy of ``beam_model`` on its depth grid
    ([n_energy, n_depth], WEPL = k × ``depth_step_mm[e]``; zero beyond the CSDA range),
    the step, and the CSDA range (mm) of each energy."""
    particle = get_particle(beam_model.particle)
    i_value = beam_model.water_i_value_ev or None
    water = get_material("water", i_value_ev=i_value)
    table = range_table(particle, water)
    energies = np.asarray(beam_model.energies_mev_u, dtype=float)
    step = np.asarray(beam_model.depth_step_mm, dtype=float)
    n_depth = beam_model.idd_gy_mm2.shape[1]
    csda = np.asarray(table.range_at(energies), dtype=float)
    wepl = step[:, None] * np.arange(n_depth)[None, :]
    power = np.zeros((energies.size, n_depth))
    for e, energy in enumerate(energies):
        inside = wepl[e] < csda[e]
        residual = np.maximum(table.energy_at(csda[e] - wepl[e, inside]), _MIN_ENERGY_MEV_U)
        power[e, inside] = scattering_power_per_mm(particle, residual, float(energy), water)
    return power, step, csda


def trace_ray_tables(
    spr: np.ndarray,
    scattering: np.ndarray,
    grid: Grid,
    geometry: BeamGeometry,
    beam_model: BeamModel,
    u_mm: np.ndarray,
    v_mm: np.ndarray,
    energy_index: np.ndarray,
    *,
    depth_range_mm: tuple[float, float],
    depth_step_mm: float,
    wepl_offset_mm: float = 0.0,
    with_wepl: bool = True,
) -> RayTables:
    """Trace the rays through isocentre-plane positions (``u_mm``, ``v_mm``) of ions of the
    beam model's energies ``energy_index`` through ``spr`` and ``scattering`` (relative
    scattering power per geometric mm; both on ``grid``), sampled every ``depth_step_mm``
    over ``depth_range_mm`` (depths w downstream of the isocentre plane). Without
    ``with_wepl`` only σ² is kept (a plain pencil beam takes the voxels' own WEPL)."""
    low = np.asarray(grid.origin_mm, dtype=float) - 0.5 * np.asarray(grid.spacing_mm, dtype=float)
    spacing = np.asarray(grid.spacing_mm, dtype=float)
    shape = np.asarray(grid.shape, dtype=np.int64)
    rotation = np.ascontiguousarray(geometry.gantry_to_patient)
    iso = np.asarray(geometry.isocenter_mm, dtype=float)
    inv_sad = np.array([0.0 if math.isinf(s) else 1.0 / s for s in geometry.sad_mm])
    w_start = _upstream_depth(grid, geometry, iso, rotation, inv_sad)
    first, last = depth_range_mm
    n_nodes = max(math.ceil((last - first) / depth_step_mm) + 2, 2)
    w_nodes = first - 0.5 * depth_step_mm + depth_step_mm * np.arange(n_nodes)
    w_start = min(w_start, float(w_nodes[0]))
    power, power_step, csda = water_scattering_power(beam_model)
    wepl, sigma2, m1 = kernels.ray_tables(
        np.ascontiguousarray(spr, dtype=np.float64).reshape(-1),
        np.ascontiguousarray(scattering, dtype=np.float64).reshape(-1),
        low,
        spacing,
        shape,
        iso,
        rotation,
        inv_sad,
        np.ascontiguousarray(u_mm, dtype=np.float64),
        np.ascontiguousarray(v_mm, dtype=np.float64),
        np.ascontiguousarray(energy_index, dtype=np.int64),
        PAIR_OFFSET_MM,
        with_wepl,
        float(w_start),
        w_nodes,
        float(wepl_offset_mm),
        power,
        power_step,
        csda,
    )
    return RayTables(sigma2, wepl, float(w_nodes[0]), float(depth_step_mm), m1)


def _upstream_depth(
    grid: Grid, geometry: BeamGeometry, iso: np.ndarray, rotation: np.ndarray, inv_sad: np.ndarray
) -> float:
    """A depth w upstream of every corner of the grid (where rays start)."""
    low, high = grid.extent_mm
    # C order: rows of the transposed array would be another numba type (layout "A"),
    # and fan_coordinates would compile a second time for them on a cold start.
    corners = np.ascontiguousarray(
        np.array(np.meshgrid(*zip(low, high, strict=True), indexing="ij")).reshape(3, -1).T
    )
    depth = min(kernels.fan_coordinates(corner, iso, rotation, inv_sad)[2] for corner in corners)
    return float(depth) - 1.0
