"""The self-contained HTML report of one plan, or of several plans side by side.

Front doors: :func:`write_report` (one :class:`~ionbeam.report.PlanResult`)
and :func:`write_comparison_report` (two or more, e.g. protons and carbon
ions on the same patient). Each renders every figure first and writes one
HTML file atomically at the end (figures embedded as PNG, CSS inline, no
external resource), so a failure leaves nothing behind. Unless
``ReportOptions(viewer=False)``, the page also holds the interactive viewer
(:mod:`._viewer`: its data and a small hand-written script, inline).
``render_report`` / ``render_comparison_report`` return the HTML text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from matplotlib.figure import Figure

from ionbeam import __version__
from ionbeam.errors import ConfigError, GridMismatchError
from ionbeam.evaluation import DoseVolumeHistogram
from ionbeam.machine.beam_model import BeamModel
from ionbeam.patient import Grid, Patient, resample
from ionbeam.report import _sections as sections
from ionbeam.report._cache import ReportCache, cached
from ionbeam.report._goal_sections import goal_warnings, goals_section_content
from ionbeam.report._html import (
    check_destination,
    document,
    element,
    escape,
    figure_block,
    write_text_atomically,
)
from ionbeam.report._style import figure_png, structure_colours
from ionbeam.report._viewer import viewer_block
from ionbeam.report.beam_plots import bragg_curves_figure, spot_maps_figure
from ionbeam.report.dvh_plots import dvh_comparison_figure, dvh_figure, structure_dvhs
from ionbeam.report.results import PlanResult, ReportOptions, unique_labels
from ionbeam.report.slices import dose_difference_figure, dose_slices_figure, let_slices_figure

__all__ = [
    "render_comparison_report",
    "render_report",
    "write_comparison_report",
    "write_report",
]


def write_report(
    path: str | os.PathLike[str],
    *,
    patient: Patient,
    result: PlanResult,
    beam_model: BeamModel | None = None,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
    warnings: Sequence[str] = (),
    created: datetime | None = None,
    options: ReportOptions | None = None,
    cache: ReportCache | None = None,
) -> Path:
    """Write the report of one plan to ``path`` (one HTML file); returns the path.

    ``beam_model``: the one the dose was computed with (for the Bragg curves;
    without it they come from :func:`ionbeam.physics.depth_dose.depth_dose`);
    ``settings``: the run's settings, shown as a table; ``warnings``: extra
    lines for the warnings section; ``created``: the date shown (default now);
    ``cache``: a :class:`ReportCache` shared with other reports of this patient (e.g. a
    comparison of this plan with another), which then reuse the figures, volumes and
    DVHs they have in common with this one (the HTML is the same with or without it).
    """
    check_destination(path)
    text = render_report(
        patient=patient,
        result=result,
        beam_model=beam_model,
        settings=settings,
        title=title,
        warnings=warnings,
        created=created,
        options=options,
        cache=cache,
    )
    return write_text_atomically(path, text)


def write_comparison_report(
    path: str | os.PathLike[str],
    *,
    patient: Patient,
    results: Sequence[PlanResult],
    beam_models: Mapping[str, BeamModel] | None = None,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
    warnings: Sequence[str] = (),
    created: datetime | None = None,
    options: ReportOptions | None = None,
    cache: ReportCache | None = None,
) -> Path:
    """Write a report comparing two or more plans of one patient (same dose kind) to
    ``path``; the first plan is the reference of the dose differences.

    ``beam_models`` maps a result's label to its beam model (for its Bragg curves);
    ``cache``: as for :func:`write_report` (the plans' own reports written with the same
    cache share their LET_d figures, spot maps, viewer volumes and DVHs with this one).
    """
    check_destination(path)
    text = render_comparison_report(
        patient=patient,
        results=results,
        beam_models=beam_models,
        settings=settings,
        title=title,
        warnings=warnings,
        created=created,
        options=options,
        cache=cache,
    )
    return write_text_atomically(path, text)


def render_report(
    *,
    patient: Patient,
    result: PlanResult,
    beam_model: BeamModel | None = None,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
    warnings: Sequence[str] = (),
    created: datetime | None = None,
    options: ReportOptions | None = None,
    cache: ReportCache | None = None,
) -> str:
    """The HTML text of :func:`write_report`."""
    options = options or ReportOptions()
    _check_result(patient, result)
    names = _dvh_names(patient, [result], options)
    title = title or f"ionbeam plan report: {patient.name}, {result.plan.particle}"
    figure = _renderer(options, cache)
    lines = [
        *sections.automatic_warnings(result),
        *goal_warnings(result),
        *result.warnings,
        *map(str, warnings),
    ]
    body = [
        element("h1", escape(title)),
        sections.facts_table(patient, result, version=_version(), created=_date(created)),
        _section("Warnings", sections.warnings_block(lines)),
        _section("Clinical goals", goals_section_content([result])),
        _section("Dose metrics", sections.metrics_table([result], names=names)),
    ]
    dvhs = _shared_dvhs(patient, [result], names, cache)
    body += [
        _viewer_section(patient, [result], options, dvhs, cache),
        _dvh_section([result], dvhs, structure_colours(patient.structures), figure),
        _dose_section(patient, [result], options, figure),
    ]
    body += _let_and_beam_sections(patient, result, beam_model, options, figure)
    body.append(_plan_section(result, settings))
    body.append(_footer(created))
    return document(title, "".join(body))


def render_comparison_report(
    *,
    patient: Patient,
    results: Sequence[PlanResult],
    beam_models: Mapping[str, BeamModel] | None = None,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
    warnings: Sequence[str] = (),
    created: datetime | None = None,
    options: ReportOptions | None = None,
    cache: ReportCache | None = None,
) -> str:
    """The HTML text of :func:`write_comparison_report`."""
    options = options or ReportOptions()
    results = tuple(results)
    _check_comparison(patient, results, beam_models or {})
    names = _dvh_names(patient, results, options)
    labels = " vs ".join(r.label for r in results)
    title = title or f"ionbeam plan comparison: {patient.name}, {labels}"
    figure = _renderer(options, cache)
    lines = [
        line
        for r in results
        for line in (*sections.automatic_warnings(r), *goal_warnings(r), *r.warnings)
    ]
    body = [
        element("h1", escape(title)),
        sections.comparison_facts_table(
            patient, results, version=_version(), created=_date(created)
        ),
        _section("Warnings", sections.warnings_block([*lines, *map(str, warnings)])),
        _section("Clinical goals", goals_section_content(results)),
        _section("Dose metrics", sections.metrics_table(results, names=names)),
    ]
    dvhs = _shared_dvhs(patient, results, names, cache)
    body += [
        _viewer_section(patient, results, options, dvhs, cache),
        _dvh_section(results, dvhs, structure_colours(patient.structures), figure),
        _dose_section(patient, results, options, figure),
        _section("Dose differences", _difference_figures(patient, results, options, figure)),
    ]
    for result in results:
        beam_model = (beam_models or {}).get(result.label)
        parts = _let_and_beam_sections(patient, result, beam_model, options, figure, level="h3")
        body.append(_section(f"Plan {result.label}", "".join(parts) + _plan_tables(result)))
    if settings:
        body.append(_section("Run settings", sections.settings_table(settings)))
    body.append(_footer(created))
    return document(title, "".join(body))


_STYLE_NAMES = ("solid", "dashed", "dotted", "dash-dotted")


def _viewer_section(
    patient: Patient,
    results: Sequence[PlanResult],
    options: ReportOptions,
    dvhs: Mapping[str, tuple[DoseVolumeHistogram, ...]],
    cache: ReportCache | None,
) -> str:
    """The interactive viewer (empty when ``options.viewer`` is off)."""
    if not options.viewer:
        return ""
    block = viewer_block(
        patient, results, options, element_id="ionbeam-viewer-data", dvhs=dvhs, cache=cache
    )
    return element("section", element("h2", escape("Interactive viewer")) + block, id="viewer")


def _shared_dvhs(
    patient: Patient,
    results: Sequence[PlanResult],
    names: Sequence[str],
    cache: ReportCache | None,
) -> dict[str, tuple[DoseVolumeHistogram, ...]]:
    """Each plan's DVHs of ``names`` on common bins from 0 to 5 % above the highest dose
    of all plans: computed once for the DVH figure and the viewer."""
    top = max(float(r.dose_gy.max()) for r in results)
    bins_top = 1.05 * top if top > 0 else 1.0
    return {r.label: structure_dvhs(r.dose_gy, r.dose_grid, patient, names, max_dose_gy=bins_top,
                                    cache=cache)
            for r in results}  # fmt: skip


def _dvh_section(
    results: Sequence[PlanResult],
    dvhs: Mapping[str, tuple[DoseVolumeHistogram, ...]],
    colours: Mapping[str, str],
    figure: _Render,
) -> str:
    """The DVHs of all plans on one axis, on common dose bins (:func:`_shared_dvhs`)."""
    unit = results[0].dose_unit
    prescription = results[0].metrics.prescription_gy
    if len(results) == 1:
        fig = partial(dvh_figure, dvhs[results[0].label], prescription_gy=prescription,
                      dose_unit=unit, colours=colours)  # fmt: skip
        caption = f"Cumulative DVHs ({unit}); dashed line: prescription."
    else:
        fig = partial(dvh_comparison_figure, dvhs, prescription_gy=prescription, dose_unit=unit,
                      colours=colours)  # fmt: skip
        styles = ", ".join(f"{r.label} {s}" for r, s in zip(results, _STYLE_NAMES, strict=False))
        caption = f"Cumulative DVHs ({unit}): {styles}; thin dashed line: prescription."
    return _section("Dose–volume histograms", figure(fig, caption))


def _dose_section(
    patient: Patient,
    results: Sequence[PlanResult],
    options: ReportOptions,
    figure: _Render,
) -> str:
    """The dose of each plan, on one colour scale when there are several."""
    top = max(float(r.dose_gy.max()) for r in results)
    several = len(results) > 1
    caption = _slices_caption(options) + (" Same colour scale for all plans." if several else "")
    parts = []
    for r in results:
        title = f"Dose: {r.label}" if several else "Dose"
        fig = partial(dose_slices_figure, patient, r.dose_gy, r.dose_grid, dose_unit=r.dose_unit,
                      plan=r.plan, max_dose_gy=top, title=title, options=options)  # fmt: skip
        key = _figure_key("dose planes", patient, r, options=options, details=(top, title, None))
        parts.append(figure(fig, caption, key=key))
    parts += [_hottest_point_figure(patient, r, top, options, figure) for r in results if r.goals]
    return _section("Dose", "".join(parts))


def _hottest_point_figure(
    patient: Patient,
    result: PlanResult,
    top: float,
    options: ReportOptions,
    figure: _Render,
) -> str:
    """The dose on the planes through the hot spot outside the target (when it is not
    acceptable) or through the hottest point, so that no hot spot hides between the
    planes through the target."""
    report = result.goals
    if report is None:
        return ""
    point = report.focus_mm
    if not bool(patient.grid.contains(np.asarray(point))):
        return ""
    hot = report.hot_spot
    x, y, z = point
    if hot.acceptable:
        what = f"the hottest point ({float(result.dose_gy.max()):.2f} {result.dose_unit})"
    else:
        what = (
            f"the hot spot outside the target ({hot.max_gy:.2f} {result.dose_unit}, "
            f"{hot.max_percent:.0f} %; {hot.volume_cm3:.2f} cm³ above {hot.threshold_percent:g} %)"
        )
    caption = (
        f"Planes through {what} at ({x:.1f}, {y:.1f}, {z:.1f}) mm (white ring; "
        f"radiological convention); same colour scale as above."
    )
    title = f"Dose through the hottest point: {result.label}"
    through = replace(options, point_mm=point)
    fig = partial(dose_slices_figure, patient, result.dose_gy, result.dose_grid,
                  dose_unit=result.dose_unit, plan=result.plan, max_dose_gy=top, title=title,
                  options=through, marker_mm=point)  # fmt: skip
    # the same figure in a comparison for the plan of the highest dose (same colour scale)
    key = _figure_key("dose planes", patient, result, options=through, details=(top, title, point))
    return figure(fig, caption, key=key)


#: The key of a figure in a :class:`ReportCache`, made with the cache (which holds the
#: objects whose identity the key holds).
_Key = Callable[[ReportCache], tuple[Hashable, ...]]


class _Render(Protocol):
    """Builds a figure (``make()``) and embeds it as a ``<figure>`` with ``caption``;
    a figure with a ``key`` is built once per :class:`ReportCache`."""

    def __call__(
        self, make: Callable[[], Figure], caption: str, *, key: _Key | None = None
    ) -> str: ...


def _renderer(options: ReportOptions, cache: ReportCache | None) -> _Render:
    """A function turning a figure and its caption into an embedded ``<figure>``."""

    def png_and_title(make: Callable[[], Figure]) -> tuple[bytes, str]:
        fig = make()
        return figure_png(fig, dpi=options.dpi), fig.get_suptitle()

    def render(make: Callable[[], Figure], caption: str, *, key: _Key | None = None) -> str:
        png, title = cached(cache, key, partial(png_and_title, make))
        return figure_block(png, caption=caption, alt=title or caption)

    return render


def _section(heading: str, content: str, *, level: str = "h2") -> str:
    return element("section", element(level, escape(heading)) + content)


def _slices_caption(options: ReportOptions) -> str:
    return (
        f"Axial, coronal and sagittal planes through the target (radiological convention; "
        f"R/L, A/P, S/I: patient directions); doses below "
        f"{100 * options.dose_threshold_fraction:g} % of the maximum are not coloured; "
        "arrows: beam directions."
    )


def _let_and_beam_sections(
    patient: Patient,
    result: PlanResult,
    beam_model: BeamModel | None,
    options: ReportOptions,
    figure: _Render,
    *,
    level: str = "h2",
) -> list[str]:
    parts = []
    if result.let_d_kev_um is not None:
        fig = partial(
            let_slices_figure,
            patient,
            result.let_d_kev_um,
            result.dose_gy,
            result.dose_grid,
            plan=result.plan,
            title=f"LET_d: {result.label}",
            options=options,
        )
        caption = (
            f"Dose-averaged LET (keV/µm) where the dose exceeds "
            f"{100 * options.dose_threshold_fraction:g} % of its maximum."
        )
        key = _figure_key("let", patient, result, options=options)
        parts.append(_section("Dose-averaged LET", figure(fig, caption, key=key), level=level))
    if options.bragg_curves and result.plan.n_spots:
        fig = partial(
            bragg_curves_figure,
            result.plan,
            beam_model=beam_model,
            max_curves=options.max_bragg_curves,
        )
        caption = "Integrated depth–dose in water of the plan's energies (no range shifter)."
        key = _figure_key("bragg", result.plan, beam_model, options=options)
        parts.append(_section("Bragg curves", figure(fig, caption, key=key), level=level))
    if options.spot_maps:
        maps = "".join(
            figure(
                partial(spot_maps_figure, beam, max_layers=options.max_layers_per_beam),
                f"Spots of beam {beam.name} in the beam's-eye view at the isocentre; colour: "
                "particles per spot; grey: spots of weight 0.",
                key=_figure_key("spot maps", beam, options=options),
            )
            for beam in result.plan.beams
        )
        parts.append(_section("Spot maps", maps, level=level))
    return parts


def _figure_key(
    kind: str, *sources: object, options: ReportOptions, details: tuple[Hashable, ...] = ()
) -> _Key:
    """The key of a figure made by ``kind`` of ``sources`` (patient, result, plan, beam,
    beam model: immutable, so their identity stands for their content) with ``options``
    and the other values it is drawn with (``details``: colour-scale top, title, …)."""

    def key(cache: ReportCache) -> tuple[Hashable, ...]:
        return (kind, *(cache.identity(s) for s in sources), options, details)

    return key


def _plan_section(result: PlanResult, settings: Mapping[str, Any] | None) -> str:
    content = _plan_tables(result)
    same = settings and sections.settings_table(settings) == sections.settings_table(
        result.plan.settings
    )
    if settings and not same:  # the plan's own settings are shown once
        content += element("h3", escape("Run settings")) + sections.settings_table(settings)
    return _section("Plan", content)


def _plan_tables(result: PlanResult) -> str:
    return (
        element("h3", escape("Beams"))
        + sections.beams_table(result.plan)
        + element("h3", escape("Plan settings"))
        + sections.settings_table(result.plan.settings)
    )


def _difference_figures(
    patient: Patient,
    results: Sequence[PlanResult],
    options: ReportOptions,
    figure: _Render,
) -> str:
    """Each plan after the first minus the first, on the first plan's dose grid."""
    reference = results[0]
    parts = []
    for other in results[1:]:
        dose = _on_grid(other.dose_gy, other.dose_grid, reference.dose_grid)
        fig = partial(
            dose_difference_figure,
            patient,
            dose,
            reference.dose_gy,
            reference.dose_grid,
            labels=(other.label, reference.label),
            dose_unit=reference.dose_unit,
            options=options,
        )
        caption = (
            f"{other.label} − {reference.label} ({reference.dose_unit}): red where "
            f"{other.label} is higher, blue where {reference.label} is higher."
        )
        parts.append(figure(fig, caption))
    return "".join(parts)


def _on_grid(dose: np.ndarray, grid: Grid, target: Grid) -> np.ndarray:
    return dose if grid == target else resample(dose, grid, target, fill_value=0.0)


def _check_result(patient: Patient, result: PlanResult) -> None:
    if not isinstance(patient, Patient):
        raise ConfigError(f"patient must be an ionbeam Patient; got {type(patient).__name__}")
    if not isinstance(result, PlanResult):
        raise ConfigError(
            f"result must be a PlanResult (ionbeam.report); got {type(result).__name__}"
        )
    low, high = patient.grid.extent_mm
    dose_low, dose_high = result.dose_grid.extent_mm
    if np.any(dose_high <= low) or np.any(dose_low >= high):
        raise GridMismatchError(
            f"{result.label}: the dose grid ({dose_low.round(1).tolist()} to "
            f"{dose_high.round(1).tolist()} mm) does not overlap the CT ({low.round(1).tolist()} "
            f"to {high.round(1).tolist()} mm); was the dose computed for this patient?"
        )
    for name in result.metrics.names:
        patient.structures[name]  # metrics of a structure the patient lacks → UnknownNameError


def _check_comparison(
    patient: Patient, results: Sequence[PlanResult], beam_models: Mapping[str, BeamModel]
) -> None:
    if len(results) < 2:
        raise ConfigError(f"a comparison needs at least two plans; got {len(results)}")
    if len(results) > len(_STYLE_NAMES):
        raise ConfigError(f"at most {len(_STYLE_NAMES)} plans can be compared; got {len(results)}")
    for result in results:
        _check_result(patient, result)
    unique_labels(results)
    kinds = {r.dose_kind for r in results}
    if len(kinds) > 1:
        raise ConfigError(
            f"plans to compare must show the same kind of dose; got {sorted(kinds)}: compare "
            "RBE-weighted with RBE-weighted (Gy(RBE)) or physical with physical (Gy)"
        )
    unknown = sorted(set(beam_models) - {r.label for r in results})
    if unknown:
        raise ConfigError(
            f"beam_models has labels {unknown} that match no plan; the plans are "
            f"{[r.label for r in results]}"
        )


def _dvh_names(
    patient: Patient, results: Sequence[PlanResult], options: ReportOptions
) -> list[str]:
    """Structures of the metrics table and DVHs: ``options.structures`` or those evaluated."""
    if options.structures is not None:
        for name in options.structures:
            patient.structures[name]  # raises UnknownNameError listing the known names
        return list(options.structures)
    return list(dict.fromkeys(name for r in results for name in r.metrics.names))


def _version() -> str:
    return __version__


def _date(created: datetime | None) -> str:
    moment = created if created is not None else datetime.now(UTC)
    return moment.isoformat(timespec="seconds")


def _footer(created: datetime | None) -> str:
    return element(
        "footer",
        escape(
            f"Generated by ionbeam {_version()} on {_date(created)}. "
            "ionbeam is research software, not a medical "
            "device."
        ),
    )
