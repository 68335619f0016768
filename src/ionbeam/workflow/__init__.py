"""The library's front door: plan → evaluate → export, as ``ionbeam plan`` does it.

::

    import ionbeam

    request = ionbeam.plan_from_file("plan.toml")       # or a PlanRequest built in Python
    outcome = ionbeam.make_plan(request)                # optimized plan, doses, goals
    evaluation = ionbeam.evaluate(outcome)              # metrics and clinical goals (totals)
    ionbeam.write_outputs(outcome, "out/")              # plan.json, metrics.json, DICOM, report
    record = ionbeam.deliver(outcome)                   # one fraction on the synchrotron

Doses come per fraction and in total (:class:`PlanOutcome` ``dose_total_gy`` = per
fraction × ``fractions``); the machine object travels with the outcome to export and
delivery. Units: mm, MeV/u, Gy (Gy(RBE) where an RBE model applies), particles.
The ``ionbeam`` command is a thin layer over these functions.
"""

from ionbeam.workflow.beam_models import (
    beam_line_of_plan,
    beam_model_of_plan,
    load_beam_model,
    machine_for_plan,
    recorded_beam_model,
    with_beam_model_record,
)
from ionbeam.workflow.delivery import deliver
from ionbeam.workflow.evaluation import Evaluation, evaluate, metrics_document, report_view
from ionbeam.workflow.goals import goal_report, plan_goals, with_recorded_goals
from ionbeam.workflow.grid_check import FINE_GRID_FRACTION, run_grid_check
from ionbeam.workflow.outputs import to_jsonable, write_outputs, write_plan_folder
from ionbeam.workflow.patients import (
    FIXED_LINE_DEFAULTS,
    PHANTOM_DEFAULTS,
    check_phantom_memory,
    load_patient,
)
from ionbeam.workflow.recipe import make_plan, robust_options_of, with_patient_record
from ionbeam.workflow.recompute import (
    RecomputeInputs,
    RecomputeOptions,
    recompute_beam_model,
    recompute_dose,
    recompute_inputs,
)
from ionbeam.workflow.requests import (
    PlanInputs,
    check_prescription,
    plan_from_file,
    resolve_inputs,
)
from ionbeam.workflow.result import PlanOutcome
from ionbeam.workflow.robustness import (
    evaluate_robustness,
    robustness_with_doses,
    write_robustness,
)

__all__ = [
    "FINE_GRID_FRACTION",
    "FIXED_LINE_DEFAULTS",
    "PHANTOM_DEFAULTS",
    "Evaluation",
    "PlanInputs",
    "PlanOutcome",
    "RecomputeInputs",
    "RecomputeOptions",
    "beam_line_of_plan",
    "beam_model_of_plan",
    "check_phantom_memory",
    "check_prescription",
    "deliver",
    "evaluate",
    "evaluate_robustness",
    "goal_report",
    "load_beam_model",
    "load_patient",
    "machine_for_plan",
    "make_plan",
    "metrics_document",
    "plan_from_file",
    "plan_goals",
    "recompute_beam_model",
    "recompute_dose",
    "recompute_inputs",
    "recorded_beam_model",
    "report_view",
    "resolve_inputs",
    "robust_options_of",
    "robustness_with_doses",
    "run_grid_check",
    "to_jsonable",
    "with_beam_model_record",
    "with_patient_record",
    "with_recorded_goals",
    "write_outputs",
    "write_plan_folder",
    "write_robustness",
]
