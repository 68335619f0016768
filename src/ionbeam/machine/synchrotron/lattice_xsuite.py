"""Build an Xsuite line from a :class:`RingLayout` (the only place that knows Xsuite's elements).

Xsuite (``xtrack``) is imported lazily, inside the functions, because its
import takes about a second. Dipoles are exact rectangular bends
(``bend-kick-bend`` core, one kick: exact for a pure dipole field, and
fast to track) with full edge maps; quadrupoles and sextupoles are thick.
Each family's strength is an Xsuite variable ``k_<family>`` so that
matching can vary it.

Markers: ``start`` (s = 0), ``es_entry``/``es_exit`` (the electrostatic
septum, where the septum aperture goes), ``betatron_core`` (a zero-frequency
cavity, i.e. the same energy gain every turn for every particle, which is
what a betatron core's induced voltage does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ionbeam.machine.synchrotron.layout import RingLayout
from ionbeam.physics.particles import Particle, get_particle

if TYPE_CHECKING:  # pragma: no cover
    import xtrack as xt

__all__ = [
    "RING_APERTURE_X_M",
    "RING_APERTURE_Y_M",
    "build_line",
    "knob_name",
    "reference_particle",
]

#: Half-apertures of ionbeam's model vacuum chamber (an ionbeam assumption,
#: generous compared with the PIMMS good-field region so that the septum,
#: not the chamber, decides what is extracted), m.
RING_APERTURE_X_M = 0.08
RING_APERTURE_Y_M = 0.04
_EV_PER_MEV = 1.0e6


def knob_name(family: str) -> str:
    """The Xsuite variable that holds a family's strength."""
    return f"k_{family}"


def reference_particle(particle: str | Particle, energy_mev_u: float) -> xt.Particles:
    """Xsuite reference particle for a bare ion of kinetic energy ``energy_mev_u``."""
    import xtrack as xt

    ion = get_particle(particle)
    return xt.Particles(
        mass0=ion.mass_mev * _EV_PER_MEV,
        q0=float(ion.z),
        kinetic_energy0=energy_mev_u * ion.a * _EV_PER_MEV,
    )


def _new_family_elements(env: Any, layout: RingLayout) -> None:
    import xtrack as xt

    for name, family in layout.families.items():
        if family.kind == "dipole":
            env.new(
                name,
                xt.Bend,
                length=family.length_m,
                angle=family.angle_rad,
                edge_entry_angle=family.edge_angle_rad,
                edge_exit_angle=family.edge_angle_rad,
                model="bend-kick-bend",
                edge_entry_model="full",
                edge_exit_model="full",
                num_multipole_kicks=1,
            )
        elif family.kind == "quadrupole":
            env.new(name, xt.Quadrupole, length=family.length_m, k1=knob_name(name))
        else:
            env.new(name, xt.Sextupole, length=family.length_m, k2=knob_name(name))


def build_line(
    layout: RingLayout,
    *,
    particle: str | Particle = "proton",
    energy_mev_u: float = 200.0,
    septum_aperture: bool = False,
    ring_aperture: bool = False,
    betatron_core_voltage_v: float = 0.0,
    septum_angle_rad: float = 0.0,
) -> xt.Line:
    """The Xsuite line of ``layout`` with its reference particle.

    ``septum_aperture`` puts the septum wires (x ≥ ``layout.septum.x_m`` is
    outside the ring) at the septum entrance and exit; ``ring_aperture`` puts
    the model vacuum chamber at every quadrupole; ``betatron_core_voltage_v``
    is the betatron core's voltage per turn (V; the energy gain per turn is
    Z e V); ``septum_angle_rad`` tilts the wire plane (aligned with the
    extracted beam, as a real septum is), so that the exit aperture sits at
    x_m + angle × length.
    """
    import xtrack as xt

    env = xt.Environment()
    env.particle_ref = reference_particle(particle, energy_mev_u)
    for family, k in layout.strengths.items():
        env[knob_name(family)] = k
    _new_family_elements(env, layout)

    components = []
    counters: dict[str, int] = {}
    for family, s in zip(layout.element_families, layout.element_s_m, strict=True):
        i = counters.get(family, 0)
        counters[family] = i + 1
        name = f"{family}.{i}"
        env.new(name, family)
        components.append(env.place(name, at=s))
        if ring_aperture and layout.families[family].kind == "quadrupole":
            ap = env.new(
                f"chamber.{family}.{i}",
                xt.LimitRect,
                min_x=-RING_APERTURE_X_M,
                max_x=RING_APERTURE_X_M,
                min_y=-RING_APERTURE_Y_M,
                max_y=RING_APERTURE_Y_M,
            )
            half = layout.families[family].length_m / 2
            components.append(env.place(ap, at=s - half - 1e-6))

    septum = layout.septum
    exit_x = septum.x_m + septum_angle_rad * septum.length_m
    for name, s, wire in (
        ("es_entry", septum.s_m, septum.x_m),
        ("es_exit", septum.s_m + septum.length_m, exit_x),
    ):
        if septum_aperture:
            lo, hi = (-1.0, wire) if septum.x_m > 0 else (wire, 1.0)
            env.new(name, xt.LimitRect, min_x=lo, max_x=hi, min_y=-1.0, max_y=1.0)
        else:
            env.new(name, xt.Marker)
        components.append(env.place(name, at=s))
    env.new("betatron_core", xt.Cavity, frequency=0.0, voltage=betatron_core_voltage_v,
            phase=np.pi / 2)  # fmt: skip
    components.append(env.place("betatron_core", at=layout.betatron_core_s_m))
    env.new("start", xt.Marker)
    components.insert(0, env.place("start", at=0.0))
    return env.new_line(components=components, length=layout.circumference_m)
