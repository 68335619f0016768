"""Figures of what the machine delivers: Bragg curves of the plan's energies, and
spot maps of each beam's energy layers.

Bragg curves are the laterally integrated depth–dose in water (MeV/mm per
primary particle), without range shifter, from the plan's
:class:`~ionbeam.machine.beam_model.BeamModel` when given (what the dose
engine used) or else from :func:`ionbeam.physics.depth_dose.depth_dose` (through the
disk cache of :func:`~ionbeam.physics.beam_model_tables.compute_depth_dose_library`).
Spot maps show each layer's spots in the beam's-eye view at the isocentre,
coloured by their weight (particles per fraction, one colour scale per
beam); spots of weight 0 are drawn as small grey dots.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from ionbeam.errors import ConfigError
from ionbeam.machine.beam_model import MEV_PER_MM_TO_GY_MM2, BeamModel
from ionbeam.physics.beam_model_tables import compute_depth_dose_library
from ionbeam.planning import Beam, Plan
from ionbeam.report._style import new_figure

__all__ = ["bragg_curves_figure", "evenly_spaced", "plan_energies", "spot_maps_figure"]

_SPOT_CMAP = "viridis"
_ZERO_WEIGHT_COLOUR = "#bdbdbd"
#: The depth axis ends this factor beyond the deepest Bragg peak.
_DEPTH_AXIS_REACH = 1.25


def plan_energies(plan: Plan) -> np.ndarray:
    """The distinct layer energies of all beams, highest first, MeV/u."""
    energies = [beam.spots.energy_mev_u for beam in plan.beams]
    return np.unique(np.concatenate(energies))[::-1] if energies else np.empty(0)


def evenly_spaced(n: int, count: int) -> np.ndarray:
    """``min(n, count)`` indices into ``range(n)``, evenly spread, first and last included."""
    if n <= count:
        return np.arange(n)
    return np.unique(np.rint(np.linspace(0, n - 1, count)).astype(int))


def bragg_curves_figure(
    plan: Plan, *, beam_model: BeamModel | None = None, max_curves: int = 8
) -> Figure:
    """IDD versus depth in water of (at most ``max_curves``, evenly chosen) energies
    of ``plan``, MeV/mm per primary particle."""
    energies = plan_energies(plan)
    if energies.size == 0:
        raise ConfigError("the plan has no spots, so it has no energies to draw Bragg curves of")
    if beam_model is not None and beam_model.particle != plan.particle:
        raise ConfigError(
            f"the beam model is for {beam_model.particle} but the plan uses {plan.particle}; "
            "pass the beam model the plan was computed with"
        )
    chosen = np.sort(energies[evenly_spaced(energies.size, max_curves)])
    figure = new_figure(9.0, 4.8)
    ax = figure.subplots()
    colours = colormaps["plasma"](np.linspace(0.0, 0.85, chosen.size))
    deepest = 0.0
    for energy, colour in zip(chosen, colours, strict=True):
        depth, idd, peak = _curve(plan.particle, float(energy), beam_model)
        ax.plot(depth, idd, color=colour, linewidth=1.4, label=f"{energy:.1f} MeV/u")
        deepest = max(deepest, peak)
    ax.set_xlim(0.0, _DEPTH_AXIS_REACH * deepest if deepest > 0 else None)
    ax.set_ylim(0.0, None)
    ax.set(xlabel="depth in water (mm)", ylabel="IDD (MeV/mm per particle)")
    shown = (
        f"{chosen.size} of {energies.size} energies"
        if chosen.size < energies.size
        else (f"all {energies.size} energies")
    )
    source = "beam model" if beam_model is not None else "ionbeam.physics"
    ax.set_title(f"Bragg curves in water: {plan.particle}, {shown} ({source})")
    ax.legend(fontsize="small", loc="upper left", ncols=2)
    ax.grid(alpha=0.3)
    return figure


def _curve(
    particle: str, energy_mev_u: float, beam_model: BeamModel | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Depth (mm), IDD (MeV/mm per particle) and Bragg-peak depth (mm) of one energy."""
    if beam_model is None:  # the physics' curve, from the disk cache when computed before
        library = compute_depth_dose_library(particle, np.array([energy_mev_u]))
        return library.depth_mm[0], library.idd_mev_mm[0], float(library.bragg_peak_mm[0])
    i = int(beam_model.energy_index(np.array([energy_mev_u]))[0])  # not in the model → raises
    idd = np.asarray(beam_model.idd_gy_mm2[i], dtype=float) / MEV_PER_MM_TO_GY_MM2
    return beam_model.depth_mm(i), idd, float(beam_model.bragg_peak_mm[i])


def spot_maps_figure(beam: Beam, *, max_layers: int = 12) -> Figure:
    """Spot positions (BEV x, y at the isocentre, mm) of the beam's energy layers, one
    panel per layer (at most ``max_layers``, evenly chosen, highest energy first),
    coloured by weight (particles per fraction) on one scale for the beam."""
    spots = beam.spots
    layers = spots.layer_indices()
    geometry = beam.geometry
    heading = (
        f"{beam.name}: gantry {geometry.gantry_deg:g}°, couch {geometry.couch_deg:g}°, "
        f"{len(layers)} layers, {spots.n_spots} spots"
    )
    if not layers:
        figure = new_figure(5.0, 2.0)
        figure.text(0.5, 0.5, f"{heading}: no spots", ha="center", va="center")
        return figure
    chosen = evenly_spaced(len(layers), max_layers)
    figure, axes, colorbar_axes = _panel_grid(chosen.size)
    norm = Normalize(0.0, float(spots.weight.max()) or 1.0)
    limits = _limits(spots.x_mm, spots.y_mm)
    ncols = axes.shape[1]
    for k, (ax, layer) in enumerate(zip(axes.flat, chosen, strict=False)):
        _draw_layer(ax, beam, layers[layer], norm, limits)
        ax.tick_params(labelleft=k % ncols == 0)
        if k + ncols >= chosen.size:  # no panel below: label the x axis here
            ax.set_xlabel("BEV x (mm)")
        else:
            ax.tick_params(labelbottom=False)
        if k % ncols == 0:
            ax.set_ylabel("BEV y (mm)")
    for ax in list(axes.flat)[chosen.size :]:
        ax.set_visible(False)
    colorbar = figure.colorbar(ScalarMappable(norm=norm, cmap=colormaps[_SPOT_CMAP]),
                               cax=colorbar_axes, label="particles per spot")  # fmt: skip
    cast(ScalarFormatter, colorbar.formatter).set_powerlimits((-2, 3))  # a linear norm's
    if chosen.size < len(layers):
        heading += f" (showing {chosen.size} of {len(layers)} layers)"
    figure.suptitle(heading)
    return figure


def _panel_grid(n_panels: int) -> tuple[Figure, np.ndarray, Axes]:
    """A figure with ``n_panels`` square panels (at most 4 per row) and a colour-bar
    axes on the right. Laid out by hand with fixed margins in inches: constrained
    layout costs about 1 s for a dozen panels, four times the drawing itself."""
    ncols = min(4, n_panels)
    nrows = math.ceil(n_panels / ncols)
    panel, gap_w, gap_h = 2.5, 0.25, 0.55  # inches
    left, right, top, bottom = 0.75, 1.4, 0.75, 0.6
    width = left + ncols * panel + (ncols - 1) * gap_w + right
    height = top + nrows * panel + (nrows - 1) * gap_h + bottom
    figure = Figure(figsize=(width, height))
    axes = figure.subplots(
        nrows, ncols, squeeze=False,
        gridspec_kw={"left": left / width, "right": 1 - right / width,
                     "bottom": bottom / height, "top": 1 - top / height,
                     "wspace": gap_w / panel, "hspace": gap_h / panel},
    )  # fmt: skip
    colorbar_axes = figure.add_axes(
        (1 - (right - 0.2) / width, bottom / height, 0.15 / width, 1 - (top + bottom) / height)
    )
    return figure, axes, colorbar_axes


def _draw_layer(
    ax: Axes,
    beam: Beam,
    index: np.ndarray,
    norm: Normalize,
    limits: tuple[tuple[float, float], tuple[float, float]],
) -> None:
    spots = beam.spots
    x, y, weight = spots.x_mm[index], spots.y_mm[index], spots.weight[index]
    used = weight > 0
    ax.scatter(x[~used], y[~used], s=3, color=_ZERO_WEIGHT_COLOUR, linewidths=0)
    ax.scatter(x[used], y[used], c=weight[used], s=9, cmap=_SPOT_CMAP, norm=norm, linewidths=0)
    energy = float(spots.energy_mev_u[index[0]])
    ax.set_title(
        f"{energy:.1f} MeV/u: {int(used.sum())} spots, {weight.sum():.2e} p", fontsize="small"
    )
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1])
    ax.set_aspect("equal")
    ax.grid(alpha=0.25)


def _limits(x_mm: np.ndarray, y_mm: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Square x and y limits around all spots of a beam, with a small margin, mm."""
    low = np.array([x_mm.min(), y_mm.min()])
    high = np.array([x_mm.max(), y_mm.max()])
    centre = 0.5 * (low + high)
    half = 0.54 * float(np.max(high - low)) + 2.0
    return (centre[0] - half, centre[0] + half), (centre[1] - half, centre[1] + half)
