"""The output folder of a plan: ``plan.json``, ``metrics.json``, DICOM and ``report.html``.

Shared by ``ionbeam plan``, ``ionbeam dose`` and ``ionbeam demo``. ``metrics.json``
holds the clinical goals (``goals``: each met or not, the hot spot outside the
target, organ near-maximum doses; see :mod:`ionbeam.cli._goals`). Doses in the
metrics, the DICOM RT Doses and the report are totals over all fractions
(fractions × the dose per fraction), RBE-weighted where an RBE model applies.
The caller writes into a temporary folder (``atomic_directory``) so that a
failure leaves nothing half-written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["evaluate", "metrics_document", "plan_result", "write_plan_folder"]


def evaluate(result: Any) -> Any:
    """``dose_metrics`` of the result's total (RBE-weighted where it applies) dose."""
    from ionbeam.evaluation import dose_metrics

    prescription = result.plan.prescription
    return dose_metrics(
        result.evaluated_dose_gy * prescription.fractions,
        result.grid,
        dict(result.structure_weights),
        prescription_gy=prescription.total_dose_gy,
        targets=(prescription.target,),
    )


def metrics_document(result: Any, metrics: Any, goals: Any = None) -> dict[str, Any]:
    """``metrics.json``: per-structure metrics of the total dose, the clinical goals
    (``goals``: a :class:`~ionbeam.evaluation.GoalReport`; default: the plan's goals,
    see :mod:`ionbeam.cli._goals`), and how it was made."""
    from ionbeam.cli._goals import goal_report, plan_goals

    prescription = result.plan.prescription
    goals = goal_report(result, plan_goals(result)) if goals is None else goals
    document = metrics.to_dict()
    document.update(
        {
            "target": prescription.target,
            "fractions": prescription.fractions,
            "dose_per_fraction_gy": prescription.dose_per_fraction_gy,
            "dose": "physical" if result.rbe_dose_gy is None else "rbe_weighted",
            "rbe_model": result.plan.rbe_model,
            "particle": result.plan.particle,
            "spots": result.plan.n_spots,
            "optimization": [
                {
                    "iterations": r.nit,
                    "evaluations": r.n_evaluations,
                    "objective": r.fun,
                    "time_s": r.time_s,
                    "success": r.success,
                    "message": r.message,
                }
                for r in result.optimization
            ],
            "timings_s": dict(result.timings_s),
            "goals": goals.to_dict(),
        }
    )
    return document


def plan_result(
    result: Any, metrics: Any, label: str, goals: Any = None, scenario_doses_gy: Any = ()
) -> Any:
    """The report's view of a planning result (total doses) and its clinical goals; the
    viewer also gets the physical dose beside an RBE-weighted one, with several beams
    each beam's physical dose, and the total doses of robustness scenarios (drawn as
    DVH bands; the report stores the bands, not the volumes)."""
    from ionbeam.report import PlanResult

    fractions = result.plan.prescription.fractions
    beams = result.plan.beams
    beam_doses = (
        {beam.name: result.beam_dose_gy(k) * fractions for k, beam in enumerate(beams)}
        if len(beams) > 1
        else {}
    )
    return PlanResult(
        label=label,
        plan=result.plan,
        dose_gy=result.evaluated_dose_gy * fractions,
        dose_grid=result.grid,
        metrics=metrics,
        dose_kind="physical" if result.rbe_dose_gy is None else "rbe",
        let_d_kev_um=result.let_d_kev_um,
        warnings=tuple(
            f"optimization stopped without converging: {r.message}"
            for r in result.optimization
            if not r.success
        ),
        goals=goals,
        physical_dose_gy=None if result.rbe_dose_gy is None else result.dose_gy * fractions,
        beam_doses_gy=beam_doses,
        scenario_doses_gy=tuple(scenario_doses_gy),
    )


def write_plan_folder(
    folder: Path,
    *,
    patient: Any,
    result: Any,
    source_dicom: Path | None = None,
    dicom: bool = True,
    report: bool = True,
    label: str | None = None,
    goals: Any = None,
    extra: dict[str, Any] | None = None,
    scenario_doses_gy: Any = (),
) -> dict[str, Any]:
    """Write a plan's files into the existing ``folder``; returns the metrics document
    (with the entries of ``extra`` added, e.g. the grid check). ``goals``: the
    :class:`~ionbeam.evaluation.GoalReport` of the result (default: its plan's goals);
    ``scenario_doses_gy``: total doses of robustness scenarios, DVH bands in the report."""
    from ionbeam.cli._goals import goal_report, plan_goals
    from ionbeam.cli._output import to_jsonable
    from ionbeam.io.plan_json import write_plan_json

    metrics = evaluate(result)
    goals = goal_report(result, plan_goals(result)) if goals is None else goals
    document = metrics_document(result, metrics, goals)
    document.update(extra or {})
    write_plan_json(result.plan, folder / "plan.json")
    text = json.dumps(to_jsonable(document), indent=2, allow_nan=False)
    (folder / "metrics.json").write_text(text, encoding="utf-8")
    if dicom:
        _write_dicom(folder / "dicom", patient, result, source_dicom)
    if report:
        from ionbeam.cli._beam_model import beam_model_of_plan
        from ionbeam.report import write_report

        write_report(
            folder / "report.html",
            patient=patient,
            result=plan_result(
                result, metrics, label or result.plan.particle, goals, scenario_doses_gy
            ),
            beam_model=beam_model_of_plan(result.plan),
            settings=dict(result.plan.settings),
        )
    return document


def _write_dicom(folder: Path, patient: Any, result: Any, source: Path | None) -> None:
    from ionbeam.cli._beam_model import beam_line_of_plan
    from ionbeam.io.dicom.plan_export import PlanDoses, write_plan_dicom

    fractions = result.plan.prescription.fractions
    doses = PlanDoses(
        grid=result.grid,
        physical_gy=result.dose_gy * fractions,
        rbe_weighted_gy=None if result.rbe_dose_gy is None else result.rbe_dose_gy * fractions,
        let_d_kev_um=result.let_d_kev_um,
    )
    beam_line = beam_line_of_plan(result.plan)

    def spot_fwhm_mm(energy: float) -> tuple[float, float]:
        fwhm = float(beam_line.fwhm_air_mm(result.plan.particle, energy))
        return fwhm, fwhm

    folder.mkdir()
    write_plan_dicom(folder, patient, result.plan, doses, source=source, spot_fwhm_mm=spot_fwhm_mm)
