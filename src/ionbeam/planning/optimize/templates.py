"""Objective templates: default objectives for a structure set, and overlap priorities.

:func:`default_objectives` gives each structure objectives by its (TG-263 style)
name, with dose levels as fractions of the prescribed dose per fraction p:

==========================================  ===========================================
target                                      SquaredDeviation(p), weight 1000
serial organs (Brainstem, SpinalCord,       SquaredOverdose(``SERIAL_MAX_FRACTION`` p),
OpticChiasm, OpticNerve…)                   weight 3000 (a maximum-dose constraint)
Body / External                             SquaredOverdose(0.6 p), weight 100
Ring… (normal tissue around the target,     SquaredOverdose(``RING_MAX_FRACTION`` p),
:func:`ring_structure`)                     weight 1000 (no hot spot outside the target)
any other organ (Core, Brain, Eye, Lung…)   SquaredOverdose(0.5 p), weight 300
GTV / CTV (inside the target) and others    none
==========================================  ===========================================

The target, Core and Body rows are the objectives of matRad's (and pyRadPlan's)
TG-119 example (50 Gy, core 25 Gy, body 30 Gy; weights 1000, 300, 100).

A ring is what planners add against hot spots outside the target: the Body and
organ objectives are means over large volumes, in which a few cm³ at 110-120 % of
the prescription beside the target weigh nothing (the head demo's carbon plan had
3.5 cm³ above 107 % in the brain beside its PTV); a ring's mean is over the tissue
next to the target only, where such hot spots form.

Overlaps (matRad's overlap priority): a voxel in several structures carries only
the objectives of the first of them in :func:`overlap_priority` — serial organs
with objectives, then the target, rings, the other organs, the body last — so a
brainstem inside the PTV is spared (the target objective stops at it) and the
body objective leaves the target and organs alone. :func:`optimization_masks`
applies that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.patient.structures import Structure
from ionbeam.planning.optimize.objective import Objective
from ionbeam.planning.optimize.squared_deviation import SquaredDeviation
from ionbeam.planning.optimize.squared_overdose import SquaredOverdose

__all__ = [
    "RING_MAX_FRACTION",
    "SERIAL_MAX_FRACTION",
    "default_objectives",
    "is_serial_organ",
    "optimization_masks",
    "overlap_priority",
    "ring_structure",
]

#: Maximum dose of serial organs at risk, as a fraction of the prescription.
SERIAL_MAX_FRACTION = 0.9
#: Maximum dose in a ring around the target, as a fraction of the prescription: the
#: goal outside the target is "at most 0.03 cm³ above 107 %"; the ring asks for no
#: more than the prescription, which the dose just outside the target (falling off from
#: it) meets without a penalty, so only hot spots are pushed down.
RING_MAX_FRACTION = 1.0
_SERIAL = ("brainstem", "spinalcord", "cord", "opticchiasm", "chiasm", "opticnerve")
_BODY = ("body", "external", "skin", "outline")
_NO_OBJECTIVE = ("gtv", "ctv", "itv", "skull", "bone")


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def is_serial_organ(name: str) -> bool:
    """Whether ``name`` is a serial organ at risk (brainstem, spinal cord, optic pathway)."""
    key = _key(name)
    return any(key.startswith(s) for s in _SERIAL)


def default_objectives(
    structure_names: Sequence[str], target: str, dose_gy: float
) -> dict[str, tuple[Objective, ...]]:
    """Objectives per structure for a prescription of ``dose_gy`` per fraction
    (Gy or Gy(RBE)) to ``target`` (see the module docstring)."""
    names = list(structure_names)
    if target not in names:
        raise UnknownNameError("target structure", target, names)
    out: dict[str, tuple[Objective, ...]] = {}
    for name in names:
        key = _key(name)
        if name == target:
            out[name] = (SquaredDeviation(dose_gy, weight=1000.0),)
        elif is_serial_organ(name):
            out[name] = (SquaredOverdose(SERIAL_MAX_FRACTION * dose_gy, weight=3000.0),)
        elif key in _BODY:
            out[name] = (SquaredOverdose(0.6 * dose_gy, weight=100.0),)
        elif _is_ring(name):
            out[name] = (SquaredOverdose(RING_MAX_FRACTION * dose_gy, weight=1000.0),)
        elif not any(key.startswith(p) for p in _NO_OBJECTIVE):
            out[name] = (SquaredOverdose(0.5 * dose_gy, weight=300.0),)
    return out


def overlap_priority(names: Sequence[str], target: str) -> tuple[str, ...]:
    """Serial organs first, then the target, rings, the other organs, and the body last
    (each group in the order given)."""
    names = list(names)
    serial = [n for n in names if n != target and is_serial_organ(n)]
    body = [n for n in names if n != target and _key(n) in _BODY]
    rings = [n for n in names if n != target and n not in serial and _is_ring(n)]
    rest = [n for n in names if n != target and n not in (*serial, *body, *rings)]
    return (*serial, *([target] if target in names else []), *rings, *rest, *body)


def _is_ring(name: str) -> bool:
    return _key(name).startswith("ring")


def ring_structure(
    target: Structure, body: Structure, *, width_mm: float = 15.0, name: str | None = None
) -> Structure:
    """The tissue within ``width_mm`` outside ``target`` and inside ``body`` (a planner's
    ring, named ``Ring_<target>`` unless ``name`` is given; :func:`default_objectives`
    gives names that start with "ring" a hot-spot objective)."""
    if not (isinstance(width_mm, (int, float)) and 0.0 < width_mm <= 50.0):
        raise ConfigError(f"the ring's width must be within (0, 50] mm; got {width_mm!r}")
    ring_name = name or f"Ring_{target.name}"
    if not _is_ring(ring_name):
        raise ConfigError(f"a ring's name must start with 'Ring'; got {ring_name!r}")
    grown = target.expand(float(width_mm))
    return Structure(ring_name, grown.mask & ~target.mask & body.mask, target.grid)


def optimization_masks(
    masks: Mapping[str, np.ndarray], priority: Sequence[str]
) -> dict[str, np.ndarray]:
    """Each mask of ``priority`` without the voxels of the structures before it.

    Voxel fractions (occupancies 0–1, any non-boolean masks) share each voxel instead:
    a structure keeps at most what those before it left of the voxel."""
    for name in priority:
        if name not in masks:
            raise UnknownNameError("structure", name, masks)
    if any(np.asarray(masks[name]).dtype != np.bool_ for name in priority):
        return _shared_fractions(masks, priority)
    taken: np.ndarray | None = None
    out = {}
    for name in priority:
        mask = np.asarray(masks[name], dtype=bool)
        out[name] = mask if taken is None else mask & ~taken
        taken = mask.copy() if taken is None else taken | mask
    return out


def _shared_fractions(
    masks: Mapping[str, np.ndarray], priority: Sequence[str]
) -> dict[str, np.ndarray]:
    """Voxel fractions in overlap priority: min(fraction, 1 − what earlier ones took)."""
    taken = np.zeros(np.shape(masks[priority[0]]))
    out = {}
    for name in priority:
        fraction = np.asarray(masks[name], dtype=np.float64)
        share = np.minimum(fraction, 1.0 - taken)
        share[share < 1e-6] = 0.0  # what rounding leaves of a voxel already taken
        out[name] = share
        taken = np.minimum(taken + share, 1.0)
    return out
