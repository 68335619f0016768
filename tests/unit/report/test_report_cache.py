"""A :class:`ReportCache` shared by a plan's report and a comparison (as ``ionbeam demo``
writes them) makes what they have in common once, and changes nothing they show: each
report is the report written without it, character for character, and a cache used for
one plan never hands its figures or volumes to another."""

from __future__ import annotations

from datetime import datetime

import pytest

from ionbeam.patient import Grid, Patient
from ionbeam.planning.dose_grid import make_dose_grid
from ionbeam.report import (
    PlanResult,
    ReportCache,
    ReportOptions,
    render_comparison_report,
    render_report,
    structure_dvhs,
)

CREATED = datetime(2025, 3, 14, 9, 26, 53)
OPTIONS = ReportOptions(dpi=30, max_layers_per_beam=2, bragg_curves=False)


@pytest.fixture(scope="module")
def carbon(patient: Patient, result_factory) -> PlanResult:
    """Carbon ions on another dose grid, with LET."""
    grid = make_dose_grid(patient.grid, 6.0)
    return result_factory(patient, grid, label="carbon", particle="carbon")


def test_shared_cache_changes_no_report(
    patient: Patient, result: PlanResult, carbon: PlanResult
) -> None:
    """A plan's report, then the comparison, with one cache: the same HTML as the report
    without a cache and the comparison with a cache of its own; the comparison adds
    fewer pieces to the shared cache than it makes alone (the plan's LET figure, spot
    maps, CT, structures and volumes come from the plan's report)."""
    common = {"patient": patient, "created": CREATED, "options": OPTIONS}
    alone = ReportCache()
    plain = [
        render_report(result=result, **common),
        render_comparison_report(results=[result, carbon], cache=alone, **common),
    ]
    cache = ReportCache()
    shared = [render_report(result=result, cache=cache, **common)]
    before = len(cache)
    shared.append(render_comparison_report(results=[result, carbon], cache=cache, **common))
    assert shared == plain
    added = len(cache) - before
    assert before > 0 and added <= len(alone) - 8, (before, added, len(alone))


def test_cache_keeps_plans_apart(patient: Patient, dose_grid: Grid, result_factory) -> None:
    """Two plans of one patient under the same label, one cache: the second report shows
    its own dose, LET, spots and DVHs, not the first's."""
    first = result_factory(patient, dose_grid)
    second = result_factory(patient, dose_grid, particle="carbon")
    cache = ReportCache()
    render_report(patient=patient, result=first, created=CREATED, options=OPTIONS, cache=cache)
    with_cache = render_report(
        patient=patient, result=second, created=CREATED, options=OPTIONS, cache=cache
    )
    alone = render_report(patient=patient, result=second, created=CREATED, options=OPTIONS)
    assert with_cache == alone


def test_cached_dvhs_follow_the_bins_and_the_dose(
    patient: Patient, dose_grid: Grid, result: PlanResult, result_factory
) -> None:
    """DVHs through the cache: other bins or another dose array are computed anew, and
    equal the DVHs computed without the cache."""
    names = list(result.metrics.names)
    other = result_factory(patient, dose_grid, dose=0.5 * result.dose_gy)
    cache = ReportCache()
    for dose in (result.dose_gy, other.dose_gy):
        for top in (3.0, 4.0):
            cached = structure_dvhs(dose, dose_grid, patient, names, max_dose_gy=top, cache=cache)
            plain = structure_dvhs(dose, dose_grid, patient, names, max_dose_gy=top)
            assert [d.name for d in cached] == [d.name for d in plain]
            for a, b in zip(cached, plain, strict=True):
                assert (a.dose_edges_gy == b.dose_edges_gy).all()
                assert (a.cumulative_volume_fraction == b.cumulative_volume_fraction).all()
    assert len(cache) == 1 + 4  # one occupancy of the grid, four sets of DVHs
