"""Proton RBE models: constant RBE and LET_d-dependent (RBE_max, RBE_min) models.

A proton model gives RBE_max (the RBE at D → 0, α/α_x) and RBE_min (the RBE at D → ∞,
√(β/β_x)) from the dose-averaged LET in water, LET_d (keV/µm), and the tissue's
(α/β)_x (Gy). Then α = RBE_max α_x and β = RBE_min² β_x, and at a physical dose per
fraction D

    RBE(D) = [√((α/β)_x² + 4D (α/β)_x RBE_max + 4D² RBE_min²) − (α/β)_x] / (2D).

Because RBE_max and RBE_min of the models below are linear in LET_d, α and √β are
linear in LET_d too, so dose-weighted α and √β of several pencil beams equal α and √β
at the voxel's dose-weighted LET_d: the per-pencil-beam tables and the per-voxel models
agree exactly.

Models (:data:`PROTON_RBE_MODELS`, by name):

``constant``
    RBE = 1.1 at every dose (ICRU Report 78): RBE_max = RBE_min = 1.1.
``mcnamara2015``
    McNamara, Schuemann & Paganetti 2015, Phys Med Biol 60:8399, fitted to published
    in-vitro proton cell-survival data (LET_d up to ~20 keV/µm):
    RBE_max = 0.99064 + 0.35605/(α/β)_x · LET_d, RBE_min = 1.1012 − 0.0038703 √(α/β)_x · LET_d.
    (matRad's ``matRad_MCNamara`` uses p0 = 0.999064, a transcription slip.)
``wedenberg2013``
    Wedenberg, Lind & Hårdemark 2013, Acta Oncol 52:580: RBE_max = 1 + 0.434/(α/β)_x · LET_d,
    RBE_min = 1.
``carabe2012``
    Carabe-Fernandez et al. 2012 (Phys Med Biol 57:1159; model of Int J Radiat Biol
    83:27, 2007): RBE_max = 0.843 + 0.154 · 2.686/(α/β)_x · LET_d,
    RBE_min = 1.09 + 0.006 · 2.686/(α/β)_x · LET_d.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ionbeam.errors import OutOfRangeError, UnknownNameError
from ionbeam.physics.radiobiology.lq import _array, _broadcast, _photon_parameters

__all__ = [
    "MAX_PROTON_LET_KEV_UM",
    "PROTON_RBE_MODELS",
    "Carabe2012",
    "ConstantRBE",
    "McNamara2015",
    "ProtonRBEModel",
    "Wedenberg2013",
    "get_proton_rbe_model",
]

#: Largest LET_d (keV/µm) accepted: the stopping power of protons peaks at ~83 keV/µm
#: in water (at ~0.08 MeV), so a larger proton LET_d is an input error.
MAX_PROTON_LET_KEV_UM = 100.0


def _let(let_d_kev_um: ArrayLike) -> np.ndarray:
    let = _array(let_d_kev_um, "proton LET_d", "keV/µm")
    if np.any(let > MAX_PROTON_LET_KEV_UM):
        raise OutOfRangeError("proton LET_d", let.max(), 0.0, MAX_PROTON_LET_KEV_UM, "keV/µm")
    return let


class ProtonRBEModel:
    """Shared behaviour of the proton models: subclasses define ``name``,
    ``rbe_max(let_d, alpha_beta)`` and ``rbe_min(let_d, alpha_beta)`` on arrays."""

    name: str

    def rbe_max(self, let_d_kev_um: np.ndarray, alpha_beta_gy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def rbe_min(self, let_d_kev_um: np.ndarray, alpha_beta_gy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def alpha_beta(
        self, let_d_kev_um: ArrayLike, alpha_x_gy: ArrayLike, beta_x_gy2: ArrayLike
    ) -> tuple[np.ndarray, np.ndarray]:
        """Proton α (Gy⁻¹) and β (Gy⁻²) at LET_d (keV/µm) in a tissue (α_x, β_x)."""
        let = _let(let_d_kev_um)
        alpha_x, beta_x = _photon_parameters(alpha_x_gy, beta_x_gy2)
        _broadcast(let, alpha_x, beta_x)
        ratio = alpha_x / beta_x
        return alpha_x * self.rbe_max(let, ratio), beta_x * self.rbe_min(let, ratio) ** 2

    def rbe(
        self,
        dose_gy: ArrayLike,
        let_d_kev_um: ArrayLike,
        alpha_x_gy: ArrayLike,
        beta_x_gy2: ArrayLike,
    ) -> np.ndarray:
        """RBE at physical dose per fraction ``dose_gy`` (> 0), LET_d and tissue (α_x, β_x)."""
        dose = _array(dose_gy, "dose per fraction", "Gy", low=np.finfo(float).tiny)
        let = _let(let_d_kev_um)
        alpha_x, beta_x = _photon_parameters(alpha_x_gy, beta_x_gy2)
        _broadcast(dose, let, alpha_x, beta_x)
        ratio = alpha_x / beta_x
        high, low = self.rbe_max(let, ratio), self.rbe_min(let, ratio)
        root = np.sqrt(ratio**2 + 4.0 * dose * ratio * high + 4.0 * dose**2 * low**2)
        return (root - ratio) / (2.0 * dose)


@dataclass(frozen=True)
class ConstantRBE(ProtonRBEModel):
    """A dose- and LET-independent RBE (default 1.1)."""

    value: float = 1.1
    name: str = "constant"

    def rbe_max(self, let_d_kev_um: np.ndarray, alpha_beta_gy: np.ndarray) -> np.ndarray:
        return np.full(np.broadcast_shapes(let_d_kev_um.shape, alpha_beta_gy.shape), self.value)

    rbe_min = rbe_max


@dataclass(frozen=True)
class McNamara2015(ProtonRBEModel):
    """McNamara et al. 2015 (see the module docstring); coefficients in Gy µm/keV etc."""

    p0: float = 0.99064
    p1: float = 0.35605
    p2: float = 1.1012
    p3: float = -0.0038703
    name: str = "mcnamara2015"

    def rbe_max(self, let_d_kev_um: np.ndarray, alpha_beta_gy: np.ndarray) -> np.ndarray:
        return self.p0 + self.p1 / alpha_beta_gy * let_d_kev_um

    def rbe_min(self, let_d_kev_um: np.ndarray, alpha_beta_gy: np.ndarray) -> np.ndarray:
        return self.p2 + self.p3 * np.sqrt(alpha_beta_gy) * let_d_kev_um


@dataclass(frozen=True)
class Wedenberg2013(ProtonRBEModel):
    """Wedenberg et al. 2013: RBE_max = 1 + q LET_d/(α/β)_x (q in Gy µm/keV), RBE_min = 1."""

    q: float = 0.434
    name: str = "wedenberg2013"

    def rbe_max(self, let_d_kev_um: np.ndarray, alpha_beta_gy: np.ndarray) -> np.ndarray:
        return 1.0 + self.q * let_d_kev_um / alpha_beta_gy

    def rbe_min(self, let_d_kev_um: np.ndarray, alpha_beta_gy: np.ndarray) -> np.ndarray:
        return np.ones(np.broadcast_shapes(let_d_kev_um.shape, alpha_beta_gy.shape))


@dataclass(frozen=True)
class Carabe2012(ProtonRBEModel):
    """Carabe-Fernandez et al. (see the module docstring); ``alpha_beta_ref_gy`` = 2.686 Gy."""

    p0: float = 0.843
    p1: float = 0.154
    p2: float = 1.09
    p3: float = 0.006
    alpha_beta_ref_gy: float = 2.686
    name: str = "carabe2012"

    def rbe_max(self, let_d_kev_um: np.ndarray, alpha_beta_gy: np.ndarray) -> np.ndarray:
        return self.p0 + self.p1 * self.alpha_beta_ref_gy / alpha_beta_gy * let_d_kev_um

    def rbe_min(self, let_d_kev_um: np.ndarray, alpha_beta_gy: np.ndarray) -> np.ndarray:
        return self.p2 + self.p3 * self.alpha_beta_ref_gy / alpha_beta_gy * let_d_kev_um


#: Proton RBE models by name.
PROTON_RBE_MODELS: dict[str, ProtonRBEModel] = {
    model.name: model for model in (ConstantRBE(), McNamara2015(), Wedenberg2013(), Carabe2012())
}


def get_proton_rbe_model(name: str | ProtonRBEModel) -> ProtonRBEModel:
    """The proton RBE model called ``name``; a model instance is returned unchanged."""
    if isinstance(name, ProtonRBEModel):
        return name
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    aliases = {"mcn": "mcnamara2015", "mcnamara": "mcnamara2015", "wed": "wedenberg2013",
               "wedenberg": "wedenberg2013", "car": "carabe2012", "carabe": "carabe2012",
               "rbe1.1": "constant", "constantrbe": "constant"}  # fmt: skip
    key = aliases.get(key, key)
    try:
        return PROTON_RBE_MODELS[key]
    except KeyError:
        raise UnknownNameError("proton RBE model", name, PROTON_RBE_MODELS) from None
