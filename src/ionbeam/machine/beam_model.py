"""The beam model (base data) of a machine for one particle: what the dose engine reads.

A :class:`BeamModel` joins the physics of a pencil beam in water (the
depth–dose library of :mod:`ionbeam.physics.beam_model_tables`: IDD, MCS
sigma, halo, LET_d, and optionally the α and √β tables of
:mod:`ionbeam.physics.radiobiology.tables` per tissue) with the machine's
beam line (spot size in air, range shifter). Every table is resampled onto
a uniform depth grid per energy (``n_depth`` points from 0 to
``max_depth_mm``) so that a kernel finds a depth's bin in one division.

Units: ``idd_gy_mm2`` is the laterally integrated dose per particle in
Gy·mm² (the IDD in MeV/mm divided by the density of water): a voxel at
radius r gets ``idd_gy_mm2 × G(r)`` Gy per particle with G the normalised
lateral profile in mm⁻². Doses are dose-to-water at the voxel's
water-equivalent depth, as is conventional for pencil-beam algorithms.

matRad readers: this is ``machine.data`` in matRad's terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np

from ionbeam.errors import ConfigError, MachineLimitError
from ionbeam.machine._commissioned_tables import (
    CommissionedSource,
    by_spread,
    commissioned_source,
    measured_on_model,
    measured_overrides,
    physics_library,
    replace_measured,
)
from ionbeam.machine._ripple_fold import fold_ripple_filter
from ionbeam.machine.beamline import BeamLine, RippleFilter
from ionbeam.physics.beam_model_tables import DepthDoseLibrary
from ionbeam.physics.depth_dose import DEFAULT_ENERGY_SPREAD_REL
from ionbeam.physics.particles import get_particle
from ionbeam.physics.radiobiology.tables import compute_biology_tables_per_tissue
from ionbeam.physics.radiobiology.tissue import TissueParameters, get_tissue

__all__ = ["DEFAULT_DEPTH_POINTS", "MEV_PER_MM_TO_GY_MM2", "BeamModel", "build_beam_model"]

#: Energy deposited per mm per particle (MeV/mm) → Gy·mm² in water:
#: 1.602176634e-13 J/MeV divided by 1e-6 kg/mm³.
MEV_PER_MM_TO_GY_MM2 = 1.602176634e-13 / 1.0e-6
#: Points of the uniform depth grid of every energy.
DEFAULT_DEPTH_POINTS = 1024
#: Beyond the Bragg peak, tables end where the IDD has fallen below this fraction of its
#: maximum for good (ions keep their fragment tail, which stays above it).
_TAIL_CUTOFF = 1.0e-4


@dataclass(frozen=True, eq=False)
class BeamModel:
    """Base data of one particle on one beam line, per energy (see module docstring).

    Per-energy arrays [n_energy]: ``energies_mev_u`` (ascending), ``depth_step_mm``,
    ``max_depth_mm``, ``bragg_peak_mm``, ``r80_mm``, ``sigma0_mm2`` / ``sigma1_mm2_per_mm``
    / ``sigma2_mm2_per_mm2`` (the beam's variance in air at distance z from the
    isocentre, σ² = a + b z + c z², without a range shifter). Tables [n_energy, n_depth]:
    ``idd_gy_mm2``, ``sigma_mcs_mm2`` (variance), ``halo_weight``, ``halo_sigma_mm2``,
    ``let_d_kev_um``; biology [n_tissue, n_energy, n_depth]: ``alpha_gy``,
    ``sqrt_beta_gy`` for ``tissues`` (empty when not computed).
    The tables have no range shifter: the dose engine adds each beam's own, at the
    distance of ``beam_line``'s mounted range shifter when it has one.
    ``energies_mev_u`` are nominal energies: for a commissioned beam line the physics
    ran at each one's mean energy and spread (``energy_spread_rel`` is then their mean).
    ``ripple_filter``: the ripple filter folded into the tables (None: pristine peaks);
    :meth:`with_ripple_filter` gives the model a beam with or without one needs.
    ``halo_narrow_weight`` / ``halo_narrow_sigma_mm2`` [n_energy, n_depth] (or None: a
    one-Gaussian halo): the narrow one of the halo's two Gaussians
    (:mod:`ionbeam.physics._halo_split`); ``halo_weight`` / ``halo_sigma_mm2`` are the
    whole halo (its weight and rms variance), which the dose-influence matrices use; the
    reported doses carry the two Gaussians (:mod:`ionbeam.planning.halo`).
    """

    particle: str
    beam_line: BeamLine
    energies_mev_u: np.ndarray
    depth_step_mm: np.ndarray
    max_depth_mm: np.ndarray
    bragg_peak_mm: np.ndarray
    r80_mm: np.ndarray
    sigma0_mm2: np.ndarray
    sigma1_mm2_per_mm: np.ndarray
    sigma2_mm2_per_mm2: np.ndarray
    idd_gy_mm2: np.ndarray
    sigma_mcs_mm2: np.ndarray
    halo_weight: np.ndarray
    halo_sigma_mm2: np.ndarray
    let_d_kev_um: np.ndarray
    tissues: tuple[TissueParameters, ...] = ()
    alpha_gy: np.ndarray | None = None
    sqrt_beta_gy: np.ndarray | None = None
    energy_spread_rel: float = DEFAULT_ENERGY_SPREAD_REL
    water_i_value_ev: float = 0.0
    ripple_filter: RippleFilter | None = None
    halo_narrow_weight: np.ndarray | None = None
    halo_narrow_sigma_mm2: np.ndarray | None = None

    def with_ripple_filter(self, use: bool) -> BeamModel:
        """This model for beams with (``use``) or without the beam line's ripple filter:
        the pristine tables folded with the filter's WET distribution
        (:mod:`ionbeam.machine._ripple_fold`), or the model itself when it already is
        what is asked. A model built from curves measured with the filter
        (:attr:`BeamEnergyData.curves_include_filter`) is the filtered model: asking
        for it with the filter returns it as it is, without the filter is refused."""
        if bool(use) == (self.ripple_filter is not None):
            return self
        if not use and self.beam_line.curves_include_filter(self.particle):
            raise ConfigError(
                f"the {self.particle} depth-dose curves of beam line {self.beam_line.name!r} "
                "were measured with its ripple filter, so its beams must use it; plan with "
                "the filter (ripple_filter = true) or commission curves measured without it"
            )
        if not use:
            raise ConfigError(
                "this beam model has the ripple filter folded in; build the model without "
                "it (build_beam_model(..., ripple_filter=False)) for beams without one"
            )
        if self.beam_line.ripple_filter is None:
            raise ConfigError(
                f"a beam asks for a ripple filter but beam line {self.beam_line.name!r} has "
                "none; mount one with BeamLine.with_ripple_filter(RippleFilter(...)) or "
                "plan without it"
            )
        return fold_ripple_filter(self, self.beam_line.ripple_filter)

    @property
    def n_energies(self) -> int:
        """Number of energies."""
        return int(self.energies_mev_u.size)

    @property
    def has_biology(self) -> bool:
        """Whether α and √β tables are present."""
        return self.alpha_gy is not None and len(self.tissues) > 0

    def energy_index(self, energy_mev_u: np.ndarray) -> np.ndarray:
        """Index of each energy in the model; energies not in it raise ``MachineLimitError``."""
        energy = np.asarray(energy_mev_u, dtype=float)
        index = np.clip(np.searchsorted(self.energies_mev_u, energy), 0, self.n_energies - 1)
        below = np.clip(index - 1, 0, None)
        closer = np.abs(self.energies_mev_u[below] - energy) < np.abs(
            self.energies_mev_u[index] - energy
        )
        index = np.where(closer, below, index)
        off = np.abs(self.energies_mev_u[index] - energy) > 1e-6 * np.maximum(energy, 1.0)
        if np.any(off):
            bad = float(np.atleast_1d(energy)[np.atleast_1d(off)][0])
            raise MachineLimitError(
                f"{self.particle} energy (not in the beam model; rebuild it for these energies)",
                bad,
                float(self.energies_mev_u[0]),
                float(self.energies_mev_u[-1]),
                "MeV/u",
            )
        return index

    def depth_mm(self, energy_index: int) -> np.ndarray:
        """The uniform depth grid (mm of water) of one energy."""
        n = self.idd_gy_mm2.shape[1]
        return np.arange(n) * self.depth_step_mm[energy_index]

    def tissue_index(self, tissue: str | TissueParameters) -> int:
        """Index of a tissue in the biology tables."""
        name = get_tissue(tissue).name
        names = [t.name for t in self.tissues]
        if name not in names:
            raise ConfigError(
                f"the beam model has no biology tables for tissue {name!r} "
                f"(it has {names or 'none'}); build it with tissues=[...]"
            )
        return names.index(name)


def build_beam_model(
    particle: str,
    energies_mev_u: Sequence[float] | np.ndarray,
    beam_line: BeamLine,
    *,
    tissues: Sequence[str | TissueParameters] = (),
    biological_model: str | None = None,
    energy_spread_rel: float | None = None,
    water_i_value_ev: float | None = None,
    n_depth: int = DEFAULT_DEPTH_POINTS,
    ripple_filter: bool | None = None,
) -> BeamModel:
    """The beam model of ``particle`` at ``energies_mev_u`` on ``beam_line``.

    ``tissues`` adds α and √β tables per tissue (``biological_model``: ``"mkm"`` for
    ions, a proton RBE model name for protons; default per particle). The physics
    tables come from the disk cache when present. ``energy_spread_rel``: σ_E/E of
    every energy (default ``DEFAULT_ENERGY_SPREAD_REL``). A beam line with commissioned
    energy data for ``particle`` (:attr:`BeamLine.energy_data`) gives each energy's
    mean energy and spread instead (``energy_spread_rel`` is then refused) and its
    measured depth–dose curves replace the computed ones (see
    :mod:`ionbeam.machine._commissioned_tables`).
    ``ripple_filter``: fold the beam
    line's ripple filter into the tables (False: pristine peaks; the dose engine
    folds it for the beams that use it, see :meth:`BeamModel.with_ripple_filter`).
    None (default): as the beam line's data are, i.e. pristine, or filtered when the
    commissioned curves were measured with the filter (``curves_include_filter``;
    False is then refused: those curves have no pristine version).
    """
    ion = get_particle(particle)
    energies = np.unique(np.asarray(energies_mev_u, dtype=float))
    if energies.size == 0:
        raise ConfigError("a beam model needs at least one energy")
    # Range shifters are per beam (the plan's): the tables have none, and the dose engine
    # adds each beam's own at the distance of the beam line's mounted one (if any).
    bare_line = beam_line.with_range_shifter(None)
    bare_line.spot_table(ion).phase_space(energies)  # refuses energies outside the table
    source = commissioned_source(beam_line.energy_data_of(ion), energies, energy_spread_rel)
    if beam_line.curves_include_filter(ion):
        return _from_filtered_curves(
            ion.name, energies, beam_line, source,
            {"tissues": tissues, "biological_model": biological_model,
             "water_i_value_ev": water_i_value_ev, "n_depth": n_depth},
        ).with_ripple_filter(True if ripple_filter is None else ripple_filter)  # fmt: skip
    library = physics_library(ion, source, water_i_value_ev)
    depth_max, scale, peak, r80 = measured_overrides(source, library, _table_ends(library))
    step = depth_max / (n_depth - 1)
    grid = np.arange(n_depth)[None, :] * step[:, None]
    physics_grid = grid * scale[:, None]  # physics placed at the measured range
    tables = {
        name: _resample(library.depth_mm, getattr(library, field), physics_grid, square)
        for name, field, square in (
            ("idd_gy_mm2", "idd_mev_mm", False),
            ("sigma_mcs_mm2", "sigma_mcs_mm", True),
            ("halo_weight", "halo_weight", False),
            ("halo_sigma_mm2", "halo_sigma_mm", True),
            ("let_d_kev_um", "let_d_kev_um", False),
            ("halo_narrow_weight", "halo_narrow_weight", False),
            ("halo_narrow_sigma_mm2", "halo_narrow_sigma_mm", True),
        )
    }
    tables["idd_gy_mm2"] *= MEV_PER_MM_TO_GY_MM2
    replace_measured(source, tables, grid)
    alpha, sqrt_beta, resolved = _biology(ion.name, source, tissues, biological_model,
                                          physics_grid, water_i_value_ev)  # fmt: skip
    a, b, c = _air_variance(bare_line, ion.name, energies)
    model = BeamModel(
        particle=ion.name,
        beam_line=beam_line,
        energies_mev_u=_frozen(energies),
        depth_step_mm=_frozen(step),
        max_depth_mm=_frozen(depth_max),
        bragg_peak_mm=_frozen(peak),
        r80_mm=_frozen(r80),
        sigma0_mm2=_frozen(a),
        sigma1_mm2_per_mm=_frozen(b),
        sigma2_mm2_per_mm2=_frozen(c),
        tissues=resolved,
        alpha_gy=alpha,
        sqrt_beta_gy=sqrt_beta,
        energy_spread_rel=source.spread_rel,
        water_i_value_ev=float(library.water_i_value_ev),
        **cast("dict[str, Any]", {k: _frozen(v.astype(np.float32)) for k, v in tables.items()}),
    )
    return model.with_ripple_filter(bool(ripple_filter))


def _from_filtered_curves(
    particle: str,
    energies: np.ndarray,
    beam_line: BeamLine,
    source: CommissionedSource,
    options: dict[str, Any],
) -> BeamModel:
    """The filtered model of curves measured with the line's ripple filter: the pristine
    physics at the commissioned mean energies and spreads, folded with the filter, then
    the curves in place (:func:`~ionbeam.machine._commissioned_tables.measured_on_model`).
    """
    data = beam_line.energy_data_of(particle)
    assert data is not None
    bare = replace(data, depth_doses=(), curves_include_filter=False)
    physics_line = replace(beam_line, energy_data={**beam_line.energy_data, particle: bare})
    physics = build_beam_model(particle, energies, physics_line, ripple_filter=True, **options)
    return replace(measured_on_model(physics, source), beam_line=beam_line)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


def _table_ends(library: DepthDoseLibrary) -> np.ndarray:
    """Depth (mm) where each energy's table ends: the last depth where the IDD is
    above ``_TAIL_CUTOFF`` × its maximum (protons: just past the distal fall-off;
    ions: the end of the fragment tail within the computed range)."""
    idd = library.idd_mev_mm
    above = idd > _TAIL_CUTOFF * idd.max(axis=1, keepdims=True)
    last = idd.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1)
    edges = library.depth_edges_mm
    return edges[np.arange(idd.shape[0]), np.minimum(last + 1, edges.shape[1] - 1)]


def _resample(depth: np.ndarray, values: np.ndarray, grid: np.ndarray, square: bool) -> np.ndarray:
    out = np.empty(grid.shape)
    for i in range(grid.shape[0]):
        out[i] = np.interp(grid[i], depth[i], values[i])
    return out**2 if square else out


def _air_variance(
    beam_line: BeamLine, particle: str, energies: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients of σ_air(z)² = a + b z + c z² (exact: the variance is quadratic in z,
    with or without a range shifter), from three evaluations."""
    z = np.array([-100.0, 0.0, 100.0])
    var = np.stack([beam_line.sigma_air_mm(particle, energies, zi) ** 2 for zi in z])
    a = var[1]
    b = (var[2] - var[0]) / 200.0
    c = (var[2] + var[0] - 2 * var[1]) / (2 * 100.0**2)
    return a, b, c


def _biology(
    particle: str,
    source: CommissionedSource,
    tissues: Sequence[str | TissueParameters],
    model: str | None,
    grid: np.ndarray,
    water_i_value_ev: float | None,
) -> tuple[np.ndarray | None, np.ndarray | None, tuple[TissueParameters, ...]]:
    if not tissues:
        return None, None, ()
    resolved = tuple(get_tissue(t) for t in tissues)
    alpha = np.empty((len(resolved), *grid.shape), dtype=np.float32)
    sqrt_beta = np.empty_like(alpha)
    names = ("depth_mm", "alpha_gy", "sqrt_beta_gy")

    def compute(means: np.ndarray, spread: float) -> dict[str, np.ndarray]:
        per_tissue = compute_biology_tables_per_tissue(
            particle, means, resolved, model=model, energy_spread_rel=spread,
            water_i_value_ev=water_i_value_ev,
        )  # fmt: skip
        return {f"{n}/{k}": getattr(t, n) for k, t in enumerate(per_tissue) for n in names}

    tables = by_spread(source, compute)
    for k in range(len(resolved)):
        depth = tables[f"depth_mm/{k}"]
        alpha[k] = _resample(depth, tables[f"alpha_gy/{k}"], grid, False)
        sqrt_beta[k] = _resample(depth, tables[f"sqrt_beta_gy/{k}"], grid, False)
    return _frozen(alpha), _frozen(sqrt_beta), resolved
