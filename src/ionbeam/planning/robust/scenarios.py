"""Uncertainty scenarios: range errors, set-up errors, RBE errors and their combinations.

A :class:`Scenario` is a plain frozen value: a relative range error (the CT's
stopping-power ratios scaled by ``1 + range_error``, so +0.035 is a beam that
stops 3.5 % short, the patient being "denser" than planned), a rigid set-up
shift of the patient (mm, patient LPS axes) and a relative error of a constant RBE
(``rbe_error``: the RBE times ``1 + rbe_error``; protons' 1.1 is uncertain by about
±10 %, Paganetti 2014, *Phys. Med. Biol.* 59, R419). Its dose is computed on demand by
:mod:`.scenario_dose`; nothing here holds a matrix.

Standard sets (matRad's ``wcScen`` conventions, Wieser et al. 2017, *Med. Phys.*
44, e15): with range error r (default 3.5 %, the CT calibration margin of
Paganetti 2012, *Phys. Med. Biol.* 57, R99) and set-up error s (default 3 mm):

* ``"nominal"`` — one scenario;
* ``"9"`` — the nominal, ±s along x, y and z (one axis at a time) and ±r: 9;
* ``"21"`` — every shift of the 9-set (nominal and six) with each range error
  (−r, 0, +r): 7 × 3 = 21;
* :func:`sampled_scenarios` — systematic errors drawn from Gaussians (σ_range,
  σ_setup per axis) with an explicit ``rng``, the nominal first.

With an RBE error e (``scenario_set(…, rbe_error=e)``) every scenario of the set is
taken with the RBE times 1, 1 + e and 1 − e, in that order, one after the other
(27 for the 9-set): the three share the physical dose of their geometry, so a
scenario's dose is computed once and scaled.

Probabilities (for the expected-value objective) are equal within a set unless
given; worst-case objectives ignore them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ionbeam.errors import ConfigError, UnknownNameError

__all__ = [
    "DEFAULT_RANGE_ERROR",
    "DEFAULT_SETUP_ERROR_MM",
    "SCENARIO_SETS",
    "Scenario",
    "ScenarioSet",
    "sampled_scenarios",
    "scenario_set",
]

#: Default relative range (stopping-power) error: ±3.5 %.
DEFAULT_RANGE_ERROR = 0.035
#: Default rigid set-up error along each patient axis: ±3 mm.
DEFAULT_SETUP_ERROR_MM = 3.0
#: Names of the standard sets of :func:`scenario_set`.
SCENARIO_SETS = ("nominal", "9", "21")


@dataclass(frozen=True)
class Scenario:
    """One error scenario: ``range_error`` (relative SPR scaling − 1, e.g. 0.035) and
    ``shift_mm`` (the patient's rigid displacement, mm, LPS x, y, z), ``rbe_error``
    (relative change of a constant RBE, e.g. 0.1)."""

    range_error: float = 0.0
    shift_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rbe_error: float = 0.0

    def __post_init__(self) -> None:
        r = self.range_error
        if not (isinstance(r, (int, float)) and math.isfinite(r) and -0.5 < r < 0.5):
            raise ConfigError(
                f"a range error is a relative SPR change within ±0.5 (e.g. 0.035); got {r!r}"
            )
        shift = tuple(float(v) for v in self.shift_mm)
        if len(shift) != 3 or not all(math.isfinite(v) and abs(v) < 100.0 for v in shift):
            raise ConfigError(
                f"a set-up shift is three finite mm values (x, y, z) under 100 mm; "
                f"got {self.shift_mm!r}"
            )
        e = self.rbe_error
        if not (isinstance(e, (int, float)) and math.isfinite(e) and -0.5 < e < 0.5):
            raise ConfigError(
                f"an RBE error is a relative RBE change within ±0.5 (e.g. 0.1); got {e!r}"
            )
        object.__setattr__(self, "range_error", float(r))
        object.__setattr__(self, "shift_mm", shift)
        object.__setattr__(self, "rbe_error", float(e))

    @property
    def is_nominal(self) -> bool:
        """Whether this is the scenario without errors."""
        return self.range_error == 0.0 and self.shift_mm == (0.0, 0.0, 0.0) and not self.rbe_error

    @property
    def geometry(self) -> Scenario:
        """This scenario without its RBE error (what the physical dose depends on)."""
        return Scenario(self.range_error, self.shift_mm) if self.rbe_error else self

    @property
    def label(self) -> str:
        """A short name: ``nominal``, ``R+3.5% X-3mm`` …"""
        if self.is_nominal:
            return "nominal"
        parts = []
        if self.range_error:
            parts.append(f"R{100 * self.range_error:+.3g}%")
        for axis, value in zip("XYZ", self.shift_mm, strict=True):
            if value:
                parts.append(f"{axis}{value:+.3g}mm")
        if self.rbe_error:
            parts.append(f"RBE{100 * self.rbe_error:+.3g}%")
        return " ".join(parts)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        out: dict[str, object] = {"range_error": self.range_error, "shift_mm": list(self.shift_mm)}
        if self.rbe_error:
            out["rbe_error"] = self.rbe_error
        return out


@dataclass(frozen=True, eq=False)
class ScenarioSet:
    """Scenarios (the nominal first) and their ``probabilities`` (summing to 1)."""

    scenarios: tuple[Scenario, ...]
    probabilities: np.ndarray
    name: str = "custom"

    def __post_init__(self) -> None:
        scenarios = tuple(self.scenarios)
        if not scenarios or not scenarios[0].is_nominal:
            raise ConfigError("a scenario set starts with the nominal scenario (no errors)")
        p = np.array(self.probabilities, dtype=float, copy=True).reshape(-1)
        if p.size != len(scenarios) or not np.all(np.isfinite(p)) or np.any(p < 0):
            raise ConfigError(
                f"need one probability ≥ 0 per scenario ({len(scenarios)}); got {p.size}"
            )
        if not p.sum() > 0:
            raise ConfigError("scenario probabilities must not all be 0")
        p = p / p.sum()
        p.flags.writeable = False
        object.__setattr__(self, "scenarios", scenarios)
        object.__setattr__(self, "probabilities", p)

    def __len__(self) -> int:
        return len(self.scenarios)

    @classmethod
    def equal(cls, scenarios: tuple[Scenario, ...], name: str = "custom") -> ScenarioSet:
        """Scenarios with equal probabilities."""
        return cls(tuple(scenarios), np.ones(len(scenarios)), name)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (for plan settings and metrics)."""
        return {
            "name": self.name,
            "scenarios": [s.as_dict() for s in self.scenarios],
            "probabilities": [float(p) for p in self.probabilities],
        }


def scenario_set(
    name: str = "9",
    *,
    range_error: float = DEFAULT_RANGE_ERROR,
    setup_error_mm: float = DEFAULT_SETUP_ERROR_MM,
    rbe_error: float = 0.0,
) -> ScenarioSet:
    """The standard set ``name`` (``"nominal"``, ``"9"`` or ``"21"``; see the module
    docstring) for a relative ``range_error`` and a ``setup_error_mm`` per axis; with a
    relative ``rbe_error`` > 0 each of them also with the RBE × (1 ± rbe_error)."""
    key = str(name).strip().lower()
    if key not in SCENARIO_SETS:
        raise UnknownNameError("scenario set", name, SCENARIO_SETS)
    for label, value, top in (
        ("range error", range_error, 0.5),
        ("set-up error", setup_error_mm, 100),
        ("RBE error", rbe_error, 0.5),
    ):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value < top):
            raise ConfigError(f"the {label} must be a number in [0, {top}); got {value!r}")
    shifts = [(0.0, 0.0, 0.0)]
    if setup_error_mm > 0:
        for axis in range(3):
            for sign in (1.0, -1.0):
                shift = [0.0, 0.0, 0.0]
                shift[axis] = sign * float(setup_error_mm)
                shifts.append((shift[0], shift[1], shift[2]))
    ranges = [0.0] + ([float(range_error), -float(range_error)] if range_error > 0 else [])
    if key == "nominal":
        chosen = [Scenario()]
    elif key == "9":
        chosen = [Scenario(0.0, s) for s in shifts] + [Scenario(r) for r in ranges[1:]]
    else:
        chosen = [Scenario(r, s) for r in ranges for s in shifts]
    if rbe_error > 0:
        factors = (0.0, float(rbe_error), -float(rbe_error))
        chosen = [Scenario(c.range_error, c.shift_mm, e) for c in chosen for e in factors]
        key = f"{key}+rbe"
    return ScenarioSet.equal(tuple(chosen), key)


def sampled_scenarios(
    n: int,
    *,
    range_sd: float,
    setup_sd_mm: float | tuple[float, float, float],
    rng: np.random.Generator,
) -> ScenarioSet:
    """The nominal and ``n - 1`` scenarios of systematic errors drawn from Gaussians
    (``range_sd`` relative, ``setup_sd_mm`` per axis), equally probable: a Monte Carlo
    sample of the error distribution for the expected-value objective."""
    if not (isinstance(n, int) and n >= 1):
        raise ConfigError(f"the number of sampled scenarios must be an integer ≥ 1; got {n!r}")
    sd = np.broadcast_to(np.asarray(setup_sd_mm, dtype=float), (3,))
    if not (math.isfinite(range_sd) and range_sd >= 0 and np.all(np.isfinite(sd) & (sd >= 0))):
        raise ConfigError("standard deviations of the errors must be finite and ≥ 0")
    ranges = np.clip(rng.normal(0.0, range_sd, n - 1), -0.45, 0.45)
    shifts = np.clip(rng.normal(0.0, 1.0, (n - 1, 3)) * sd, -99.0, 99.0)
    drawn = [Scenario(float(r), (s[0], s[1], s[2])) for r, s in zip(ranges, shifts, strict=True)]
    return ScenarioSet.equal((Scenario(), *drawn), f"sampled{n}")
