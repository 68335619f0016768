"""Small synthetic patients, plans and doses for the report tests (no dose engine)."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.evaluation import dose_metrics
from ionbeam.patient import Grid, Patient
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap
from ionbeam.planning.dose_grid import make_dose_grid, masks_on_grid
from ionbeam.report import PlanResult

PRESCRIPTION_GY = 2.0


@pytest.fixture(scope="session")
def patient() -> Patient:
    """A 4 mm water phantom: 45³ voxels, structures Body and Target (40 mm cube)."""
    return make_phantom("water", spacing_mm=4.0)


@pytest.fixture(scope="session")
def dose_grid(patient: Patient) -> Grid:
    """An 8 mm dose grid over the CT."""
    return make_dose_grid(patient.grid, 8.0)


def spot_map(energies: tuple[float, ...], *, n_per_layer: int = 4) -> SpotMap:
    """``n_per_layer`` spots per energy on a line in x, weights 1e6·(1…n), first one 0."""
    energy = np.repeat(energies, n_per_layer)
    x = np.tile(np.linspace(-12.0, 12.0, n_per_layer), len(energies))
    y = np.tile(np.linspace(-6.0, 6.0, n_per_layer), len(energies))
    weight = 1.0e6 * np.tile(np.arange(n_per_layer, dtype=float), len(energies))
    return SpotMap(energy, x, y, weight)


def make_plan(particle: str = "proton", energies: tuple[float, ...] = (80.0, 100.0, 120.0)) -> Plan:
    """Two beams (gantry 0° and 90°) on the origin."""
    beams = (
        Beam("B1", BeamGeometry(0.0, 0.0, (0.0, 0.0, 0.0)), spot_map(energies)),
        Beam(
            "B2",
            BeamGeometry(90.0, 0.0, (0.0, 0.0, 0.0)),
            spot_map(energies),
            range_shifter_wet_mm=30.0,
        ),
    )
    return Plan(
        particle,
        beams,
        Prescription("Target", 60.0, 30),
        rbe_model="constant",
        settings={"optimizer": {"method": "lbfgs", "iterations": 50}},
    )


def gaussian_dose(grid: Grid, *, peak_gy: float = 2.1, sigma_mm: float = 25.0) -> np.ndarray:
    """A Gaussian dose cloud around the origin, Gy."""
    r2 = np.sum(grid.voxel_centres_mm() ** 2, axis=-1)
    return peak_gy * np.exp(-r2 / (2.0 * sigma_mm**2))


def make_result(
    patient: Patient,
    grid: Grid,
    *,
    label: str = "protons",
    dose: np.ndarray | None = None,
    dose_kind: str = "rbe",
    with_let: bool = True,
    particle: str = "proton",
) -> PlanResult:
    """A PlanResult with metrics computed from ``dose`` (default: Gaussian)."""
    dose = gaussian_dose(grid) if dose is None else dose
    masks = masks_on_grid(patient.structures.values(), grid)
    metrics = dose_metrics(
        dose, grid, masks, prescription_gy=PRESCRIPTION_GY, targets=["Target"], body="Body"
    )
    let = 2.0 + 3.0 * (1.0 - dose / dose.max()) if with_let else None
    return PlanResult(
        label, make_plan(particle), dose, grid, metrics, dose_kind=dose_kind, let_d_kev_um=let
    )


@pytest.fixture(scope="session")
def result(patient: Patient, dose_grid: Grid) -> PlanResult:
    """Protons, RBE-weighted Gaussian dose, with LET."""
    return make_result(patient, dose_grid)


@pytest.fixture(scope="session")
def result_factory():
    """:func:`make_result`, for tests that need other doses, kinds or labels."""
    return make_result


@pytest.fixture(scope="session")
def plan_factory():
    """:func:`make_plan`."""
    return make_plan


@pytest.fixture(scope="session")
def spot_map_factory():
    """:func:`spot_map`."""
    return spot_map
