"""The front door end to end without the CLI: a small water-phantom plan through
``make_plan`` → ``evaluate`` → ``write_outputs`` → ``deliver``, with a custom machine
that must reach export and delivery as the object it is (before, the CLI rebuilt the
machine from its name, so a custom one was lost)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

import ionbeam
from ionbeam.errors import ConfigError, UnknownNameError
from ionbeam.io.dicom import read_rt_dose
from ionbeam.io.plan_file import BeamRequest, PatientRequest, PlanRequest
from ionbeam.machine import get_machine

#: A custom beam line's spot is this much wider than CNAO's: visible in the RT Ion Plan.
SPOT_SCALE = 1.5


def _room2() -> ionbeam.machine.Machine:  # type: ignore[name-defined]
    """CNAO's machine renamed (a name no registry knows, so nothing can rebuild it from
    its name), with wider proton spots and 3 s spills."""
    cnao = get_machine("cnao")
    table = cnao.beam_line.spot_table("proton")
    wider = dataclasses.replace(table, sigma_mm=np.asarray(table.sigma_mm) * SPOT_SCALE)
    tables = {**dict(cnao.beam_line.spot_tables), "proton": wider}
    line = dataclasses.replace(cnao.beam_line, name="room2 line", spot_tables=tables)
    return dataclasses.replace(cnao, name="room2", beam_line=line).with_cycle(spill_length_s=3.0)


def _request(**changes: object) -> PlanRequest:
    """A 12-fraction proton plan of the water phantom, one horizontal beam, coarse."""
    values: dict[str, object] = {
        "patient": PatientRequest(phantom="water", spacing_mm=6.0),
        "total_dose_gy": 24.0,
        "fractions": 12,
        "particle": "proton",
        "dose_grid_mm": 6.0,
        "spot_spacing_mm": 8.0,
        "beams": (BeamRequest(90.0),),
    }
    values.update(changes)
    return PlanRequest(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def machine() -> object:
    return _room2()


@pytest.fixture(scope="module")
def outcome(machine: object) -> ionbeam.PlanOutcome:
    return ionbeam.make_plan(_request(), machine=machine, energy_stride=3)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def folder(outcome: ionbeam.PlanOutcome, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("front-door") / "plan"
    ionbeam.write_outputs(outcome, out, report=False)
    return out


def test_totals_are_per_fraction_times_fractions(outcome: ionbeam.PlanOutcome) -> None:
    """``dose_total_gy`` is the per-fraction dose × 12 (proton: RBE 1.1 × physical), so
    nobody multiplies by hand; the target's D95 reaches 95 % of the 24 Gy(RBE) total."""
    assert outcome.fractions == 12
    np.testing.assert_allclose(outcome.dose_total_gy, outcome.dose_per_fraction_gy * 12)
    np.testing.assert_allclose(outcome.physical_dose_total_gy, outcome.planning.dose_gy * 12)
    assert outcome.rbe_dose_total_gy is not None
    np.testing.assert_allclose(outcome.rbe_dose_total_gy, outcome.physical_dose_total_gy * 1.1,
                               rtol=1e-5)  # fmt: skip
    evaluation = ionbeam.evaluate(outcome)
    d95 = evaluation.metrics.to_dict()["structures"]["Target"]["d95_gy"]
    assert d95 > 0.95 * 24.0
    assert d95 < 1.05 * 24.0
    assert outcome.grid_check is not None  # on by default


def test_files_are_written_with_total_doses(outcome: ionbeam.PlanOutcome, folder: Path) -> None:
    """plan.json, metrics.json (with the grid check) and the DICOM RT Doses exist; the
    RT Doses hold the totals (per fraction × fractions), within the 16-bit scaling."""
    names = {p.name for p in folder.iterdir()}
    assert {"plan.json", "metrics.json", "dicom"} <= names
    assert "report.html" not in names  # report=False honoured
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["fractions"] == 12
    assert "grid_check" in metrics
    physical = read_rt_dose(folder / "dicom" / "RD_physical.dcm")
    expected = outcome.planning.dose_gy * outcome.fractions
    np.testing.assert_allclose(physical.values, expected, atol=2e-4 * expected.max())
    rbe = read_rt_dose(folder / "dicom" / "RD_rbe_weighted.dcm")
    assert rbe.values.max() == pytest.approx(metrics["structures"]["Body"]["max_gy"], rel=1e-4)


def test_custom_machine_reaches_export(
    outcome: ionbeam.PlanOutcome, folder: Path, machine: object
) -> None:
    """The outcome carries the machine object itself; the plan records its name; the RT
    Ion Plan's spot sizes are the custom beam line's (1.5 × CNAO's), which no lookup
    by name could give (``room2`` is in no registry)."""
    assert outcome.machine is machine
    assert outcome.plan.machine == "room2"
    with pytest.raises(UnknownNameError):
        get_machine("room2")
    rp = pydicom.dcmread(folder / "dicom" / "RP.dcm")
    point = rp.IonBeamSequence[0].IonControlPointSequence[0]
    energy = float(point.NominalBeamEnergy)
    custom = float(outcome.machine.beam_line.fwhm_air_mm("proton", energy))
    cnao = float(get_machine("cnao").beam_line.fwhm_air_mm("proton", energy))
    assert [float(v) for v in point.ScanningSpotSize] == pytest.approx([custom, custom], rel=1e-3)
    assert custom == pytest.approx(SPOT_SCALE * cnao, rel=1e-6)


def test_custom_machine_reaches_delivery(outcome: ionbeam.PlanOutcome, machine: object) -> None:
    """``deliver`` runs on the outcome's machine: the record names ``room2`` and its
    timing is that of ``deliver_plan`` on the custom machine (3 s spills), not of CNAO's
    own machine, which the plan's name could not have given anyway."""
    from ionbeam.delivery import deliver_plan

    record = ionbeam.deliver(outcome)
    summary = record.summary()
    assert summary["machine"] == "room2"
    assert summary["n_cycles"] >= 1
    rng = np.random.default_rng(0)
    direct = deliver_plan(outcome.plan, machine, rng=rng).summary()  # type: ignore[arg-type]
    assert summary["fraction_time_s"] == direct["fraction_time_s"]
    cnao = deliver_plan(outcome.plan, get_machine("cnao"), rng=np.random.default_rng(0))
    assert summary["fraction_time_s"] != pytest.approx(cnao.summary()["fraction_time_s"])


def test_output_folder_is_refused_before_work(outcome: ionbeam.PlanOutcome, folder: Path) -> None:
    """A non-empty folder is refused (nothing written), and replaced with overwrite."""
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(ConfigError):
        ionbeam.write_outputs(outcome, folder, dicom=False, report=False)
    assert sorted(p.name for p in folder.iterdir()) == before
    ionbeam.write_outputs(outcome, folder, overwrite=True, dicom=False, report=False)
    assert not (folder / "dicom").exists()


def test_recompute_dose_reproduces_the_plan(
    outcome: ionbeam.PlanOutcome, folder: Path, machine: object
) -> None:
    """``recompute_dose`` of the written folder on the same machine object gives the
    same total dose (the same engine and weights: within float32 rounding)."""
    again = ionbeam.recompute_dose(folder, options=ionbeam.RecomputeOptions(machine=machine))  # type: ignore[arg-type]
    assert again.machine is machine
    np.testing.assert_allclose(
        again.dose_total_gy, outcome.dose_total_gy, atol=1e-4 * outcome.dose_total_gy.max()
    )


def test_a_machine_that_contradicts_the_request_is_refused(machine: object) -> None:
    """The request's ``machine`` is honoured or refused, never silently replaced: a
    machine object of another name is refused, and so is one passed with inputs
    resolved for another machine."""
    with pytest.raises(ConfigError, match="names machine 'pimms'"):
        ionbeam.resolve_inputs(_request(machine="pimms"), machine=machine)  # type: ignore[arg-type]
    inputs = ionbeam.resolve_inputs(_request())
    with pytest.raises(ConfigError, match="resolved for another machine"):
        ionbeam.make_plan(inputs, machine=machine)  # type: ignore[arg-type]
