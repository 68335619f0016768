"""What several plan folders of one patient share (``ionbeam demo``: protons and carbon):
the report's view of a plan (its beam doses are the costly part), the patient's CT and
RT Structure Set datasets and a report cache are made once and handed to
:func:`write_plan_folder`. The
folder written with them must be the one written without them, byte for byte where the
files are deterministic (CT, RTSTRUCT, plan.json, metrics.json) and up to the creation
date in the report; handing those of another plan or patient is refused."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import ionbeam
from ionbeam.errors import ConfigError
from ionbeam.io.dicom.patient_io import patient_datasets
from ionbeam.io.plan_file import BeamRequest, PatientRequest, PlanRequest
from ionbeam.report import ReportCache
from ionbeam.workflow import evaluate, report_view, write_plan_folder

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}")


@pytest.fixture(scope="module")
def outcome() -> ionbeam.PlanOutcome:
    """A small proton plan of the water phantom, two beams (so the view has beam doses)."""
    request = PlanRequest(
        patient=PatientRequest(phantom="water", spacing_mm=6.0),
        total_dose_gy=24.0,
        fractions=12,
        particle="proton",
        dose_grid_mm=6.0,
        spot_spacing_mm=8.0,
        beams=(BeamRequest(90.0), BeamRequest(270.0)),
    )
    return ionbeam.make_plan(request, energy_stride=3, grid_check=False)


@pytest.fixture(scope="module")
def folders(outcome: ionbeam.PlanOutcome, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The plan folder written alone, then twice with the same patient files (with the
    shared view and a report cache that already holds this plan's figures, then without
    the report)."""
    root = tmp_path_factory.mktemp("shared")
    evaluation = evaluate(outcome)
    view = report_view(outcome, evaluation, label="p")
    shared = patient_datasets(outcome.patient)
    cache = ReportCache()
    scratch = root / "scratch"
    scratch.mkdir()
    write_plan_folder(scratch, outcome, label="p", evaluation=evaluation, view=view,
                      report_cache=cache, dicom=False)  # fmt: skip
    assert len(cache) > 5
    out = []
    shared_report = {"view": view, "report_cache": cache}
    for k, extra in enumerate(({}, shared_report, {"report": False})):
        folder = root / f"f{k}"
        folder.mkdir()
        write_plan_folder(folder, outcome, label="p", evaluation=evaluation,
                          patient_dicom=shared if k else None, **extra)  # fmt: skip
        out.append(folder)
    return out


def test_shared_view_and_patient_files_write_the_same_folder(folders: list[Path]) -> None:
    """Same files; CT slices, RS.dcm, plan.json and metrics.json identical byte for byte;
    the report identical once its creation dates are blanked."""
    names = [sorted(p.relative_to(f).as_posix() for p in f.rglob("*")) for f in folders]
    assert names[0] == names[1] == [*names[2], "report.html"]
    deterministic = [n for n in names[0] if re.search(r"(CT_\d+|RS)\.dcm$|\.json$", n)]
    assert any(n.endswith("RS.dcm") for n in deterministic)
    assert sum(n.startswith("dicom/CT_") for n in deterministic) > 5
    for name in deterministic:
        reference = (folders[0] / name).read_bytes()
        assert (folders[1] / name).read_bytes() == reference, name
        assert (folders[2] / name).read_bytes() == reference, name
    reports = [_DATE.sub("DATE", (f / "report.html").read_text()) for f in folders[:2]]
    assert reports[0] == reports[1]


def test_a_view_of_another_plan_is_refused(outcome: ionbeam.PlanOutcome, tmp_path: Path) -> None:
    """A view under another label, or of another plan, would put another plan's doses or
    name in this folder's report."""
    evaluation = evaluate(outcome)
    view = report_view(outcome, evaluation, label="other")
    with pytest.raises(ConfigError, match="report view"):
        write_plan_folder(tmp_path, outcome, label="p", evaluation=evaluation, view=view)
    other = dataclasses.replace(outcome.planning, plan=dataclasses.replace(outcome.plan))
    foreign = report_view(dataclasses.replace(outcome, planning=other), evaluation, label="p")
    with pytest.raises(ConfigError, match="report view"):
        write_plan_folder(tmp_path, outcome, label="p", evaluation=evaluation, view=foreign)
    assert not any(tmp_path.iterdir())


def test_patient_files_of_another_patient_are_refused(
    outcome: ionbeam.PlanOutcome, tmp_path: Path
) -> None:
    """The CT and RTSTRUCT of another patient would not be this plan's patient."""
    other = ionbeam.load_patient(phantom="water", spacing_mm=6.0)
    with pytest.raises(ConfigError, match="another patient"):
        write_plan_folder(tmp_path, outcome, label="p", patient_dicom=patient_datasets(other))
    assert not any(tmp_path.iterdir())
