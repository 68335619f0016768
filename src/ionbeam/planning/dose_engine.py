"""The pencil-beam dose engine: dose-influence matrices and forward dose.

Front doors:

* :func:`calc_dose_influence` — the sparse dose-influence matrix of a plan
  (and its LET and biology companions, in the same pass);
* :func:`calc_dose` — the dose (and LET_d) of a plan's spot weights directly,
  without storing the matrix (final dose, delivery checks).

The physics is an analytical pencil beam (Hong et al. 1996; matRad/TRiP98
style): for each spot, the integrated depth–dose at each voxel's WEPL along
the beam (traced through the CT's stopping-power ratios) times a lateral
double Gaussian whose widths combine the beam's size in air at the voxel's
depth (with the divergence of the scanning magnets), multiple Coulomb
scattering in the patient (Fermi–Eyges moments along each spot's ray through
the materials of the CT, :mod:`._ray_tables`) and the nuclear
halo/fragments; see :mod:`._dose_kernels` for the exact expression and the
cut-off. The model tables come from a :class:`~ionbeam.machine.beam_model.BeamModel`;
a beam that uses a ripple filter (``Beam.ripple_filter``) gets them with the beam
line's filter folded in.
Numerical kernels are numba (parallel, cached); everything else is numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from ionbeam._memory import check_fits, influence_bytes
from ionbeam.errors import ConfigError, GridMismatchError
from ionbeam.machine.beam_model import BeamModel
from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.ct import CT
from ionbeam.patient.grid import Grid
from ionbeam.patient.resample import resample
from ionbeam.patient.structures import Structure
from ionbeam.planning import _dose_kernels as kernels
from ionbeam.planning import _forward_kernels as forward_kernels
from ionbeam.planning import _layer_kernels as layer_kernels
from ionbeam.planning._beam_setup import BeamSetup, setup_beam
from ionbeam.planning._sub_beam_rule import check_split
from ionbeam.planning.dose_grid import calculation_mask, occupancy_on_grid
from ionbeam.planning.dose_influence import DoseInfluence
from ionbeam.planning.halo import DISC_SHARE_BYTES, DiscShares, HaloField, HaloTerms, beam_halo
from ionbeam.planning.plan import Plan
from ionbeam.planning.scattering_power import relative_scattering_power

__all__ = [
    "DoseEngineOptions",
    "ForwardDose",
    "calc_dose",
    "calc_dose_influence",
    "forward_dose_chunks",
]

#: :func:`calc_dose` sums the spots into at most this many partial dose arrays …
FORWARD_DOSE_MAX_CHUNKS = 16
#: … holding together at most this many bytes (dose and LET×dose, float64).
FORWARD_DOSE_CHUNK_BYTES = 1 << 30
#: How reported doses treat the nuclear halo (see :class:`DoseEngineOptions`).
HALO_MODES = ("convolution", "disc")


@dataclass(frozen=True)
class DoseEngineOptions:
    """Options of the pencil-beam engine.

    ``lateral_cutoff_sigma``: the lateral profile is cut at this many primary sigmas
    and renormalised (energy is conserved); 3 keeps 98.9 % of the primary Gaussian
    before renormalisation. ``with_let``: also compute LET×dose. ``with_biology``:
    also α×dose and √β×dose (None: when the beam model has biology tables).
    ``fine_sampling``: n ≥ 2 splits each spot into n × n sub-beams that each read
    their own WEPL (lateral heterogeneities; n² times the work); 0 turns it off.
    ``fine_sampling_fraction``: the share (0–1) of the spot's smallest variance in air
    that the sub-beams' offsets take (each sub-beam carries the rest). The split is
    area-weighted (Soukup et al. 2005) so that the sub-beams sum to the spot's Gaussian;
    None (default) takes, for n, the largest share whose sum stays within 1 % of the
    Gaussian's peak (3 × 3: 0.42, 5 × 5: 0.59, 9 × 9: 0.84); a share whose sum departs
    by more than 2 % is refused (:mod:`ionbeam.planning._sub_beam_rule`).
    ``halo``: "convolution" (default) reports doses with each spot's nuclear halo at its
    full width (:mod:`ionbeam.planning.halo`);
    "disc" keeps the halo inside the cut-off disc, as the matrices hold it (faster,
    4–8 % high on a single spot's axis above 120 MeV).
    ``range_mixing``: the plain pencil beam reads each voxel's depth–dose over the WEPLs
    of its neighbouring rays, as wide as the Fermi–Eyges spread of the paths reaching it
    (lateral range mixing behind tissue interfaces, :mod:`ionbeam.planning._range_mixing`;
    no change where nothing varies laterally); not with fine sampling.
    """

    lateral_cutoff_sigma: float = 3.0
    with_let: bool = True
    with_biology: bool | None = None
    fine_sampling: int = 0
    fine_sampling_fraction: float | None = None
    halo: str = "convolution"
    range_mixing: bool = False

    def __post_init__(self) -> None:
        n = self.lateral_cutoff_sigma
        if not (isinstance(n, (int, float)) and math.isfinite(n) and 1.0 <= n <= 10.0):
            raise ConfigError(f"lateral_cutoff_sigma must be within 1–10; got {n}")
        if self.fine_sampling not in (0, 1, *range(2, 10)):
            raise ConfigError(f"fine_sampling must be 0 (off) or 2–9; got {self.fine_sampling}")
        f = self.fine_sampling_fraction
        if f is not None:
            if not (isinstance(f, (int, float)) and 0.0 < f < 1.0):
                raise ConfigError(f"fine_sampling_fraction must be within (0, 1); got {f}")
            check_split(self.fine_sampling, float(f))
        if self.halo not in HALO_MODES:
            raise ConfigError(f"halo must be one of {', '.join(HALO_MODES)}; got {self.halo!r}")
        if not isinstance(self.range_mixing, bool):
            raise ConfigError(f"range_mixing must be true or false; got {self.range_mixing!r}")
        if self.range_mixing and self.fine_sampling >= 2:
            raise ConfigError("range_mixing is for the plain pencil beam; set fine_sampling to 0")


@dataclass(frozen=True, eq=False)
class ForwardDose:
    """Dose (Gy) and dose-averaged LET (keV/µm) on ``grid`` for the plan's weights."""

    grid: Grid
    dose_gy: np.ndarray
    let_d_kev_um: np.ndarray


def calc_dose_influence(
    ct: CT,
    plan: Plan,
    beam_model: BeamModel,
    *,
    dose_grid: Grid | None = None,
    structures: Iterable[Structure] = (),
    calibration: HUCalibration | None = None,
    tissue_map: np.ndarray | None = None,
    options: DoseEngineOptions | None = None,
) -> DoseInfluence:
    """The dose-influence matrices of ``plan`` on ``dose_grid`` (default: the CT grid).

    Dose is computed in the voxels inside ``structures`` (or, without any, where the
    CT is not air). ``tissue_map`` (int, on the dose grid) selects per voxel which
    of the beam model's tissues the biology tables use (default: the first).
    """
    options = DoseEngineOptions() if options is None else options
    grid = ct.grid if dose_grid is None else dose_grid
    spr, calc_index, tissue = _inputs(
        ct, grid, structures, calibration, tissue_map, plan, beam_model
    )
    scattering = relative_scattering_power(ct, calibration)
    with_biology = _with_biology(options, beam_model)
    n_sigma = float(options.lateral_cutoff_sigma)
    split: dict[str, Any] = {
        "fine_sampling": options.fine_sampling,
        "fine_sampling_fraction": options.fine_sampling_fraction,
        "range_mixing": options.range_mixing,
    }
    models = _models_per_beam(plan, beam_model)
    setups = [
        setup_beam(
            beam,
            model,
            spr,
            ct.grid,
            grid,
            calc_index,
            tissue,
            n_sigma=n_sigma,
            scattering=scattering,
            **split,
        )
        for beam, model in zip(plan.beams, models, strict=True)
    ]
    counts = [_count_beam(s, n_sigma) for s in setups]
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    nnz = int(indptr[-1])
    shares = options.halo == "convolution" and not any(s.fine for s in setups)
    check_fits(
        influence_bytes(nnz, 1 + int(options.with_let) + 2 * int(with_biology))
        + DISC_SHARE_BYTES * nnz * int(shares),
        what=f"the dose influence of {plan.n_spots:,} spots ({nnz:,} stored voxels)",
        hint="use a coarser dose grid (--grid), a larger spot spacing (--spot-spacing) "
        "or fewer energies (--energy-stride)",
    )
    out = _Entries.allocate(nnz, options.with_let, with_biology, shares)
    offset = 0
    for setup, count in zip(setups, counts, strict=True):
        _fill_beam(
            setup,
            n_sigma,
            options.with_let,
            with_biology,
            indptr[offset : offset + count.size],
            out,
        )
        offset += count.size
    influence = out.influence(grid, plan, indptr)
    if options.halo != "convolution":
        return influence
    field = HaloField(
        tuple(setups),
        np.asarray(plan.beam_offsets),
        grid.size,
        n_sigma,
        forward_dose_chunks(grid.size),
        options.with_let,
        with_biology,
        disc=None if out.halo_share is None else DiscShares.of(influence, out.halo_share),
    )
    return replace(influence, halo=field)


def calc_dose(
    ct: CT,
    plan: Plan,
    beam_model: BeamModel,
    *,
    dose_grid: Grid | None = None,
    structures: Iterable[Structure] = (),
    calibration: HUCalibration | None = None,
    options: DoseEngineOptions | None = None,
) -> ForwardDose:
    """Dose and LET_d of the plan's spot weights (particles) on ``dose_grid``, computed
    spot by spot without storing a matrix (same physics as :func:`calc_dose_influence`;
    with fine sampling, through the matrix). LET_d is always computed (``with_let`` and
    ``with_biology`` in ``options`` only concern :func:`calc_dose_influence`)."""
    options = DoseEngineOptions() if options is None else options
    if options.fine_sampling >= 2:
        influence = calc_dose_influence(
            ct,
            plan,
            beam_model,
            dose_grid=dose_grid,
            structures=structures,
            calibration=calibration,
            options=replace(options, with_let=True, with_biology=False),
        )
        weights = plan.weights
        return ForwardDose(
            influence.grid, influence.dose_gy(weights), influence.let_d_kev_um(weights)
        )
    grid = ct.grid if dose_grid is None else dose_grid
    spr, calc_index, _ = _inputs(ct, grid, structures, calibration, None, plan, beam_model)
    scattering = relative_scattering_power(ct, calibration)
    dose = np.zeros(grid.size)
    let_dose = np.zeros(grid.size)
    tissue = np.zeros(calc_index.size, dtype=np.int64)
    for beam, model in zip(plan.beams, _models_per_beam(plan, beam_model), strict=True):
        if beam.spots.n_spots == 0:
            continue
        s = setup_beam(
            beam,
            model,
            spr,
            ct.grid,
            grid,
            calc_index,
            tissue,
            n_sigma=options.lateral_cutoff_sigma,
            scattering=scattering,
            range_mixing=options.range_mixing,
        )
        weights = np.ascontiguousarray(beam.spots.weight, dtype=np.float64)
        convolved = options.halo == "convolution"
        d, ld, _, _ = forward_kernels.forward_dose(
            weights,
            grid.size,
            s.spots,
            s.voxels,
            s.cells,
            s.rays,
            s.model,
            s.average,
            float(options.lateral_cutoff_sigma),
            forward_dose_chunks(grid.size),
            1.0,
            0.0 if convolved else 1.0,
            False,
            s.cross,
        )
        dose += d
        let_dose += ld
        if convolved:
            halo = HaloTerms(dose, let_dose, None, None)
            beam_halo(s, weights, halo, with_let=True, with_bio=False)
    let_d = np.zeros_like(dose)
    np.divide(let_dose, dose, out=let_d, where=dose > 0)
    return ForwardDose(grid, dose.reshape(grid.shape), let_d.reshape(grid.shape))


def forward_dose_chunks(n_voxels: int) -> int:
    """Partial sums of the matrix-free dose of ``n_voxels`` voxels: a function of the
    grid size only, never of the thread count, so that the dose is the same bit for
    bit whatever ``NUMBA_NUM_THREADS`` is (floating-point sums depend on their grouping)."""
    per_chunk = 16 * max(int(n_voxels), 1)
    return max(1, min(FORWARD_DOSE_MAX_CHUNKS, FORWARD_DOSE_CHUNK_BYTES // per_chunk))


def _inputs(
    ct: CT,
    grid: Grid,
    structures: Iterable[Structure],
    calibration: HUCalibration | None,
    tissue_map: np.ndarray | None,
    plan: Plan,
    beam_model: BeamModel,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SPR on the CT grid, flat calculation-voxel indices and their tissue indices."""
    if plan.particle != beam_model.particle:
        raise ConfigError(
            f"the plan is for {plan.particle} but the beam model is for {beam_model.particle}"
        )
    spr = ct.spr(calibration)
    # every voxel a structure touches carries dose (metrics weigh it by its occupancy)
    masks = {name: f > 0.0 for name, f in occupancy_on_grid(list(structures), grid).items()}
    spr_on_grid = None if masks else resample(spr, ct.grid, grid, method="linear")
    calc_index = np.flatnonzero(calculation_mask(masks, spr_on_grid))
    if tissue_map is None:
        tissue = np.zeros(calc_index.size, dtype=np.int64)
    else:
        tissue_map = np.asarray(tissue_map)
        grid.check_volume(tissue_map, "tissue map")
        tissue = tissue_map.reshape(-1)[calc_index].astype(np.int64)
        n_tissues = max(len(beam_model.tissues), 1)
        if tissue.size and (tissue.min() < 0 or tissue.max() >= n_tissues):
            raise GridMismatchError(
                f"tissue map indices must lie in 0…{n_tissues - 1} (the beam model's tissues)"
            )
    return spr, calc_index, tissue


def _models_per_beam(plan: Plan, beam_model: BeamModel) -> list[BeamModel]:
    """The beam model each beam needs: with the line's ripple filter folded in for the
    beams that use one (:meth:`BeamModel.with_ripple_filter`; folded once per plan)."""
    folded: dict[bool, BeamModel] = {}
    models = []
    for beam in plan.beams:
        use = bool(beam.ripple_filter)
        if use not in folded:
            folded[use] = beam_model.with_ripple_filter(use)
        models.append(folded[use])
    return models


def _with_biology(options: DoseEngineOptions, beam_model: BeamModel) -> bool:
    if options.with_biology is None:
        return beam_model.has_biology
    if options.with_biology and not beam_model.has_biology:
        raise ConfigError(
            "biology was requested but the beam model has no α/β tables; "
            "build it with tissues=[...]"
        )
    return bool(options.with_biology)


@dataclass(frozen=True, eq=False)
class _Entries:
    """Output arrays of the sparse matrices (row indices shared by all of them)."""

    index: np.ndarray
    dose: np.ndarray
    let_dose: np.ndarray | None
    alpha_dose: np.ndarray | None
    sqrt_beta_dose: np.ndarray | None
    halo_share: np.ndarray | None = None  # each entry's disc-halo share (DiscShares)

    @classmethod
    def allocate(cls, nnz: int, with_let: bool, with_biology: bool, shares: bool) -> _Entries:
        def values(wanted: bool) -> np.ndarray | None:
            return np.empty(nnz, dtype=np.float32) if wanted else None

        return cls(
            np.empty(nnz, dtype=np.int32),
            np.empty(nnz, dtype=np.float32),
            values(with_let),
            values(with_biology),
            values(with_biology),
            np.empty(nnz, dtype=np.uint16) if shares else None,
        )

    def influence(self, grid: Grid, plan: Plan, indptr: np.ndarray) -> DoseInfluence:
        if indptr[-1] < np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)
        shape = (grid.size, plan.n_spots)

        def matrix(data: np.ndarray | None) -> sp.csc_matrix | None:
            if data is None:
                return None
            return sp.csc_matrix((data, self.index, indptr), shape=shape, copy=False)

        return DoseInfluence(
            grid=grid,
            dose=matrix(self.dose),
            beam_offsets=plan.beam_offsets,
            let_dose=matrix(self.let_dose),
            alpha_dose=matrix(self.alpha_dose),
            sqrt_beta_dose=matrix(self.sqrt_beta_dose),
        )


def _count_beam(s: BeamSetup, n_sigma: float) -> np.ndarray:
    """Number of stored voxels of each spot of one beam."""
    if s.fine:
        return kernels.count_entries_fine(
            s.spots, s.voxels, s.cells, s.split, s.rays, s.model, s.average, n_sigma
        )
    return layer_kernels.count_layers(
        s.spots, s.voxels, s.cells, s.rays, s.model, s.average, n_sigma, numba.get_num_threads()
    )


def _fill_beam(
    s: BeamSetup,
    n_sigma: float,
    with_let: bool,
    with_biology: bool,
    indptr: np.ndarray,
    out: _Entries,
) -> None:
    """Write one beam's entries at the (global) offsets ``indptr`` of its spots."""
    empty = np.empty(0, dtype=np.float32)
    outputs = (
        out.index,
        out.dose,
        out.let_dose if with_let else empty,
        out.alpha_dose if with_biology else empty,
        out.sqrt_beta_dose if with_biology else empty,
    )
    if s.fine:
        kernels.fill_entries_fine(
            indptr,
            s.spots,
            s.voxels,
            s.cells,
            s.split,
            s.rays,
            s.model,
            s.average,
            n_sigma,
            with_let,
            with_biology,
            *outputs,
        )
    else:
        layer_kernels.fill_layers(
            indptr,
            s.spots,
            s.voxels,
            s.cells,
            s.rays,
            s.model,
            s.average,
            n_sigma,
            with_let,
            with_biology,
            *outputs,
            np.empty(0, dtype=np.uint16) if out.halo_share is None else out.halo_share,
            numba.get_num_threads(),
            s.cross,
        )
