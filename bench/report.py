"""Benchmark of ionbeam.report: the HTML report of one plan and the comparison of two.

Uses the head phantom (skull-base chordoma) with synthetic, dose-engine-free inputs
of the size of a real plan: a Gaussian dose cloud on a 3 mm dose grid, two lateral
beams of ``--layers`` energy layers with 150 spots each. Prints the time of each
figure (built and rendered to PNG), of a whole report and of a comparison report
(protons vs carbon), the interactive viewer's data alone, the HTML sizes with and
without the viewer, and the peak resident memory.

Usage: python bench/report.py [--spacing-mm 2.0] [--layers 30] [--dpi 90]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(label: str, function: Callable[[], object]) -> object:
    start = time.perf_counter()
    value = function()
    print(f"{label:<36s} {time.perf_counter() - start:7.2f} s")
    return value


def _results(patient, layers: int):
    from ionbeam.evaluation import dose_metrics
    from ionbeam.planning import Beam, BeamGeometry, Plan, Prescription, SpotMap
    from ionbeam.planning.dose_grid import make_dose_grid, masks_on_grid
    from ionbeam.report import PlanResult

    grid = make_dose_grid(patient.grid, 3.0)
    centre = np.asarray(patient.target.centroid_mm)
    r2 = np.sum((grid.voxel_centres_mm() - centre) ** 2, axis=-1)
    masks = masks_on_grid(patient.structures.values(), grid)
    rng = np.random.default_rng(1)
    results = []
    for particle, energies, width_mm in (
        ("proton", np.linspace(140.0, 90.0, layers), 22.0),
        ("carbon", np.linspace(260.0, 170.0, layers), 18.0),
    ):
        energy = np.repeat(energies, 150)
        beams = tuple(
            Beam(
                name,
                BeamGeometry(gantry, 0.0, tuple(centre)),
                SpotMap(
                    energy,
                    rng.uniform(-25, 25, energy.size),
                    rng.uniform(-25, 25, energy.size),
                    rng.uniform(0, 1e6, energy.size),
                ),
            )
            for name, gantry in (("B1", 90.0), ("B2", 270.0))
        )
        plan = Plan(particle, beams, Prescription("PTV", 60.0, 30), rbe_model="constant")
        dose = 2.1 * np.exp(-r2 / (2 * width_mm**2))
        metrics = dose_metrics(dose, grid, masks, prescription_gy=2.0, targets=["PTV"], body="Body")
        let = 2.0 + 40.0 * (1.0 - dose / dose.max())
        results.append(
            PlanResult(
                particle, plan, dose, grid, metrics, dose_kind="rbe", let_d_kev_um=let,
                physical_dose_gy=dose / 1.1,
                beam_doses_gy={"B1": 0.5 * dose / 1.1, "B2": 0.5 * dose / 1.1},
            )
        )  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacing-mm", type=float, default=2.0)
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--dpi", type=int, default=90)
    args = parser.parse_args()

    from ionbeam.patient.phantoms import make_phantom
    from ionbeam.report import (
        ReportOptions,
        bragg_curves_figure,
        dose_slices_figure,
        dvh_figure,
        spot_maps_figure,
        structure_dvhs,
        write_comparison_report,
        write_report,
    )
    from ionbeam.report._style import figure_png
    from ionbeam.report._viewer import viewer_block

    patient = make_phantom("head", spacing_mm=args.spacing_mm)
    results = _results(patient, args.layers)
    first = results[0]
    options = ReportOptions(dpi=args.dpi)
    print(
        f"CT {patient.grid.shape}, dose grid {first.dose_grid.shape}, "
        f"{first.plan.n_spots} spots in {args.layers} layers × 2 beams, dpi {args.dpi}"
    )
    dpi = args.dpi
    _timed(
        "dose slices (3 planes)",
        lambda: figure_png(
            dose_slices_figure(
                patient, first.dose_gy, first.dose_grid, plan=first.plan, options=options
            ),
            dpi=dpi,
        ),
    )
    _timed(
        "DVHs (incl. histograms)",
        lambda: figure_png(
            dvh_figure(
                structure_dvhs(first.dose_gy, first.dose_grid, patient, first.metrics.names)
            ),
            dpi=dpi,
        ),
    )
    _timed(
        "Bragg curves (8, ionbeam.physics)",
        lambda: figure_png(bragg_curves_figure(first.plan), dpi=dpi),
    )
    _timed(
        "spot maps (12 layers of one beam)",
        lambda: figure_png(spot_maps_figure(first.plan.beams[0]), dpi=dpi),
    )
    viewer = _timed(
        "viewer data (both plans)",
        lambda: viewer_block(patient, results, options, element_id="data"),
    )
    print(f"viewer block {len(viewer) / 1e6:.2f} MB")
    created = datetime(2025, 1, 1)
    with tempfile.TemporaryDirectory() as folder:
        single = Path(folder) / "report.html"
        both = Path(folder) / "comparison.html"
        _timed(
            "write_report",
            lambda: write_report(
                single, patient=patient, result=first, created=created, options=options
            ),
        )
        _timed(
            "write_comparison_report",
            lambda: write_comparison_report(
                both, patient=patient, results=results, created=created, options=options
            ),
        )
        plain = Path(folder) / "plain.html"
        without = ReportOptions(dpi=args.dpi, viewer=False)
        _timed(
            "write_report without the viewer",
            lambda: write_report(
                plain, patient=patient, result=first, created=created, options=without
            ),
        )
        print(
            f"report.html {single.stat().st_size / 1e6:.2f} MB "
            f"({plain.stat().st_size / 1e6:.2f} MB without the viewer), "
            f"comparison.html {both.stat().st_size / 1e6:.2f} MB"
        )
    print(f"peak resident memory {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
