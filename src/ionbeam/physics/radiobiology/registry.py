"""The RBE models by name, for protons and ions: the one table that the planner, the
CLI, the plan file and ``plan.json`` use (see :mod:`ionbeam.registry`).

``none`` plans physical dose; ``constant`` is RBE 1.1 for protons (ICRU Report 78);
``mcnamara2015``, ``wedenberg2013`` and ``carabe2012`` are the LET-based proton models of
:mod:`ionbeam.physics.radiobiology.proton_rbe`; ``mkm`` is the mixed-field modified
microdosimetric kinetic model for ions (:mod:`ionbeam.physics.radiobiology.mkm`).
A new model (e.g. LEM) is one entry here plus its implementation module.
"""

from __future__ import annotations

from dataclasses import dataclass

from ionbeam.physics.particles import Particle
from ionbeam.physics.radiobiology.proton_rbe import PROTON_RBE_MODELS, ProtonRBEModel
from ionbeam.registry import Registry

__all__ = ["RBE_MODELS", "RBEModelEntry", "rbe_models_for"]


@dataclass(frozen=True)
class RBEModelEntry:
    """One RBE model: for which particles it holds (``protons``: Z = 1, ``ions``: Z > 1)
    and, for the LET-based proton models, the model itself (``proton_model``)."""

    name: str
    protons: bool
    ions: bool
    proton_model: ProtonRBEModel | None = None

    def applies_to(self, particle: Particle) -> bool:
        """Whether the model holds for ``particle``."""
        return self.protons if particle.z == 1 else self.ions


def _proton(name: str) -> RBEModelEntry:
    return RBEModelEntry(name, protons=True, ions=False, proton_model=PROTON_RBE_MODELS[name])


#: RBE model name → what it is and where it applies.
RBE_MODELS: Registry[RBEModelEntry] = Registry(
    "RBE model",
    {
        "none": RBEModelEntry("none", protons=True, ions=True),
        **{name: _proton(name) for name in PROTON_RBE_MODELS},
        "mkm": RBEModelEntry("mkm", protons=False, ions=True),
    },
)


def rbe_models_for(particle: Particle) -> tuple[str, ...]:
    """The names of the RBE models that hold for ``particle``."""
    return tuple(name for name, entry in RBE_MODELS.items() if entry.applies_to(particle))
