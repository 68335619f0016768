"""Depth tables of a commissioned beam: ionbeam's physics at each energy's mean energy and
spread, with measured depth–dose curves taking the place of the computed ones.

Used by :func:`ionbeam.machine.beam_model.build_beam_model`. The rules (documented in
``docs/commissioning.md``):

* physics (IDD, MCS width, halo, LET_d, biology) is computed at the **mean** energy with
  the energy's own spread; the model is labelled by the **nominal** energies;
* a measured curve replaces the IDD on the depths it covers; its table ends at its last
  depth (the dose beyond it is zero) and before its first depth it is flat;
* what the curve does not give comes from the physics, stretched in depth by
  R80(measured) / R80(physics) so that the LET_d rise, the halo and the MCS growth sit
  at the measured range (these tables are functions of the residual range);
* the Bragg-peak depth and R80 of the model are those of the measured curve;
* curves measured with the ripple filter in the beam (``curves_include_filter``) make
  the filtered model: the physics is the pristine physics folded with the filter
  (:mod:`ionbeam.machine._ripple_fold`, which also adds the filter's scattering to the
  spot in air), and the curves take its place as above (:func:`measured_on_model`),
  so that the filter's broadening is in the model once, as measured.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.machine.beam_data import BeamEnergyData, MeasuredDepthDose
from ionbeam.physics.beam_model_tables import DepthDoseLibrary, compute_depth_dose_library
from ionbeam.physics.depth_dose import DEFAULT_ENERGY_SPREAD_REL
from ionbeam.physics.particles import Particle

if TYPE_CHECKING:
    from ionbeam.machine.beam_model import BeamModel

__all__ = [
    "CommissionedSource",
    "by_spread",
    "commissioned_source",
    "measured_on_model",
    "measured_overrides",
    "physics_library",
    "replace_measured",
]

#: The depth tables of a BeamModel [n_energy, n_depth] (the last two may be None).
_TABLES = (
    "idd_gy_mm2",
    "sigma_mcs_mm2",
    "halo_weight",
    "halo_sigma_mm2",
    "let_d_kev_um",
    "halo_narrow_weight",
    "halo_narrow_sigma_mm2",
)
#: BeamModel tables a curve may give: (model table, curve field, squared in the model).
_COLUMNS = (
    ("sigma_mcs_mm2", "sigma_mcs_mm", True),
    ("halo_weight", "halo_weight", False),
    ("halo_sigma_mm2", "halo_sigma_mm", True),
    ("let_d_kev_um", "let_d_kev_um", False),
    ("halo_narrow_weight", "halo_narrow_weight", False),
    ("halo_narrow_sigma_mm2", "halo_narrow_sigma_mm", True),
)


@dataclass(frozen=True, eq=False)
class CommissionedSource:
    """Per model energy: ``mean_energies_mev_u`` and ``spreads_rel`` the physics runs at,
    ``curves`` (a measured curve or None)."""

    mean_energies_mev_u: np.ndarray
    spreads_rel: np.ndarray
    curves: tuple[MeasuredDepthDose | None, ...]

    @property
    def spread_rel(self) -> float:
        """One spread for the model's record: the mean over energies."""
        return float(np.mean(self.spreads_rel))


def commissioned_source(
    data: BeamEnergyData | None, energies: np.ndarray, energy_spread_rel: float | None
) -> CommissionedSource:
    """What the physics runs at for ``energies`` (nominal), with or without ``data``."""
    if data is None:
        spread = DEFAULT_ENERGY_SPREAD_REL if energy_spread_rel is None else energy_spread_rel
        return CommissionedSource(
            energies, np.full(energies.size, float(spread)), (None,) * energies.size
        )
    if energy_spread_rel is not None:
        raise ConfigError(
            "the beam line's commissioned data give each energy's spread; leave "
            "energy_spread_rel out"
        )
    index = data.index_of(energies)
    return CommissionedSource(
        data.mean_energies_mev_u[index],
        data.energy_spread_rel[index],
        tuple(data.depth_dose(int(i)) for i in index),
    )


def by_spread(
    source: CommissionedSource, compute: Callable[[np.ndarray, float], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """``compute(mean_energies, spread)`` once per distinct spread, stacked back into the
    order of the model's energies (arrays [n_energy, ...])."""
    spreads = source.spreads_rel
    out: dict[str, np.ndarray] = {}
    for spread in np.unique(spreads):
        rows = np.nonzero(spreads == spread)[0]
        part = compute(source.mean_energies_mev_u[rows], float(spread))
        for name, values in part.items():
            if name not in out:
                out[name] = np.empty((spreads.size, *values.shape[1:]), dtype=values.dtype)
            out[name][rows] = values
    return out


def physics_library(
    particle: Particle, source: CommissionedSource, water_i_value_ev: float | None
) -> DepthDoseLibrary:
    """ionbeam's depth–dose library at the source's mean energies and spreads (labelled by
    the nominal energies of the caller)."""
    labels = ("particle", "energy_spread_rel", "water_i_value_ev", "energies_mev_u")
    fields = [f.name for f in dataclasses.fields(DepthDoseLibrary) if f.name not in labels]
    i_value: list[float] = []

    def compute(means: np.ndarray, spread: float) -> dict[str, np.ndarray]:
        library = compute_depth_dose_library(
            particle, means, energy_spread_rel=spread, water_i_value_ev=water_i_value_ev
        )
        i_value.append(library.water_i_value_ev)
        return {name: getattr(library, name) for name in fields}

    arrays = by_spread(source, compute)
    return DepthDoseLibrary(
        particle=particle.name,
        energy_spread_rel=source.spread_rel,
        water_i_value_ev=i_value[0],
        energies_mev_u=source.mean_energies_mev_u,
        **arrays,
    )


def measured_overrides(
    source: CommissionedSource, library: DepthDoseLibrary, table_end_mm: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(table end mm, depth scale of the physics tables, Bragg peak mm, R80 mm) per energy:
    the measured curve's where there is one, the physics' otherwise."""
    end = np.array(table_end_mm, dtype=float)
    scale = np.ones(end.size)
    peak = np.array(library.bragg_peak_mm, dtype=float)
    r80 = np.array(library.r80_mm, dtype=float)
    for i, curve in enumerate(source.curves):
        if curve is None:
            continue
        end[i] = float(curve.depth_mm[-1])
        peak[i] = curve.peak_depth_mm
        r80[i] = curve.r80_mm
        scale[i] = float(library.r80_mm[i]) / r80[i]
    return end, scale, peak, r80


def replace_measured(
    source: CommissionedSource, tables: dict[str, np.ndarray], grid: np.ndarray
) -> None:
    """Put each measured curve (and the lateral columns it gives) into ``tables`` on the
    model's depth ``grid`` [n_energy, n_depth], in place (tables are the builder's own)."""
    for i, curve in enumerate(source.curves):
        if curve is None:
            continue
        depth = grid[i]
        tables["idd_gy_mm2"][i] = _on_grid(curve.depth_mm, curve.idd_gy_mm2, depth)
        for table, column, square in _COLUMNS:
            values = getattr(curve, column)
            if values is not None and table in tables:
                resampled = _on_grid(curve.depth_mm, values, depth)
                tables[table][i] = resampled**2 if square else resampled
        measured_halo = curve.halo_weight is not None or curve.halo_sigma_mm is not None
        if measured_halo and curve.halo_narrow_weight is None and "halo_narrow_weight" in tables:
            tables["halo_narrow_weight"][i] = 0.0  # a halo given without its parts: one Gaussian


def _on_grid(depth: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear in depth, flat before the first depth, zero beyond the last."""
    out = np.interp(grid, depth, values)
    out[grid > depth[-1] * (1 + 1e-12)] = 0.0
    return out


def measured_on_model(model: BeamModel, source: CommissionedSource) -> BeamModel:
    """``model`` (physics at the source's energies, e.g. folded with the ripple filter the
    curves were measured with) with the source's measured curves in place, by the rules
    of the module docstring: per energy with a curve, a depth grid to the curve's last
    depth, the model's tables stretched by R80(model) / R80(curve), the curve's columns
    replacing them, and the curve's Bragg peak and R80. Energies without a curve keep
    the model's rows; the spot in air is the model's."""
    n_depth = model.idd_gy_mm2.shape[1]
    step = np.array(model.depth_step_mm, dtype=float)
    end = np.array(model.max_depth_mm, dtype=float)
    peak = np.array(model.bragg_peak_mm, dtype=float)
    r80 = np.array(model.r80_mm, dtype=float)
    tables = {
        name: np.array(getattr(model, name), dtype=float)
        for name in _TABLES
        if getattr(model, name) is not None
    }
    biology = {
        name: np.array(getattr(model, name), dtype=float)
        for name in ("alpha_gy", "sqrt_beta_gy")
        if getattr(model, name) is not None
    }
    grid = np.arange(n_depth)[None, :] * step[:, None]
    for i, curve in enumerate(source.curves):
        if curve is None:
            continue
        step[i] = float(curve.depth_mm[-1]) / (n_depth - 1)
        grid[i] = np.arange(n_depth) * step[i]
        physics_depth = model.depth_mm(i)
        stretched = grid[i] * float(model.r80_mm[i]) / curve.r80_mm
        for array in (*tables.values(), *biology.values()):  # [..., n_energy, n_depth]
            array[..., i, :] = _interp_rows(stretched, physics_depth, array[..., i, :])
        end[i] = float(curve.depth_mm[-1])
        peak[i], r80[i] = curve.peak_depth_mm, curve.r80_mm
    replace_measured(source, tables, grid)
    frozen = {name: _frozen(values.astype(np.float32)) for name, values in
              {**tables, **biology}.items()}  # fmt: skip
    return dataclasses.replace(
        model,
        depth_step_mm=_frozen(step),
        max_depth_mm=_frozen(end),
        bragg_peak_mm=_frozen(peak),
        r80_mm=_frozen(r80),
        **cast("dict[str, Any]", frozen),
    )


def _interp_rows(at: np.ndarray, depth: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``rows`` [..., n_depth] on ``depth``, read at ``at`` (linear, clamped at the ends)."""
    flat = rows.reshape(-1, rows.shape[-1])
    out = np.stack([np.interp(at, depth, row) for row in flat])
    return out.reshape(rows.shape)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array
