"""Commissioned energy data of a beam line: what a clinic measures along the beam.

A commissioned beam line (see :mod:`ionbeam.machine.commissioning` and
``docs/commissioning.md``) says, per **nominal** energy (the label the plan and
the accelerator use), the **mean** energy of the beam entering the patient, its
relative rms energy spread σ_E/E, and optionally a laterally integrated
depth–dose curve in water measured (large-area Bragg-peak chamber) or simulated
by Monte Carlo. :func:`ionbeam.machine.beam_model.build_beam_model` reads this
:class:`BeamEnergyData` from the beam line: ionbeam's physics is computed at the
mean energy with that spread, and a given curve replaces the computed IDD.

Units: ``idd_gy_mm2`` is Gy·mm² per primary particle in water (MeV/mm per
particle × 1.602176634e-7); depths are mm of water from the water surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import ConfigError, MachineLimitError
from ionbeam.physics.particles import get_particle

__all__ = ["MAX_FIRST_DEPTH_MM", "BeamEnergyData", "MeasuredDepthDose"]

#: A measured curve must start within this depth of the water surface (mm); the dose
#: between the surface and its first point is taken equal to the first point's.
MAX_FIRST_DEPTH_MM = 5.0
#: A curve must end beyond its distal fall-off: its last value below this fraction of
#: its maximum (the dose beyond the last depth is taken as zero).
_MAX_LAST_FRACTION = 0.5
#: The optional per-depth columns of a measured curve (the commissioning files' too).
OPTIONAL_COLUMNS = (
    "sigma_mcs_mm",
    "halo_weight",
    "halo_sigma_mm",
    "let_d_kev_um",
    "halo_narrow_weight",
    "halo_narrow_sigma_mm",
)


@dataclass(frozen=True, eq=False)
class MeasuredDepthDose:
    """One energy's depth–dose in water: ``depth_mm`` (ascending, from the surface) and
    ``idd_gy_mm2`` (Gy·mm² per particle, laterally integrated); optionally the lateral
    tables ``sigma_mcs_mm`` (rms MCS width of the primaries), ``halo_weight`` (dose
    fraction in the nuclear halo, 0–1), ``halo_sigma_mm`` (its rms width), ``let_d_kev_um``
    and, for a halo of two Gaussians, ``halo_narrow_weight`` (≤ ``halo_weight``) and
    ``halo_narrow_sigma_mm`` of the narrow one, on the same depths (without them a given
    halo is one Gaussian). What is not given comes from ionbeam's physics. ``label`` names
    the curve in error messages (e.g. its file)."""

    depth_mm: np.ndarray
    idd_gy_mm2: np.ndarray
    sigma_mcs_mm: np.ndarray | None = None
    halo_weight: np.ndarray | None = None
    halo_sigma_mm: np.ndarray | None = None
    let_d_kev_um: np.ndarray | None = None
    label: str = "depth-dose curve"
    halo_narrow_weight: np.ndarray | None = None
    halo_narrow_sigma_mm: np.ndarray | None = None

    def __post_init__(self) -> None:
        depth = _column(self.depth_mm, "depth_mm", self.label)
        idd = _column(self.idd_gy_mm2, "idd_gy_mm2", self.label)
        if depth.size < 4 or idd.shape != depth.shape:
            raise ConfigError(
                f"{self.label}: need at least 4 depths with one dose each; got "
                f"{depth.size} depths and {idd.size} doses"
            )
        if np.any(np.diff(depth) <= 0):
            raise ConfigError(f"{self.label}: depth_mm must be strictly increasing; sort it")
        if depth[0] < 0 or depth[0] > MAX_FIRST_DEPTH_MM:
            raise ConfigError(
                f"{self.label}: the first depth must lie within 0–{MAX_FIRST_DEPTH_MM:g} mm of "
                f"the water surface; got {depth[0]:g} mm"
            )
        if np.any(idd < 0) or idd.max() <= 0:
            raise ConfigError(f"{self.label}: the dose must be ≥ 0 and not all zero")
        if idd[-1] >= _MAX_LAST_FRACTION * idd.max() or int(np.argmax(idd)) == idd.size - 1:
            raise ConfigError(
                f"{self.label}: the curve ends before its distal fall-off (last value "
                f"{idd[-1] / idd.max():.0%} of the maximum); extend it beyond the Bragg peak"
            )
        object.__setattr__(self, "depth_mm", _frozen(depth))
        object.__setattr__(self, "idd_gy_mm2", _frozen(idd))
        for name in OPTIONAL_COLUMNS:
            value = getattr(self, name)
            if value is None:
                continue
            column = _column(value, name, self.label)
            if column.shape != depth.shape or np.any(column < 0):
                raise ConfigError(
                    f"{self.label}: {name} needs one value ≥ 0 per depth; got {column.size} "
                    f"values for {depth.size} depths"
                )
            if name in ("halo_weight", "halo_narrow_weight") and np.any(column > 1):
                raise ConfigError(f"{self.label}: {name} is a fraction, 0–1")
            object.__setattr__(self, name, _frozen(column))
        self._check_narrow_halo()

    def _check_narrow_halo(self) -> None:
        narrow = (self.halo_narrow_weight, self.halo_narrow_sigma_mm)
        if all(v is None for v in narrow):
            return
        if any(v is None for v in (*narrow, self.halo_weight, self.halo_sigma_mm)):
            raise ConfigError(
                f"{self.label}: a narrow halo needs all four halo columns (halo_weight, "
                "halo_sigma_mm, halo_narrow_weight, halo_narrow_sigma_mm); give all or "
                "only the first two"
            )
        if np.any(np.asarray(self.halo_narrow_weight) > np.asarray(self.halo_weight) + 1e-6):
            raise ConfigError(
                f"{self.label}: halo_narrow_weight is part of halo_weight; it cannot exceed it"
            )

    @property
    def peak_depth_mm(self) -> float:
        """Depth of the maximum, refined by a parabola through the three highest points."""
        from ionbeam.physics.depth_dose import peak_depth

        return peak_depth(self.depth_mm, self.idd_gy_mm2)

    @property
    def r80_mm(self) -> float:
        """Depth beyond the maximum where the dose falls to 80 % of it (linear)."""
        from ionbeam.physics.depth_dose import distal_depth

        return distal_depth(self.depth_mm, self.idd_gy_mm2, 0.8)


@dataclass(frozen=True, eq=False)
class BeamEnergyData:
    """Per nominal energy (MeV/u, ascending) of one particle: ``mean_energies_mev_u`` at
    the patient, ``energy_spread_rel`` (rms σ_E/E) and ``depth_doses`` (one
    :class:`MeasuredDepthDose` or None per energy; an empty tuple for none at all).

    ``curves_include_filter``: the curves were measured with the beam line's ripple
    filter in the beam (usual for carbon at CNAO and HIT), so they already hold its
    broadening. The beam model built from them is then the filtered model, which is not
    folded again and has no unfiltered version
    (:meth:`ionbeam.machine.beam_model.BeamModel.with_ripple_filter`). True needs at
    least one curve; the beam line must carry the filter (:class:`BeamLine` checks)."""

    particle: str
    nominal_energies_mev_u: np.ndarray
    mean_energies_mev_u: np.ndarray
    energy_spread_rel: np.ndarray
    depth_doses: tuple[MeasuredDepthDose | None, ...] = ()
    curves_include_filter: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "particle", get_particle(self.particle).name)
        nominal = _column(self.nominal_energies_mev_u, "nominal energy", self.particle)
        mean = _column(self.mean_energies_mev_u, "mean energy", self.particle)
        spread = _column(self.energy_spread_rel, "energy_spread_rel", self.particle)
        if nominal.size == 0 or mean.shape != nominal.shape or spread.shape != nominal.shape:
            raise ConfigError(
                f"{self.particle} energy data: need one mean energy and spread per nominal "
                f"energy; got {nominal.size}, {mean.size} and {spread.size}"
            )
        if np.any(np.diff(nominal) <= 0):
            raise ConfigError(
                f"{self.particle} nominal energies must be strictly ascending (no duplicates)"
            )
        if np.any(nominal <= 0) or np.any(mean <= 0):
            raise ConfigError(f"{self.particle} energies must be positive MeV/u")
        if np.any(spread < 0) or np.any(spread >= 0.1):
            raise ConfigError(
                f"{self.particle} energy_spread_rel is σ_E/E as a fraction (0 ≤ value < 0.1); "
                f"got {spread.min():g}–{spread.max():g} (a percentage? divide by 100)"
            )
        doses = tuple(self.depth_doses)
        if doses and len(doses) != nominal.size:
            raise ConfigError(
                f"{self.particle} energy data: {len(doses)} depth-dose curves for "
                f"{nominal.size} energies; give one per energy (None where not measured)"
            )
        if not isinstance(self.curves_include_filter, bool):
            raise ConfigError(
                f"{self.particle} energy data: curves_include_filter must be true or false; "
                f"got {self.curves_include_filter!r}"
            )
        if self.curves_include_filter and not any(c is not None for c in doses):
            raise ConfigError(
                f"{self.particle} energy data: curves_include_filter is true but no energy "
                "has a depth-dose curve; set it false or give the measured curves"
            )
        for name, value in (("nominal", nominal), ("mean", mean), ("spread", spread)):
            object.__setattr__(self, _FIELDS[name], _frozen(value))
        object.__setattr__(self, "depth_doses", doses)

    @property
    def n_energies(self) -> int:
        """Number of nominal energies."""
        return int(self.nominal_energies_mev_u.size)

    def index_of(self, energy_mev_u: ArrayLike) -> np.ndarray:
        """Index of each nominal energy in ``energy_mev_u``; an energy that is not one of
        them (within 1e-6 relative) raises :class:`MachineLimitError`."""
        energy = np.atleast_1d(np.asarray(energy_mev_u, dtype=float))
        nominal = self.nominal_energies_mev_u
        index = np.argmin(np.abs(nominal[None, :] - energy[:, None]), axis=1)
        off = np.abs(nominal[index] - energy) > 1e-6 * np.maximum(energy, 1.0)
        if np.any(off) or not np.all(np.isfinite(energy)):
            bad = float(energy[off | ~np.isfinite(energy)][0])
            raise MachineLimitError(
                f"{self.particle} energy (not a commissioned nominal energy; add it to the "
                "beam-model file)",
                bad,
                float(nominal[0]),
                float(nominal[-1]),
                "MeV/u",
            )
        return index

    def depth_dose(self, index: int) -> MeasuredDepthDose | None:
        """The curve of energy ``index``, or None."""
        return self.depth_doses[index] if self.depth_doses else None


_FIELDS = {
    "nominal": "nominal_energies_mev_u",
    "mean": "mean_energies_mev_u",
    "spread": "energy_spread_rel",
}


def _column(values: ArrayLike, name: str, label: str) -> np.ndarray:
    try:
        array = np.array(values, dtype=float, ndmin=1)
    except (TypeError, ValueError):
        raise ConfigError(f"{label}: {name} must be numbers") from None
    if array.ndim != 1 or not np.all(np.isfinite(array)):
        raise ConfigError(f"{label}: {name} must be a 1-D list of finite numbers (no NaN)")
    return array


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array
