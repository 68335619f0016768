"""Colour washes on CT planes: dose, LET_d and the difference of two doses.

Each figure has three panels (axial, coronal, sagittal through one point,
by default the target's centroid), the CT in grey, the quantity as a
semi-transparent colour wash, the structure contours, orientation letters
(R/L, A/P, S/I; radiological convention, see :mod:`._planes`), the beam
directions when a plan is given, and one colour bar. Distances are in mm on
both axes, so the aspect ratio follows the voxel spacing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ionbeam.errors import GridMismatchError
from ionbeam.patient import Grid, Patient
from ionbeam.planning import Plan
from ionbeam.planning.dose_grid import masks_on_grid
from ionbeam.report._planes import PlaneSample, ct_plane, plane_samples, volume_plane
from ionbeam.report._style import is_body, new_figure, structure_colours
from ionbeam.report.results import ReportOptions, checked_volume

__all__ = [
    "dose_difference_figure",
    "dose_slices_figure",
    "let_colour_range",
    "let_slices_figure",
    "slice_point_mm",
]

_WASH_ALPHA = 0.55
_DOSE_CMAP = "turbo"
_LET_CMAP = "viridis"
_DIFFERENCE_CMAP = "RdBu_r"
#: The LET colour scale ends at this percentile of the LET shown inside the body, so that
#: a few voxels of very high LET at the distal edge do not crush the target's LET.
_LET_TOP_PERCENTILE = 99.0


def dose_slices_figure(
    patient: Patient,
    dose_gy: np.ndarray,
    dose_grid: Grid,
    *,
    dose_unit: str = "Gy",
    plan: Plan | None = None,
    max_dose_gy: float | None = None,
    title: str | None = None,
    options: ReportOptions | None = None,
    marker_mm: tuple[float, float, float] | None = None,
) -> Figure:
    """Dose colour wash (``dose_gy`` on ``dose_grid``, in ``dose_unit``) on three CT
    planes; the colour scale runs from 0 to ``max_dose_gy`` (default: the maximum);
    ``marker_mm``: a point (patient LPS, mm) marked with a ring on each plane."""
    options = options or ReportOptions()
    dose = checked_volume(dose_gy, dose_grid, name="dose", unit=dose_unit)
    top = float(dose.max()) if max_dose_gy is None else float(max_dose_gy)
    top = top if top > 0 else 1.0
    samples = _samples(patient, options)
    planes = [volume_plane(dose, dose_grid, s) for s in samples]
    washes = [np.ma.masked_less(p, options.dose_threshold_fraction * top) for p in planes]
    return _wash_figure(
        patient,
        samples,
        washes,
        cmap=colormaps[_DOSE_CMAP],
        norm=Normalize(0.0, top),
        label=f"dose ({dose_unit})",
        title=title or "Dose",
        plan=plan,
        options=options,
        marker_mm=marker_mm,
    )


def let_slices_figure(
    patient: Patient,
    let_d_kev_um: np.ndarray,
    dose_gy: np.ndarray,
    dose_grid: Grid,
    *,
    plan: Plan | None = None,
    title: str | None = None,
    options: ReportOptions | None = None,
) -> Figure:
    """Dose-averaged LET (keV/µm) on three CT planes, shown only where the dose
    reaches ``options.dose_threshold_fraction`` of its maximum (LET_d is
    meaningless where there is hardly any dose)."""
    options = options or ReportOptions()
    let = checked_volume(let_d_kev_um, dose_grid, name="LET_d", unit="keV/µm")
    dose = checked_volume(dose_gy, dose_grid, name="dose", unit="Gy")
    cutoff = options.dose_threshold_fraction * float(dose.max())
    shown = np.where(dose >= cutoff, let, 0.0) if cutoff > 0 else np.zeros_like(let)
    low, top = let_colour_range(patient, shown, dose_grid)
    samples = _samples(patient, options)
    washes = []
    for sample in samples:
        dose_plane = volume_plane(dose, dose_grid, sample)
        let_plane = volume_plane(shown, dose_grid, sample)
        hidden = (dose_plane < cutoff) | (cutoff <= 0)
        washes.append(np.ma.masked_array(let_plane, mask=hidden))
    return _wash_figure(
        patient,
        samples,
        washes,
        cmap=colormaps[_LET_CMAP],
        norm=Normalize(low, top),
        label="LET_d (keV/µm)",
        title=title or "Dose-averaged LET",
        plan=plan,
        options=options,
    )


def let_colour_range(patient: Patient, let_kev_um: np.ndarray, grid: Grid) -> tuple[float, float]:
    """(low, high) of the LET colour scale, keV/µm: the range of the LET shown (values
    > 0) inside the body outline (everywhere when the patient has none), the top at its
    99th percentile, the bottom at its minimum rounded down to 0.5 keV/µm."""
    shown = np.asarray(let_kev_um) > 0
    bodies = [s for name, s in patient.structures.items() if is_body(name)]
    if bodies:
        inside = shown & masks_on_grid(bodies[:1], grid)[bodies[0].name]
        shown = inside if inside.any() else shown
    values = np.asarray(let_kev_um)[shown]
    if values.size == 0:
        return 0.0, 1.0
    high = float(np.percentile(values, _LET_TOP_PERCENTILE))
    low = 0.5 * math.floor(2.0 * float(values.min()))
    return (low, high) if high > low else (low, low + 1.0)


def dose_difference_figure(
    patient: Patient,
    dose_a_gy: np.ndarray,
    dose_b_gy: np.ndarray,
    dose_grid: Grid,
    *,
    labels: tuple[str, str] = ("A", "B"),
    dose_unit: str = "Gy",
    plan: Plan | None = None,
    title: str | None = None,
    options: ReportOptions | None = None,
) -> Figure:
    """The difference A − B of two doses on the same ``dose_grid``, as a diverging
    wash centred on 0 (red: A higher, blue: B higher), shown where either dose
    reaches ``options.dose_threshold_fraction`` of the larger maximum."""
    options = options or ReportOptions()
    dose_a = checked_volume(dose_a_gy, dose_grid, name=f"dose of {labels[0]}", unit=dose_unit)
    dose_b = checked_volume(dose_b_gy, dose_grid, name=f"dose of {labels[1]}", unit=dose_unit)
    difference = dose_a.astype(np.float64) - dose_b
    cutoff = options.dose_threshold_fraction * max(float(dose_a.max()), float(dose_b.max()))
    reach = float(np.abs(difference).max()) or 1.0
    samples = _samples(patient, options)
    washes = []
    for sample in samples:
        larger = np.maximum(
            volume_plane(dose_a, dose_grid, sample), volume_plane(dose_b, dose_grid, sample)
        )
        plane = volume_plane(difference, dose_grid, sample)
        washes.append(np.ma.masked_array(plane, mask=(larger < cutoff) | (cutoff <= 0)))
    return _wash_figure(
        patient,
        samples,
        washes,
        cmap=colormaps[_DIFFERENCE_CMAP],
        norm=Normalize(-reach, reach),
        label=f"{labels[0]} − {labels[1]} ({dose_unit})",
        title=title or f"Dose difference {labels[0]} − {labels[1]}",
        plan=plan,
        options=options,
    )


def slice_point_mm(patient: Patient, options: ReportOptions | None = None) -> np.ndarray:
    """Where the planes cross: ``options.point_mm``, else the target's centroid,
    else the centre of the CT (mm, patient LPS)."""
    if options is not None and options.point_mm is not None:
        return np.asarray(options.point_mm, dtype=float)
    if patient.target_name is not None:
        return patient.target.centroid_mm
    low, high = patient.grid.extent_mm
    return 0.5 * (low + high)


def shown_structures(patient: Patient, options: ReportOptions | None) -> list[str]:
    """Names of the structures to draw (unknown names raise ``UnknownNameError``)."""
    if options is None or options.structures is None:
        return list(patient.structures)
    for name in options.structures:
        patient.structures[name]  # raises, listing the known names
    return list(options.structures)


def _samples(patient: Patient, options: ReportOptions) -> list[PlaneSample]:
    return plane_samples(
        patient.grid, slice_point_mm(patient, options), max_pixels=options.max_plane_pixels
    )


def _wash_figure(
    patient: Patient,
    samples: Sequence[PlaneSample],
    washes: Sequence[np.ma.MaskedArray],
    *,
    cmap: Colormap,
    norm: Normalize,
    label: str,
    title: str,
    plan: Plan | None,
    options: ReportOptions,
    marker_mm: tuple[float, float, float] | None = None,
) -> Figure:
    names = shown_structures(patient, options)
    colours = structure_colours(patient.structures)
    figure = new_figure(14.0, 5.2)
    axes = figure.subplots(1, len(samples), squeeze=False)[0]
    for ax, sample, wash in zip(axes, samples, washes, strict=True):
        _draw_plane(ax, patient, sample, wash, cmap=cmap, norm=norm, window=options.ct_window_hu)
        for name in names:
            _draw_contour(
                ax, ct_plane(patient.structures[name].mask, sample), sample, colours[name]
            )
        if plan is not None:
            _draw_beams(ax, plan, sample)
        if marker_mm is not None:
            point = (marker_mm[sample.view.horizontal_axis], marker_mm[sample.view.vertical_axis])
            ax.plot(*point, marker="o", markersize=14, markerfacecolor="none",
                    markeredgecolor="white", markeredgewidth=1.5)  # fmt: skip
    figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=list(axes), shrink=0.85, label=label)
    handles = [Line2D([], [], color=colours[n], label=n) for n in names]
    if handles:
        figure.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 9),
            fontsize="small",
            frameon=False,
        )
    figure.suptitle(title)
    return figure


def _draw_plane(
    ax: Axes,
    patient: Patient,
    sample: PlaneSample,
    wash: np.ma.MaskedArray,
    *,
    cmap: Colormap,
    norm: Normalize,
    window: tuple[float, float],
) -> None:
    extent = sample.extent_mm
    hu = ct_plane(patient.ct.hu, sample)
    ax.imshow(
        hu.T,
        origin="lower",
        extent=extent,
        cmap="gray",
        vmin=window[0],
        vmax=window[1],
        interpolation="nearest",
    )
    ax.imshow(
        wash.T,
        origin="lower",
        extent=extent,
        cmap=cmap,
        norm=norm,
        alpha=_WASH_ALPHA,
        interpolation="nearest",
    )
    ax.set_aspect("equal")
    if sample.view.vertical_downwards:
        ax.invert_yaxis()
    axis_names = "xyz"
    ax.set_xlabel(f"{axis_names[sample.view.horizontal_axis]} (mm)")
    ax.set_ylabel(f"{axis_names[sample.view.vertical_axis]} (mm)")
    ax.set_title(sample.title, fontsize="medium")
    left, right, top, bottom = sample.view.letters
    style: dict[str, Any] = {
        "color": "white",
        "fontweight": "bold",
        "transform": ax.transAxes,
        "ha": "center",
        "va": "center",
    }
    for text, x, y in (
        (left, 0.04, 0.5),
        (right, 0.96, 0.5),
        (top, 0.5, 0.96),
        (bottom, 0.5, 0.04),
    ):
        ax.text(x, y, text, **style)


def _draw_contour(ax: Axes, mask_plane: np.ndarray, sample: PlaneSample, colour: str) -> None:
    """The outline of a structure in the plane (nothing when the plane misses it or
    lies wholly inside it: a contour of a constant field would have no level)."""
    inside = np.asarray(mask_plane, dtype=bool)
    if not inside.any() or inside.all():
        return
    ax.contour(
        sample.horizontal_mm,
        sample.vertical_mm,
        inside.T.astype(np.float32),
        levels=[0.5],
        colors=[colour],
        linewidths=1.1,
    )


def _draw_beams(ax: Axes, plan: Plan, sample: PlaneSample) -> None:
    """An arrow per beam along its central axis towards the isocentre, where the axis
    has an in-plane component (its projection onto the plane)."""
    h_axis, v_axis = sample.view.horizontal_axis, sample.view.vertical_axis
    left, right, bottom, top = sample.extent_mm
    length = 0.22 * max(right - left, top - bottom)
    for beam in plan.beams:
        direction = beam.geometry.direction
        in_plane = np.array([direction[h_axis], direction[v_axis]])
        if np.hypot(*in_plane) < 0.2:
            continue
        iso = np.asarray(beam.geometry.isocenter_mm)
        tip = np.array([iso[h_axis], iso[v_axis]])
        tail = tip - length * in_plane / np.hypot(*in_plane)
        ax.annotate(
            "",
            xy=tuple(tip),
            xytext=tuple(tail),
            annotation_clip=False,
            arrowprops={"arrowstyle": "-|>", "color": "white", "lw": 1.4},
        )
        label = tail - 0.12 * length * in_plane / np.hypot(*in_plane)
        x, ha = _inside(float(label[0]), left, right, ("left", "center", "right"))
        # on an inverted vertical axis (axial view) the low end is at the image's top
        ends = ("top", "center", "bottom") if sample.view.vertical_downwards else (
            "bottom", "center", "top")  # fmt: skip
        y, va = _inside(float(label[1]), bottom, top, ends)
        ax.text(x, y, beam.name, color="white", fontsize="small", ha=ha, va=va, clip_on=False,
                bbox={"facecolor": "black", "alpha": 0.5, "lw": 0})  # fmt: skip


def _inside(
    value: float, low: float, high: float, alignments: tuple[str, str, str]
) -> tuple[float, str]:
    """A label position kept inside [low, high] and the alignment (at the low end, in
    the middle, at the high end) that keeps its text inside too, so that no beam
    label is clipped."""
    span = high - low
    value = min(max(value, low + 0.03 * span), high - 0.03 * span)
    if value < low + 0.2 * span:
        return value, alignments[0]
    if value > high - 0.2 * span:
        return value, alignments[2]
    return value, alignments[1]


def check_same_grid(grid_a: Grid, grid_b: Grid, what: str) -> None:
    """Raise ``GridMismatchError`` unless the two grids are the same."""
    if grid_a != grid_b:
        raise GridMismatchError(
            f"{what}: the doses are on different grids ({grid_a} vs {grid_b}); "
            "resample one onto the other's grid first"
        )
