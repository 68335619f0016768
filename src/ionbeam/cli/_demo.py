"""``ionbeam demo``: the main job on the built-in skull-base chordoma (head) phantom.

Plans the head phantom twice — protons (constant RBE 1.1) and carbon ions
(mMKM) — both optimized on the RBE-weighted dose for the same prescription
(CNAO's carbon-ion chordoma schedule, 70.4 Gy(RBE) in 16 fractions) with two
lateral fields, and writes into ``--out`` (default ``./ionbeam-demo``):

* ``protons/`` and ``carbon/``: plan folders as ``ionbeam plan`` writes them
  (``plan.json``, ``metrics.json``, ``report.html``, ``dicom/``);
* ``comparison.html``: both plans side by side (metrics, DVHs of both, dose
  planes and the dose difference);
* ``summary.json``: the key metrics and clinical goals of both.

Both plans are optimized as a planner would set them up for a chordoma abutting the
brainstem: the default objectives (:mod:`ionbeam.planning.optimize.templates`) plus a
ring (``Ring_PTV``, the tissue within ``DEMO_RING_MM`` of the PTV) against hot spots
outside it, and sub-voxels for the optimizer within ``DEMO_SUPERSAMPLING_MM`` of the
PTV's surface (:mod:`ionbeam.planning.sub_voxels`), so that the brainstem's maximum
and the PTV's coverage hold when the plan is recomputed on a finer grid. The chordoma
is a late-responding tissue (α/β ≈ 2 Gy, the ``late_normal`` tissue, as ion centres
assume for chordoma), so the target and the brain around it share one tissue: with the
α/β = 10 Gy ``tumour`` tissue in the PTV, the RBE-weighted dose jumped at the PTV's
surface, where the same carbon ions meet α/β = 2 Gy brain, and left 3.5 cm³ of brain
beside the PTV above 107 % (up to 119 %) that no objective could remove without
uncovering the PTV.

The carbon plan is made in a forked process (:mod:`ionbeam.workflow.background`) while
this one plans protons and writes their folder: the same plans, bit for bit, as made one
after the other, in less wall time on two or more cores. On a cold numba cache the child
waits after its biology model until the proton plan is made, so that the kernels both
plans call are compiled once.

The clinical goals of both plans (target coverage, hot spot outside the target,
organ limits; :mod:`ionbeam.cli._goals`) are printed, and ``--strict`` exits with
status 3 when one fails. One line per stage goes to standard error as it ends.

The folder is written atomically; an existing folder is replaced only when it
holds a previous demo (``summary.json`` with ``"ionbeam": "demo"``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ionbeam.cli._plan import add_strict_argument

__all__ = ["DEMO_PRESCRIPTION", "register", "run"]

#: Total dose (Gy(RBE)) and fractions of both demo plans: CNAO's carbon chordoma schedule.
DEMO_PRESCRIPTION = (70.4, 16)
_BEAMS = (90.0, 270.0)
#: The optimizer's sub-voxels reach this far (mm) from the PTV's surface.
DEMO_SUPERSAMPLING_MM = 2.0
#: Width (mm) of the ring around the PTV whose objective holds hot spots down.
DEMO_RING_MM = 15.0
#: The chordoma's tissue (α/β ≈ 2 Gy, as the brain around it).
DEMO_TARGET_TISSUE = "late_normal"
_PLANS = (("protons", "proton", "constant"), ("carbon", "carbon", "mkm"))


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="the main job: plan a skull-base chordoma with protons and carbon ions, compare",
        description="Plan the built-in head (skull-base chordoma) phantom with protons and with "
        "carbon ions, both RBE-optimized, and write both plans, DICOM and a comparison report.",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("ionbeam-demo"), help="output folder (./ionbeam-demo)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="coarser grids and every second energy (1.5-2x faster)",
    )
    add_strict_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``ionbeam demo``."""
    from ionbeam._atomic import atomic_directory
    from ionbeam._kernel_cache import kernels_cached
    from ionbeam._progress import stage_printer
    from ionbeam.cli._goals import exit_status
    from ionbeam.cli._output import to_jsonable
    from ionbeam.io.dicom.patient_io import patient_datasets
    from ionbeam.report import ReportCache, write_comparison_report
    from ionbeam.workflow import evaluate, make_plan, report_view, write_plan_folder
    from ionbeam.workflow.background import plan_in_background

    out = Path(args.out)
    overwrite = _check_out(out)
    start = time.perf_counter()
    stage = stage_printer()
    patient, inputs = _plan_inputs(args.quick)
    (first, first_inputs), (second, second_inputs) = inputs.items()
    summary: dict[str, Any] = {"ionbeam": "demo", "patient": patient.name, "plans": {}}
    results: dict[str, Any] = {}
    evaluations: dict[str, Any] = {}
    shared = ReportCache()  # what the comparison shows as each plan's report does
    # The carbon plan is made in a forked process while this one plans protons and writes
    # their folder (the same plans: see ionbeam.workflow.background). On a cold numba
    # cache the child makes its beam and biology models, then waits until this process
    # has made its plan, compiling the kernels both plans call: the child loads them from
    # numba's cache instead of compiling them again (the carbon plan then overlaps the
    # proton folder's writing).
    cold = not kernels_cached()
    planning = f"{second}: planning {_PLANS[1][1]} ({_PLANS[1][2]} RBE)"
    with (
        plan_in_background(
            second_inputs,
            grid_check=False,
            on_stage=_stage_of(stage, second),
            hold_after=_HOLD_AFTER if cold else None,
        ) as background,
        atomic_directory(out, overwrite=overwrite) as folder,
    ):
        if background.forked:
            stage(f"{planning}, in the background")
        stage(f"{first}: planning {_PLANS[0][1]} ({_PLANS[0][2]} RBE)")
        results[first] = make_plan(first_inputs, grid_check=False, on_stage=_stage_of(stage, first))
        background.release()  # a held child (cold cache) finds the shared kernels cached
        patient_dicom = patient_datasets(patient)  # the CT and RTSTRUCT of both plan folders
        views = []
        for label in (first, second):
            if label not in results:
                if not background.forked:
                    stage(planning)
                results[label] = background.result()
            outcome = results[label]
            evaluations[label] = evaluate(outcome)
            (folder / label).mkdir()
            view = report_view(outcome, evaluations[label], label=label)
            document = write_plan_folder(
                folder / label,
                outcome,
                label=label,
                evaluation=evaluations[label],
                view=view,
                patient_dicom=patient_dicom,
                report_cache=shared,
            )
            views.append(view)
            summary["plans"][label] = {
                "structures": document["structures"],
                "spots": document["spots"],
                "timings_s": document["timings_s"],
                "goals": document["goals"],
            }
            stage(f"{label}: plan folder written")
        write_comparison_report(
            folder / "comparison.html",
            patient=patient,
            results=views,
            title="ionbeam demo: skull-base chordoma, protons vs carbon ions",
            cache=shared,
        )
        stage("comparison report written")
        summary["elapsed_s"] = time.perf_counter() - start
        text = json.dumps(to_jsonable(summary), indent=2, allow_nan=False)
        (folder / "summary.json").write_text(text, encoding="utf-8")
    reports = {label: evaluation.goals for label, evaluation in evaluations.items()}
    _print_summary(summary, reports, out)
    return exit_status(reports.values(), strict=args.strict)


def _print_summary(summary: dict[str, Any], reports: dict[str, Any], out: Path) -> None:
    """The key doses of both plans as a table, their clinical goals, the report's path."""
    from ionbeam.cli._goals import print_goals
    from ionbeam.cli._output import print_table

    labels = list(summary["plans"])
    rows = []
    for name in ("PTV", "GTV", "Brainstem", "OpticChiasm"):
        row: list[Any] = [name]
        for label in labels:
            metrics = summary["plans"][label]["structures"].get(name, {})
            row += [metrics.get("d95_gy", float("nan")), metrics.get("max_gy", float("nan"))]
        rows.append(row)
    columns = ["structure"]
    for label in labels:
        columns += [f"{label} D95", f"{label} max"]
    total, fractions = DEMO_PRESCRIPTION
    print_table(f"head phantom · {total:g} Gy(RBE) in {fractions} · Gy(RBE)", columns, rows)
    for label, report in reports.items():
        print_goals(report, title=f"{label}: clinical goals")
    print(f"comparison report: {out / 'comparison.html'}  ({summary['elapsed_s']:.0f} s)")


def _plan_both(quick: bool, stage: Any) -> tuple[Any, dict[str, Any]]:
    """Both demo plans through the library's :func:`ionbeam.workflow.make_plan`, one after
    the other in this process (``ionbeam demo`` makes the second in a forked process)."""
    from ionbeam.workflow import make_plan

    patient, inputs = _plan_inputs(quick)
    results = {}
    for (label, particle, rbe_model), plan_inputs in zip(_PLANS, inputs.values(), strict=True):
        stage(f"{label}: planning {particle} ({rbe_model} RBE)")
        results[label] = make_plan(plan_inputs, grid_check=False, on_stage=_stage_of(stage, label))
    return patient, results


def _plan_inputs(quick: bool) -> tuple[Any, dict[str, Any]]:
    """The demo's patient (with its ring) and the inputs of both plans, by label."""
    from ionbeam.machine import get_machine
    from ionbeam.planning.plan import Prescription
    from ionbeam.planning.planner import DEFAULT_DOSE_GRID_MM, PlanningOptions
    from ionbeam.workflow import PlanInputs, load_patient

    patient = _with_ring(load_patient(phantom="head", spacing_mm=3.0 if quick else 2.0))
    total, fractions = DEMO_PRESCRIPTION
    prescription = Prescription("PTV", total, fractions)
    machine = get_machine("cnao")
    inputs = {}
    for label, particle, rbe_model in _PLANS:
        options = PlanningOptions(
            gantry_deg=_BEAMS,
            rbe_model=rbe_model,
            dose_grid_mm=4.0 if quick else DEFAULT_DOSE_GRID_MM,
            energy_stride=2 if quick else 1,
            oar_supersampling_mm=DEMO_SUPERSAMPLING_MM,
            target_tissue=DEMO_TARGET_TISSUE,
        )
        inputs[label] = PlanInputs(
            patient, prescription, options, particle, None, None, "head", machine=machine
        )
    return patient, inputs


def _stage_of(stage: Any, label: str) -> Any:
    """The planner's stage callback for plan ``label``: its lines prefixed with the label."""

    def on_stage(text: str) -> None:
        stage(f"{label}: {text}")

    return on_stage


#: The stage after which the carbon plan waits on a cold numba cache, until the proton
#: plan is made: its beam model (the carbon tables) and mMKM biology are made meanwhile.
_HOLD_AFTER = "biology model"


def _with_ring(patient: Any) -> Any:
    """The patient with a ring around its PTV (an optimization structure)."""
    import dataclasses

    from ionbeam.patient.structures import StructureSet
    from ionbeam.planning.optimize.templates import ring_structure

    structures = patient.structures
    ring = ring_structure(structures["PTV"], structures["Body"], width_mm=DEMO_RING_MM)
    return dataclasses.replace(patient, structures=StructureSet([*structures.values(), ring]))


def _with_phantom_record(result: Any, patient: Any) -> Any:
    """Record the phantom in the plan, as ``ionbeam plan`` does, so that ``ionbeam dose``
    recomputes a demo plan without being told its patient."""
    from ionbeam.workflow import with_patient_record

    return with_patient_record(result, patient, phantom="head")


def _check_out(out: Path) -> bool:
    """Whether ``out`` may be replaced (absent, empty, or a previous demo)."""
    from ionbeam._atomic import check_output_folder
    from ionbeam.errors import ConfigError

    check_output_folder(out, overwrite=True)  # the current folder, an unwritable parent
    if not out.exists():
        return False
    if not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder; choose another --out")
    if not any(out.iterdir()):
        return True
    try:
        previous = json.loads((out / "summary.json").read_text()).get("ionbeam") == "demo"
    except (OSError, ValueError, AttributeError):
        previous = False
    if not previous:
        raise ConfigError(
            f"{out} exists and does not hold a previous ionbeam demo; "
            "choose another --out folder or remove it"
        )
    return True
