"""Tissue parameters: the photon linear-quadratic model and the MKM parameters.

A tissue is described by its photon (reference radiation) LQ parameters α_x (Gy⁻¹)
and β_x (Gy⁻²) and, for ions, by the parameters of the modified microdosimetric
kinetic model (:class:`MKMParameters`). Built-in tissues (:data:`TISSUES`):

``tumour``
    α/β = 10 Gy, early-responding tissue and most tumours; α_x = 0.3 Gy⁻¹,
    β_x = 0.03 Gy⁻². α_x is a typical tumour-clonogen radiosensitivity (Webb & Nahum
    1993, Phys Med Biol 38:653, used a population mean of 0.35 Gy⁻¹).
``late_normal``
    α/β = 2 Gy, late-responding normal tissue (brain, spinal cord, chordoma);
    α_x = 0.1 Gy⁻¹, β_x = 0.05 Gy⁻², the α/β = 2 Gy values of GSI/HIT carbon-ion
    planning (chordoma, brain) and of matRad's default tissue class.
``hsg``
    Human salivary gland tumour cells, the NIRS/QST reference cell line:
    α_x = 0.313 Gy⁻¹, β_x = 0.0615 Gy⁻² for 200 kVp X-rays (Furusawa et al. 2000,
    Radiat Res 154:485, as tabulated by Friedrich et al. 2013, J Radiat Res 54:494) and
    the mMKM parameters of Inaniwa et al. 2010 (Phys Med Biol 55:6721, table 1):
    α₀ = 0.172 Gy⁻¹, β = 0.0615 Gy⁻², r_d = 0.32 µm, R_n = 3.9 µm.

Tissues are frozen; make a new one with ``dataclasses.replace(TISSUES["tumour"],
alpha_x_gy=0.25)`` or ``TissueParameters("prostate", 0.15, 0.1)``.

MKM parameters for a tissue without its own fit are derived from its photon LQ
parameters (:meth:`MKMParameters.from_photon_lq`): in the MKM the photon α is
α_x = α₀ + β z_1D,x, where z_1D,x is the dose-mean specific energy that the reference
photons deposit in a domain; keeping the HSG domain and nucleus radii, β = β_x and
α₀ = α_x − β_x z_1D,x with z_1D,x = (0.313 − 0.172)/0.0615 = 2.29 Gy, the value implied by
the HSG X-ray α_x and the Inaniwa 2010 α₀ and β. This assumes that the domain size, and
hence the microdosimetry of the reference photons, is that of HSG cells; α₀ may then come
out slightly negative for low-α tissues (late_normal: −0.015 Gy⁻¹), which is harmless:
it is the extrapolation of α = α₀ + β z*_1D to z*_1D = 0, where no real field is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ionbeam.errors import ConfigError, OutOfRangeError, UnknownNameError

__all__ = [
    "HSG_PHOTON_Z1D_GY",
    "TISSUES",
    "MKMParameters",
    "TissueParameters",
    "get_tissue",
]

#: Dose-mean specific energy of the reference photons (200 kVp X-rays) in an HSG domain
#: (r_d = 0.32 µm), Gy: (α_x − α₀)/β with α_x = 0.313 Gy⁻¹ (Furusawa et al. 2000) and
#: α₀ = 0.172 Gy⁻¹, β = 0.0615 Gy⁻² (Inaniwa et al. 2010).
HSG_PHOTON_Z1D_GY = (0.313 - 0.172) / 0.0615


def _positive(quantity: str, value: float, unit: str, high: float = math.inf) -> float:
    number = float(value)
    if not (math.isfinite(number) and 0.0 < number <= high):
        raise OutOfRangeError(quantity, value, 0.0, high, unit)
    return number


@dataclass(frozen=True)
class MKMParameters:
    """Parameters of the modified microdosimetric kinetic model (Kase 2006, Inaniwa 2010).

    ``alpha0_gy`` (Gy⁻¹): α in the limit z*_1D → 0; ``beta0_gy2`` (Gy⁻²): β, the same for
    all radiation qualities; ``domain_radius_um`` and ``nucleus_radius_um`` (µm): radii of
    the sub-nuclear domain and of the cell nucleus (which set the saturation parameter z₀).
    """

    alpha0_gy: float
    beta0_gy2: float
    domain_radius_um: float
    nucleus_radius_um: float

    def __post_init__(self) -> None:
        if not math.isfinite(float(self.alpha0_gy)):
            raise OutOfRangeError("MKM alpha0", self.alpha0_gy, -math.inf, math.inf, "Gy⁻¹")
        _positive("MKM beta0", self.beta0_gy2, "Gy⁻²", 10.0)
        _positive("MKM domain radius", self.domain_radius_um, "µm", 10.0)
        _positive("MKM nucleus radius", self.nucleus_radius_um, "µm", 50.0)
        if self.nucleus_radius_um <= self.domain_radius_um:
            raise ConfigError(
                f"the MKM nucleus radius ({self.nucleus_radius_um} µm) must exceed the "
                f"domain radius ({self.domain_radius_um} µm); check the two values"
            )

    @property
    def saturation_z0_gy(self) -> float:
        """Saturation parameter z₀ = R_n² / (r_d √(β (r_d² + R_n²))), Gy (Kase et al. 2006)."""
        r_d, r_n = self.domain_radius_um, self.nucleus_radius_um
        return r_n**2 / (r_d * math.sqrt(self.beta0_gy2 * (r_d**2 + r_n**2)))

    @classmethod
    def from_photon_lq(
        cls,
        alpha_x_gy: float,
        beta_x_gy2: float,
        *,
        domain_radius_um: float = 0.32,
        nucleus_radius_um: float = 3.9,
        photon_z1d_gy: float = HSG_PHOTON_Z1D_GY,
    ) -> MKMParameters:
        """MKM parameters of a tissue known only by its photon α_x and β_x: β = β_x and
        α₀ = α_x − β_x · z_1D,x (see the module docstring)."""
        return cls(
            alpha0_gy=float(alpha_x_gy) - float(beta_x_gy2) * float(photon_z1d_gy),
            beta0_gy2=float(beta_x_gy2),
            domain_radius_um=domain_radius_um,
            nucleus_radius_um=nucleus_radius_um,
        )


@dataclass(frozen=True)
class TissueParameters:
    """A tissue: ``name``, photon LQ ``alpha_x_gy`` (Gy⁻¹) and ``beta_x_gy2`` (Gy⁻²), and
    optionally its own ``mkm`` parameters (otherwise derived from α_x and β_x)."""

    name: str
    alpha_x_gy: float
    beta_x_gy2: float
    mkm: MKMParameters | None = None

    def __post_init__(self) -> None:
        _positive(f"alpha_x of tissue {self.name!r}", self.alpha_x_gy, "Gy⁻¹", 10.0)
        _positive(f"beta_x of tissue {self.name!r}", self.beta_x_gy2, "Gy⁻²", 10.0)

    @property
    def alpha_beta_gy(self) -> float:
        """α_x/β_x, Gy."""
        return self.alpha_x_gy / self.beta_x_gy2

    def mkm_parameters(self) -> MKMParameters:
        """The tissue's MKM parameters: its own, or derived from its photon LQ parameters."""
        if self.mkm is not None:
            return self.mkm
        return MKMParameters.from_photon_lq(self.alpha_x_gy, self.beta_x_gy2)


#: Built-in tissues by name (see the module docstring for values and sources).
TISSUES: dict[str, TissueParameters] = {
    "tumour": TissueParameters("tumour", 0.3, 0.03),
    "late_normal": TissueParameters("late_normal", 0.1, 0.05),
    "hsg": TissueParameters("hsg", 0.313, 0.0615, MKMParameters(0.172, 0.0615, 0.32, 3.9)),
}

_ALIASES = {"tumor": "tumour", "normal": "late_normal", "hsg_cells": "hsg"}


def get_tissue(name: str | TissueParameters) -> TissueParameters:
    """The built-in tissue called ``name``; a ``TissueParameters`` is returned unchanged."""
    if isinstance(name, TissueParameters):
        return name
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return TISSUES[key]
    except KeyError:
        raise UnknownNameError("tissue", name, TISSUES) from None
