"""Screenshots of the dashboard's main views, taken from the running app (so they stay true).

Usage: .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Serves the app on the bundled data in-process and opens it in headless Chromium (Debian's
/usr/bin/chromium through Playwright) at 1440x900, 1280x720 and 1024x768, in Chinese and in
English: the first view (filters open, map and indicator cards), the Summary tab, and at
1440 also a town filter with the Coverage tab after a run and the Scorecard tab (its growth
chart and table). PNGs go to the output folder; the English Scorecard view is also written to
docs/brief/dashboard-growth-en.png (``--brief-out``), the picture docs/BRIEF.md shows.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import make_server

from dashboard.app import create_app

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage"]
SIZES = ((1440, 900), (1280, 720), (1024, 768))
TIMEOUT = 30_000
# Loaded: town labels, cards and count, and the code-split parts (dropdowns, boundary
# polygons, the draw toolbar), which arrive after the first render.
READY = ("() => document.querySelectorAll('.town-label').length === 5"
         " && document.querySelectorAll('.nt-card').length > 0"
         " && /\\d/.test((document.getElementById('selection-count') || {}).textContent || '')"
         " && document.querySelectorAll('.dash-dropdown').length >= 6"
         " && document.querySelectorAll('.leaflet-overlay-pane path').length > 20"
         " && document.querySelectorAll('.leaflet-draw-toolbar').length > 0")


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(READY, timeout=TIMEOUT)
    page.wait_for_timeout(900)  # fitBounds animation and marker clusters settle


def take(base_url: str, out: Path, brief_out: Path | None = None) -> list[Path]:
    """Every screenshot, written to ``out`` (and the English Scorecard view to
    ``brief_out``/dashboard-growth-en.png); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=ARGS)
        for lang in ("zh", "en"):
            for width, height in SIZES:
                context = browser.new_context(viewport={"width": width, "height": height},
                                              locale="zh-CN" if lang == "zh" else "en-GB")
                page = context.new_page()
                suffix = "" if lang == "zh" else "&lang=en"
                views = [("map", "?" + suffix.lstrip("&")),
                         ("summary", "?tab=summary" + suffix)]
                if width == 1440:
                    views.append(("town-coverage",
                                  "?town=jiading,qingpu&tab=coverage" + suffix))
                    views.append(("scorecard", "?tab=scorecard" + suffix))
                for name, query in views:
                    _open(page, base_url + query)
                    if name == "town-coverage":
                        page.click("#cov-run")
                        page.wait_for_selector("#coverage-table", timeout=TIMEOUT)
                        page.wait_for_timeout(600)
                    if name == "scorecard":  # shown at once, no click
                        page.wait_for_selector("#sc-table tbody tr", timeout=TIMEOUT)
                        page.wait_for_selector("#sc-growth-chart", timeout=TIMEOUT)
                        page.wait_for_timeout(600)
                    path = out / f"{name}-{width}x{height}-{lang}.png"
                    page.screenshot(path=str(path))
                    written.append(path)
                    if name == "scorecard" and lang == "en" and brief_out is not None:
                        brief_out.mkdir(parents=True, exist_ok=True)
                        path = brief_out / "dashboard-growth-en.png"
                        page.screenshot(path=str(path))
                        written.append(path)
                context.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "docs" / "screenshots")
    parser.add_argument("--brief-out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "docs" / "brief")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = create_app()
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for path in take(f"http://127.0.0.1:{server.server_port}/", args.out,
                         args.brief_out):
            print(path)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
