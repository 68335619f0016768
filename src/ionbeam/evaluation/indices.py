"""Target quality indices: homogeneity (ICRU 83) and conformity (Paddick).

* **Homogeneity index** (ICRU Report 83, 2010, §3.7.1):
  ``HI = (D2 − D98) / D50``; 0 for a perfectly uniform dose, larger is worse.
* **Paddick conformity index** (Paddick, J. Neurosurg. 93 Suppl 3:219–222, 2000):
  ``CI = TV_PIV² / (TV × PIV)``, with TV the target volume, PIV the volume
  enclosed by the prescription isodose (dose ≥ ``prescription_gy``, within
  ``body`` when given, otherwise the whole grid) and TV_PIV the part of the
  target inside it. 1 is perfect; it penalises both under-coverage and dose
  spilling outside the target. ``CI = 0`` when no voxel reaches the isodose.

D_x follows the convention of :mod:`ionbeam.evaluation.dvh` (exact, nearest rank).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ionbeam.errors import OutOfRangeError, StructureError
from ionbeam.evaluation._distribution import DoseDistribution
from ionbeam.evaluation._inputs import as_dose, as_structure_weights

__all__ = ["homogeneity_index", "paddick_conformity_index"]


def homogeneity_index(dose_gy: np.ndarray, mask: Any) -> float:
    """ICRU 83 homogeneity index ``(D2 − D98) / D50`` of a structure (dimensionless)."""
    dose = as_dose(dose_gy)
    name = str(getattr(mask, "name", "structure"))
    dist = DoseDistribution.from_arrays(dose, as_structure_weights(mask, dose.shape, name=name))
    return homogeneity_from_distribution(dist, name=name)


def paddick_conformity_index(
    dose_gy: np.ndarray, target: Any, *, prescription_gy: float, body: Any = None
) -> float:
    """Paddick conformity index ``TV_PIV² / (TV × PIV)`` of ``target`` for the isodose
    ``prescription_gy`` (dimensionless, 0–1); PIV counted within ``body`` if given."""
    dose = as_dose(dose_gy).reshape(-1)
    name = str(getattr(target, "name", "target"))
    target_weights = as_structure_weights(target, np.shape(dose_gy), name=name)
    body_weights = (
        None if body is None else as_structure_weights(body, np.shape(dose_gy), name="body")
    )
    return conformity_from_weights(dose, target_weights, body_weights, prescription_gy)


def homogeneity_from_distribution(dist: DoseDistribution, *, name: str) -> float:
    """``(D2 − D98) / D50`` from a sorted dose distribution."""
    d2, d50, d98 = dist.dose_at_volume(np.array([0.02, 0.50, 0.98]))
    if d50 <= 0:
        raise StructureError(
            f"structure {name!r} has a median dose D50 = {d50:g} Gy, so the homogeneity "
            "index (D2 − D98)/D50 is undefined; is it really a target inside the field?"
        )
    return float((d2 - d98) / d50)


def conformity_from_weights(
    dose: np.ndarray,
    target_weights: np.ndarray,
    body_weights: np.ndarray | None,
    prescription_gy: float,
) -> float:
    """Paddick CI from flat dose and weight arrays (volumes in voxel units cancel)."""
    if not (math.isfinite(prescription_gy) and prescription_gy > 0):
        raise OutOfRangeError("prescription (isodose) dose", prescription_gy, 0.0, math.inf, "Gy")
    inside_isodose = dose >= prescription_gy
    piv = float(
        np.count_nonzero(inside_isodose)
        if body_weights is None
        else np.sum(body_weights[inside_isodose])
    )
    if piv == 0.0:
        return 0.0
    tv = float(np.sum(target_weights))
    tv_piv = float(np.sum(target_weights[inside_isodose]))
    return tv_piv * tv_piv / (tv * piv)
