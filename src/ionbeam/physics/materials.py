"""Materials: elemental composition, density and mean excitation energy (I-value).

Body tissues follow ICRU Report 44 (compositions and densities as tabulated by
Hubbell & Seltzer, NIST X-ray attenuation database, Table 2, with the I-values
given there); lung is given the density of inflated lung of ICRU Report 46
(0.26 g/cm³) with the ICRU 44 lung-tissue composition. Plastics, air and
aluminium come from the same NIST table.

Water's I-value is a parameter everywhere it matters. The default,
``WATER_I_VALUE_EV`` = 78 eV, is the value recommended by ICRU Report 90
(2016), the current consensus (also adopted by the 2009 erratum of ICRU 73 for
carbon ions and by Geant4's G4_WATER); pass 75 eV to reproduce ICRU 49 / NIST
PSTAR. The 78 eV value lengthens proton ranges by about 0.4 % compared with
75 eV.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ionbeam.errors import ConfigError, OutOfRangeError, UnknownNameError
from ionbeam.physics._elements import get_element

__all__ = [
    "AVOGADRO",
    "MATERIALS",
    "WATER_I_VALUE_EV",
    "Material",
    "bragg_additivity_i_value",
    "get_material",
    "resolve_material",
]

#: Avogadro constant, 1/mol.
AVOGADRO = 6.02214076e23
#: Default mean excitation energy of liquid water, eV (ICRU 90; see module docstring).
WATER_I_VALUE_EV = 78.0

_FRACTION_TOLERANCE = 1e-3


class _FrozenMapping(Mapping[int, float]):
    """An immutable, hashable ``{Z: mass fraction}`` mapping (sorted by Z)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[int, float]) -> None:
        self._items = tuple(sorted((int(z), float(w)) for z, w in items.items()))

    def __getitem__(self, key: int) -> float:
        for z, w in self._items:
            if z == key:
                return w
        raise KeyError(key)

    def __iter__(self) -> Iterator[int]:
        return (z for z, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return repr(dict(self._items))


@dataclass(frozen=True)
class Material:
    """A homogeneous material.

    ``mass_fractions`` maps atomic number Z to weight fraction; fractions must be
    non-negative and sum to 1 within 0.1 % (they are renormalised exactly).
    ``density_g_cm3`` is the mass density and ``i_value_ev`` the mean excitation
    energy (use :func:`bragg_additivity_i_value` for a composition without a
    measured value).
    """

    name: str
    density_g_cm3: float
    mass_fractions: Mapping[int, float]
    i_value_ev: float

    def __post_init__(self) -> None:
        _check_positive("density of " + self.name, self.density_g_cm3, 1e-7, 30.0, "g/cm³")
        _check_positive("I-value of " + self.name, self.i_value_ev, 5.0, 2000.0, "eV")
        object.__setattr__(self, "mass_fractions", _normalised(self.name, self.mass_fractions))

    @property
    def z_over_a(self) -> float:
        """Mean ratio of atomic number to atomic weight, <Z/A> (mol/g)."""
        return sum(w * z / get_element(z).atomic_weight for z, w in self.mass_fractions.items())

    @property
    def electron_density_per_cm3(self) -> float:
        """Electrons per cm³."""
        return self.density_g_cm3 * AVOGADRO * self.z_over_a

    def with_i_value(self, i_value_ev: float) -> Material:
        """A copy with another mean excitation energy (eV)."""
        return replace(self, i_value_ev=float(i_value_ev))

    def with_density(self, density_g_cm3: float) -> Material:
        """A copy with another mass density (g/cm³)."""
        return replace(self, density_g_cm3=float(density_g_cm3))


def _check_positive(quantity: str, value: Any, low: float, high: float, unit: str) -> None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OutOfRangeError(quantity, value, low, high, unit) from None
    if not (math.isfinite(number) and low <= number <= high):
        raise OutOfRangeError(quantity, value, low, high, unit)


def _normalised(name: str, fractions: Mapping[int, float]) -> _FrozenMapping:
    if not isinstance(fractions, Mapping) or not fractions:
        raise ConfigError(
            f"material {name!r} needs mass fractions {{Z: w}}; got {fractions!r}; "
            "give at least one element"
        )
    for z, w in fractions.items():
        get_element(z)  # raises UnknownNameError for unsupported elements
        if not (isinstance(w, numbers.Real) and math.isfinite(w) and w >= 0.0):
            raise ConfigError(
                f"material {name!r}: mass fraction of Z={z} must be a finite number >= 0; got {w!r}"
            )
    total = float(sum(fractions.values()))
    if abs(total - 1.0) > _FRACTION_TOLERANCE:
        raise ConfigError(
            f"material {name!r}: mass fractions must sum to 1; got {total:.6g}; "
            "give weight fractions, not percentages"
        )
    return _FrozenMapping({int(z): float(w) / total for z, w in fractions.items() if w > 0})


def bragg_additivity_i_value(mass_fractions: Mapping[int, float]) -> float:
    """Mean excitation energy (eV) of a compound by Bragg additivity:
    ln I = Σ wᵢ (Z/A)ᵢ ln Iᵢ / Σ wᵢ (Z/A)ᵢ, with the ICRU 37 I-values of elements
    bound in condensed compounds (H 19.2, C 81, N 82, O 106 eV, …; water gives 75.3 eV).
    """
    fractions = _normalised("compound", mass_fractions)
    numerator = 0.0
    denominator = 0.0
    for z, w in fractions.items():
        element = get_element(z)
        weight = w * z / element.atomic_weight
        numerator += weight * math.log(element.i_value_in_compound_ev)
        denominator += weight
    return math.exp(numerator / denominator)


# Name -> (density g/cm³, {Z: mass fraction}, I-value eV or None for water's default).
# fmt: off
_LIBRARY: dict[str, tuple[float, dict[int, float], float | None]] = {
    "water": (1.0, {1: 0.111894, 8: 0.888106}, None),
    "air": (0.00120479, {6: 0.000124, 7: 0.755268, 8: 0.231781, 18: 0.012827}, 85.7),
    "adipose": (0.95, {1: 0.114, 6: 0.598, 7: 0.007, 8: 0.278, 11: 0.001, 16: 0.001,
                       17: 0.001}, 64.8),
    "muscle": (1.05, {1: 0.102, 6: 0.143, 7: 0.034, 8: 0.710, 11: 0.001, 15: 0.002, 16: 0.003,
                      17: 0.001, 19: 0.004}, 74.6),
    "brain": (1.04, {1: 0.107, 6: 0.145, 7: 0.022, 8: 0.712, 11: 0.002, 15: 0.004, 16: 0.002,
                     17: 0.003, 19: 0.003}, 73.9),
    "lung": (0.26, {1: 0.103, 6: 0.105, 7: 0.031, 8: 0.749, 11: 0.002, 15: 0.002, 16: 0.003,
                    17: 0.003, 19: 0.002}, 75.2),
    "cortical_bone": (1.92, {1: 0.034, 6: 0.155, 7: 0.042, 8: 0.435, 11: 0.001, 12: 0.002,
                             15: 0.103, 16: 0.003, 20: 0.225}, 112.0),
    "soft_tissue": (1.06, {1: 0.102, 6: 0.143, 7: 0.034, 8: 0.708, 11: 0.002, 15: 0.003,
                           16: 0.003, 17: 0.002, 19: 0.003}, 74.7),
    "pmma": (1.19, {1: 0.080541, 6: 0.599846, 8: 0.319613}, 74.0),
    "polyethylene": (0.93, {1: 0.143716, 6: 0.856284}, 57.4),
    "aluminium": (2.699, {13: 1.0}, 166.0),
}
# fmt: on

_ALIASES = {
    "h2o": "water",
    "liquid_water": "water",
    "bone": "cortical_bone",
    "compact_bone": "cortical_bone",
    "adipose_tissue": "adipose",
    "fat": "adipose",
    "skeletal_muscle": "muscle",
    "tissue": "soft_tissue",
    "lucite": "pmma",
    "perspex": "pmma",
    "pe": "polyethylene",
    "aluminum": "aluminium",
    "al": "aluminium",
}

#: Names accepted by :func:`get_material`.
MATERIALS: tuple[str, ...] = tuple(_LIBRARY)


def get_material(name: str, *, i_value_ev: float | None = None) -> Material:
    """The library material called ``name`` (see ``MATERIALS``), optionally with
    another I-value (eV). Water takes ``WATER_I_VALUE_EV`` unless told otherwise."""
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _LIBRARY:
        raise UnknownNameError("material", name, MATERIALS)
    density, fractions, default_i = _LIBRARY[key]
    if i_value_ev is None:
        i_value_ev = WATER_I_VALUE_EV if default_i is None else default_i
    return Material(key, density, mass_fractions=fractions, i_value_ev=float(i_value_ev))


def resolve_material(material: str | Material) -> Material:
    """A ``Material`` returned unchanged, or the library material of that name."""
    if isinstance(material, Material):
        return material
    return get_material(material)
