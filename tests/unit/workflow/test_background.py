"""A plan made in a forked process (``ionbeam.workflow.background``) is the plan made in
this one, bit for bit, with the caller's own patient and machine objects in it; an error
in the child is raised in the parent as the same exception.

The check runs in a fresh interpreter: a process that has already run numba's parallel
kernels (as a test session has) must not fork, and plans serially instead."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from ionbeam.errors import IonbeamError
    from ionbeam.io.plan_file import BeamRequest, PatientRequest, PlanRequest
    from ionbeam.planning.plan import Prescription
    from ionbeam.workflow import make_plan, resolve_inputs
    from ionbeam.workflow.background import can_fork, plan_in_background
    import dataclasses

    request = PlanRequest(
        patient=PatientRequest(phantom="water", spacing_mm=6.0), total_dose_gy=24.0,
        fractions=12, particle="proton", dose_grid_mm=6.0, spot_spacing_mm=8.0,
        beams=(BeamRequest(90.0), BeamRequest(0.0)),
    )
    inputs = resolve_inputs(request)
    inputs = dataclasses.replace(
        inputs, options=dataclasses.replace(inputs.options, energy_stride=3))
    assert can_fork(), "a fresh interpreter that ran no parallel kernel can fork"
    stages = []
    with plan_in_background(inputs, grid_check=False, on_stage=stages.append) as background:
        assert background.forked
        forked = background.result()
    assert any(text.startswith("optimization done") for text in stages), stages
    bad = dataclasses.replace(inputs, prescription=Prescription("Nowhere", 24.0, 12))
    with plan_in_background(bad, grid_check=False) as background:
        try:
            background.result()
        except IonbeamError as error:
            print("ERROR", type(error).__name__)
    here = make_plan(inputs, grid_check=False)
    assert forked.patient is inputs.patient and forked.machine is inputs.machine
    assert forked.options is inputs.options
    a, b = forked.planning, here.planning
    assert np.array_equal(a.plan.weights, b.plan.weights)
    assert np.array_equal(a.dose_gy, b.dose_gy)
    assert np.array_equal(a.rbe_dose_gy, b.rbe_dose_gy)
    for name in b.masks:
        assert np.array_equal(a.masks[name], b.masks[name])
    da, db = a.influence.dose, b.influence.dose
    assert (da != db).nnz == 0 and da.dtype == db.dtype
    assert np.array_equal(forked.dose_total_gy, here.dose_total_gy)
    print("SAME", a.plan.n_spots)
    """
)


@pytest.mark.slow  # a fresh interpreter and three small plans (~20 s)
def test_a_forked_plan_is_the_plan_made_here() -> None:
    """Water phantom, protons, two beams (6 mm): weights, doses, masks and the
    dose-influence matrix of the forked plan equal those made in this process (tolerance:
    none, ``array_equal``); the child's stage lines reach ``on_stage`` in this process; an unknown
    target raised in the child reaches the parent as an
    ``IonbeamError``."""
    run = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.split("\n")
    assert any(line.startswith("SAME ") and int(line.split()[1]) > 0 for line in lines)
    assert any(line.startswith("ERROR ") for line in lines), run.stdout


def test_what_the_child_sends_comes_back_whole() -> None:
    """The child's message round trip: an ionbeam error whose ``__init__`` takes other
    arguments than its message comes back as the same type and text; read-only mappings
    come back read-only with their items; the shared objects come back as the parent's
    own objects (identity), not copies."""
    import io
    from types import MappingProxyType

    from ionbeam.errors import UnknownNameError
    from ionbeam.workflow.background import _SharedPickler, _SharedUnpickler

    error = UnknownNameError("structure", "Nowhere", ["PTV", "Body"])
    patient = {"name": "the parent's patient"}
    message = ("error", error, MappingProxyType({"a": 1.5}), [patient, patient])
    buffer = io.BytesIO()
    _SharedPickler(buffer, {"patient": patient}).dump(message)
    buffer.seek(0)
    kind, back, mapping, shared = _SharedUnpickler(buffer, {"patient": patient}).load()
    assert kind == "error" and type(back) is UnknownNameError and str(back) == str(error)
    assert type(mapping) is MappingProxyType and dict(mapping) == {"a": 1.5}
    assert shared[0] is patient and shared[1] is patient


def test_without_fork_the_plan_is_made_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """``fork=False``: nothing is started, and ``result()`` calls ``make_plan`` once (the
    serial path is the same function)."""
    from ionbeam.workflow import background

    calls = []

    def fake_make_plan(inputs: object, *, grid_check: bool, on_stage: object) -> str:
        calls.append((inputs, grid_check))
        return "outcome"

    monkeypatch.setattr("ionbeam.workflow.recipe.make_plan", fake_make_plan)
    with background.plan_in_background("inputs", grid_check=False, fork=False) as plan:  # type: ignore[arg-type]
        assert not plan.forked
        assert plan.result() == "outcome" and plan.result() == "outcome"
    assert calls == [("inputs", False)]


def test_a_held_child_waits_for_release(monkeypatch: pytest.MonkeyPatch) -> None:
    """``hold_after``: the child stops after that stage's line and sends its outcome only
    once released (``release()``; ``result()`` releases it too)."""
    import threading
    import time

    from ionbeam.workflow import background

    def fake_make_plan(inputs: object, *, grid_check: bool, on_stage: Any) -> str:
        on_stage("beam model done in 0.0 s")
        on_stage("spots done in 0.0 s")
        return "outcome"

    monkeypatch.setattr(background, "can_fork", lambda: True)  # the child runs no numba
    monkeypatch.setattr("ionbeam.workflow.recipe.make_plan", fake_make_plan)
    lines: list[str] = []
    held = threading.Event()

    def on_stage(text: str) -> None:
        lines.append(text)
        held.set()

    from types import SimpleNamespace

    names = ("patient", "prescription", "options", "calibration", "machine", "beam_model")
    inputs = SimpleNamespace(particle="carbon", **dict.fromkeys(names))
    with background.plan_in_background(
        inputs,  # type: ignore[arg-type]
        grid_check=False,
        on_stage=on_stage,
        hold_after="beam model",
    ) as plan:
        assert plan.forked
        assert held.wait(60)
        time.sleep(0.5)  # a child not held would send its next line and outcome now
        assert lines == ["beam model done in 0.0 s"] and plan._message is None
        plan.release()
        assert plan.result() == "outcome"
    assert lines == ["beam model done in 0.0 s", "spots done in 0.0 s"]
