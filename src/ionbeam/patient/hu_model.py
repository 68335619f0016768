"""The CT-number model of Schneider, Pedroni & Lomax (1996).

Schneider et al., *Phys. Med. Biol.* 41 (1996) 111–124, parametrise the
linear attenuation coefficient of a material of mass density ρ and mass
fractions w_i of elements (Z_i, A_i) in a CT beam as

    μ = ρ N_A Σ_i (w_i / A_i) (K_ph Z_i^4.62 + K_coh Z_i^2.86 + K_KN Z_i),

photo-electric absorption, coherent scattering and Klein–Nishina scattering
per atom. CT numbers are relative to water, HU = 1000 (μ/μ_w − 1), so only
the ratios k_photo = K_ph/K_KN and k_coherent = K_coh/K_KN matter; a scanner
(spectrum, filtration, reconstruction) is characterised by these two
numbers, fitted to the measured HU of a phantom of known materials
(:func:`fit_hu_model`). The model then predicts the HU of any tissue from its
composition, which is how the stoichiometric calibration gets HU for real
tissues that no phantom reproduces exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from ionbeam.errors import ConfigError, UnknownNameError

__all__ = [
    "ATOMIC_MASS_U",
    "DEFAULT_HU_MODEL",
    "HUModel",
    "electron_density_relative_to_water",
    "fit_hu_model",
]

#: Standard atomic weights (IUPAC 2021, abridged), u, for the elements of tissues,
#: tissue substitutes and air.
ATOMIC_MASS_U: Mapping[int, float] = {
    1: 1.008, 6: 12.011, 7: 14.007, 8: 15.999, 9: 18.998, 11: 22.990, 12: 24.305,
    13: 26.982, 14: 28.085, 15: 30.974, 16: 32.06, 17: 35.45, 18: 39.948, 19: 39.098,
    20: 40.078, 22: 47.867, 26: 55.845, 29: 63.546, 30: 65.38, 53: 126.904,
}  # fmt: skip

_WATER_FRACTIONS: Mapping[int, float] = {1: 0.1119, 8: 0.8881}
_PHOTO_EXPONENT = 4.62
_COHERENT_EXPONENT = 2.86


def _sums(mass_fractions: Mapping[int, float]) -> tuple[float, float, float]:
    """Σ w Z/A, Σ w Z^4.62/A and Σ w Z^2.86/A (mol/g)."""
    electrons = photo = coherent = 0.0
    for z, w in mass_fractions.items():
        try:
            a = ATOMIC_MASS_U[int(z)]
        except KeyError:
            raise UnknownNameError("element (Z)", z, [str(k) for k in ATOMIC_MASS_U]) from None
        electrons += w * z / a
        photo += w * z**_PHOTO_EXPONENT / a
        coherent += w * z**_COHERENT_EXPONENT / a
    return electrons, photo, coherent


def electron_density_relative_to_water(
    mass_fractions: Mapping[int, float], density_g_cm3: float
) -> float:
    """Electron density relative to water (1.000 g/cm³)."""
    return density_g_cm3 * _sums(mass_fractions)[0] / _sums(_WATER_FRACTIONS)[0]


@dataclass(frozen=True)
class HUModel:
    """A CT scanner in Schneider's model: ``k_photo`` = K_ph/K_KN and
    ``k_coherent`` = K_coh/K_KN (dimensionless, ≥ 0)."""

    k_photo: float
    k_coherent: float

    def __post_init__(self) -> None:
        for name in ("k_photo", "k_coherent"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"HUModel.{name} must be finite and ≥ 0; got {value}")
            object.__setattr__(self, name, value)

    def _attenuation(self, mass_fractions: Mapping[int, float], density_g_cm3: float) -> float:
        electrons, photo, coherent = _sums(mass_fractions)
        return density_g_cm3 * (self.k_photo * photo + self.k_coherent * coherent + electrons)

    def attenuation_relative_to_water(
        self, mass_fractions: Mapping[int, float], density_g_cm3: float
    ) -> float:
        """μ/μ_water of a material (mass fractions {Z: w}, density g/cm³)."""
        return self._attenuation(mass_fractions, density_g_cm3) / self._attenuation(
            _WATER_FRACTIONS, 1.0
        )

    def hu(self, mass_fractions: Mapping[int, float], density_g_cm3: float) -> float:
        """Predicted CT number (HU) of a material."""
        return 1000.0 * (self.attenuation_relative_to_water(mass_fractions, density_g_cm3) - 1.0)


#: A generic 120 kV scanner. Schneider et al. (1996, 2000) fit k_photo ~ 1e-5–1e-4 and
#: k_coherent ~ 1e-4–1e-3 for clinical scanners; these values give the Woodard & White
#: tissues typical clinical CT numbers (adipose tissue 3 ≈ -96 HU, skeletal muscle ≈ +43 HU,
#: cortical bone ≈ +1495 HU). Replace them by :func:`fit_hu_model` of your own phantom scan.
DEFAULT_HU_MODEL = HUModel(k_photo=3.0e-5, k_coherent=1.0e-3)


def fit_hu_model(
    mass_fractions: Sequence[Mapping[int, float]],
    densities_g_cm3: Sequence[float],
    measured_hu: Sequence[float],
) -> HUModel:
    """Fit ``k_photo`` and ``k_coherent`` to the measured HU of phantom materials of
    known composition (Schneider et al. 1996, section 2.2): least squares in HU."""
    densities = np.asarray(densities_g_cm3, dtype=float)
    hu = np.asarray(measured_hu, dtype=float)
    n = len(mass_fractions)
    if densities.shape != (n,) or hu.shape != (n,):
        raise ConfigError(
            f"need one density and one measured HU per material; got {n} materials, "
            f"{densities.size} densities and {hu.size} HU values"
        )
    if n < 3:
        raise ConfigError(f"fitting the HU model needs at least 3 phantom materials; got {n}")
    if not (np.all(np.isfinite(hu)) and np.all(np.isfinite(densities)) and np.all(densities > 0)):
        raise ConfigError("phantom densities must be positive and HU values finite (no NaN)")
    sums = np.array([_sums(f) for f in mass_fractions])
    water = np.array(_sums(_WATER_FRACTIONS))

    def residuals(k: np.ndarray) -> np.ndarray:
        scale = 1e-5, 1e-4  # fit in units where both parameters are of order 1
        kp, kc = k[0] * scale[0], k[1] * scale[1]
        mu = densities * (kp * sums[:, 1] + kc * sums[:, 2] + sums[:, 0])
        mu_w = kp * water[1] + kc * water[2] + water[0]
        return 1000.0 * (mu / mu_w - 1.0) - hu

    solution = least_squares(residuals, x0=[1.0, 1.0], bounds=([0.0, 0.0], [np.inf, np.inf]))
    return HUModel(k_photo=solution.x[0] * 1e-5, k_coherent=solution.x[1] * 1e-4)
