"""The text sections of a report: header facts, metrics, beams, settings, warnings.

Each function returns markup built with :mod:`._html` (text escaped there).
Numbers are formatted here, once: doses with two decimals (Gy or Gy(RBE)),
volumes in cm³ with two decimals, percentages with one, indices with three.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ionbeam.evaluation import StructureMetrics
from ionbeam.patient import Grid, Patient
from ionbeam.planning import Plan
from ionbeam.report._html import element, escape, facts, table
from ionbeam.report.results import PlanResult

__all__ = [
    "automatic_warnings",
    "beams_table",
    "comparison_facts_table",
    "facts_table",
    "format_number",
    "metrics_table",
    "settings_table",
    "warnings_block",
]

_DASH = "—"
#: Fraction of the target that should get ≥ 95 % of the prescription (ICRU 78/83 practice).
_COVERAGE_V95_PERCENT = 95.0
#: Near-maximum dose (D2) above which the target is reported hot: 107 % of the prescription.
_HOT_D2_FRACTION = 1.07


def format_number(value: float | None, decimals: int) -> str:
    """``value`` with ``decimals`` decimals; ``—`` for None or non-finite values."""
    if value is None or not math.isfinite(value):
        return _DASH
    return f"{value:.{decimals}f}"


def _grid_text(grid: Grid) -> str:
    shape = " × ".join(str(n) for n in grid.shape)
    spacing = " × ".join(f"{s:g}" for s in grid.spacing_mm)
    return f"{shape} voxels of {spacing} mm"


def _prescription_text(plan: Plan, unit: str) -> str:
    p = plan.prescription
    return (
        f"{p.total_dose_gy:g} {unit} to {p.target} in {p.fractions} fraction(s) "
        f"({p.dose_per_fraction_gy:g} {unit} per fraction)"
    )


def facts_table(patient: Patient, result: PlanResult, *, version: str, created: str) -> str:
    """Key facts of one plan: patient, particle, machine, prescription, RBE model, …"""
    plan = result.plan
    rows = [
        ("Patient / phantom", patient.name),
        ("Particle", plan.particle),
        ("Machine", plan.machine),
        ("Prescription", _prescription_text(plan, result.dose_unit)),
        ("RBE model", plan.rbe_model),
        ("Dose shown", _dose_kind_text(result)),
        ("Metrics refer to", _metrics_reference(result)),
        ("Beams", f"{len(plan.beams)} ({', '.join(b.name for b in plan.beams)})"),
        ("Spots", f"{plan.n_spots} spots, {float(plan.weights.sum()):.3e} particles per fraction"),
        ("CT grid", _grid_text(patient.grid)),
        ("Dose grid", _grid_text(result.dose_grid)),
        ("ionbeam version", version),
        ("Created", created),
    ]
    return facts(rows)


def comparison_facts_table(
    patient: Patient, results: Sequence[PlanResult], *, version: str, created: str
) -> str:
    """Key facts of several plans, one column each."""
    getters = {
        "Particle": lambda r: r.plan.particle,
        "Machine": lambda r: r.plan.machine,
        "Prescription": lambda r: _prescription_text(r.plan, r.dose_unit),
        "RBE model": lambda r: r.plan.rbe_model,
        "Dose shown": _dose_kind_text,
        "Metrics refer to": _metrics_reference,
        "Beams": lambda r: f"{len(r.plan.beams)} ({', '.join(b.name for b in r.plan.beams)})",
        "Spots": lambda r: str(r.plan.n_spots),
        "Particles per fraction": lambda r: f"{float(r.plan.weights.sum()):.3e}",
        "Dose grid": lambda r: _grid_text(r.dose_grid),
    }
    rows = [(name, *(get(r) for r in results)) for name, get in getters.items()]
    intro = facts(
        [
            ("Patient / phantom", patient.name),
            ("CT grid", _grid_text(patient.grid)),
            ("ionbeam version", version),
            ("Created", created),
        ],
    )
    return intro + table(("", *(r.label for r in results)), rows)


def _dose_kind_text(result: PlanResult) -> str:
    kind = "RBE-weighted" if result.dose_kind == "rbe" else "physical"
    return f"{kind} dose ({result.dose_unit})"


def _metrics_reference(result: PlanResult) -> str:
    value = result.metrics.prescription_gy
    if value is None:
        return "no prescription"
    return f"prescription {value:g} {result.dose_unit}"


def metrics_table(results: Sequence[PlanResult], *, names: Sequence[str]) -> str:
    """Per-structure dose metrics; with several plans, one row per structure and plan."""
    units = {r.dose_unit for r in results}
    unit = units.pop() if len(units) == 1 else "Gy"
    levels = sorted(
        {
            lvl
            for r in results
            for s in r.metrics.structures
            for lvl, _ in s.volume_percent_at_dose_gy
        }
    )
    columns = [
        "structure",
        *(["plan"] if len(results) > 1 else []),
        "volume (cm³)",
        f"mean ({unit})",
        f"min ({unit})",
        f"max ({unit})",
        f"D98 ({unit})",
        f"D95 ({unit})",
        f"D50 ({unit})",
        f"D5 ({unit})",
        f"D2 ({unit})",
        "V95 (%)",
        "V107 (%)",
        *(f"V{lvl:g}{unit} (%)" for lvl in levels),
        "HI",
        "CI (Paddick)",
    ]
    rows, starts = [], []
    for name in names:
        for k, result in enumerate(results):
            if name not in result.metrics.names:
                continue
            m = result.metrics[name]
            rows.append(
                [name, *([result.label] if len(results) > 1 else []), *_metric_cells(m, levels)]
            )
            starts.append(k == 0)
    numeric = [False] * (2 if len(results) > 1 else 1)
    numeric += [True] * (len(columns) - len(numeric))
    caption = (
        f"Doses in {unit}; D_x: dose received by at least x % of the volume; V95/V107: % "
        "of the volume receiving at least 95 %/107 % of the prescription; HI = (D2 − "
        "D98)/D50 (ICRU 83); CI: Paddick conformity index."
    )
    return table(columns, rows, numeric=numeric, group_starts=starts, caption=caption)


def _metric_cells(m: StructureMetrics, levels: Sequence[float]) -> list[str]:
    at_level = dict(m.volume_percent_at_dose_gy)
    return [
        format_number(m.volume_cm3, 2),
        *(
            format_number(v, 2)
            for v in (m.mean_gy, m.min_gy, m.max_gy, m.d98_gy, m.d95_gy, m.d50_gy, m.d5_gy, m.d2_gy)
        ),
        format_number(m.v95_percent, 1),
        format_number(m.v107_percent, 1),
        *(format_number(at_level.get(level), 1) for level in levels),
        format_number(m.homogeneity_index, 3),
        format_number(m.paddick_conformity_index, 3),
    ]


def beams_table(plan: Plan) -> str:
    """One row per beam: angles, isocentre, SAD, layers, spots, energies, particles, modifiers."""
    columns = (
        "beam",
        "gantry (°)",
        "couch (°)",
        "isocentre (mm)",
        "position",
        "SAD x, y (mm)",
        "layers",
        "spots",
        "energies (MeV/u)",
        "particles",
        "range shifter (mm WET)",
        "ripple filter",
    )
    rows = []
    for beam in plan.beams:
        g, s = beam.geometry, beam.spots
        energies = s.layer_energies()
        span = f"{energies.min():.1f}–{energies.max():.1f}" if energies.size else _DASH
        rows.append(
            (
                beam.name,
                f"{g.gantry_deg:g}",
                f"{g.couch_deg:g}",
                ", ".join(f"{v:.1f}" for v in g.isocenter_mm),
                g.patient_position,
                ", ".join("∞" if math.isinf(v) else f"{v:.0f}" for v in g.sad_mm),
                str(energies.size),
                str(s.n_spots),
                span,
                f"{s.total_particles:.3e}",
                f"{beam.range_shifter_wet_mm:g}" if beam.range_shifter_wet_mm else "none",
                "yes" if beam.ripple_filter else "no",
            )
        )
    numeric = (False, True, True, False, False, False, True, True, False, True, True, False)
    return table(columns, rows, numeric=numeric)


def settings_table(settings: Mapping[str, Any], *, caption: str | None = None) -> str:
    """A two-column table of a (possibly nested) settings mapping, keys joined by dots,
    a rule above each top-level group; values read as text (``—`` for unset ones)."""
    items = _flatten(settings, "")
    rows = [(key, _value_text(value)) for key, value in items]
    if not rows:
        return element("p", escape("(none)"))
    groups = [key.split(".", 1)[0] for key, _ in items]
    starts = [k == 0 or groups[k] != groups[k - 1] for k in range(len(groups))]
    return table(("setting", "value"), rows, caption=caption, group_starts=starts)


def _flatten(settings: Mapping[str, Any], prefix: str) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            items.extend(_flatten(value, f"{name}."))
        else:
            items.append((name, value))
    return items


def _value_text(value: Any) -> str:
    """A setting as a person writes it: 3.96 (never 3.9600000000000004), yes/no, ``—``
    for unset or empty values, lists joined by commas, tables as ``key=value``."""
    if value is None:
        return _DASH
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return _float_text(float(value))
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if not value:
            return _DASH
        separator = "; " if any(isinstance(v, Mapping) for v in value) else ", "
        return separator.join(_value_text(v) for v in value)
    if isinstance(value, Mapping):  # e.g. one clinical goal: "structure=PTV metric=D95 …"
        if not value:
            return _DASH
        return " ".join(
            f"{k}=({_value_text(v)})" if isinstance(v, Mapping) and v else f"{k}={_value_text(v)}"
            for k, v in value.items()
        )
    text = str(value)
    return text if text.strip() else _DASH


def _float_text(value: float) -> str:
    """Up to 6 significant digits, trailing zeros dropped (floating-point noise such as
    3.9600000000000004 is below that)."""
    if not math.isfinite(value):
        return _DASH if math.isnan(value) else ("∞" if value > 0 else "−∞")
    return f"{value:.6g}"


def automatic_warnings(result: PlanResult) -> list[str]:
    """What a physicist should look at: the target under-covered or hot, metrics for
    another prescription than the plan's, a dose that is zero everywhere."""
    plan, metrics, unit = result.plan, result.metrics, result.dose_unit
    lines = []
    if float(result.dose_gy.max()) <= 0:
        lines.append(f"{result.label}: the dose is zero everywhere")
    target = plan.prescription.target
    if target not in metrics.names:
        lines.append(f"{result.label}: the prescription's target {target!r} has no metrics")
        return lines
    prescribed = metrics.prescription_gy
    expected = (plan.prescription.total_dose_gy, plan.prescription.dose_per_fraction_gy)
    if prescribed is not None and not any(np.isclose(prescribed, e) for e in expected):
        lines.append(
            f"{result.label}: the metrics refer to {prescribed:g} {unit} but the plan prescribes "
            f"{expected[0]:g} {unit} ({expected[1]:g} {unit} per fraction)"
        )
    if result.goals is not None:
        return lines  # coverage and hot spots: the clinical goals say it, once
    m = metrics[target]
    if m.v95_percent is not None and m.v95_percent < _COVERAGE_V95_PERCENT:
        lines.append(
            f"{result.label}: target {target} under-covered: V95 = {m.v95_percent:.1f} % "
            f"(< {_COVERAGE_V95_PERCENT:g} %), D95 = {m.d95_gy:.2f} {unit}"
        )
    if prescribed is not None and m.d2_gy > _HOT_D2_FRACTION * prescribed:
        lines.append(
            f"{result.label}: target {target} hot: D2 = {m.d2_gy:.2f} {unit} "
            f"(> 107 % of {prescribed:g} {unit})"
        )
    return lines


def warnings_block(lines: Sequence[str]) -> str:
    """The warnings as a list, or a line saying there are none."""
    if not lines:
        return element("p", escape("No warnings."), class_="ok")
    return element("ul", "".join(element("li", escape(line)) for line in lines), class_="warnings")
