"""Scenario doses serially or as tasks on a ``dask.distributed`` cluster.

:func:`scenario_doses` yields the dose of a plan in each scenario, in the scenarios'
order, one at a time. Without a client it computes them here; with one (see
:func:`cluster_client`) each scenario is a task running :func:`.scenario_dose` — the
same function on the same inputs, so the numbers are the same bit for bit (the
engine's sums do not depend on the thread count). The patient, the plan, the machine
and the options are sent to the workers once (``scatter``), each task carries only
its scenario; at most ``max_in_flight`` doses wait on the workers, so memory stays
bounded however many scenarios there are. Workers build the beam model from their own on-disk cache.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ionbeam.errors import ConfigError
from ionbeam.machine import Machine
from ionbeam.patient.calibration import HUCalibration
from ionbeam.patient.patient import Patient
from ionbeam.planning.plan import Plan
from ionbeam.planning.planner import PlanningOptions, resolve_rbe_model
from ionbeam.planning.robust.rbe_error import check_rbe_errors, geometry_runs, scaled_runs
from ionbeam.planning.robust.scenario_dose import scenario_dose
from ionbeam.planning.robust.scenarios import Scenario

__all__ = ["cluster_client", "scenario_doses"]


@contextmanager
def cluster_client(scheduler: str | None = None, *, n_workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: of the cluster at ``scheduler`` (``tcp://HOST:PORT``), or
    of a new ``LocalCluster`` of ``n_workers`` single-threaded worker processes (default:
    one per core), closed on exit."""
    try:
        from distributed import Client, LocalCluster
    except ModuleNotFoundError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError(
            "scenarios on a cluster need dask.distributed: pip install 'dask[distributed]'"
        ) from exc
    if scheduler is not None:
        if not str(scheduler).startswith(("tcp://", "tls://", "inproc://", "ucx://")):
            raise ConfigError(
                f"a Dask scheduler address looks like tcp://HOST:PORT; got {scheduler!r}"
            )
        try:
            client = Client(str(scheduler), timeout="10s")
        except OSError as exc:
            raise ConfigError(
                f"no Dask scheduler answers at {scheduler}; start one or omit --scheduler"
            ) from exc
        with client:
            yield client
        return
    workers = (os.cpu_count() or 1) if n_workers is None else int(n_workers)
    if workers < 1:
        raise ConfigError(f"a local cluster needs at least one worker; got {n_workers!r}")
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never collide with another cluster
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def scenario_doses(
    patient: Patient,
    plan: Plan,
    scenarios: Sequence[Scenario],
    *,
    options: PlanningOptions | None = None,
    machine: Machine | None = None,
    calibration: HUCalibration | None = None,
    client: Any = None,
    max_in_flight: int | None = None,
) -> Iterator[np.ndarray]:
    """The evaluated dose of ``plan`` in each of ``scenarios``, in order (see the module
    docstring); ``client``: a ``distributed.Client`` (None: serially here). Scenarios that
    differ only in their RBE error share one dose calculation (:mod:`.rbe_error`)."""
    scenarios = list(scenarios)
    check_rbe_errors(scenarios, resolve_rbe_model(plan.particle, plan.rbe_model))
    runs = geometry_runs(scenarios)
    base = _geometry_doses(
        patient, plan, [g for g, _ in runs], options=options, machine=machine,
        calibration=calibration, client=client, max_in_flight=max_in_flight,
    )  # fmt: skip
    yield from scaled_runs(base, runs, lambda dose, f: dose if f == 1.0 else dose * f)


def _geometry_doses(
    patient: Patient,
    plan: Plan,
    scenarios: Sequence[Scenario],
    *,
    options: PlanningOptions | None,
    machine: Machine | None,
    calibration: HUCalibration | None,
    client: Any,
    max_in_flight: int | None,
) -> Iterator[np.ndarray]:
    """The dose of each scenario, serially or as tasks on ``client``."""
    kwargs: dict[str, Any] = {"options": options, "machine": machine, "calibration": calibration}
    if client is None:
        for scenario in scenarios:
            yield scenario_dose(patient, plan, scenario, **kwargs)
        return
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = 2 * n_workers if max_in_flight is None else max(1, int(max_in_flight))
    # everything the scenarios share goes to the workers once; a task carries its scenario
    given: dict[str, Any] = {k: v for k, v in kwargs.items() if v is not None}
    given.update(patient=patient, plan=plan)
    shared = client.scatter(given, broadcast=True)
    patient_f, plan_f = shared.pop("patient"), shared.pop("plan")
    kwargs = {k: shared.get(k) for k in kwargs}
    pending: deque[Any] = deque()
    todo = iter(scenarios)
    try:
        for scenario in todo:
            pending.append(
                client.submit(scenario_dose, patient_f, plan_f, scenario, pure=False, **kwargs)
            )
            if len(pending) >= window:
                yield _take(pending)
        while pending:
            yield _take(pending)
    finally:
        for future in pending:
            future.cancel()


def _take(pending: deque[Any]) -> np.ndarray:
    future = pending.popleft()
    dose = np.asarray(future.result())
    future.release()
    return dose
