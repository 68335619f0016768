"""Per-beam inputs of the dose kernels: voxel fan coordinates and WEPL, spot lookups.

Everything here is orchestration in numpy (plus the ray tracer); the
numerical work per spot–voxel pair happens in :mod:`._dose_kernels`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ionbeam.errors import ConfigError, GeometryError
from ionbeam.machine.beam_model import BeamModel
from ionbeam.machine.beamline import RangeShifter
from ionbeam.patient.grid import Grid
from ionbeam.planning import _dose_kernels as kernels
from ionbeam.planning._edge_moments import scattering_moments
from ionbeam.planning._range_mixing import MAX_REACH_MM, mix_voxels, no_cross
from ionbeam.planning._ray_tables import RayTables, trace_ray_tables
from ionbeam.planning._sub_beam_rule import default_fraction, split_rule
from ionbeam.planning._voxel_average import depth_tables, halo_components, voxel_extent
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam
from ionbeam.planning.raytrace import lattice_wepl, voxel_fan_coordinates, wepl_lattice

__all__ = ["DEFAULT_RANGE_SHIFTER_DISTANCE_MM", "BeamSetup", "setup_beam"]

#: Distance from a range shifter's downstream face to the isocentre when the machine's
#: beam line does not say (ionbeam default, mm).
DEFAULT_RANGE_SHIFTER_DISTANCE_MM = 500.0
#: WEPL (mm) beyond which a ray counts as inside the patient (air upstream adds ~0.1 mm
#: per 100 mm): where a sub-beam's scattered protons' mean path starts to bend.
ENTRY_WEPL_MM = 0.5


@dataclass(frozen=True, eq=False)
class BeamSetup:
    """The kernels' inputs for one beam, as the tuples :mod:`._dose_kernels` takes:
    ``spots``, ``voxels`` (sorted by isocentre-plane cell), ``cells``, ``split``
    (sub-beams and what their mean paths read: each sub-beam ray's angle–position
    covariance M₁ and entry depth, the beam's WEPL lattice; one central sub-beam and
    empty path tables without fine sampling), ``rays`` (σ²_MCS and WEPL
    along each spot's or sub-beam's own ray), ``model`` (the beam model's tables with
    this beam's range shifter) and ``average`` (each voxel's WEPL span and the depth
    tables that average over it). ``halo_parts``: the halo's Gaussians at full width
    (:func:`._voxel_average.halo_components`; ``()``: the whole halo as ``model`` has it).
    ``range_shifter_wet_mm``: the range shifter's WET (the rays' WEPL starts there).
    ``cross``: with range mixing, per voxel (in ``voxels``' order) the WEPLs of its cross
    and its own span (:data:`._range_mixing_kernels.CROSS_COLUMNS`; NaN: not mixed);
    no rows without."""

    spots: tuple
    voxels: tuple
    cells: tuple
    split: tuple
    rays: tuple
    model: tuple
    average: tuple
    halo_parts: tuple = ()
    range_shifter_wet_mm: float = 0.0
    cross: np.ndarray = dataclasses.field(default_factory=no_cross)

    @property
    def fine(self) -> bool:
        """Whether spots are split into several sub-beams (fine sampling)."""
        return self.split[0].shape[1] > 1

    @property
    def disc_model(self) -> tuple:
        """``model`` as each sub-beam's cut-off disc sees it: σ²_air less the variance the
        split takes (the sub-beams' residual spread, whose n σ₁ disc holds their halo in
        the matrix); ``model`` itself without fine sampling."""
        if not self.fine:
            return self.model
        return (*self.model[:2], *_read_only(self.model[2] - self.split[3]), *self.model[3:])

    def sub_beams_as_spots(self, weights: np.ndarray) -> tuple[tuple, np.ndarray, tuple]:
        """Every sub-beam as a plain spot, for the plain kernels: (``spots``, their weights
        (``weights`` [n_spots] × each sub-beam's share), ``rays`` with one ray per spot);
        without fine sampling ``spots``, ``weights`` and ``rays`` themselves. With
        :attr:`disc_model` the plain kernel then gives the halo each sub-beam holds in its
        disc, as the matrix holds it (in a homogeneous medium exactly)."""
        if not self.fine:
            return self.spots, np.asarray(weights, dtype=np.float64), self.rays
        spot_u, spot_v, spot_e, radius = self.spots
        du, dv, share = self.split[:3]
        n_sub = share.size
        spots = (
            (spot_u[:, None] + du[spot_e]).reshape(-1),
            (spot_v[:, None] + dv[spot_e]).reshape(-1),
            np.repeat(spot_e, n_sub),
            np.repeat(radius, n_sub),
        )
        sub_weights = (np.asarray(weights, dtype=np.float64)[:, None] * share[None, :]).reshape(-1)
        return spots, sub_weights, (*self.rays[:4], 1)

    @property
    def n_spots(self) -> int:
        """Number of spots of the beam."""
        return int(self.spots[0].size)


def setup_beam(
    beam: Beam,
    beam_model: BeamModel,
    spr: np.ndarray,
    ct_grid: Grid,
    dose_grid: Grid,
    calc_index: np.ndarray,
    tissue: np.ndarray,
    *,
    n_sigma: float,
    fine_sampling: int = 0,
    fine_sampling_fraction: float | None = None,
    scattering: np.ndarray | None = None,
    range_mixing: bool = False,
) -> BeamSetup:
    """Kernel inputs for ``beam``: the calculation voxels (flat indices ``calc_index`` on
    ``dose_grid``, their ``tissue`` indices), WEPL traced through ``spr`` on ``ct_grid``.

    ``fine_sampling`` = n ≥ 2 splits every spot into n × n sub-beams that take
    ``fine_sampling_fraction`` (None: n's default, :mod:`._sub_beam_rule`) of the
    smallest variance in air of each energy.
    ``scattering`` (on ``ct_grid``) is the relative scattering power per geometric mm
    (:func:`~ionbeam.planning.scattering_power.relative_scattering_power`); None takes
    the SPR instead (scattering scaled with stopping, the water-equivalent
    approximation, which underestimates the spread behind lung and bone).
    ``range_mixing`` (plain pencil beams only) spreads each voxel's WEPL over its
    neighbouring rays (:mod:`._range_mixing`)."""
    if range_mixing and fine_sampling >= 2:
        raise ConfigError("range mixing is for the plain pencil beam; set fine_sampling to 0")
    geometry = beam.geometry
    spots = beam.spots
    spot_e = beam_model.energy_index(spots.energy_mev_u).astype(np.int64)
    u, v, w = voxel_fan_coordinates(geometry, dose_grid, calc_index)
    extent = voxel_extent(geometry, dose_grid)
    half = 0.5 * extent.length_mm
    low = np.array([min(u.min(), spots.x_mm.min(initial=0)),
                    min(v.min(), spots.y_mm.min(initial=0)), w.min() - half])  # fmt: skip
    high = np.array([max(u.max(), spots.x_mm.max(initial=0)),
                     max(v.max(), spots.y_mm.max(initial=0)), w.max() + half])  # fmt: skip
    rs_wet = float(beam.range_shifter_wet_mm)
    air_a, air_b, air_c = _air_coefficients(beam_model, rs_wet, beam)
    split = _sub_beams(air_a, air_b, air_c, w, fine_sampling, fine_sampling_fraction)
    if split is not None:  # the sub-beams' mean paths read the lattice out to their axes
        reach = float(np.max(np.abs(split[:2])))
        low[:2] -= reach
        high[:2] += reach
    if range_mixing:  # the voxels read rays up to MAX_REACH_MM beside their own
        low[:2] -= MAX_REACH_MM
        high[:2] += MAX_REACH_MM
    lattice = wepl_lattice(spr, ct_grid, geometry, within=(low, high))
    wepl = lattice_wepl(lattice, u, v, w)
    wepl_up = np.maximum(wepl - lattice_wepl(lattice, u, v, w - half), 0.0)
    wepl_down = np.maximum(lattice_wepl(lattice, u, v, w + half) - wepl, 0.0)
    inv_sad = np.array([0.0 if math.isinf(s) else 1.0 / s for s in geometry.sad_mm])
    mag = 1.0 + w[:, None] * inv_sad[None, :]
    if np.any(mag <= 0.05):
        raise GeometryError("part of the patient lies upstream of a scanning magnet's source")
    wepl = wepl + rs_wet
    _check_spots_hit_patient(beam, geometry, u, v, wepl - rs_wet)
    air_a = air_a + extent.lateral_variance_mm2  # the lateral half of the voxel average
    n_sub = 1 if split is None else split[0].shape[1]
    ray_u = spots.x_mm[:, None] + (0.0 if split is None else split[0][spot_e])
    ray_v = spots.y_mm[:, None] + (0.0 if split is None else split[1][spot_e])
    tables = trace_ray_tables(
        spr,
        spr if scattering is None else scattering,
        ct_grid,
        geometry,
        beam_model,
        ray_u.reshape(-1),
        ray_v.reshape(-1),
        np.repeat(spot_e, n_sub),
        depth_range_mm=(float(w.min()), float(w.max())),
        depth_step_mm=float(lattice.step[2]),
        wepl_offset_mm=rs_wet,
        with_wepl=True,  # the halo's lever-arm factor reads it (planning/halo.py)
    )
    radius = _spot_radius(air_a, air_b, air_c, tables, spot_e, n_sub, w, mag, n_sigma)
    cross = None
    if range_mixing and spot_e.size:
        wepl, wepl_up, wepl_down, cross = mix_voxels(
            lattice, tables, u, v, w, (wepl, wepl_up, wepl_down),
            (spots.x_mm, spots.y_mm, spot_e), beam_model.r80_mm, beam_model.max_depth_mm,
            wepl_offset_mm=rs_wet, angular_mm2=air_c, spot_reach_mm=radius,
        )  # fmt: skip
    if split is not None:
        radius = radius + np.max(np.hypot(split[0], split[1]), axis=1)[spot_e]
    cell_mm = max(1.0, 0.5 * float(radius.min())) if spot_e.size else 10.0
    lo = np.array(
        [min(u.min(), spots.x_mm.min(initial=0)), min(v.min(), spots.y_mm.min(initial=0))]
    )
    hi = np.array(
        [max(u.max(), spots.x_mm.max(initial=0)), max(v.max(), spots.y_mm.max(initial=0))]
    )
    n_cells = np.maximum(np.ceil((hi - lo) / cell_mm).astype(np.int64) + 1, 1)
    order, cell_start = kernels.sort_into_cells(u, v, lo[0], lo[1], cell_mm, n_cells[0], n_cells[1])
    spot_u = np.ascontiguousarray(spots.x_mm, dtype=np.float64)
    spot_v = np.ascontiguousarray(spots.y_mm, dtype=np.float64)
    if split is None:
        n_e = beam_model.n_energies
        split = (np.zeros((n_e, 1)), np.zeros((n_e, 1)), np.ones(1), np.zeros(n_e))
        paths = (np.zeros((0, 1), np.float32), np.zeros(0), np.zeros((1, 1, 1), np.float32),
                 np.zeros(3), np.ones(3), np.zeros((1, 1, 1), np.float32),
                 np.zeros((1, 1, 1), np.int32))  # fmt: skip
    else:
        # the edge factor's scattering moments, on the WEPL lattice's rays (_edge_kernels)
        power = wepl_lattice(spr if scattering is None else scattering, ct_grid, geometry,
                             within=(low, high))  # fmt: skip
        moment, clear = scattering_moments(power)
        paths = (
            tables.m1_mm,
            _entry_depths(tables, rs_wet),
            np.ascontiguousarray(lattice.table, dtype=np.float32),
            np.asarray(lattice.start, dtype=np.float64),
            np.asarray(lattice.step, dtype=np.float64),
            moment,
            clear,
        )
    split = (*split, *paths)
    rays = tables.as_kernel_tuple(n_sub)
    bio_shape = (1, 1, 2)
    no_biology = np.zeros(bio_shape, np.float32)
    biology = beam_model.has_biology
    alpha = beam_model.alpha_gy if biology and beam_model.alpha_gy is not None else no_biology
    sqrt_beta = (
        beam_model.sqrt_beta_gy if biology and beam_model.sqrt_beta_gy is not None else no_biology
    )
    averaging = depth_tables(
        beam_model.idd_gy_mm2,
        beam_model.let_d_kev_um,
        alpha,
        sqrt_beta,
        beam_model.has_biology,
        beam_model.halo_weight,
    )
    return BeamSetup(
        spots=(spot_u, spot_v, spot_e, radius),
        voxels=(
            np.ascontiguousarray(calc_index[order]),
            u[order],
            v[order],
            np.ascontiguousarray(mag[order, 0]),
            np.ascontiguousarray(mag[order, 1]),
            w[order],
            wepl[order],
            np.ascontiguousarray(tissue[order], dtype=np.int64),
        ),
        cells=(cell_start, lo, float(cell_mm), n_cells),
        split=split,
        rays=rays,
        model=_read_only(
            beam_model.depth_step_mm,
            beam_model.max_depth_mm,
            air_a,
            air_b,
            air_c,
            beam_model.idd_gy_mm2,
            np.asarray(beam_model.sigma_mcs_mm2),
            beam_model.halo_weight,
            beam_model.halo_sigma_mm2,
            beam_model.let_d_kev_um,
            alpha,
            sqrt_beta,
        ),
        average=(wepl_up[order], wepl_down[order], *averaging),
        halo_parts=_halo_parts(beam_model),
        range_shifter_wet_mm=rs_wet,
        cross=no_cross() if cross is None else np.ascontiguousarray(cross[order]),
    )


def _halo_parts(beam_model: BeamModel) -> tuple:
    """The halo's Gaussians for :mod:`.halo` (see ``BeamSetup``)."""
    return halo_components(
        beam_model.idd_gy_mm2, beam_model.halo_weight, beam_model.halo_sigma_mm2,
        beam_model.halo_narrow_weight, beam_model.halo_narrow_sigma_mm2,
    )  # fmt: skip


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Read-only views of ``arrays``. The dose kernels then see one array type whatever
    the flags of the beam model's tables (a proton model without biology tables, a
    carbon model with them, a commissioned file), so numba compiles each kernel once
    rather than once per mix of writable and read-only arguments (~7 s per extra
    specialisation of ``count_entries`` + ``fill_entries`` on a cold start)."""
    views = []
    for array in arrays:
        view = np.asarray(array).view()
        view.setflags(write=False)
        views.append(view)
    return tuple(views)


def _entry_depths(tables: RayTables, wepl_offset_mm: float) -> np.ndarray:
    """Depth w (mm) at which each traced ray enters the patient: its first table depth
    where the WEPL (mean of the pair, beyond ``wepl_offset_mm``) exceeds
    :data:`ENTRY_WEPL_MM`; the table's last depth where it never does."""
    inside = tables.wepl_mm.mean(axis=1) - wepl_offset_mm > ENTRY_WEPL_MM
    first = np.where(inside.any(axis=1), np.argmax(inside, axis=1), inside.shape[1] - 1)
    return tables.w_start + tables.w_step * first.astype(np.float64)


def _sub_beams(
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    depth: np.ndarray,
    n: int,
    fraction: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Sub-beam offsets [n_energy, n²] (mm), weights [n²] and split variance [n_energy]:
    the n × n area-weighted split of :mod:`._sub_beam_rule` taking ``fraction`` (None:
    :data:`._sub_beam_rule.DEFAULT_FRACTION` of n) of the smallest variance in air of
    each energy over the beam's depths; its sub-beams sum to the spot's Gaussian."""
    if n < 2:
        return None
    rule = split_rule(n, default_fraction(n) if fraction is None else fraction)
    w = np.array([depth.min(), depth.max()])
    smallest = np.min(air_a[:, None] + w[None, :] * (air_b[:, None] + w[None, :] * air_c[:, None]),
                      axis=1)  # fmt: skip
    sigma = np.sqrt(smallest)[:, None]
    du = (sigma * np.repeat(rule.nodes, n)[None, :]).copy()
    dv = (sigma * np.tile(rule.nodes, n)[None, :]).copy()
    return du, dv, np.outer(rule.weights, rule.weights).ravel(), rule.fraction * smallest


def _air_coefficients(
    beam_model: BeamModel, rs_wet: float, beam: Beam
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """σ_air² = a + b w + c w² per energy, with this beam's range shifter (if any)."""
    a = np.asarray(beam_model.sigma0_mm2, dtype=np.float64)
    b = np.asarray(beam_model.sigma1_mm2_per_mm, dtype=np.float64)
    c = np.asarray(beam_model.sigma2_mm2_per_mm2, dtype=np.float64)
    if rs_wet <= 0:
        return a, b, c
    mounted = beam_model.beam_line.range_shifter
    distance = (
        mounted.distance_to_isocentre_mm
        if mounted is not None
        else DEFAULT_RANGE_SHIFTER_DISTANCE_MM
    )
    shifter = RangeShifter(rs_wet, distance)
    energies = beam_model.energies_mev_u
    z = np.array([-100.0, 0.0, 100.0])
    added = np.stack([shifter.added_variance_mm2(beam_model.particle, energies, zi) for zi in z])
    return (
        a + added[1],
        b + (added[2] - added[0]) / 200.0,
        c + (added[2] + added[0] - 2 * added[1]) / (2 * 100.0**2),
    )


def _spot_radius(
    air_a: np.ndarray,
    air_b: np.ndarray,
    air_c: np.ndarray,
    tables: RayTables,
    spot_e: np.ndarray,
    n_sub: int,
    depth: np.ndarray,
    mag: np.ndarray,
    n_sigma: float,
) -> np.ndarray:
    """Largest cut-off radius of each spot over the beam's voxels (isocentre-plane mm):
    its largest variance in air and along its rays."""
    if spot_e.size == 0:
        return np.zeros(0)
    w = np.array([depth.min(), depth.max()])
    air = np.max(
        air_a[:, None] + w[None, :] * (air_b[:, None] + w[None, :] * air_c[:, None]), axis=1
    )
    mcs = tables.sigma2_mm2.reshape(spot_e.size, n_sub, -1).max(axis=(1, 2))
    return n_sigma * np.sqrt(air[spot_e] + mcs) / float(mag.min())


def _check_spots_hit_patient(
    beam: Beam, geometry: BeamGeometry, u: np.ndarray, v: np.ndarray, wepl: np.ndarray
) -> None:
    """Refuse spots whose central ray meets no calculation voxel inside the patient."""
    if beam.spots.n_spots == 0:
        return
    inside = wepl > 0.5
    if not inside.any():
        raise GeometryError(f"beam {beam.name!r}: no part of the patient is in the beam's path")
    reach = 10.0  # mm: a spot farther than this from every patient voxel misses the patient
    lo_u, hi_u = u[inside].min() - reach, u[inside].max() + reach
    lo_v, hi_v = v[inside].min() - reach, v[inside].max() + reach
    x, y = beam.spots.x_mm, beam.spots.y_mm
    outside = (x < lo_u) | (x > hi_u) | (y < lo_v) | (y > hi_v)
    if np.any(outside):
        i = int(np.flatnonzero(outside)[0])
        raise GeometryError(
            f"beam {beam.name!r}: {int(outside.sum())} spot(s) lie outside the patient, e.g. "
            f"({x[i]:.1f}, {y[i]:.1f}) mm in the beam's-eye view; the patient spans "
            f"x {lo_u + reach:.0f}…{hi_u - reach:.0f} mm, "
            f"y {lo_v + reach:.0f}…{hi_v - reach:.0f} mm"
        )
