"""Vectorised electronic stopping-power kernels (pure functions on arrays).

Model (why it is written here rather than taken from a library: the package
may depend on numpy/scipy only, and no maintained Python library gives
Bethe stopping with all corrections for arbitrary compositions):

* Above ``BETHE_MIN_MEV_U`` (8 MeV/u): the Bethe formula with the exact
  maximum energy transfer, the Sternheimer–Peierls (1971) general density
  effect, the Barkas–Berger (1964) shell correction (valid for βγ > 0.13,
  i.e. above 7.9 MeV/u), the Barkas (z³) term of Jackson & McCarthy (1972,
  ×2 as recommended by Lindhard 1976; power-law F(V) as in Weaver & Westphal
  2002) and the Bloch (z⁴) term, all evaluated per element and electron-
  weighted for compounds. Agrees with NIST PSTAR (water, I = 75 eV) to
  better than 0.7 % from 10 to 500 MeV.
* Below ``LOW_ENERGY_MAX_MEV_U`` (0.8 MeV/u): the Ziegler–Biersack–Littmark
  (1985) proton stopping of each element, combined by Bragg additivity.
* In between: cubic Hermite interpolation of ln S against ln T, matching
  values and slopes at both ends (within ~1 % of PSTAR for water).
* Ions: the effective charge of Anthony & Landford (1982) scales the
  proton-like stopping (z_eff² prefactor); the Barkas, Bloch and leading
  Mott (π z α β / 2) terms use the bare charge. Carbon agrees with ICRU 73
  (same I-value) within 0.3 % above 20 MeV/u and within ~10 % at 1–10 MeV/u,
  where only the last millimetre of range is spent.

All energies are kinetic energies per nucleon in MeV/u; stopping powers are
mass electronic stopping powers in MeV cm²/g of the whole ion.
"""

from __future__ import annotations

import numpy as np
from scipy.special import psi

__all__ = [
    "BETHE_MIN_MEV_U",
    "K_MEV_CM2_MOL",
    "LOW_ENERGY_MAX_MEV_U",
    "MaterialArrays",
    "effective_charge",
    "mass_stopping_power_kernel",
]

#: 4π N_A r_e² m_e c², MeV cm²/mol (PDG).
K_MEV_CM2_MOL = 0.307075
ELECTRON_MASS_MEV = 0.51099895000
FINE_STRUCTURE = 7.2973525693e-3
EULER_GAMMA = 0.5772156649015329
#: Lowest energy per nucleon where the Bethe formula (with shell corrections) is used.
BETHE_MIN_MEV_U = 8.0
#: Highest energy per nucleon where the ZBL low-energy fits are used.
LOW_ENERGY_MAX_MEV_U = 0.8
_EV_PER_1E15_TO_MEV_CM2_MOL = 602.214076  # eV/(1e15 atoms/cm²) × N_A → MeV cm²/mol
_ZBL_KNEE_KEV_U = 25.0


class MaterialArrays:
    """Per-element arrays of a material, prepared once for the kernels.

    ``z``, ``atomic_weight``, ``mass_fraction``, ``electron_fraction`` (fraction
    of the electrons carried by each element), ``i_compound_ev`` (I of each
    element in the compound), ``zbl`` (n_elements × 8) and the material scalars
    ``z_over_a``, ``i_value_ev``, ``density_g_cm3``.
    """

    __slots__ = (
        "atomic_weight",
        "density_g_cm3",
        "electron_fraction",
        "i_compound_ev",
        "i_value_ev",
        "mass_fraction",
        "mean_z",
        "z",
        "z_over_a",
        "zbl",
    )

    def __init__(
        self,
        z: np.ndarray,
        atomic_weight: np.ndarray,
        mass_fraction: np.ndarray,
        i_compound_ev: np.ndarray,
        zbl: np.ndarray,
        *,
        i_value_ev: float,
        density_g_cm3: float,
    ) -> None:
        self.z = np.asarray(z, dtype=float)
        self.atomic_weight = np.asarray(atomic_weight, dtype=float)
        self.mass_fraction = np.asarray(mass_fraction, dtype=float)
        self.i_compound_ev = np.asarray(i_compound_ev, dtype=float)
        self.zbl = np.asarray(zbl, dtype=float)
        electrons = self.mass_fraction * self.z / self.atomic_weight
        self.z_over_a = float(electrons.sum())
        self.electron_fraction = electrons / self.z_over_a
        self.mean_z = float(self.electron_fraction @ self.z)
        self.i_value_ev = float(i_value_ev)
        self.density_g_cm3 = float(density_g_cm3)


def effective_charge(z: int, beta: np.ndarray, target_z: float) -> np.ndarray:
    """Effective charge of an ion of charge ``z`` at speed ``beta`` in a target of mean
    atomic number ``target_z`` (Anthony & Landford 1982, Phys. Rev. A 25, 1868:
    z [1 − A exp(−B β z^(−2/3))]), bounded below by Barkas' z [1 − exp(−125 β z^(−2/3))],
    which stays positive at the lowest speeds; protons are returned as 1 (their charge
    state is in the ZBL fits)."""
    if z == 1:
        return np.ones_like(beta)
    a = 1.16 - target_z * (1.91e-3 - 1.26e-5 * target_z)
    b = (1.18 - target_z * (7.5e-3 - 4.53e-5 * target_z)) / FINE_STRUCTURE
    scaled = beta * z ** (-2.0 / 3.0)
    anthony_landford = 1.0 - a * np.exp(-b * scaled)
    barkas = 1.0 - np.exp(-125.0 * scaled)
    return z * np.maximum(anthony_landford, barkas)


def _kinematics(t_mev_u: np.ndarray, mass_u_mev: float) -> tuple[np.ndarray, np.ndarray]:
    gamma = 1.0 + t_mev_u / mass_u_mev
    beta2 = 1.0 - 1.0 / gamma**2
    return beta2, gamma


def _density_effect(x: np.ndarray, material: MaterialArrays) -> np.ndarray:
    """Sternheimer & Peierls (1971) general density-effect correction δ(X), X = log10(βγ)."""
    plasma_ev = 28.816 * np.sqrt(material.density_g_cm3 * material.z_over_a)
    c_bar = 2.0 * np.log(material.i_value_ev / plasma_ev) + 1.0
    if material.density_g_cm3 < 0.01:  # gas
        x1 = 4.0 if c_bar < 12.25 else 5.0
        bands = ((10.0, 1.6), (10.5, 1.7), (11.0, 1.8), (11.5, 1.9), (12.25, 2.0), (13.804, 2.0))
        x0 = next((v for limit, v in bands if c_bar < limit), 0.326 * c_bar - 2.5)
    elif material.i_value_ev < 100.0:
        x1, x0 = 2.0, (0.2 if c_bar < 3.681 else 0.326 * c_bar - 1.0)
    else:
        x1, x0 = 3.0, (0.2 if c_bar < 5.215 else 0.326 * c_bar - 1.5)
    a = (c_bar - 4.606 * x0) / (x1 - x0) ** 3
    delta = np.where(x >= x1, 4.606 * x - c_bar, 4.606 * x - c_bar + a * (x1 - x) ** 3)
    return np.where(x < x0, 0.0, delta)


def _shell_correction(eta2: np.ndarray, i_ev: np.ndarray) -> np.ndarray:
    """Barkas & Berger (1964) shell correction C(η, I) (η = βγ > 0.13), per element."""
    e2 = 1.0 / eta2[..., None]
    first = (0.422377 * e2 + 0.0304043 * e2**2 - 0.00038106 * e2**3) * 1e-6 * i_ev**2
    second = (3.858019 * e2 - 0.1667989 * e2**2 + 0.00157955 * e2**3) * 1e-9 * i_ev**3
    return first + second


def _barkas_factor(z: int, betagamma: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """Relative Barkas correction 2 z F(V)/√Z₂, V = βγ/(α√Z₂) (Jackson & McCarthy 1972 ×2,
    F(V) = 0.0014 (10/V)² for V > 1), per element."""
    v = betagamma[..., None] / (FINE_STRUCTURE * np.sqrt(z2))
    f_v = np.where(v > 1.0, 0.0014 * (10.0 / np.maximum(v, 1.0)) ** 2, 0.0)
    return 2.0 * z * f_v / np.sqrt(z2)


def _bloch(z: int, beta: np.ndarray) -> np.ndarray:
    """Bloch correction L₂ = ψ(1) − Re ψ(1 + i y), y = zα/β."""
    y = z * FINE_STRUCTURE / beta
    return -EULER_GAMMA - np.real(psi(1.0 + 1j * y))


def bethe_stopping(
    t_mev_u: np.ndarray, z: int, a: int, mass_mev: float, material: MaterialArrays
) -> np.ndarray:
    """Bethe mass stopping power (MeV cm²/g) with density, shell, Barkas and Bloch
    corrections; valid above ``BETHE_MIN_MEV_U``."""
    beta2, gamma = _kinematics(t_mev_u, mass_mev / a)
    beta = np.sqrt(beta2)
    eta2 = beta2 * gamma**2
    ratio = ELECTRON_MASS_MEV / mass_mev
    t_max = 2.0 * ELECTRON_MASS_MEV * eta2 / (1.0 + 2.0 * gamma * ratio + ratio**2)
    log_term = 0.5 * np.log(2.0 * ELECTRON_MASS_MEV * eta2 * t_max * 1e12 / material.i_value_ev**2)
    delta = _density_effect(np.log10(np.sqrt(eta2)), material)
    shell = _shell_correction(eta2, material.i_compound_ev) / material.z
    barkas = _barkas_factor(z, np.sqrt(eta2), material.z)
    w = material.electron_fraction
    mott = 0.5 * np.pi * FINE_STRUCTURE * z * beta
    stopping_number = (
        log_term * (1.0 + barkas @ w) - beta2 - 0.5 * delta - shell @ w + _bloch(z, beta) + mott
    )
    z_eff = effective_charge(z, beta, material.mean_z)
    return K_MEV_CM2_MOL * material.z_over_a * z_eff**2 / beta2 * stopping_number


def zbl_proton_stopping(t_mev_u: np.ndarray, material: MaterialArrays) -> np.ndarray:
    """ZBL (1985) proton electronic stopping (MeV cm²/g), Bragg additivity over elements;
    below 25 keV/u the velocity-proportional extrapolation of the ZBL tables."""
    e_kev = np.maximum(t_mev_u * 1e3, _ZBL_KNEE_KEV_U)[..., None]
    c = material.zbl
    s_low = c[:, 0] * e_kev ** c[:, 1] + c[:, 2] * e_kev ** c[:, 3]
    s_high = c[:, 4] / e_kev ** c[:, 5] * np.log(c[:, 6] / e_kev + c[:, 7] * e_kev)
    per_atom = s_low * s_high / (s_low + s_high)  # eV / (1e15 atoms/cm²)
    below = np.minimum(t_mev_u * 1e3 / _ZBL_KNEE_KEV_U, 1.0)[..., None]
    per_atom = per_atom * below ** np.where(material.z > 6, 0.45, 0.25)
    per_gram = per_atom * _EV_PER_1E15_TO_MEV_CM2_MOL / material.atomic_weight
    return per_gram @ material.mass_fraction


def _low_energy_stopping(
    t_mev_u: np.ndarray, z: int, mass_mev: float, a: int, material: MaterialArrays
) -> np.ndarray:
    beta2, _ = _kinematics(t_mev_u, mass_mev / a)
    z_eff = effective_charge(z, np.sqrt(beta2), material.mean_z)
    return z_eff**2 * zbl_proton_stopping(t_mev_u, material)


def mass_stopping_power_kernel(
    t_mev_u: np.ndarray, z: int, a: int, mass_mev: float, material: MaterialArrays
) -> np.ndarray:
    """Electronic mass stopping power (MeV cm²/g) of an ion (charge ``z``, mass number
    ``a``, rest mass ``mass_mev``) at kinetic energies per nucleon ``t_mev_u`` > 0."""
    t = np.asarray(t_mev_u, dtype=float)
    out = np.empty_like(t)
    high = t >= BETHE_MIN_MEV_U
    low = t <= LOW_ENERGY_MAX_MEV_U
    mid = ~(high | low)
    if high.any():
        out[high] = bethe_stopping(t[high], z, a, mass_mev, material)
    if low.any():
        out[low] = _low_energy_stopping(t[low], z, mass_mev, a, material)
    if mid.any():
        out[mid] = _bridge(t[mid], z, a, mass_mev, material)
    return out


def _bridge(t: np.ndarray, z: int, a: int, mass_mev: float, material: MaterialArrays) -> np.ndarray:
    """Cubic Hermite interpolation of ln S in ln T between the ZBL and Bethe regimes."""
    t0, t1 = LOW_ENERGY_MAX_MEV_U, BETHE_MIN_MEV_U
    h = 1e-4
    ends = np.array([t0 * (1 - h), t0, t0 * (1 + h)])
    y_low = np.log(_low_energy_stopping(ends, z, mass_mev, a, material))
    ends = np.array([t1 * (1 - h), t1, t1 * (1 + h)])
    y_high = np.log(bethe_stopping(ends, z, a, mass_mev, material))
    x0, x1 = np.log(t0), np.log(t1)
    width = x1 - x0
    slope0 = (y_low[2] - y_low[0]) / (np.log1p(h) - np.log1p(-h)) * width
    slope1 = (y_high[2] - y_high[0]) / (np.log1p(h) - np.log1p(-h)) * width
    s = (np.log(t) - x0) / width
    h00 = 2 * s**3 - 3 * s**2 + 1
    h10 = s**3 - 2 * s**2 + s
    h01 = -2 * s**3 + 3 * s**2
    h11 = s**3 - s**2
    return np.exp(h00 * y_low[1] + h10 * slope0 + h01 * y_high[1] + h11 * slope1)
