"""Scenario doses and robust evaluation on a 2-worker Dask LocalCluster equal the serial
path bit for bit (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from ionbeam.errors import ConfigError
from ionbeam.evaluation.robust import robust_evaluation
from ionbeam.machine import cnao_beam_line, cnao_energy_library
from ionbeam.patient.phantoms import make_phantom
from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap
from ionbeam.planning.planner import PlanningOptions
from ionbeam.planning.robust import scenario_set
from ionbeam.planning.robust.cluster import cluster_client, scenario_doses

OPTIONS = PlanningOptions(dose_grid_mm=4.0)


@pytest.fixture(scope="module")
def case():
    """A 4 mm water box and a 3 × 3-spot proton field at two energies."""
    patient = make_phantom("water", spacing_mm=4.0, box_size_mm=80.0, target_size_mm=20.0)
    energies = cnao_energy_library("proton").energies_mev_u[[30, 34]]
    xs, ys = np.meshgrid([-5.0, 0.0, 5.0], [-5.0, 0.0, 5.0])
    geometry = BeamGeometry(gantry_deg=90.0, sad_mm=cnao_beam_line().sad_mm)
    spots = SpotMap(
        np.repeat(energies, 9), np.tile(xs.ravel(), 2), np.tile(ys.ravel(), 2), np.full(18, 1e8)
    )
    plan = Plan("proton", (Beam("B1", geometry, spots),), Prescription("Target", 2.0))
    return patient, plan


def _evaluate(patient, doses, labels):
    return robust_evaluation(
        doses,
        patient.grid,
        patient.structures,
        labels=labels,
        targets=("Target",),
        prescription_gy=0.1,
    ).to_dict()


def test_two_worker_cluster_equals_serial(case) -> None:
    """The 9 standard scenarios: every dose voxel and every robust metric identical
    (exact equality, not a tolerance) serially and on a 2-worker LocalCluster."""
    patient, plan = case
    scenarios = scenario_set("9").scenarios
    labels = [s.label for s in scenarios]
    serial = list(scenario_doses(patient, plan, scenarios, options=OPTIONS))
    with cluster_client(n_workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        remote = list(
            scenario_doses(
                patient, plan, scenarios, options=OPTIONS, client=client, max_in_flight=3
            )
        )
    assert len(remote) == len(serial) == 9
    for a, b in zip(serial, remote, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(serial[0], serial[3])  # the scenarios differ
    assert _evaluate(patient, serial, labels) == _evaluate(patient, remote, labels)


def test_bad_scheduler_address_is_refused() -> None:
    with pytest.raises(ConfigError, match="tcp://HOST:PORT"), cluster_client("localhost:8786"):
        pass
