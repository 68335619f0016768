"""The machines by name (``cnao``, ``pimms``, ``medaustron``): the one table the CLI,
the plan file and ``plan.json`` look machine names up in (see :mod:`ionbeam.registry`).

A machine of one's own (e.g. from a commissioning file) needs no entry: pass the
:class:`~ionbeam.machine.facility.Machine` itself where a machine is asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from ionbeam.machine.facility import Machine, cnao_machine, medaustron_machine, pimms_machine
from ionbeam.registry import Registry

__all__ = ["MACHINES", "get_machine"]

#: Machine name → the function that builds it.
MACHINES: Registry[Callable[[], Machine]] = Registry(
    "machine", {"cnao": cnao_machine, "pimms": pimms_machine, "medaustron": medaustron_machine}
)


def get_machine(name: str) -> Machine:
    """The machine called ``name`` (one of :data:`MACHINES`; ``UnknownNameError`` lists
    them otherwise)."""
    return MACHINES[name]()
