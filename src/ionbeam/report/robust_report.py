"""The robustness page of a plan: DVH bands over the error scenarios, worst-case metrics.

``robustness.html`` beside ``report.html``: one figure with, per structure, the
nominal cumulative DVH and the band between the lowest and highest DVH over the
scenarios; a table of nominal and worst-case metrics with the scenario range; the
targets' verdict (D95 ≥ 95 % of the prescription in every scenario or not).
"""

from __future__ import annotations

import os
from pathlib import Path

from ionbeam.evaluation.robust import RobustEvaluation
from ionbeam.report._html import document, element, escape, figure_block, table
from ionbeam.report._html import write_text_atomically as _write
from ionbeam.report._style import figure_png, new_figure, structure_colours

__all__ = ["robust_dvh_figure_png", "write_robust_report"]


def robust_dvh_figure_png(evaluation: RobustEvaluation, *, unit: str, dpi: int = 100) -> bytes:
    """DVH bands (PNG): per structure the nominal curve and the scenario band."""
    colours = structure_colours([b.name for b in evaluation.structures])
    fig = new_figure(7.5, 4.5)
    ax = fig.add_subplot()
    for band in evaluation.structures:
        colour = colours[band.name]
        ax.fill_between(
            band.dose_edges_gy, 100 * band.volume_low, 100 * band.volume_high,
            color=colour, alpha=0.25, linewidth=0,
        )  # fmt: skip
        ax.plot(band.dose_edges_gy, 100 * band.volume_nominal, color=colour, label=band.name)
    if evaluation.prescription_gy:
        ax.axvline(0.95 * evaluation.prescription_gy, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel(f"dose ({unit})")
    ax.set_ylabel("volume (%)")
    ax.set_ylim(0, 102)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper right")
    return figure_png(fig, dpi=dpi)


def write_robust_report(
    path: str | os.PathLike[str], evaluation: RobustEvaluation, *, title: str, unit: str
) -> Path:
    """Write the robustness page (see the module docstring) atomically."""
    rows = []
    for band in evaluation.structures:
        keys = ("d98_gy", "d95_gy", "max_gy") if band.is_target else ("d0_03cc_gy", "mean_gy")
        for key in keys:
            values = band.metrics[key]
            rows.append(
                [
                    band.name,
                    key.removesuffix("_gy").replace("_", ".").upper(),
                    f"{values[0]:.2f}",
                    f"{band.worst[key]:.2f}",
                    f"{values.min():.2f} – {values.max():.2f}",
                ]
            )
    verdicts = [
        f"{name}: D95 ≥ 95 % of the prescription in every scenario"
        if not failing
        else f"{name}: D95 < 95 % of the prescription in {', '.join(failing)}"
        for name, failing in evaluation.underdosed_scenarios().items()
    ]
    figure = figure_block(
        robust_dvh_figure_png(evaluation, unit=unit),
        caption="Nominal DVH (line) and the band of the DVHs over the scenarios (shaded); "
        "dotted: 95 % of the prescription.",
        alt="DVH bands",
    )
    body = (
        element("h1", escape(title))
        + element("p", escape(f"Scenarios: {', '.join(evaluation.labels)}."))
        + "".join(element("p", escape(v)) for v in verdicts)
        + figure
        + table(
            ("structure", "metric", f"nominal {unit}", f"worst {unit}", f"range {unit}"),
            rows,
            numeric=(False, False, True, True, False),
        )
    )
    return _write(path, document(title, body))
