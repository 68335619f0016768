"""MCsquare beam data libraries (BDL) for ionbeam's CNAO beam line and pyRadPlan's machine.

* :func:`ionbeam_bdl` — the beam ionbeam's dose engine models: per energy the
  spot-size table of the beam line (σ₀, σ', ρ at the isocentre in air), carried
  back in vacuum to the nozzle exit, the scanning magnets' virtual SADs, the mean
  energy equal to the nominal one and the relative energy spread of ionbeam's
  depth–dose tables (``DEFAULT_ENERGY_SPREAD_REL``), so that MCsquare and ionbeam
  start from the same protons.
* :func:`pyradplan_bdl` — the beam pyRadPlan's Generic proton machine describes
  (``protons_Generic.mat``, exported by the pyRadPlan worker): its energy spectrum
  (mean energy and rms spread in %, as matRad's own MCsquare interface writes
  them) and its spot size against the distance from the source (``initFocus``),
  fitted near the isocentre with σ(z)² = a + b z + c z² (the Courant–Snyder form
  matRad fits for MCsquare) and carried to the nozzle exit; SAD 10 m.
"""

from __future__ import annotations

import math

import numpy as np
from _mcsquare_inputs import BeamDataLibrary, nozzle_phase_space

from ionbeam.machine.beamline import BeamLine
from ionbeam.physics.depth_dose import DEFAULT_ENERGY_SPREAD_REL

#: Half-width (mm) of the window around the isocentre where pyRadPlan's spot-size
#: table is fitted: the TG-119 patient lies within ±150 mm of it.
PYRADPLAN_FIT_HALF_WIDTH_MM = 500.0


def ionbeam_bdl(
    beam_line: BeamLine,
    energies_mev: np.ndarray,
    *,
    nozzle_to_isocenter_mm: float,
    energy_spread_rel: float = DEFAULT_ENERGY_SPREAD_REL,
) -> BeamDataLibrary:
    """The BDL of ionbeam's proton beam on ``beam_line`` covering ``energies_mev``."""
    table = beam_line.spot_table("proton")
    lo = max(math.floor(float(np.min(energies_mev))), math.ceil(table.energies_mev_u[0]))
    hi = min(math.ceil(float(np.max(energies_mev))), math.floor(table.energies_mev_u[-1]))
    grid = np.arange(lo, max(hi, lo + 1) + 1, 1.0)
    sigma0, divergence_mrad, rho = table.phase_space(grid)
    sigma, divergence, correlation = nozzle_phase_space(
        sigma0, np.asarray(divergence_mrad) * 1e-3, rho, nozzle_to_isocenter_mm
    )
    return BeamDataLibrary(
        nozzle_to_isocenter_mm=float(nozzle_to_isocenter_mm),
        smx_mm=beam_line.sad_mm[0],
        smy_mm=beam_line.sad_mm[1],
        nominal_energy_mev=grid,
        mean_energy_mev=grid.copy(),
        energy_spread_percent=np.full(grid.size, 100.0 * energy_spread_rel),
        sigma_mm=sigma,
        divergence_rad=divergence,
        correlation=correlation,
        description=f"ionbeam {beam_line.name} beam line, protons, energy spread "
        f"{100 * energy_spread_rel:.2f} %",
    )


def fit_spot_size(distance_mm: np.ndarray, sigma_mm: np.ndarray, sad_mm: float) -> np.ndarray:
    """(σ₀ mm, σ' rad, ρ) of a least-squares fit σ(z)² = a + b z + c z² (z = distance −
    SAD, within ±``PYRADPLAN_FIT_HALF_WIDTH_MM``) to a spot-size table."""
    z = np.asarray(distance_mm, dtype=float) - sad_mm
    var = np.asarray(sigma_mm, dtype=float) ** 2
    near = np.abs(z) <= PYRADPLAN_FIT_HALF_WIDTH_MM + 1e-9
    c, b, a = np.polyfit(z[near], var[near], 2)
    c = max(c, 1e-12)  # a table that does not grow has (practically) no divergence
    divergence = math.sqrt(c)
    sigma0 = math.sqrt(a)
    rho = float(np.clip(b / (2.0 * sigma0 * divergence), -0.99, 0.99))
    return np.array([sigma0, divergence, rho])


def pyradplan_bdl(
    machine: dict[str, np.ndarray], *, nozzle_to_isocenter_mm: float
) -> BeamDataLibrary:
    """The BDL of pyRadPlan's Generic proton machine (arrays from the worker's export:
    ``energy``, ``mean_energy``, ``spread_percent``, ``focus_dist``, ``focus_sigma``, ``sad``)."""
    sad = float(machine["sad"])
    fits = np.array(
        [
            fit_spot_size(d, s, sad)
            for d, s in zip(machine["focus_dist"], machine["focus_sigma"], strict=True)
        ]
    )
    sigma, divergence, correlation = nozzle_phase_space(
        fits[:, 0], fits[:, 1], fits[:, 2], nozzle_to_isocenter_mm
    )
    return BeamDataLibrary(
        nozzle_to_isocenter_mm=float(nozzle_to_isocenter_mm),
        smx_mm=sad,
        smy_mm=sad,
        nominal_energy_mev=np.asarray(machine["energy"], dtype=float),
        mean_energy_mev=np.asarray(machine["mean_energy"], dtype=float),
        energy_spread_percent=np.asarray(machine["spread_percent"], dtype=float),
        sigma_mm=sigma,
        divergence_rad=divergence,
        correlation=correlation,
        description="pyRadPlan 0.5.0 protons_Generic (matRad generic machine)",
    )
