"""A plan's output folder: ``plan.json``, ``metrics.json``, ``dicom/`` (CT and RTSTRUCT
for phantoms, RT Ion Plan, RT Doses: physical, RBE-weighted; LET_d as ``LETd.mha``) and
``report.html``.

Doses in the metrics, the DICOM RT Doses and the report are totals over all fractions,
RBE-weighted where an RBE model applies. :func:`write_outputs` writes the folder
atomically (a temporary folder moved into place when complete), so a failure leaves
nothing half-written; :func:`write_plan_folder` fills a folder the caller made (e.g.
inside its own atomic folder, beside other files).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from ionbeam.io.dicom.patient_io import PatientDatasets
    from ionbeam.report import PlanResult, ReportCache
    from ionbeam.workflow.evaluation import Evaluation
    from ionbeam.workflow.result import PlanOutcome

__all__ = ["to_jsonable", "write_outputs", "write_plan_folder"]


def write_outputs(
    outcome: PlanOutcome,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    dicom: bool = True,
    report: bool = True,
    label: str | None = None,
    inputs: Sequence[str | Path | None] = (),
) -> dict[str, Any]:
    """Write the plan folder ``out_dir`` atomically; returns the ``metrics.json`` document.

    A non-empty ``out_dir`` is refused unless ``overwrite`` (then replaced as a whole), and
    so is one that is, contains or lies inside one of ``inputs`` (files or folders the
    plan was read from) or the patient's DICOM folder."""
    from ionbeam._atomic import atomic_directory, check_output_folder

    out = Path(out_dir)
    guarded = tuple(Path(p) for p in (*inputs, outcome.source_dicom) if p is not None)
    check_output_folder(out, inputs=guarded, overwrite=overwrite)
    with atomic_directory(out, overwrite=overwrite) as folder:
        return write_plan_folder(folder, outcome, dicom=dicom, report=report, label=label)


def write_plan_folder(
    folder: Path,
    outcome: PlanOutcome,
    *,
    dicom: bool = True,
    report: bool = True,
    label: str | None = None,
    evaluation: Evaluation | None = None,
    extra: Mapping[str, Any] | None = None,
    view: PlanResult | None = None,
    patient_dicom: PatientDatasets | None = None,
    scenario_doses_gy: Sequence[np.ndarray] = (),
    report_cache: ReportCache | None = None,
) -> dict[str, Any]:
    """Write a plan's files into the existing ``folder``; returns the metrics document
    (with the entries of ``extra`` added). ``evaluation``: the plan's (default: computed);
    ``view``: the report's view of the plan, :func:`~ionbeam.workflow.report_view` of
    ``outcome``, ``evaluation`` and ``label`` (default: computed; a caller that also
    shows the plan in a comparison passes the one it made, so that the beam doses are
    computed once; not with ``scenario_doses_gy``, which the view would have to carry);
    ``patient_dicom``: the CT and RT Structure Set datasets of the outcome's patient
    (:func:`ionbeam.io.dicom.patient_io.patient_datasets`) when several plans of one
    patient made by ionbeam are written (built once, written into each);
    ``scenario_doses_gy``: total doses of error scenarios (e.g. from
    :func:`~ionbeam.workflow.robustness.robustness_with_doses`), drawn as DVH bands in
    the report (which stores the bands, not the doses); ``report_cache``: a
    :class:`~ionbeam.report.ReportCache` that other reports of this patient (e.g. a
    comparison of this plan with another, made of the same ``view``) are written with,
    so that they reuse the figures, viewer volumes and DVHs they share with this one."""
    from ionbeam.io.plan_json import write_plan_json
    from ionbeam.workflow.evaluation import evaluate, metrics_document, report_view

    evaluation = evaluate(outcome) if evaluation is None else evaluation
    _check_shared(outcome, label, view, patient_dicom)
    if view is not None and len(scenario_doses_gy):
        from ionbeam.errors import ConfigError

        raise ConfigError(
            "pass the scenario doses to report_view(..., scenario_doses_gy=...) when you "
            "also pass view; write_plan_folder cannot add them to a view already made"
        )
    document = metrics_document(outcome, evaluation)
    document.update(extra or {})
    write_plan_json(outcome.plan, folder / "plan.json")
    text = json.dumps(to_jsonable(document), indent=2, allow_nan=False)
    (folder / "metrics.json").write_text(text, encoding="utf-8")
    if dicom:
        _write_dicom(folder / "dicom", outcome, patient_dicom)
    if report:
        from ionbeam.report import write_report
        from ionbeam.workflow.beam_models import beam_model_of_plan

        write_report(
            folder / "report.html",
            patient=outcome.patient,
            result=view
            if view is not None
            else report_view(outcome, evaluation, label=label, scenario_doses_gy=scenario_doses_gy),
            beam_model=beam_model_of_plan(outcome.plan, outcome.beam_model),
            settings=dict(outcome.plan.settings),
            cache=report_cache,
        )
    return document


def _check_shared(
    outcome: PlanOutcome,
    label: str | None,
    view: PlanResult | None,
    patient_dicom: PatientDatasets | None,
) -> None:
    """Refuse, before anything is written, a report view made of another plan (or under
    another label) and patient datasets of another patient (or of a DICOM patient)."""
    from ionbeam.errors import ConfigError

    if view is not None and (
        view.plan is not outcome.plan or (label is not None and view.label != label)
    ):
        raise ConfigError(
            f"the report view {view.label!r} was made of another plan or label than "
            f"{label or outcome.plan.particle!r}; pass report_view(outcome, evaluation, "
            "label=label) of this outcome, or leave view out"
        )
    if patient_dicom is not None and (
        patient_dicom.patient is not outcome.patient or outcome.source_dicom is not None
    ):
        raise ConfigError(
            "the patient datasets were built for another patient (or the plan's patient "
            "was read from DICOM, whose files it refers to); build them with "
            "patient_datasets(outcome.patient), or leave them out"
        )


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays (and nested containers) to JSON-ready Python values.

    Non-finite floats become ``None`` so that the output is strict JSON.
    """
    import numpy as np

    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _write_dicom(
    folder: Path, outcome: PlanOutcome, patient_dicom: PatientDatasets | None = None
) -> None:
    """The DICOM files; spot sizes from the outcome's own machine (kept when custom)."""
    from ionbeam.io.dicom.plan_export import PlanDoses, write_plan_dicom

    plan = outcome.plan
    doses = PlanDoses(
        grid=outcome.grid,
        physical_gy=outcome.physical_dose_total_gy,
        rbe_weighted_gy=outcome.rbe_dose_total_gy,
        let_d_kev_um=outcome.let_d_kev_um,
    )
    beam_line = outcome.machine.beam_line

    def spot_fwhm_mm(energy: float) -> tuple[float, float]:
        fwhm = float(beam_line.fwhm_air_mm(plan.particle, energy))
        return fwhm, fwhm

    folder.mkdir()
    write_plan_dicom(
        folder,
        outcome.patient,
        plan,
        doses,
        source=outcome.source_dicom,
        spot_fwhm_mm=spot_fwhm_mm,
        patient_files=patient_dicom,
    )
