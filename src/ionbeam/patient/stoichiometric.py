"""The stoichiometric HU calibration of Schneider, Pedroni & Lomax (1996).

The recipe (Schneider et al., *Phys. Med. Biol.* 41 (1996) 111–124):

1. characterise the scanner by the HU model of :mod:`ionbeam.patient.hu_model`,
   fitted to a phantom of known materials (:func:`~ionbeam.patient.hu_model.fit_hu_model`);
2. predict the CT numbers of real human tissues of known composition
   (Woodard & White 1986, :mod:`ionbeam.patient.tissues`) with that model;
3. compute their stopping-power ratios to water from the Bethe formula
   (``ionbeam.physics.wet.relative_stopping_power``, mean excitation energies
   by Bragg additivity), so that a change of I-values (notably water's)
   changes the curve;
4. fit a straight line to each tissue group (lung, adipose tissue, soft
   tissue, skeletal tissue) and join the lines into one piecewise-linear
   curve, from air (HU ≈ -1000) to the end of the bone line, extended to
   3071 HU (the top of a 12-bit CT scale).

I-values: each tissue's mean excitation energy comes from Bragg additivity
with the ICRU 37 elemental values for condensed media, scaled by
I_w / I_w,BA, where I_w is the water I-value in use (``water_i_value_ev``,
default the physics package's 78 eV after ICRU 90) and I_w,BA = 75.3 eV is
what the same additivity rule gives for water. Tissue and water I-values then
come from one consistent set (the approach of ICRU 90 and Bär et al. 2018),
so that changing water's I-value changes tissue SPRs only in second order and
does not shift every tissue by the same ≈ 0.4 %.

Water anchor: the adipose and soft-tissue lines are fitted under the
constraint that they pass through water (0 HU, SPR 1, 1 g/cm³), as clinical
calibration curves do. Water-like fluids (CSF, oedema) and water phantoms
then get SPR 1 at 0 HU, whereas an unconstrained fit to the carbon-rich
tissues near 0 HU (mammary gland, marrow) would give ≈ 1.03; the constraint
changes the SPR of the main soft tissues (brain, muscle, liver, blood) by
less than 0.7 % (tested against ICRU 44 tissues).

Mass density is calibrated in the same way (lines fitted to the tissues'
densities), and tissue classes are split half-way between the HU ranges of
neighbouring groups.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.hu_model import DEFAULT_HU_MODEL, HUModel
from ionbeam.patient.tissues import REFERENCE_TISSUES, TISSUE_GROUPS, WATER, ReferenceTissue

__all__ = [
    "TissuePoints",
    "default_density_curve",
    "stoichiometric_calibration",
    "tissue_points",
]

#: Upper end of the calibration curve (12-bit CT scale), HU.
MAX_HU = 3071.0
#: Proton energy at which stopping-power ratios are evaluated, MeV (Schneider et al. use
#: a mid-range therapeutic energy; the ratio varies by < 0.5 % over 50–250 MeV for tissues).
DEFAULT_SPR_ENERGY_MEV_U = 100.0
#: Tissue groups whose calibration lines are constrained through water (0 HU).
_WATER_ANCHORED = ("adipose", "soft_tissue")


@dataclass(frozen=True, eq=False)
class TissuePoints:
    """Reference tissues as parallel arrays: ``names``, ``groups``, predicted ``hu``,
    stopping-power ratio ``spr`` and ``density_g_cm3``."""

    names: tuple[str, ...]
    groups: tuple[str, ...]
    hu: np.ndarray
    spr: np.ndarray
    density_g_cm3: np.ndarray


def tissue_points(
    *,
    hu_model: HUModel = DEFAULT_HU_MODEL,
    water_i_value_ev: float | None = None,
    energy_mev_u: float = DEFAULT_SPR_ENERGY_MEV_U,
    tissues: Sequence[ReferenceTissue] = REFERENCE_TISSUES,
) -> TissuePoints:
    """Predicted HU and Bethe SPR (protons, ``energy_mev_u``) of the reference tissues."""
    from ionbeam.physics.materials import (
        WATER_I_VALUE_EV,
        Material,
        bragg_additivity_i_value,
    )
    from ionbeam.physics.wet import relative_stopping_power

    water_i = WATER_I_VALUE_EV if water_i_value_ev is None else float(water_i_value_ev)
    i_scale = water_i / bragg_additivity_i_value(dict(WATER.mass_fractions))
    spr = []
    for tissue in tissues:
        fractions = dict(tissue.mass_fractions)
        material = Material(
            tissue.name,
            tissue.density_g_cm3,
            mass_fractions=fractions,
            i_value_ev=i_scale * bragg_additivity_i_value(fractions),
        )
        spr.append(
            relative_stopping_power(
                material,
                energy_mev_u=energy_mev_u,
                particle="proton",
                water_i_value_ev=water_i_value_ev,
            )
        )
    return TissuePoints(
        names=tuple(t.name for t in tissues),
        groups=tuple(t.group for t in tissues),
        hu=_tissue_hu(tissues, hu_model),
        spr=np.asarray(spr, dtype=float),
        density_g_cm3=np.array([t.density_g_cm3 for t in tissues]),
    )


def stoichiometric_calibration(
    *,
    water_i_value_ev: float | None = None,
    hu_model: HUModel = DEFAULT_HU_MODEL,
    energy_mev_u: float = DEFAULT_SPR_ENERGY_MEV_U,
    tissues: Sequence[ReferenceTissue] = REFERENCE_TISSUES,
) -> HUCalibration:
    """The HU → SPR / density / tissue-class calibration by Schneider's method.

    ``water_i_value_ev`` overrides the I-value of water used for the stopping-power
    ratios (default: the physics package's ``WATER_I_VALUE_EV``); ``hu_model`` is
    the scanner (default: a generic 120 kV scanner, see ``DEFAULT_HU_MODEL``).
    """
    points = tissue_points(
        hu_model=hu_model,
        water_i_value_ev=water_i_value_ev,
        energy_mev_u=energy_mev_u,
        tissues=tissues,
    )
    hu_nodes, spr_nodes = _piecewise_curve(points.hu, points.spr, points.groups)
    density_nodes = np.interp(
        hu_nodes, *_piecewise_curve(points.hu, points.density_g_cm3, points.groups)
    )
    boundaries, names = _tissue_classes(points.hu, points.groups)
    i_text = "default" if water_i_value_ev is None else f"{water_i_value_ev:g} eV"
    return HUCalibration(
        hu_nodes,
        spr_nodes,
        density_nodes,
        tissue_boundaries_hu=boundaries,
        tissue_names=names,
        source=(
            f"stoichiometric (Schneider 1996): k_photo={hu_model.k_photo:.4g}, "
            f"k_coherent={hu_model.k_coherent:.4g}, I_water={i_text}, "
            f"{energy_mev_u:g} MeV protons"
        ),
    )


def default_density_curve(hu: np.ndarray) -> np.ndarray:
    """Mass density (g/cm³) at ``hu`` from the default scanner and tissues
    (needs no stopping powers)."""
    tissue_hu = _tissue_hu(REFERENCE_TISSUES, DEFAULT_HU_MODEL)
    density = np.array([t.density_g_cm3 for t in REFERENCE_TISSUES])
    groups = tuple(t.group for t in REFERENCE_TISSUES)
    return np.interp(np.asarray(hu, dtype=float), *_piecewise_curve(tissue_hu, density, groups))


def _tissue_hu(tissues: Sequence[ReferenceTissue], hu_model: HUModel) -> np.ndarray:
    return np.array([hu_model.hu(t.mass_fractions, t.density_g_cm3) for t in tissues])


def _piecewise_curve(
    hu: np.ndarray, values: np.ndarray, groups: Sequence[str], water_value: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes of the curve: per group, its least-squares line evaluated at the
    group's lowest and highest HU; the adipose and soft-tissue lines pass through
    water (0 HU, ``water_value``) and end there; the last group's line is
    extended to MAX_HU."""
    groups_array = np.asarray(groups)
    present = [g for g in TISSUE_GROUPS if np.any(groups_array == g)]
    node_hu: list[float] = []
    node_values: list[float] = []
    for index, group in enumerate(present):
        selected = groups_array == group
        h, v = hu[selected], values[selected]
        if group in _WATER_ANCHORED:
            slope = float(np.sum(h * (v - water_value)) / max(np.sum(h * h), 1e-12))
            intercept = water_value
            ends = [h.min(), 0.0] if group == "adipose" else [0.0, h.max()]
        elif h.size >= 2 and np.ptp(h) > 0:
            slope, intercept = np.polyfit(h, v, 1)
            ends = [h.min(), h.max()]
        else:
            slope, intercept = 0.0, float(np.mean(v))
            ends = [h.min()]
        if index == len(present) - 1 and max(ends) < MAX_HU:
            ends.append(MAX_HU)
        for end in ends:
            node_hu.append(float(end))
            node_values.append(float(slope * end + intercept))
    order = np.argsort(node_hu, kind="stable")
    node_hu_sorted = np.asarray(node_hu)[order]
    node_values_sorted = np.maximum(np.asarray(node_values)[order], 0.0)
    keep = np.concatenate(([True], np.diff(node_hu_sorted) > 1e-6))
    return node_hu_sorted[keep], node_values_sorted[keep]


def _tissue_classes(
    hu: np.ndarray, groups: Sequence[str]
) -> tuple[tuple[float, ...], tuple[str, ...]]:
    groups_array = np.asarray(groups)
    present = [g for g in TISSUE_GROUPS if np.any(groups_array == g)]
    boundaries = []
    for lower, upper in itertools.pairwise(present):
        top = hu[groups_array == lower].max()
        bottom = hu[groups_array == upper].min()
        boundaries.append(0.5 * (top + bottom))
    return tuple(float(b) for b in np.maximum.accumulate(boundaries)), tuple(present)
