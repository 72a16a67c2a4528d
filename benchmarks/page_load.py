"""First page load of the dashboard in headless Chromium: time to a visible map and bytes sent.

Usage: .venv/bin/python benchmarks/page_load.py [--runs 5]

Serves the app on the bundled data in-process, opens it in a fresh browser context per run
(no cache), and waits until the five town labels and the facility markers are drawn. Bytes
come from the browser's Resource Timing entries (transferSize = bytes on the wire, after
gzip/brotli; decodedBodySize = bytes after decompression); "data" is what the callbacks sent
(the /_dash-update-component responses), "code" is scripts, styles and the page itself.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from dashboard.app import create_app

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VISIBLE = ("() => document.querySelectorAll('.town-label').length === 5 &&"
           " document.querySelectorAll('path.facility-marker, .facility-cluster').length > 0")
RESOURCES = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const all = [nav, ...res];
  const sum = (list, key) => list.reduce((a, e) => a + (e[key] || 0), 0);
  const data = res.filter(e => e.name.includes('_dash-update-component')
                               || e.name.includes('_dash-layout'));
  return {requests: all.length, transfer: sum(all, 'transferSize'),
          decoded: sum(all, 'decodedBodySize'), data_transfer: sum(data, 'transferSize'),
          data_decoded: sum(data, 'decodedBodySize')};
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = create_app()
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    times, stats = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=ARGS)
        for _ in range(args.runs):
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_function(VISIBLE, timeout=30_000, polling=10)
            times.append(time.perf_counter() - start)
            time.sleep(0.5)  # let trailing requests (plotly for the chart) finish
            stats.append(page.evaluate(RESOURCES))
            context.close()
        browser.close()
    server.shutdown()
    last = stats[-1]
    print(f"dashboard first load, bundled data, {args.runs} runs (fresh context each)")
    print(f"{'metric':<44}{'value':>14}")
    print(f"{'time to visible map (median)':<44}{statistics.median(times):>12.2f} s")
    print(f"{'time to visible map (min / max)':<44}"
          f"{min(times):>6.2f}/{max(times):.2f} s")
    print(f"{'requests':<44}{last['requests']:>14}")
    print(f"{'all bytes on the wire (compressed)':<44}{last['transfer'] / 1024:>11.0f} KB")
    print(f"{'all bytes decoded':<44}{last['decoded'] / 1024:>11.0f} KB")
    print(f"{'data (layout + callbacks) on the wire':<44}"
          f"{last['data_transfer'] / 1024:>11.1f} KB")
    print(f"{'data (layout + callbacks) decoded':<44}{last['data_decoded'] / 1024:>11.1f} KB")


if __name__ == "__main__":
    main()
