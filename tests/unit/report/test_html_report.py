"""The HTML reports: one self-contained, well-formed file with the facts a physicist needs."""

from __future__ import annotations

import base64
import dataclasses
import re
import struct
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from ionbeam import __version__
from ionbeam.errors import ConfigError, GridMismatchError, UnknownNameError
from ionbeam.patient import Grid, Patient
from ionbeam.planning.dose_grid import make_dose_grid
from ionbeam.report import (
    PlanResult,
    ReportOptions,
    render_report,
    write_comparison_report,
    write_report,
)

CREATED = datetime(2025, 3, 14, 9, 26, 53)
OPTIONS = ReportOptions(dpi=40, max_layers_per_beam=2, max_bragg_curves=2)
QUICK = ReportOptions(dpi=30, spot_maps=False, bragg_curves=False)
VOID_ELEMENTS = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


class _TagChecker(HTMLParser):
    """Records tag-balance errors, images (attributes) and all text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(text: str) -> _TagChecker:
    checker = _TagChecker()
    checker.feed(text)
    checker.close()
    return checker


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, patient: Patient, result: PlanResult) -> str:
    folder = tmp_path_factory.mktemp("report")
    path = write_report(
        folder / "report.html",
        patient=patient,
        result=result,
        settings={"phantom": "water", "grid": {"spacing_mm": 4.0}},
        warnings=["optimizer stopped <early> & tired"],
        created=CREATED,
        options=OPTIONS,
    )
    assert path == folder / "report.html"
    assert sorted(p.name for p in folder.iterdir()) == ["report.html"]  # one file, no leftovers
    return path.read_text(encoding="utf-8")


def test_report_is_self_contained(report: str) -> None:
    """No external resource: scripts (the viewer's) only inline, no link, no URL."""
    assert report.startswith("<!DOCTYPE html>")
    lowered = report.lower()
    for external in (
        'src="http',
        "src='http",
        "<link",
        "<script src",
        "url(",
        "@import",
        "http://",
    ):
        assert external not in lowered
    assert re.findall(r"<script[^>]*>", lowered) == [
        '<script type="application/json" id="ionbeam-viewer-data">',
        "<script>",
    ]
    sources = re.findall(r'\bsrc="([^"]{0,30})', report)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


def test_report_is_well_formed(report: str) -> None:
    checker = _parse(report)
    assert checker.errors == []
    assert checker.stack == []


def test_every_image_is_a_png_of_the_stated_size(report: str) -> None:
    images = _parse(report).images
    # DVH, dose, LET, Bragg curves, and a spot map for each of the two beams.
    assert len(images) == 6
    sizes = []
    for image in images:
        png = base64.b64decode(image["src"].split(",", 1)[1], validate=True)
        size = _png_size(png)
        assert size == (int(image["width"]), int(image["height"]))
        sizes.append(size)
    assert (9.0 * 40, 5.0 * 40) in sizes  # the DVH figure: 9 × 5 inches at 40 dpi
    assert (14.0 * 40, 5.2 * 40) in sizes  # the three-plane washes


def test_report_shows_header_facts(report: str, result: PlanResult) -> None:
    text = " ".join(_parse(report).text)
    for fact in (
        "phantom-water",
        "proton",
        "cnao",
        "constant",
        __version__,
        "60 Gy(RBE) to Target in 30 fraction(s) (2 Gy(RBE) per fraction)",
        "2025-03-14T09:26:53",
        "RBE-weighted dose (Gy(RBE))",
    ):
        assert fact in text


def test_report_lists_the_metrics_of_every_structure(report: str, result: PlanResult) -> None:
    text = " ".join(_parse(report).text)
    for name in ("Body", "Target"):
        m = result.metrics[name]
        row = re.search(rf"<tr[^>]*><td>{name}</td>(.*?)</tr>", report).group(1)
        cells = re.findall(r'<td class="num">([^<]*)</td>', row)
        expected = [
            f"{v:.2f}"
            for v in (
                m.volume_cm3,
                m.mean_gy,
                m.min_gy,
                m.max_gy,
                m.d98_gy,
                m.d95_gy,
                m.d50_gy,
                m.d5_gy,
                m.d2_gy,
            )
        ]
        assert cells[:9] == expected
        assert cells[9] == f"{m.v95_percent:.1f}"
    target = result.metrics["Target"]
    assert f"{target.homogeneity_index:.3f}" in text
    assert f"{target.paddick_conformity_index:.3f}" in text


def test_report_shows_beams_and_settings(report: str, result: PlanResult) -> None:
    text = _parse(report).text
    assert "B1" in text and "B2" in text
    assert "30" in text  # range shifter of B2, mm WET
    for key, value in (
        ("optimizer.method", "lbfgs"),
        ("grid.spacing_mm", "4"),
        ("phantom", "water"),
    ):
        assert re.search(rf"<td>{re.escape(key)}</td><td>{re.escape(value)}</td>", report)


def test_report_escapes_text_and_lists_warnings(report: str) -> None:
    assert "optimizer stopped &lt;early&gt; &amp; tired" in report
    assert "<early>" not in report
    # The Gaussian dose under-covers the 40 mm target: the report says so.
    assert re.search(r"<li>protons: target Target under-covered: V95 = [\d.]+ %", report)


def test_report_is_reproducible(patient: Patient, result: PlanResult) -> None:
    first = render_report(patient=patient, result=result, created=CREATED, options=QUICK)
    second = render_report(patient=patient, result=result, created=CREATED, options=QUICK)
    assert first == second
    assert "Spot maps" not in first and "Bragg curves" not in first


def test_failure_leaves_no_file(tmp_path: Path, patient: Patient, result: PlanResult) -> None:
    existing = tmp_path / "report.html"
    existing.write_text("previous report")
    with pytest.raises(UnknownNameError, match="unknown structure 'Tumour'"):
        write_report(
            existing, patient=patient, result=result, options=ReportOptions(structures=("Tumour",))
        )
    assert existing.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_bad_paths_are_refused(tmp_path: Path, patient: Patient, result: PlanResult) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        write_report(
            tmp_path / "missing" / "r.html",
            patient=patient,
            result=result,
            options=QUICK,
        )
    with pytest.raises(ConfigError, match="is a folder"):
        write_report(
            tmp_path,
            patient=patient,
            result=result,
            options=QUICK,
        )


def test_dose_of_another_patient_is_refused(patient: Patient, result: PlanResult) -> None:
    far = Grid((4, 4, 4), (8.0, 8.0, 8.0), (5000.0, 0.0, 0.0))
    elsewhere = PlanResult("far", result.plan, np.ones(far.shape), far, result.metrics)
    with pytest.raises(GridMismatchError, match="does not overlap the CT"):
        render_report(patient=patient, result=elsewhere)


def test_comparison_report(
    tmp_path: Path, patient: Patient, dose_grid: Grid, result: PlanResult, result_factory
) -> None:
    carbon_grid = make_dose_grid(patient.grid, 6.0)  # another grid: resampled for the difference
    carbon = result_factory(patient, carbon_grid, label="carbon", particle="carbon", with_let=False)
    path = write_comparison_report(
        tmp_path / "compare.html",
        patient=patient,
        results=[result, carbon],
        created=CREATED,
        settings={"demo": True},
        options=QUICK,
    )
    text = path.read_text(encoding="utf-8")
    checker = _parse(text)
    assert checker.errors == [] and checker.stack == []
    # DVHs, the dose of each plan, the difference, and the LET of the protons.
    assert len(checker.images) == 5
    assert "carbon − protons" in text
    for label in ("protons", "carbon"):
        assert re.search(rf"<tr[^>]*><td>Target</td><td>{label}</td>", text)
        assert f"Plan {label}" in text


def test_comparison_refuses_mismatched_inputs(
    patient: Patient, dose_grid: Grid, result: PlanResult, result_factory
) -> None:
    physical = result_factory(patient, dose_grid, label="physical", dose_kind="physical")
    with pytest.raises(ConfigError, match="same kind of dose"):
        write_comparison_report("x.html", patient=patient, results=[result, physical])
    with pytest.raises(ConfigError, match="at least two plans"):
        write_comparison_report("x.html", patient=patient, results=[result])
    with pytest.raises(ConfigError, match="repeated: protons"):
        write_comparison_report("x.html", patient=patient, results=[result, result])
    other = result_factory(patient, dose_grid, label="carbon")
    with pytest.raises(ConfigError, match="match no plan"):
        write_comparison_report(
            "x.html", patient=patient, results=[result, other], beam_models={"helium": None}
        )
    assert not Path("x.html").exists()


def test_metrics_for_another_prescription_are_flagged(
    patient: Patient, dose_grid: Grid, result: PlanResult
) -> None:
    from ionbeam.evaluation import dose_metrics
    from ionbeam.planning.dose_grid import masks_on_grid

    masks = masks_on_grid(patient.structures.values(), dose_grid)
    metrics = dose_metrics(
        result.dose_gy, dose_grid, masks, prescription_gy=1.0, targets=["Target"]
    )
    odd = PlanResult("protons", result.plan, result.dose_gy, dose_grid, metrics, dose_kind="rbe")
    text = render_report(
        patient=patient,
        result=odd,
        created=CREATED,
        options=QUICK,
    )
    assert "the metrics refer to 1 Gy(RBE) but the plan prescribes 60 Gy(RBE)" in text
    assert np.isfinite(metrics["Target"].d95_gy)


def test_goals_hot_spot_warning_and_planes_through_it(
    patient: Patient, dose_grid: Grid, result_factory
) -> None:
    """A hot spot outside the target is in the warnings (never "No warnings"), the goal
    table says which goals fail, and a dose figure is drawn through the hot spot."""
    from ionbeam.evaluation import default_goals, evaluate_goals
    from ionbeam.planning.dose_grid import masks_on_grid

    masks = masks_on_grid(patient.structures.values(), dose_grid)
    dose = np.where(masks["Target"], 2.0, 0.2)
    hot_index = (1, 2, 3)
    assert not masks["Target"][hot_index]
    dose[hot_index] = 2.6
    goals = evaluate_goals(dose, dose_grid, masks, default_goals("Target"), prescription_gy=2.0)
    plain = result_factory(patient, dose_grid, dose=dose)
    with_goals = dataclasses.replace(plain, goals=goals)
    html = render_report(patient=patient, result=with_goals, created=CREATED, options=OPTIONS)
    assert "No warnings." not in html
    assert "hot spot outside the target" in html and "NOT ACCEPTABLE" in html
    assert "Clinical goals" in html and "D95 ≥ 95 %" in html
    x, y, z = dose_grid.index_to_world(np.array(hot_index, dtype=float))
    assert "Planes through the hot spot outside the target" in html
    assert f"at ({x:.1f}, {y:.1f}, {z:.1f}) mm" in html
    without = render_report(patient=patient, result=plain, created=CREATED, options=OPTIONS)
    assert "Clinical goals were not evaluated." in without


def test_settings_show_lists_of_tables_readably() -> None:
    """Recorded goals (a list of tables) read as key=value, one goal per item."""
    from ionbeam.report._sections import settings_table

    goals = [{"structure": "PTV", "metric": "D95"}, {"structure": "Cord", "metric": "D0.03cc"}]
    html = settings_table({"goals": {"goals": goals}})
    assert "structure=PTV metric=D95; structure=Cord metric=D0.03cc" in html
    assert "{" not in html
