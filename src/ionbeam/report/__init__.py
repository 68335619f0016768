"""Figures and the self-contained HTML report of a plan, or of plans compared.

Build a :class:`PlanResult` per plan (plan, dose on its grid, metrics) and
call :func:`write_report` or :func:`write_comparison_report`. The figure
functions return :class:`matplotlib.figure.Figure` objects (no pyplot, no
global state) for use elsewhere.
"""

from ionbeam.report._cache import ReportCache
from ionbeam.report.beam_plots import bragg_curves_figure, spot_maps_figure
from ionbeam.report.dvh_plots import dvh_comparison_figure, dvh_figure, structure_dvhs
from ionbeam.report.html_report import (
    render_comparison_report,
    render_report,
    write_comparison_report,
    write_report,
)
from ionbeam.report.results import DOSE_KINDS, PlanResult, ReportOptions
from ionbeam.report.slices import (
    dose_difference_figure,
    dose_slices_figure,
    let_slices_figure,
    slice_point_mm,
)

__all__ = [
    "DOSE_KINDS",
    "PlanResult",
    "ReportCache",
    "ReportOptions",
    "bragg_curves_figure",
    "dose_difference_figure",
    "dose_slices_figure",
    "dvh_comparison_figure",
    "dvh_figure",
    "let_slices_figure",
    "render_comparison_report",
    "render_report",
    "slice_point_mm",
    "spot_maps_figure",
    "structure_dvhs",
    "write_comparison_report",
    "write_report",
]
