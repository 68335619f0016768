"""Multiple-scattering power of the patient's materials, relative to water, per geometric mm.

The pencil beam's lateral spread in the patient is a Fermi–Eyges moment along the
spot's path (:mod:`._ray_tables`): σ²(z) = ∫₀^z T(z') (z − z')² dz', with the
scattering power T of the material at z' (rad²/mm) and the lever arm z − z' in
geometric mm. In Gottschalk's differential Molière form (see
:mod:`ionbeam.physics.scattering`) T = f_dM(pv) (E_s/pv)² / X_S, where only the
scattering length X_S depends on the material; so at the same proton energy

    T_material / T_water = (ρ / ρ_water) · (X_S,water / X_S,material)   (X_S in g/cm²),

independent of energy. The energy at z' comes from the WEPL travelled (the residual
range in water), so the ratio above, per geometric mm, is all the dose engine needs
from the CT besides the stopping-power ratio.

The CT gives the mass density of each voxel (the HU calibration), not its
composition. The mass scattering power X_S,water / X_S (g/cm²) is therefore taken
from the reference tissues of Woodard & White (1986) that the stoichiometric
calibration is built from (:mod:`ionbeam.patient.tissues`), as a piecewise-linear
function of density: air 1.003, inflated lung 0.987, adipose tissues 0.860 (mean,
0.97 g/cm³), water 1.000, soft tissues 0.973 (mean, 1.06 g/cm³), then each skeletal
tissue (spongiosa 1.054 … cortical bone 1.420). Tissues of equal density but
different composition (adipose against soft tissue at 0.95–1.05 g/cm³) differ by up
to 15 % in mass scattering power, which a density-based curve cannot see: σ is
uncertain by a few per cent where such tissue dominates the path. MCsquare uses
the radiation length X₀ instead of X_S (bone 1.25 × water per gram in its Schneider
materials against 1.31 here).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.ct import CT
from ionbeam.patient.tissues import REFERENCE_TISSUES, WATER, ReferenceTissue
from ionbeam.physics.materials import Material, bragg_additivity_i_value
from ionbeam.physics.scattering import scattering_length_g_cm2

__all__ = ["mass_scattering_power_ratio", "relative_scattering_power"]


def _mass_scattering_length(tissue: ReferenceTissue) -> float:
    fractions = dict(tissue.mass_fractions)
    material = Material(
        tissue.name, tissue.density_g_cm3, fractions, bragg_additivity_i_value(fractions)
    )
    return scattering_length_g_cm2(material)


@lru_cache(maxsize=1)
def _curve() -> tuple[np.ndarray, np.ndarray]:
    """Density nodes (g/cm³) and mass scattering power relative to water: one node per
    tissue group (air, lung, adipose, soft tissue; their mean density and ratio), water
    itself (1 g/cm³, HU 0: phantoms and water-like tissue) and one per skeletal tissue,
    in increasing density."""
    water = _mass_scattering_length(WATER)
    groups: dict[str, list[tuple[float, float]]] = {}
    nodes: list[tuple[float, float]] = []
    for tissue in REFERENCE_TISSUES:
        point = (tissue.density_g_cm3, water / _mass_scattering_length(tissue))
        if tissue.group == "bone":
            nodes.append(point)
        else:
            groups.setdefault(tissue.group, []).append(point)
    nodes += [tuple(np.mean(points, axis=0)) for points in groups.values()]
    nodes.append((WATER.density_g_cm3, 1.0))
    nodes.sort()
    density, ratio = (np.array(values) for values in zip(*nodes, strict=True))
    density.setflags(write=False)
    ratio.setflags(write=False)
    return density, ratio


def mass_scattering_power_ratio(density_g_cm3: np.ndarray) -> np.ndarray:
    """Mass scattering power relative to water, X_S,water / X_S (g/cm²), of body tissue of
    ``density_g_cm3`` (see the module docstring; constant beyond the end nodes)."""
    density, ratio = _curve()
    return np.interp(np.asarray(density_g_cm3, dtype=float), density, ratio)


def relative_scattering_power(ct: CT, calibration: HUCalibration | None = None) -> np.ndarray:
    """Scattering power per geometric mm relative to water at the same energy, per voxel
    (float32 [x, y, z]): ρ/ρ_water × :func:`mass_scattering_power_ratio` (ρ from the HU
    calibration; water 1, lung ≈ 0.25, cortical bone ≈ 2.7)."""
    density = ct.density(calibration).astype(np.float64)
    return (density * mass_scattering_power_ratio(density)).astype(np.float32)
