"""From a commissioned beam to what planning uses (beam line, machine, beam model), and
from ionbeam's generic model to a commissioning template."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.machine.beam_data import BeamEnergyData, MeasuredDepthDose
from ionbeam.machine.beam_model import BeamModel, build_beam_model
from ionbeam.machine.commissioning.bdl import read_mcsquare_bdl
from ionbeam.machine.commissioning.description import Commissioning, SpotPhaseSpace
from ionbeam.machine.commissioning.toml_format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MAIN_FILE,
    read_beam_model_file,
)
from ionbeam.machine.energy_library import EnergyLibrary
from ionbeam.machine.facility import Machine, cnao_machine
from ionbeam.physics.ranges import csda_range_mm

__all__ = [
    "beam_model_from_commissioning",
    "commissioning_from_beam_model",
    "commissioning_record",
    "load_commissioning",
    "machine_from_commissioning",
]


def load_commissioning(path: str | Path) -> Commissioning:
    """Read a beam-model file: ionbeam's TOML format (``*.toml``, or a folder holding
    ``beam_model.toml``) or an MCsquare BDL (any other file)."""
    source = Path(path)
    if source.is_dir():
        source = source / MAIN_FILE
    if not source.exists():
        raise ConfigError(
            f"beam-model file {source} does not exist; give a beam_model.toml, its folder "
            "or an MCsquare BDL"
        )
    if source.suffix.lower() == ".toml":
        return read_beam_model_file(source)
    return read_mcsquare_bdl(source)


def machine_from_commissioning(
    commissioning: Commissioning, machine: Machine | None = None
) -> Machine:
    """``machine`` (default: the CNAO-like one) with the commissioned beam line, and with
    the commissioned nominal energies as the particle's only energy library. Ranges of
    the library: R80 of a measured curve, else the CSDA range of the mean energy."""
    base = cnao_machine() if machine is None else machine
    base.spot_limit(commissioning.particle)  # the facility must know the particle
    energies = commissioning.energies
    ranges = np.array(
        [
            curve.r80_mm if curve is not None else float(csda_range_mm(energies.particle, mean))
            for curve, mean in zip(_curves(energies), energies.mean_energies_mev_u, strict=True)
        ]
    )
    library = EnergyLibrary(energies.particle, energies.nominal_energies_mev_u, ranges, base.name)
    return dataclasses.replace(
        base,
        beam_line=commissioning.beam_line(),
        energy_libraries={energies.particle: library},
    )


def beam_model_from_commissioning(
    commissioning: Commissioning,
    energies_mev_u: Sequence[float] | np.ndarray | None = None,
    **options: Any,
) -> BeamModel:
    """The beam model of a commissioned beam at ``energies_mev_u`` (nominal; default: all
    of them); ``options`` as for :func:`~ionbeam.machine.beam_model.build_beam_model`."""
    energies = (
        commissioning.energies.nominal_energies_mev_u if energies_mev_u is None else energies_mev_u
    )
    return build_beam_model(commissioning.particle, energies, commissioning.beam_line(), **options)


def commissioning_from_beam_model(
    model: BeamModel, *, name: str | None = None, description: str = ""
) -> Commissioning:
    """A commissioning description holding ``model`` as it is (a template for users, and
    the round trip's start): nominal = mean energies, the model's spread, its spot table,
    SADs and mounted devices, and every energy's tables as a curve (IDD, MCS, halo, LET_d).
    The curves of a model with the ripple filter folded in are marked as measured with
    it (``curves_include_filter``), so that reading them back does not fold it again."""
    particle = model.particle
    table = model.beam_line.spot_table(particle)
    sigma, divergence, rho = table.phase_space(model.energies_mev_u)
    spot = SpotPhaseSpace(sigma, divergence, rho)
    curves = tuple(_curve_of(model, i) for i in range(model.n_energies))
    data = BeamEnergyData(
        particle,
        model.energies_mev_u,
        model.energies_mev_u,
        np.full(model.n_energies, model.energy_spread_rel),
        curves,
        curves_include_filter=model.ripple_filter is not None,
    )
    return Commissioning(
        name=name or f"{model.beam_line.name}-{particle}",
        energies=data,
        spot_x=spot,
        spot_y=spot,
        sad_mm=model.beam_line.sad_mm,
        range_shifter=model.beam_line.range_shifter,
        ripple_filter=model.ripple_filter or model.beam_line.ripple_filter,
        description=description
        or f"exported from ionbeam's {model.beam_line.name} beam model (physics, not measured)",
    )


def commissioning_record(commissioning: Commissioning) -> dict[str, Any]:
    """What a plan records of its beam model (``plan.json`` settings ``beam_model``)."""
    source = commissioning.source
    if not source:
        kind = "in memory (not from a file)"
    elif source.lower().endswith(".toml"):
        kind = f"{FORMAT_NAME} {FORMAT_VERSION}"
    else:
        kind = "mcsquare-bdl"
    return {
        "name": commissioning.name,
        "particle": commissioning.particle,
        "file": source,
        "format": kind,
        "sha256": commissioning.sha256,
        "measured_depth_doses": sum(c is not None for c in commissioning.energies.depth_doses),
        "curves_include_filter": commissioning.energies.curves_include_filter,
    }


def _curve_of(model: BeamModel, index: int) -> MeasuredDepthDose:
    n = int(np.count_nonzero(model.depth_mm(index) <= model.max_depth_mm[index] * (1 + 1e-12)))
    return MeasuredDepthDose(
        depth_mm=model.depth_mm(index)[:n],
        idd_gy_mm2=model.idd_gy_mm2[index, :n],
        sigma_mcs_mm=np.sqrt(model.sigma_mcs_mm2[index, :n]),
        halo_weight=model.halo_weight[index, :n],
        halo_sigma_mm=np.sqrt(model.halo_sigma_mm2[index, :n]),
        let_d_kev_um=model.let_d_kev_um[index, :n],
        label=f"{model.particle} {model.energies_mev_u[index]:g} MeV/u",
        **_narrow_halo(model, index, n),
    )


def _narrow_halo(model: BeamModel, index: int, n: int) -> dict[str, np.ndarray]:
    """The halo's narrow Gaussian columns of energy ``index`` (none for a one-Gaussian
    halo)."""
    if model.halo_narrow_weight is None or model.halo_narrow_sigma_mm2 is None:
        return {}
    return {
        "halo_narrow_weight": model.halo_narrow_weight[index, :n],
        "halo_narrow_sigma_mm": np.sqrt(model.halo_narrow_sigma_mm2[index, :n]),
    }


def _curves(energies: BeamEnergyData) -> tuple[MeasuredDepthDose | None, ...]:
    return energies.depth_doses or (None,) * energies.n_energies
