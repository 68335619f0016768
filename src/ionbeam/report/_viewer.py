"""The report's interactive viewer: the data it needs, embedded in the page.

The viewer (``viewer.js`` beside this module, hand-written, no library, no
network) shows the CT on axial, coronal and sagittal planes that scroll through
every slice, a colour wash of the chosen quantity (dose, physical dose, LET_d,
each beam's dose), isodose lines at levels the user types, structure contours
that toggle, the values under the cursor, and a DVH that zooms.

What travels (see :mod:`._volume_codec`): the CT as a uint8 grey-scale window
and each structure as a uint8 mask, on the CT grid thinned to at most
``ReportOptions.viewer_max_voxels`` voxels; each plan's volumes as uint16 with a
scale on its own dose grid (the viewer interpolates them trilinearly onto the
CT's voxels, as :func:`ionbeam.patient.resample` does); the DVHs as curves.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import partial
from importlib import resources
from typing import Any

import numpy as np
from matplotlib import colormaps

from ionbeam.evaluation import DoseVolumeHistogram
from ionbeam.patient import Grid, Patient
from ionbeam.report._cache import ReportCache, cached
from ionbeam.report._html import element, escape
from ionbeam.report._style import structure_colours
from ionbeam.report._volume_codec import encode_uint8, encode_uint16, quantize
from ionbeam.report.dvh_plots import fitted_dose_axis_gy, structure_dvhs
from ionbeam.report.results import PlanResult, ReportOptions
from ionbeam.report.slices import let_colour_range, shown_structures, slice_point_mm

__all__ = ["viewer_block", "viewer_data", "viewer_grid"]

#: At most this many points per DVH curve in the page.
_DVH_POINTS = 300
_COLOUR_MAPS = {"dose": "turbo", "let": "viridis"}


def viewer_block(
    patient: Patient,
    results: Sequence[PlanResult],
    options: ReportOptions,
    *,
    element_id: str,
    dvhs: Mapping[str, tuple[DoseVolumeHistogram, ...]] | None = None,
    cache: ReportCache | None = None,
) -> str:
    """The viewer's markup: a container, its data as JSON, and the script. ``dvhs``: each
    plan's DVHs (label → DVHs) as :func:`viewer_data` computes them, made before;
    ``cache``: see :func:`viewer_data`."""
    data = viewer_data(patient, results, options, dvhs=dvhs, cache=cache)
    text = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    script = resources.files("ionbeam.report").joinpath("viewer.js").read_text(encoding="utf-8")
    fallback = element("noscript", element("p", escape("The interactive viewer needs JavaScript.")))
    return (
        element("div", fallback, class_="ionbeam-viewer", data_source=element_id)
        + f'<script type="application/json" id="{escape(element_id)}">{text}</script>'
        + f"<script>{script}</script>"
    )


def viewer_grid(ct_grid: Grid, options: ReportOptions) -> tuple[Grid, tuple[int, int, int]]:
    """The CT grid as the viewer shows it (every n-th voxel) and the strides."""
    shape = np.asarray(ct_grid.shape)
    strides = np.maximum(1, np.ceil(shape / options.max_plane_pixels)).astype(int)
    while np.prod(np.ceil(shape / strides)) > options.viewer_max_voxels:
        strides += 1
    thinned = tuple(math.ceil(n / s) for n, s in zip(shape, strides, strict=True))
    spacing = tuple(float(d * s) for d, s in zip(ct_grid.spacing_mm, strides, strict=True))
    origin = ct_grid.origin_mm
    grid = Grid(
        thinned,
        (spacing[0], spacing[1], spacing[2]),
        (float(origin[0]), float(origin[1]), float(origin[2])),
    )
    return grid, (int(strides[0]), int(strides[1]), int(strides[2]))


def viewer_data(
    patient: Patient,
    results: Sequence[PlanResult],
    options: ReportOptions,
    *,
    dvhs: Mapping[str, tuple[DoseVolumeHistogram, ...]] | None = None,
    cache: ReportCache | None = None,
) -> dict[str, Any]:
    """Everything the viewer draws, as JSON-ready values. ``dvhs``: each plan's DVHs
    (label → DVHs of the metrics' structures on bins from 0 to 5 % above the highest
    dose of all plans) when the caller has them; a plan with robustness scenarios, whose
    bins also reach its scenarios' doses, gets its own. ``cache``: a
    :class:`~ionbeam.report.ReportCache` of reports of this patient, which then encode
    the CT, each structure and each plan's volumes once."""
    grid, strides = viewer_grid(patient.grid, options)
    thin = tuple(slice(None, None, s) for s in strides)
    low, high = options.ct_window_hu

    def grey() -> str:
        hu = patient.ct.hu[thin]
        return encode_uint8(np.rint(255 * np.clip((hu - low) / (high - low), 0, 1)))

    def mask(name: str) -> str:
        return encode_uint8(patient.structures[name].mask[thin])

    def volume_key(*what: Hashable) -> Callable[[ReportCache], tuple[Hashable, ...]]:
        return lambda cache: ("viewer", cache.identity(patient), strides, *what)

    names = shown_structures(patient, options)
    colours = structure_colours(patient.structures)
    point = slice_point_mm(patient, options)
    start = np.clip(np.rint(grid.world_to_index(point)).astype(int), 0, np.asarray(grid.shape) - 1)
    top = max(float(r.dose_gy.max()) for r in results)
    return {
        "ct": {"grid": _grid(grid), "data": cached(cache, volume_key("ct", low, high), grey)},
        "structures": [
            {
                "name": name,
                "colour": colours[name],
                "data": cached(cache, volume_key("mask", name), partial(mask, name)),
            }
            for name in names
        ],
        "start_index": [int(v) for v in start],
        "isodose_percent": list(options.isodose_percent),
        "colour_maps": {key: _lut(name) for key, name in _COLOUR_MAPS.items()},
        "plans": [
            _plan_data(
                patient, r, results, options, top, None if dvhs is None else dvhs[r.label], cache
            )
            for r in results
        ],
    }


def _grid(grid: Grid) -> dict[str, list]:
    return {
        "shape": [int(n) for n in grid.shape],
        "spacing_mm": [float(v) for v in grid.spacing_mm],
        "origin_mm": [float(v) for v in grid.origin_mm],
    }


def _lut(name: str) -> str:
    rgb = np.rint(255 * colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]).astype(np.uint8)
    return base64.b64encode(rgb.tobytes()).decode("ascii")


def _plan_data(
    patient: Patient,
    result: PlanResult,
    results: Sequence[PlanResult],
    options: ReportOptions,
    top: float,
    dvhs: tuple[DoseVolumeHistogram, ...] | None,
    cache: ReportCache | None,
) -> dict[str, Any]:
    threshold = options.dose_threshold_fraction
    unit = result.dose_unit
    main = "RBE-weighted dose" if result.dose_kind == "rbe" else "dose"
    quantities = [_dose_quantity(main, result.dose_gy, unit, top, threshold, cache)]
    prescription = result.metrics.prescription_gy
    if prescription:
        quantities[0].update(isodose_reference=float(prescription), isodose_of="the prescription")
    if result.physical_dose_gy is not None:
        physical_top = float(result.physical_dose_gy.max())
        quantities.append(
            _dose_quantity(
                "physical dose", result.physical_dose_gy, "Gy", physical_top, threshold, cache
            )
        )
    if result.let_d_kev_um is not None:

        def let_key(cache: ReportCache) -> tuple[Hashable, ...]:
            return ("viewer LET", cache.identity(patient), cache.identity(result), threshold)

        let = cached(cache, let_key, partial(_let_quantity, patient, result, threshold))
        quantities.append(dict(let))
    for name, dose in result.beam_doses_gy.items():
        label = f"beam {name}, physical dose"
        beam = _dose_quantity(label, dose, "Gy", float(dose.max()), threshold, cache)
        beam["readout"] = False
        quantities.append(beam)
    return {
        "label": result.label,
        "unit": unit,
        "prescription_gy": float(result.metrics.prescription_gy or 0.0),
        "grid": _grid(result.dose_grid),
        "quantities": quantities,
        "beams": [
            {
                "name": beam.name,
                "isocenter_mm": [float(v) for v in beam.geometry.isocenter_mm],
                "direction": [float(v) for v in beam.geometry.direction],
            }
            for beam in result.plan.beams
        ],
        "dvh": _dvh_data(patient, result, results, options, dvhs, cache),
    }


def _dose_quantity(
    name: str,
    dose: np.ndarray,
    unit: str,
    top: float,
    threshold: float,
    cache: ReportCache | None = None,
) -> dict[str, Any]:
    def encoded() -> tuple[str, float]:
        codes, scale = quantize(dose)
        return encode_uint16(codes), scale

    data, scale = cached(cache, lambda cache: ("viewer volume", cache.identity(dose)), encoded)
    top = top if top > 0 else 1.0
    return {
        "name": name,
        "unit": unit,
        "data": data,
        "scale": scale,
        "max": float(dose.max()),
        "range": [0.0, top],
        "wash_from": threshold * top,
        "colour_map": "dose",
        "isodose": True,
        "isodose_reference": float(dose.max()) or 1.0,
        "isodose_of": "the maximum",
        "readout": True,
        "saturates": False,
        "digits": 2,
    }


def _let_quantity(patient: Patient, result: PlanResult, threshold: float) -> dict[str, Any]:
    """LET_d where the dose reaches ``threshold`` of its maximum (0 elsewhere: LET of
    hardly any dose means nothing), on a colour scale fitted to it inside the body."""
    dose = result.dose_gy
    let = result.let_d_kev_um if result.let_d_kev_um is not None else np.zeros_like(dose)
    cutoff = threshold * float(dose.max())
    shown = np.where(dose >= cutoff, let, 0.0) if cutoff > 0 else np.zeros_like(let)
    low, high = let_colour_range(patient, shown, result.dose_grid)
    codes, scale = quantize(shown)
    return {
        "name": "LET_d",
        "unit": "keV/µm",
        "data": encode_uint16(codes),
        "scale": scale,
        "max": float(shown.max()),
        "range": [low, high],
        "wash_from": 1e-9,
        "colour_map": "let",
        "isodose": False,
        "readout": True,
        "saturates": bool(shown.max() > high),
        "digits": 1,
    }


def _dvh_data(
    patient: Patient,
    result: PlanResult,
    results: Sequence[PlanResult],
    options: ReportOptions,
    shared: tuple[DoseVolumeHistogram, ...] | None,
    cache: ReportCache | None,
) -> dict[str, Any]:
    """Cumulative DVHs (and scenario bands) of the metrics' structures on common bins."""
    names = (
        list(options.structures)
        if options.structures is not None
        else list(dict.fromkeys(n for r in results for n in r.metrics.names))
    )
    everything = [r.dose_gy for r in results] + list(result.scenario_doses_gy)
    top = 1.05 * max(float(d.max()) for d in everything) or 1.0
    colours = structure_colours(patient.structures)
    nominal = (
        shared
        if shared is not None and not result.scenario_doses_gy
        else structure_dvhs(
            result.dose_gy, result.dose_grid, patient, names, max_dose_gy=top, cache=cache
        )
    )
    scenarios = [
        structure_dvhs(d, result.dose_grid, patient, names, max_dose_gy=top, cache=cache)
        for d in result.scenario_doses_gy
    ]
    edges = nominal[0].dose_edges_gy if nominal else np.array([0.0, top])
    keep = np.unique(np.rint(np.linspace(0, edges.size - 1, min(edges.size, _DVH_POINTS))))
    keep = keep.astype(int)
    curves = []
    for k, dvh in enumerate(nominal):
        curve: dict[str, Any] = {
            "name": dvh.name,
            "colour": colours[dvh.name],
            "volume_percent": _percent(dvh.cumulative_volume_fraction[keep]),
        }
        if scenarios:
            stack = np.array([s[k].cumulative_volume_fraction[keep] for s in scenarios])
            stack = np.vstack([stack, dvh.cumulative_volume_fraction[keep]])
            curve["band"] = [_percent(stack.min(axis=0)), _percent(stack.max(axis=0))]
        curves.append(curve)
    prescription = result.metrics.prescription_gy
    return {
        "edges_gy": [round(float(v), 4) for v in edges[keep]],
        "curves": curves,
        "x_max": fitted_dose_axis_gy(nominal, prescription_gy=prescription),
    }


def _percent(fraction: np.ndarray) -> list[float]:
    return [round(100.0 * float(v), 2) for v in fraction]
