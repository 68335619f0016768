"""Dose–volume histograms: one plan, or several plans on one axis.

Curves are cumulative DVHs (% of the structure's volume receiving at least a
dose), from :func:`ionbeam.evaluation.dose_volume_histograms`, one colour per
structure; in a comparison each plan has its own line style (first solid,
second dashed, …). A vertical line marks the prescription.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from functools import partial

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ionbeam.errors import ConfigError
from ionbeam.evaluation import DoseVolumeHistogram, dose_volume_histograms
from ionbeam.patient import Grid, Patient
from ionbeam.planning.dose_grid import occupancy_on_grid
from ionbeam.report._cache import ReportCache, cached
from ionbeam.report._style import PLAN_LINE_STYLES, new_figure, structure_colours
from ionbeam.report.results import checked_volume

__all__ = ["dvh_comparison_figure", "dvh_figure", "fitted_dose_axis_gy", "structure_dvhs"]

#: The dose axis reaches this much beyond the highest dose, so every curve visibly ends at 0 %.
_DOSE_AXIS_HEADROOM = 1.05
#: The fitted dose axis ends where every curve has fallen below this volume fraction
#: (a hot voxel or two must not squeeze the targets into one vertical line) …
_AXIS_VOLUME_FRACTION = 0.001
#: … with this much room beyond it, and at least this far beyond the prescription.
_AXIS_MARGIN = 1.08
_AXIS_PAST_PRESCRIPTION = 1.15


def fitted_dose_axis_gy(
    dvhs: Sequence[DoseVolumeHistogram], *, prescription_gy: float | None = None
) -> float:
    """The top of a DVH's dose axis: where the last curve falls below 0.1 % of its
    volume, plus 8 %, and at least 15 % past the prescription (never beyond the bins)."""
    if not dvhs:
        return 1.0
    reach = 0.0
    for dvh in dvhs:
        above = np.nonzero(dvh.cumulative_volume_fraction >= _AXIS_VOLUME_FRACTION)[0]
        if above.size:
            reach = max(reach, float(dvh.dose_edges_gy[above[-1]]))
    top = _AXIS_MARGIN * reach
    if prescription_gy:
        top = max(top, _AXIS_PAST_PRESCRIPTION * prescription_gy)
    last = max(float(d.dose_edges_gy[-1]) for d in dvhs)
    return min(top, last) if top > 0 else last


def structure_dvhs(
    dose_gy: np.ndarray,
    dose_grid: Grid,
    patient: Patient,
    names: Iterable[str],
    *,
    max_dose_gy: float | None = None,
    cache: ReportCache | None = None,
) -> tuple[DoseVolumeHistogram, ...]:
    """Cumulative DVHs of the patient's structures ``names`` (each voxel of
    ``dose_grid`` weighted by the fraction of it inside the structure) on common bins
    from 0 to ``max_dose_gy`` (default: 5 % above the highest dose in them).

    ``cache``: a :class:`~ionbeam.report.ReportCache` of reports of this patient; the
    structures' occupancy of ``dose_grid``, and the DVHs of this very ``dose_gy`` array
    on the same bins, are then computed once for all of them."""
    dose = checked_volume(dose_gy, dose_grid, name="dose", unit="Gy")
    names = tuple(names)
    structures = [patient.structures[name] for name in names]  # unknown → UnknownNameError

    def dvhs() -> tuple[DoseVolumeHistogram, ...]:
        masks = cached(cache, occupancy_key, partial(occupancy_on_grid, structures, dose_grid))
        top = max_dose_gy
        if top is None:
            highest = max(float(dose[m > 0].max()) if m.any() else 0.0 for m in masks.values())
            top = _DOSE_AXIS_HEADROOM * highest if highest > 0 else 1.0
        return dose_volume_histograms(dose, dose_grid, masks, max_dose_gy=top)

    def occupancy_key(cache: ReportCache) -> tuple[Hashable, ...]:
        return ("occupancy", cache.identity(patient), names, dose_grid)

    def dvhs_key(cache: ReportCache) -> tuple[Hashable, ...]:
        return ("dvhs", cache.identity(dose_gy), *occupancy_key(cache), max_dose_gy)

    return cached(cache, dvhs_key, dvhs)


def dvh_figure(
    dvhs: Sequence[DoseVolumeHistogram],
    *,
    prescription_gy: float | None = None,
    dose_unit: str = "Gy",
    colours: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Cumulative DVHs of several structures on one axis (volume in %)."""
    return dvh_comparison_figure(
        {"": dvhs},
        prescription_gy=prescription_gy,
        dose_unit=dose_unit,
        colours=colours,
        title=title or "Dose–volume histograms",
    )


def dvh_comparison_figure(
    dvhs_by_plan: Mapping[str, Sequence[DoseVolumeHistogram]],
    *,
    prescription_gy: float | None = None,
    dose_unit: str = "Gy",
    colours: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """The DVHs of several plans (label → DVHs) on one axis: colour = structure,
    line style = plan (solid, dashed, dotted, dash-dot, in the mapping's order)."""
    if not dvhs_by_plan:
        raise ConfigError("no DVHs to plot; pass at least one plan's DVHs")
    if len(dvhs_by_plan) > len(PLAN_LINE_STYLES):
        raise ConfigError(
            f"at most {len(PLAN_LINE_STYLES)} plans fit on one DVH axis; got {len(dvhs_by_plan)}"
        )
    names = list(dict.fromkeys(d.name for dvhs in dvhs_by_plan.values() for d in dvhs))
    palette = dict(colours) if colours is not None else structure_colours(names)
    missing = [n for n in names if n not in palette]
    palette.update(structure_colours(missing))
    figure = new_figure(9.0, 5.0)
    ax = figure.subplots()
    for style, dvhs in zip(PLAN_LINE_STYLES, dvhs_by_plan.values(), strict=False):
        for dvh in dvhs:
            ax.plot(
                dvh.dose_edges_gy,
                100.0 * dvh.cumulative_volume_fraction,
                color=palette[dvh.name],
                linestyle=style,
                linewidth=1.6,
            )
    if prescription_gy is not None:
        ax.axvline(prescription_gy, color="black", linewidth=0.8, linestyle=(0, (4, 2)))
    _legends(ax, names, palette, dvhs_by_plan, prescription_gy, dose_unit)
    every = [d for dvhs in dvhs_by_plan.values() for d in dvhs]
    right = fitted_dose_axis_gy(every, prescription_gy=prescription_gy)
    ax.set(xlabel=f"dose ({dose_unit})", ylabel="volume (%)", ylim=(0.0, 102.0), xlim=(0.0, right))
    ax.grid(alpha=0.3)
    ax.set_title(title or "Dose–volume histograms")
    return figure


def _legends(
    ax: Axes,
    names: Sequence[str],
    palette: Mapping[str, str],
    dvhs_by_plan: Mapping[str, Sequence[DoseVolumeHistogram]],
    prescription_gy: float | None,
    dose_unit: str,
) -> None:
    """One legend right of the axes: structures (colours), then plans (line styles)
    and the prescription line."""
    handles = [Line2D([], [], color=palette[n], label=n) for n in names]
    labels = [label for label in dvhs_by_plan if label]
    handles += [Line2D([], [], color="black", linestyle=style, label=label)
                for style, label in zip(PLAN_LINE_STYLES, labels, strict=False)]  # fmt: skip
    if prescription_gy is not None:
        handles.append(Line2D([], [], color="black", linewidth=0.8, linestyle=(0, (4, 2)),
                              label=f"prescription {prescription_gy:g} {dose_unit}"))  # fmt: skip
    ax.figure.legend(handles=handles, loc="outside right upper", fontsize="small")
