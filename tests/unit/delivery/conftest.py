"""Hand-made plans for the delivery tests (no dose engine): square grids of spots per layer."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from ionbeam.delivery import DeliveryOptions, MonitorChamber, MonitorSystem
from ionbeam.machine import Machine, cnao_machine
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap


@pytest.fixture(scope="session")
def machine() -> Machine:
    return cnao_machine()


def grid(n: int, spacing_mm: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """An n × n grid of spot positions centred on the axis, row by row."""
    axis = (np.arange(n) - (n - 1) / 2) * spacing_mm
    gx, gy = np.meshgrid(axis, axis)
    return gx.ravel(), gy.ravel()


@pytest.fixture(scope="session")
def make_plan(machine: Machine) -> Callable[..., Plan]:
    """``make_plan(particle, layers=[(library_index_from_top, weights), ...], beams=1, n=…)``:
    each layer an n × n grid at the library energy ``index`` steps below the top."""

    def factory(
        particle: str = "carbon",
        layers: Sequence[tuple[int, float | np.ndarray]] = ((0, 1e5),),
        *,
        n: int = 5,
        beams: int = 1,
        shuffle: int | None = None,
    ) -> Plan:
        library = machine.energy_library(particle).energies_mev_u[::-1]
        x, y = grid(n)
        columns: dict[str, list[np.ndarray]] = {"e": [], "x": [], "y": [], "w": []}
        rng = np.random.default_rng(shuffle)
        for index, weight in layers:
            order = rng.permutation(x.size) if shuffle is not None else np.arange(x.size)
            columns["e"].append(np.full(x.size, library[index]))
            columns["x"].append(x[order])
            columns["y"].append(y[order])
            columns["w"].append(np.broadcast_to(np.asarray(weight, float), x.shape).copy())
        spots = SpotMap(*(np.concatenate(columns[k]) for k in ("e", "x", "y", "w")))
        fields = tuple(
            Beam(f"B{b + 1}", BeamGeometry(gantry_deg=90.0 * b), spots) for b in range(beams)
        )
        return Plan(particle, fields, Prescription("PTV", 2.0))

    return factory


def ideal_monitors(**changes: float) -> MonitorSystem:
    """Noise-free chambers (gains may be changed: ``primary_gain``, ``secondary_gain``)."""
    return MonitorSystem(
        primary=MonitorChamber(gain=changes.get("primary_gain", 1.0), signal_spread=0.0),
        secondary=MonitorChamber(gain=changes.get("secondary_gain", 1.0), signal_spread=0.0),
    )


@pytest.fixture(scope="session")
def ideal() -> Callable[..., DeliveryOptions]:
    """Options with noise-free, calibrated chambers (plus any other option)."""
    return lambda **options: DeliveryOptions(monitors=ideal_monitors(), **options)
