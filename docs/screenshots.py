"""Screenshots of a report's interactive viewer, for the documentation.

Opens ``REPORT`` (e.g. ``ionbeam-demo/carbon/report.html`` from ``ionbeam demo``) in
headless Chromium (Debian's ``chromium``, driven by Playwright for Python), and
saves four small PNGs (256-colour palettes) beside this script:

* ``viewer-dose.png``: the planes with the RBE-weighted dose, isodose lines and
  contours;
* ``viewer-isodose.png``: the same planes with the colour wash off (isodose lines
  and contours only);
* ``viewer-let.png``: the same planes showing LET_d, isodose lines off;
* ``viewer-dvh.png``: the DVH zoomed on the targets.

Usage: python docs/screenshots.py REPORT [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

from PIL import Image

_HERE = Path(__file__).resolve().parent


def _save_small(png: bytes, path: Path) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path.name}: {image.size[0]} × {image.size[1]} px, {path.stat().st_size / 1e3:.0f} kB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 1240, "height": 1000})
        page.goto(args.report.resolve().as_uri())
        page.wait_for_selector(".ionbeam-viewer[data-ready=true]", timeout=60_000)
        viewer = page.locator(".ionbeam-viewer")
        planes = page.locator(".iv-planes")
        box = viewer.bounding_box()
        bottom = page.locator(".iv-help").bounding_box()
        clip = {"x": box["x"], "y": box["y"], "width": box["width"],
                "height": bottom["y"] + bottom["height"] - box["y"]}  # fmt: skip
        _save_small(page.screenshot(clip=clip, full_page=True), _HERE / "viewer-dose.png")
        page.locator("input.iv-wash").uncheck()
        _save_small(planes.screenshot(), _HERE / "viewer-isodose.png")
        page.locator("input.iv-wash").check()
        page.locator("select.iv-quantity").select_option(index=2)
        _save_small(planes.screenshot(), _HERE / "viewer-let.png")
        page.get_by_role("button", name="zoom on the targets").click()
        _save_small(page.locator("canvas.iv-dvh").screenshot(), _HERE / "viewer-dvh.png")
        browser.close()


if __name__ == "__main__":
    main()
