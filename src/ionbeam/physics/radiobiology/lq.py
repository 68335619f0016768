"""The linear-quadratic model: biological effect and RBE-weighted dose.

For one fraction of physical dose D (Gy) of a radiation with LQ parameters α (Gy⁻¹) and
β (Gy⁻²), the biological effect is E = αD + βD² (survival S = exp(−E)). The RBE-weighted
dose D_RBE, in Gy(RBE), is the photon dose of the same effect in a tissue of photon
parameters α_x, β_x:

    D_RBE = (√(α_x² + 4 β_x E) − α_x) / (2 β_x) = 2E / (√(α_x² + 4 β_x E) + α_x),

computed in the second form, which is exact, free of cancellation at small E and
finite as β_x → 0. Its derivative dD_RBE/dE = 1/√(α_x² + 4 β_x E) is what an optimizer
of the RBE-weighted dose chains through. In a mixed field the dose engine accumulates
α·D and √β·D over beams (matRad's ``mAlphaDose`` and ``mSqrtBetaDose``) and
E = (αD) + (√βD)² (Zaider & Rossi 1980).

All functions take scalars or arrays that broadcast together (voxel arrays, with α_x
and β_x per voxel or scalars) and return new float arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import GridMismatchError, OutOfRangeError

__all__ = [
    "biological_effect",
    "effect_from_rbe_weighted_dose",
    "rbe",
    "rbe_weighted_dose",
    "rbe_weighted_dose_derivative",
]


def _array(value: ArrayLike, quantity: str, unit: str, *, low: float = 0.0) -> np.ndarray:
    """``value`` as a float array; ``OutOfRangeError`` on NaN/inf or values below ``low``."""
    array = np.asarray(value, dtype=float)
    bad = ~np.isfinite(array) | (array < low)
    if bad.any():
        raise OutOfRangeError(quantity, array[bad].flat[0], low, np.inf, unit)
    return array


def _photon_parameters(alpha_x_gy: ArrayLike, beta_x_gy2: ArrayLike) -> tuple[np.ndarray, ...]:
    alpha_x = _array(alpha_x_gy, "alpha_x", "Gy⁻¹")
    if np.any(alpha_x == 0.0):
        raise OutOfRangeError("alpha_x", 0.0, np.finfo(float).tiny, np.inf, "Gy⁻¹")
    return alpha_x, _array(beta_x_gy2, "beta_x", "Gy⁻²")


def _broadcast(*arrays: np.ndarray) -> None:
    try:
        np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise GridMismatchError(
            f"LQ inputs must have broadcastable shapes (one value per voxel or a scalar); "
            f"got {shapes}"
        ) from None


def biological_effect(alpha_gy: ArrayLike, beta_gy2: ArrayLike, dose_gy: ArrayLike) -> np.ndarray:
    """E = αD + βD² (dimensionless) for physical dose per fraction ``dose_gy`` ≥ 0."""
    alpha = _array(alpha_gy, "alpha", "Gy⁻¹", low=-np.inf)
    beta = _array(beta_gy2, "beta", "Gy⁻²")
    dose = _array(dose_gy, "dose per fraction", "Gy")
    _broadcast(alpha, beta, dose)
    return dose * (alpha + beta * dose)


def rbe_weighted_dose(
    effect: ArrayLike, alpha_x_gy: ArrayLike, beta_x_gy2: ArrayLike
) -> np.ndarray:
    """Iso-effective photon dose D_RBE (Gy(RBE)) of biological effect ``effect`` ≥ 0 in a
    tissue of photon parameters α_x (Gy⁻¹, > 0) and β_x (Gy⁻², ≥ 0)."""
    e = _array(effect, "biological effect", "")
    alpha_x, beta_x = _photon_parameters(alpha_x_gy, beta_x_gy2)
    _broadcast(e, alpha_x, beta_x)
    return 2.0 * e / (np.sqrt(alpha_x * alpha_x + 4.0 * beta_x * e) + alpha_x)


def rbe_weighted_dose_derivative(
    effect: ArrayLike, alpha_x_gy: ArrayLike, beta_x_gy2: ArrayLike
) -> np.ndarray:
    """dD_RBE/dE = 1/√(α_x² + 4β_x E), Gy(RBE) per unit effect (for optimizer gradients)."""
    e = _array(effect, "biological effect", "")
    alpha_x, beta_x = _photon_parameters(alpha_x_gy, beta_x_gy2)
    _broadcast(e, alpha_x, beta_x)
    return 1.0 / np.sqrt(alpha_x * alpha_x + 4.0 * beta_x * e)


def effect_from_rbe_weighted_dose(
    rbe_weighted_dose_gy: ArrayLike, alpha_x_gy: ArrayLike, beta_x_gy2: ArrayLike
) -> np.ndarray:
    """The biological effect α_x D + β_x D² of photon dose D = ``rbe_weighted_dose_gy``
    (the inverse of :func:`rbe_weighted_dose`; e.g. the effect a prescription asks for)."""
    alpha_x, beta_x = _photon_parameters(alpha_x_gy, beta_x_gy2)
    return biological_effect(alpha_x, beta_x, rbe_weighted_dose_gy)


def rbe(
    alpha_gy: ArrayLike,
    beta_gy2: ArrayLike,
    dose_gy: ArrayLike,
    alpha_x_gy: ArrayLike,
    beta_x_gy2: ArrayLike,
) -> np.ndarray:
    """RBE = D_RBE / D at physical dose per fraction ``dose_gy`` > 0."""
    dose = _array(dose_gy, "dose per fraction", "Gy", low=np.finfo(float).tiny)
    effect = biological_effect(alpha_gy, beta_gy2, dose)
    return rbe_weighted_dose(effect, alpha_x_gy, beta_x_gy2) / dose
