"""Biological beam-model tables: α(depth) and √β(depth) per beam energy and tissue.

The dose engine forms, like matRad, two more influence matrices besides the dose:
``alpha_dose`` (α·D) and ``sqrt_beta_dose`` (√β·D), from α and √β of each pencil beam at
each voxel's water-equivalent depth; the biological effect of spot weights w is then
E = (αD)·w + ((√βD)·w)². :func:`compute_biology_tables` makes α and √β on the depth
grids of :func:`ionbeam.physics.depth_dose.depth_dose` (the same default grid as the
physics tables, so both interpolate the same way):

* ions (``model="mkm"``, the default for helium, carbon, oxygen): mixed-field mMKM from
  the fluence spectra of primaries and fragments
  (:func:`~ionbeam.physics.radiobiology.mixed_field.mixed_field_lq`);
* protons (default ``model="mcnamara2015"``; also ``"constant"``, ``"wedenberg2013"``,
  ``"carabe2012"``): α = α_x RBE_max(LET_d) and √β = √β_x RBE_min(LET_d) from the
  depth–dose's LET_d, exact for dose-weighted mixing since both are linear in LET_d.

Tables are cached on disk (:mod:`ionbeam._cache`) one beam energy at a time, under a key
of every input of that row (particle, energy, tissue, model, depth–dose options and the
physics ``MODEL_VERSION``), so that a new set of energies costs only the energies not seen
before, and a new tissue only its own rows; the whole set is cached too, for a one-file
load when the same set comes back. :func:`compute_biology_tables_per_tissue` makes the
tables of several tissues from one depth–dose (with its fluence spectra) per energy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from ionbeam._cache import cache_key, load_arrays, save_arrays
from ionbeam._progress import track
from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.physics.beam_model_tables import MODEL_VERSION as PHYSICS_MODEL_VERSION
from ionbeam.physics.depth_dose import (
    DEFAULT_ENERGY_SPREAD_REL,
    DepthDose,
    FluenceSpectra,
    depth_dose,
)
from ionbeam.physics.particles import Particle, get_particle
from ionbeam.physics.radiobiology.mixed_field import mixed_field_lq
from ionbeam.physics.radiobiology.proton_rbe import (
    PROTON_RBE_MODELS,
    ProtonRBEModel,
    get_proton_rbe_model,
)
from ionbeam.physics.radiobiology.tissue import TissueParameters, get_tissue
from ionbeam.physics.ranges import MAX_ENERGY_MEV_U, MIN_ENERGY_MEV_U
from ionbeam.physics.stopping import checked_energies

__all__ = ["BiologyTables", "compute_biology_tables", "compute_biology_tables_per_tissue"]

#: Bumped whenever the content of the tables changes for the same inputs.
_TABLE_FORMAT = 2
_FIELDS = ("depth_mm", "alpha_gy", "sqrt_beta_gy")


@dataclass(frozen=True, eq=False)
class BiologyTables:
    """α and √β per beam energy and depth in water for one particle, tissue and model.

    ``energies_mev_u`` [n_energy]; ``depth_mm``, ``alpha_gy`` (Gy⁻¹) and ``sqrt_beta_gy``
    (Gy⁻¹) are [n_energy, n_depth], row i on the depth grid of energy i."""

    particle: str
    tissue: TissueParameters
    model: str
    energies_mev_u: np.ndarray
    depth_mm: np.ndarray
    alpha_gy: np.ndarray
    sqrt_beta_gy: np.ndarray

    def at(self, energy_index: int, depth_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """α and √β of energy ``energy_index`` at ``depth_mm`` (linear interpolation; the
        end values beyond the grid)."""
        depth = np.asarray(depth_mm, dtype=float)
        grid = self.depth_mm[energy_index]
        return (
            np.interp(depth, grid, self.alpha_gy[energy_index]),
            np.interp(depth, grid, self.sqrt_beta_gy[energy_index]),
        )


def _resolve_model(ion: Particle, model: str | ProtonRBEModel | None) -> str | ProtonRBEModel:
    if model is None:
        return get_proton_rbe_model("mcnamara2015") if ion.z == 1 else "mkm"
    if isinstance(model, str) and model.strip().lower() == "mkm":
        return "mkm"
    try:
        resolved = get_proton_rbe_model(model)
    except UnknownNameError:
        raise UnknownNameError("biological model", model, ["mkm", *PROTON_RBE_MODELS]) from None
    if ion.z != 1:
        raise ConfigError(
            f"the proton RBE model {resolved.name!r} applies to protons only; use "
            f"model='mkm' for {ion.name}"
        )
    return resolved


def _curve(ion: Particle, energy: float, model: str | ProtonRBEModel, options: dict) -> DepthDose:
    """The depth–dose of one beam energy that the rows of every tissue are made from (with
    the fluence spectra for the mMKM)."""
    return depth_dose(ion, energy, with_spectra=model == "mkm", **options)


def _row(
    curve: DepthDose, tissue: TissueParameters, model: str | ProtonRBEModel
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(depth_mm, alpha_gy, sqrt_beta_gy) of one beam energy's ``curve`` in ``tissue``."""
    if model == "mkm":
        lq = mixed_field_lq(cast(FluenceSpectra, curve.spectra), tissue.mkm_parameters())
        return curve.depth_mm, lq.alpha_gy, lq.sqrt_beta_gy
    alpha, beta = cast(ProtonRBEModel, model).alpha_beta(
        curve.let_d_kev_um, tissue.alpha_x_gy, tissue.beta_x_gy2
    )
    return curve.depth_mm, alpha, np.sqrt(beta)


def _key(
    ion: Particle,
    energies: np.ndarray | float,
    tissue: TissueParameters,
    model: str | ProtonRBEModel,
    options: dict,
) -> str:
    """The cache key of one row (``energies`` a float) or of a whole set (an array)."""
    one = np.ndim(energies) == 0
    return cache_key(
        "biology-row" if one else "biology-tables",
        format=_TABLE_FORMAT,
        physics_model=PHYSICS_MODEL_VERSION,
        particle=ion.name,
        energies=float(energies) if one else [float(e) for e in np.ravel(energies)],
        tissue=dataclasses.asdict(tissue),
        model=model if isinstance(model, str) else repr(model),
        mkm=dataclasses.asdict(tissue.mkm_parameters()),
        depth_mm=None if options["depth_mm"] is None else [float(d) for d in options["depth_mm"]],
        spread=options["energy_spread_rel"],
        i_value=options["water_i_value_ev"],
    )


def _valid(arrays: dict[str, np.ndarray] | None) -> bool:
    return arrays is not None and set(arrays) == set(_FIELDS)


def _energy_rows(
    ion: Particle,
    energy: float,
    tissues: Sequence[TissueParameters],
    model: str | ProtonRBEModel,
    options: dict,
) -> list[dict[str, np.ndarray]]:
    """One energy's row of each tissue from the disk cache; the rows absent are computed
    from one depth–dose of the energy (shared by the tissues) and stored."""
    keys = [_key(ion, energy, tissue, model, options) for tissue in tissues]
    rows = [load_arrays(key) for key in keys]
    if all(_valid(row) for row in rows):
        return cast("list[dict[str, np.ndarray]]", rows)
    curve = _curve(ion, energy, model, options)
    out = []
    for key, tissue, row in zip(keys, tissues, rows, strict=True):
        if row is None or not _valid(row):
            row = dict(zip(_FIELDS, _row(curve, tissue, model), strict=True))
            save_arrays(key, row)
        out.append(row)
    return out


def _rows(
    ion: Particle,
    energies: np.ndarray,
    tissues: Sequence[TissueParameters],
    model: str | ProtonRBEModel,
    options: dict,
) -> list[dict[str, np.ndarray]]:
    """The stacked rows of ``energies`` per tissue: each tissue's whole set from the cache,
    else row by row (each row cached on its own, so only energies never seen before are
    computed, each energy's depth–dose once for all the tissues that lack it)."""
    keys = [_key(ion, energies, tissue, model, options) for tissue in tissues]
    stacked = [load_arrays(key) for key in keys]
    missing = [k for k, tables in enumerate(stacked) if not _valid(tables)]
    if missing:
        name = model if isinstance(model, str) else model.name
        names = ", ".join(tissues[k].name for k in missing)
        label = f"Biology tables ({ion.name}, {names}, {name})"
        lacking = [tissues[k] for k in missing]
        rows = [
            _energy_rows(ion, float(e), lacking, model, options) for e in track(energies, label)
        ]
        for i, k in enumerate(missing):
            stacked[k] = {field: np.stack([row[i][field] for row in rows]) for field in _FIELDS}
            save_arrays(keys[k], cast("dict[str, np.ndarray]", stacked[k]))
    return cast("list[dict[str, np.ndarray]]", stacked)


def compute_biology_tables(
    particle: str | Particle,
    energies_mev_u: np.ndarray,
    tissue: str | TissueParameters,
    *,
    model: str | ProtonRBEModel | None = None,
    energy_spread_rel: float = DEFAULT_ENERGY_SPREAD_REL,
    depth_mm: np.ndarray | None = None,
    water_i_value_ev: float | None = None,
) -> BiologyTables:
    """α(depth) and √β(depth) of ``particle`` beams of ``energies_mev_u`` in ``tissue``.

    ``model``: ``"mkm"`` (default for ions) or a proton RBE model name (default
    ``"mcnamara2015"`` for protons); ``energy_spread_rel``, ``depth_mm`` and
    ``water_i_value_ev`` are passed to :func:`~ionbeam.physics.depth_dose.depth_dose`.
    """
    (tables,) = compute_biology_tables_per_tissue(
        particle, energies_mev_u, (tissue,), model=model, energy_spread_rel=energy_spread_rel,
        depth_mm=depth_mm, water_i_value_ev=water_i_value_ev,
    )  # fmt: skip
    return tables


def compute_biology_tables_per_tissue(
    particle: str | Particle,
    energies_mev_u: np.ndarray,
    tissues: Sequence[str | TissueParameters],
    *,
    model: str | ProtonRBEModel | None = None,
    energy_spread_rel: float = DEFAULT_ENERGY_SPREAD_REL,
    depth_mm: np.ndarray | None = None,
    water_i_value_ev: float | None = None,
) -> tuple[BiologyTables, ...]:
    """:func:`compute_biology_tables` of each of ``tissues`` (in that order), the same tables
    at less cost: the depth–dose of each energy (with its fluence spectra, most of the time
    of a row) is computed once for all the tissues."""
    ion = get_particle(particle)
    resolved_tissues = [get_tissue(tissue) for tissue in tissues]
    if not resolved_tissues:
        raise ConfigError("biology tables need at least one tissue; got none")
    energies = np.array(energies_mev_u, dtype=float, ndmin=1)  # a copy, frozen below
    if energies.ndim != 1 or energies.size == 0:
        raise ConfigError(
            f"energies_mev_u must be a non-empty 1-D list of MeV/u values; got shape "
            f"{energies.shape}"
        )
    checked_energies(energies, MIN_ENERGY_MEV_U, MAX_ENERGY_MEV_U, "beam energy per nucleon")
    resolved = _resolve_model(ion, model)
    options = {"energy_spread_rel": energy_spread_rel, "depth_mm": depth_mm,
               "water_i_value_ev": water_i_value_ev}  # fmt: skip
    name = resolved if isinstance(resolved, str) else resolved.name
    energies.setflags(write=False)
    out = []
    for tissue, cached in zip(
        resolved_tissues, _rows(ion, energies, resolved_tissues, resolved, options), strict=True
    ):
        for array in cached.values():
            array.setflags(write=False)
        out.append(
            BiologyTables(
                particle=ion.name,
                tissue=tissue,
                model=name,
                energies_mev_u=energies,
                depth_mm=cached["depth_mm"],
                alpha_gy=cached["alpha_gy"],
                sqrt_beta_gy=cached["sqrt_beta_gy"],
            )
        )
    return tuple(out)
