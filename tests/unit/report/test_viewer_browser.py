"""The report's interactive viewer, driven in a real browser (headless Chromium).

Uses Debian's ``chromium`` through Playwright for Python (``executable_path``:
Playwright's own browser download is not needed). Skipped with a reason when
either is missing, except under CI (``CI=true``, as ``.ci/run`` runs), where a
missing browser is an error. Each test opens the report of a tiny synthetic
plan on the 4 mm water phantom (45³ voxels), the dose on the CT grid so that a
voxel's read-out is that voxel's own dose, with the network cut off.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ionbeam.patient import Patient
from ionbeam.planning.dose_grid import masks_on_grid
from ionbeam.report import PlanResult, ReportOptions, write_report

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_TARGET_COLOUR = (0x1F, 0x77, 0xB4)  # the first structure colour (tab10 blue): the Target


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"CI is set but {reason}; .ci/run installs chromium and playwright")
    pytest.skip(reason)


def _chromium_executable() -> str:
    for name in (os.environ.get("IONBEAM_CHROMIUM", ""), *_BROWSERS):
        path = shutil.which(name) if name else None
        if path:
            return path
    _missing("no Chromium found (apt-get install chromium, or set IONBEAM_CHROMIUM)")
    raise AssertionError  # unreachable: _missing skips or fails


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (Python) is not installed: pip install -e '.[test]'")
    executable = _chromium_executable()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


def _viewer_result(patient: Patient, plan) -> PlanResult:
    """An RBE-weighted dose off the centre (so that slices differ), with physical dose,
    LET and two beam doses, all on the CT grid."""
    from ionbeam.evaluation import dose_metrics

    grid = patient.grid
    centres = grid.voxel_centres_mm()
    r2 = np.sum((centres - np.array([8.0, -4.0, 12.0])) ** 2, axis=-1)
    dose = 70.0 * np.exp(-r2 / (2.0 * 30.0**2))
    masks = masks_on_grid(patient.structures.values(), grid)
    metrics = dose_metrics(dose, grid, masks, prescription_gy=60.0, targets=["Target"])
    physical = dose / 1.1
    let = 1.0 + 0.05 * np.abs(centres[..., 0] + 60.0)
    return PlanResult(
        "protons",
        plan,
        dose,
        grid,
        metrics,
        dose_kind="rbe",
        let_d_kev_um=let,
        physical_dose_gy=physical,
        beam_doses_gy={"B1": 0.6 * physical, "B2": 0.4 * physical},
    )


@pytest.fixture(scope="module")
def report(
    tmp_path_factory: pytest.TempPathFactory, patient: Patient, plan_factory
) -> tuple[Path, PlanResult]:
    result = _viewer_result(patient, plan_factory())
    path = tmp_path_factory.mktemp("viewer") / "report.html"
    options = ReportOptions(dpi=30, spot_maps=False, bragg_curves=False)
    write_report(path, patient=patient, result=result, options=options)
    return path, result


@pytest.fixture
def page(browser, report: tuple[Path, PlanResult]) -> Iterator[object]:
    """The report open in a fresh page, the viewer started, no request left the machine."""
    context = browser.new_context(viewport={"width": 1300, "height": 1100})
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def refuse(route) -> None:
        outside.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^(https?|wss?|ftp)://"), refuse)
    page.goto(report[0].as_uri())
    page.wait_for_selector(".ionbeam-viewer[data-ready]", timeout=30_000)
    assert page.get_attribute(".ionbeam-viewer", "data-ready") == "true"
    yield page
    assert errors == [] and outside == []
    context.close()


def _canvas_digest(page, view: str) -> str:
    """A fingerprint of the picture on a plane's canvas (FNV-1a of its RGBA bytes)."""
    return page.evaluate(
        """(view) => {
            const c = document.querySelector(`canvas.iv-plane[data-view="${view}"]`);
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let h = 2166136261;
            for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 16777619) >>> 0;
            return h.toString(16);
        }""",
        view,
    )


def _colour_pixels(page, view: str, rgb: tuple[int, int, int], tolerance: int = 60) -> int:
    """How many pixels of a plane's canvas are within ``tolerance`` (sum of |ΔR|, |ΔG|,
    |ΔB|) of the colour ``rgb``."""
    return page.evaluate(
        """([view, rgb, tol]) => {
            const c = document.querySelector(`canvas.iv-plane[data-view="${view}"]`);
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
                const e = Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1])
                    + Math.abs(d[i + 2] - rgb[2]);
                if (e < tol) n++;
            }
            return n;
        }""",
        [view, list(rgb), tolerance],
    )


def test_scrolling_moves_through_the_slices(page, patient: Patient) -> None:
    """Three wheel steps down over the axial plane go three slices up in index; the
    label, the slider and the picture follow."""
    canvas = page.locator('canvas.iv-plane[data-view="axial"]')
    start = int(canvas.get_attribute("data-slice"))
    before = _canvas_digest(page, "axial")
    canvas.hover()
    for _ in range(3):
        page.mouse.wheel(0, 120)
    page.wait_for_function(
        f"document.querySelector('canvas.iv-plane[data-view=axial]').dataset.slice == {start + 3}"
    )
    assert _canvas_digest(page, "axial") != before
    z_mm = patient.grid.origin_mm[2] + (start + 3) * patient.grid.spacing_mm[2]
    label = page.locator(".iv-plane-box").nth(0).locator(".iv-slice-label").inner_text()
    assert f"z = {z_mm:.1f} mm" in label and f"slice {start + 4} of 45" in label
    slider = page.locator('input.iv-slider[data-view="axial"]')
    assert int(slider.input_value()) == start + 3
    for view in ("coronal", "sagittal"):  # the other planes stay where they were
        other = page.locator(f'canvas.iv-plane[data-view="{view}"]').get_attribute("data-slice")
        assert int(other) == 22  # the target's centre, voxel 22 of 45


def test_unticking_a_structure_hides_its_contour(page) -> None:
    """With the wash and the isodose lines off, the Target's blue outline is on the axial
    plane; unticking Target removes every blue pixel, ticking it again brings it back."""
    page.locator("input.iv-wash").uncheck()
    page.locator("input.iv-levels").fill("")
    page.locator("input.iv-levels").dispatch_event("change")

    def blue_pixels() -> int:
        return _colour_pixels(page, "axial", _TARGET_COLOUR)

    shown = blue_pixels()
    assert shown > 100  # a 40 mm square drawn at ~8 px/voxel
    box = page.locator('input[data-structure="Target"]')
    box.uncheck()
    assert blue_pixels() == 0
    contours = page.locator('canvas.iv-plane[data-view="axial"]').get_attribute("data-contours")
    assert contours == "Body"
    box.check()
    assert blue_pixels() == shown


def test_readout_shows_the_dose_at_a_known_voxel(page, report, patient: Patient) -> None:
    """The cursor over voxel (30, 17, 26) of the axial plane at z index 26 reads that
    voxel's RBE-weighted dose, physical dose and LET (2 and 1 decimals as shown)."""
    result = report[1]
    i, j, k = 30, 17, 26
    slider = page.locator('input.iv-slider[data-view="axial"]')
    slider.fill(str(k))
    canvas = page.locator('canvas.iv-plane[data-view="axial"]')
    assert int(canvas.get_attribute("data-slice")) == k
    box = canvas.bounding_box()
    nx, ny = patient.grid.shape[:2]
    # axial: x to the right (patient's left), y downwards (posterior)
    page.mouse.move(
        box["x"] + (i + 0.5) / nx * box["width"], box["y"] + (j + 0.5) / ny * box["height"]
    )
    text = page.locator(".iv-readout").inner_text()
    x, y, z = patient.grid.index_to_world(np.array([i, j, k], dtype=float))
    assert f"({x:.1f}, {y:.1f}, {z:.1f}) mm" in text
    shown = dict(re.findall(r"([^·:]+): ([\d.]+)", text))
    shown = {name.strip(): value for name, value in shown.items()}
    assert float(shown["RBE-weighted dose"]) == pytest.approx(result.dose_gy[i, j, k], abs=0.006)
    assert float(shown["physical dose"]) == pytest.approx(
        result.physical_dose_gy[i, j, k], abs=0.006
    )
    assert float(shown["LET_d"]) == pytest.approx(result.let_d_kev_um[i, j, k], abs=0.06)
    assert "in Body, Target" in text or "in Body" in text
    # the same voxel on the sagittal plane (x index i): y to the right, z upwards
    page.locator('input.iv-slider[data-view="sagittal"]').fill(str(i))
    sagittal = page.locator('canvas.iv-plane[data-view="sagittal"]').bounding_box()
    ny, nz = patient.grid.shape[1:]
    page.mouse.move(
        sagittal["x"] + (j + 0.5) / ny * sagittal["width"],
        sagittal["y"] + (nz - k - 0.5) / nz * sagittal["height"],
    )
    assert page.locator(".iv-readout").inner_text() == text


def test_quantities_and_dvh_zoom(page, tmp_path: Path) -> None:
    """The quantity menu lists dose, physical dose, LET and each beam; choosing LET
    changes the picture; the DVH zooms on the targets and back; a screenshot is a PNG."""
    options = page.locator("select.iv-quantity option").all_inner_texts()
    assert options == [
        "RBE-weighted dose (Gy(RBE))",
        "physical dose (Gy)",
        "LET_d (keV/µm)",
        "beam B1, physical dose (Gy)",
        "beam B2, physical dose (Gy)",
    ]
    before = _canvas_digest(page, "sagittal")
    page.locator("select.iv-quantity").select_option(label="LET_d (keV/µm)")
    assert _canvas_digest(page, "sagittal") != before
    page.get_by_role("button", name="zoom on the targets").click()
    zoomed = page.evaluate("document.querySelector('.ionbeam-viewer').viewer.dvhView()")
    assert zoomed["x"] == pytest.approx([48.0, 69.0])  # 80-115 % of 60 Gy, capped by the data
    page.locator("canvas.iv-dvh").dblclick()
    whole = page.evaluate("document.querySelector('.ionbeam-viewer').viewer.dvhView()")
    assert whole["x"][0] == 0.0 and whole["x"][1] > 60.0
    shot = tmp_path / "viewer.png"
    page.locator("#viewer").screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_comparison_viewer_switches_plans(
    browser, tmp_path: Path, patient: Patient, report, result_factory, dose_grid
) -> None:
    """In a comparison report one viewer holds both plans: choosing the second plan
    lists its quantities (no LET for it) and redraws the planes, without an error."""
    from ionbeam.report import write_comparison_report

    protons = report[1]
    carbon = result_factory(patient, dose_grid, label="carbon", particle="carbon", with_let=False)
    path = write_comparison_report(
        tmp_path / "compare.html",
        patient=patient,
        results=[protons, carbon],
        options=ReportOptions(dpi=30, spot_maps=False, bragg_curves=False),
    )
    page = browser.new_page(viewport={"width": 1300, "height": 1100})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    page.wait_for_selector(".ionbeam-viewer[data-ready=true]", timeout=30_000)
    assert page.locator("select.iv-plan option").all_inner_texts() == ["protons", "carbon"]
    before = _canvas_digest(page, "axial")
    page.locator("select.iv-plan").select_option(label="carbon")
    options = page.locator("select.iv-quantity option").all_inner_texts()
    assert options == ["RBE-weighted dose (Gy(RBE))"]
    assert _canvas_digest(page, "axial") != before
    assert errors == []
    page.close()
