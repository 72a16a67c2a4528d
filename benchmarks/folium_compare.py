"""Ours vs folium on the same synthetic points: bytes, build time and time to a visible map.

Usage: .venv/bin/python benchmarks/folium_compare.py [--sizes 1e3 1e4 1e5 1e6] [--runs 3]
                                                     [--seed 0] [--workdir DIR]
                                                     [--budget-s 120]

For each N the synthetic facilities of benchmarks/synth.py (seeded, labelled synthetic,
written under ``--workdir`` or a temp folder) are drawn three ways:

- folium CircleMarkers (one ``folium.CircleMarker`` per point; up to 1e5);
- folium FastMarkerCluster (points as one JS array, clustered by Leaflet.markercluster in
  the browser; a ``L.circleMarker`` callback, as folium's default icon needs AwesomeMarkers
  from a CDN; up to 1e6);
- our dashboard: ``create_app(load_atlas(DIR))`` served in-process (werkzeug on 127.0.0.1).

folium's HTML points at CDNs; offline those scripts never load, so Leaflet and
Leaflet.markercluster (JS and CSS) are inlined from the installed xstatic packages and the
other CDN tags (jQuery, Bootstrap, AwesomeMarkers, Font Awesome) dropped: they are not
needed to draw these layers. The HTML is served raw (no gzip) by a local http.server; its
gzip size is printed too. Every request to another host is aborted.

Each page opens ``--runs`` times in a fresh headless Chromium context (no cache); "visible"
is the time from navigation until the markers exist: for folium any ``.marker-cluster`` or
``path.leaflet-interactive``; for ours the five ``.town-label``s and any
``path.facility-marker``, ``.facility-cluster`` or ``.agg-cell``. Build time is making the
folium map and rendering its HTML (ours: load_atlas + create_app, i.e. server start). A
case whose estimate (10x the one at the previous N) exceeds ``--budget-s`` is skipped and
said so.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import logging
import math
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import folium
import pandas as pd
from folium.plugins import FastMarkerCluster
from playwright.sync_api import Browser, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from synth import cached_data_dir
from werkzeug.serving import make_server

from dashboard.app import create_app
from geo.atlas import load_atlas

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking"]
VIEWPORT = {"width": 1400, "height": 900}
OURS_VISIBLE = ("() => document.querySelectorAll('.town-label').length === 5 && document"
                ".querySelector('path.facility-marker, .facility-cluster, .agg-cell') !== null")
FOLIUM_VISIBLE = ("() => document.querySelector('.marker-cluster, path.leaflet-interactive')"
                  " !== null")
RESOURCES = """() => {
  const all = [performance.getEntriesByType('navigation')[0],
               ...performance.getEntriesByType('resource')];
  const sum = (list, key) => list.reduce((a, e) => a + (e[key] || 0), 0);
  const data = all.filter(e => e.name.includes('_dash-update-component')
                               || e.name.includes('_dash-layout'));
  return {transfer: sum(all, 'transferSize'), decoded: sum(all, 'decodedBodySize'),
          data_transfer: sum(data, 'transferSize'), data_decoded: sum(data, 'decodedBodySize')};
}"""
CIRCLE_MARKER_MAX = 100_000
FAST_CLUSTER_MAX = 1_000_000
CALLBACK = ("function (row) { return L.circleMarker(new L.LatLng(row[0], row[1]),"
            " {radius: 4, weight: 1}); }")


# -- folium, offline -----------------------------------------------------------------------

def _xstatic(package: str, name: str) -> str:
    module = import_module(f"xstatic.pkg.{package}")
    return (Path(module.BASE_DIR) / name).read_text("utf-8")


def _script(text: str) -> str:
    return "<script>" + text.replace("</script", "<\\/script") + "</script>"


def offline(html: str) -> str:
    """folium HTML with Leaflet and markercluster inlined and every other CDN tag removed."""
    inline = {
        "leaflet.js": _script(_xstatic("leaflet", "leaflet.js")),
        "leaflet.markercluster.js": _script(_xstatic("leaflet_markercluster",
                                                     "leaflet.markercluster.js")),
        "leaflet.css": "<style>" + _xstatic("leaflet", "leaflet.css") + "</style>",
        "MarkerCluster.css": "<style>" + _xstatic("leaflet_markercluster",
                                                  "MarkerCluster.css") + "</style>",
        "MarkerCluster.Default.css": "<style>" + _xstatic(
            "leaflet_markercluster", "MarkerCluster.Default.css") + "</style>",
    }

    tags = re.compile(r'<script src="(https?://[^"]+)"></script>'
                      r'|<link rel="stylesheet" href="(https?://[^"]+)"/>')
    out = tags.sub(lambda m: inline.get((m.group(1) or m.group(2)).rsplit("/", 1)[-1], ""),
                   html)
    if re.search(r'<script src="https?://|<link rel="stylesheet" href="https?://', out):
        raise RuntimeError("folium HTML still references another host")
    return out


def _base_map(lat: Any, lon: Any) -> folium.Map:
    # With tiles=None, folium 0.20 sets the map's maxZoom only from the camel-case option;
    # without it Leaflet.markercluster stops with "Map has no maxZoom specified".
    m = folium.Map(tiles=None, maxZoom=18, prefer_canvas=False)
    m.fit_bounds([[float(lat.min()), float(lon.min())], [float(lat.max()), float(lon.max())]])
    return m


def circle_markers_html(lat: Any, lon: Any) -> str:
    m = _base_map(lat, lon)
    for y, x in zip(lat.tolist(), lon.tolist(), strict=True):
        folium.CircleMarker([y, x], radius=3, weight=1, fill=True).add_to(m)
    return m.get_root().render()


def fast_cluster_html(lat: Any, lon: Any) -> str:
    m = _base_map(lat, lon)
    FastMarkerCluster(list(zip(lat.tolist(), lon.tolist(), strict=True)),
                      callback=CALLBACK).add_to(m)
    return m.get_root().render()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


# -- browser -------------------------------------------------------------------------------

def visible_times(browser: Browser, url: str, predicate: str, runs: int,
                  timeout_s: float) -> tuple[list[float], dict[str, int]]:
    """Seconds from navigation to ``predicate`` per run (inf if it never held), and the
    bytes of the last run. Page errors are printed: a timeout should say why."""
    times, resources = [], {}
    for _ in range(runs):
        context = browser.new_context(viewport=VIEWPORT)
        context.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith(("http://127.0.0.1", "data:"))
                      else route.abort())
        page = context.new_page()
        page.on("pageerror", lambda error: print(f"  page error: {error}", flush=True))
        start = time.perf_counter()
        try:
            page.goto(url, timeout=timeout_s * 1000, wait_until="commit")
            page.wait_for_function(predicate, timeout=timeout_s * 1000, polling=10)
        except PlaywrightTimeoutError:
            print(f"  not visible within {timeout_s:.0f} s: {url}", flush=True)
            times.append(math.inf)
            context.close()
            continue
        times.append(time.perf_counter() - start)
        time.sleep(0.3)  # trailing requests (our summary chart) finish before counting bytes
        resources = page.evaluate(RESOURCES)
        context.close()
    return times, resources


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


# -- the comparison ------------------------------------------------------------------------

def run(args: argparse.Namespace, workdir: Path, browser: Browser) -> list[dict[str, Any]]:
    html_dir = workdir / "html"
    html_dir.mkdir(exist_ok=True)
    files = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_QuietHandler, directory=str(html_dir)))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{files.server_address[1]}/"
    rows: list[dict[str, Any]] = []
    last: dict[str, float] = {}  # method -> seconds (build + one load) at the previous N
    try:
        for n in args.sizes:
            folder = cached_data_dir(n, args.seed, workdir)
            points = pd.read_csv(folder / "facilities.csv", usecols=["lon", "lat"])
            lat, lon = points["lat"].to_numpy(), points["lon"].to_numpy()
            builders = (("folium CircleMarkers", circle_markers_html, CIRCLE_MARKER_MAX),
                        ("folium FastMarkerCluster", fast_cluster_html, FAST_CLUSTER_MAX))
            for method, build, limit in builders:
                row: dict[str, Any] = {"n": n, "method": method}
                rows.append(row)
                estimate = last.get(method, 0.0) * 10
                if n > limit or estimate > args.budget_s:
                    row["skipped"] = (f"over {limit:,} points" if n > limit else
                                      f"estimated {estimate:.0f} s > {args.budget_s:.0f} s")
                    print(f"N={n:,} {method}: skipped ({row['skipped']})", flush=True)
                    continue
                row["build"], html = timed(build, lat, lon)
                page = offline(html)
                path = html_dir / f"{method.split()[-1]}_{n}.html"
                path.write_text(page, encoding="utf-8")
                raw = page.encode("utf-8")
                row["bytes"], row["gzip"] = len(raw), len(gzip.compress(raw, compresslevel=6))
                del html, page, raw
                runs = args.runs if row["build"] * 10 < args.budget_s else 1
                times, _ = visible_times(browser, base + path.name, FOLIUM_VISIBLE, runs,
                                         timeout_s=max(60.0, args.budget_s * 1.5))
                row["visible"], row["runs"] = statistics.median(times), runs
                last[method] = row["build"] + row["visible"]
                print(f"N={n:,} {method}: {row['visible']:.2f} s", flush=True)
            rows.append(ours(args, n, folder, browser))
    finally:
        files.shutdown()
    return rows


def ours(args: argparse.Namespace, n: int, folder: Path, browser: Browser) -> dict[str, Any]:
    row: dict[str, Any] = {"n": n, "method": "ours (dashboard)"}
    row["build"], app = timed(lambda: create_app(load_atlas(folder)))
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        times, res = visible_times(browser, f"http://127.0.0.1:{server.server_port}/",
                                   OURS_VISIBLE, args.runs, timeout_s=120)
    finally:
        server.shutdown()
    row.update(visible=statistics.median(times), runs=args.runs,
               bytes=res.get("decoded", 0), gzip=res.get("transfer", 0),
               data=res.get("data_decoded", 0), data_gzip=res.get("data_transfer", 0))
    print(f"N={n:,} ours: {row['visible']:.2f} s", flush=True)
    return row


def size(n: float) -> str:
    return f"{n / 1024:,.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


def print_tables(rows: list[dict[str, Any]]) -> None:
    print("\nsame synthetic points: folium (offline HTML) vs our dashboard "
          "(median of runs, fresh browser context each)")
    head = (f"{'N':>9}  {'method':<25}{'bytes':>10}{'gzip/wire':>11}{'build':>9}"
            f"{'visible':>9}{'runs':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        if "skipped" in r:
            print(f"{r['n']:>9,}  {r['method']:<25}  skipped: {r['skipped']}")
            continue
        print(f"{r['n']:>9,}  {r['method']:<25}{size(r['bytes']):>10}{size(r['gzip']):>11}"
              f"{r['build']:>8.2f}s{r['visible']:>8.2f}s{r['runs']:>5}")
        if "data" in r:
            print(f"{'':>9}  {'  of which data (callbacks)':<25}{size(r['data']):>10}"
                  f"{size(r['data_gzip']):>11}")
    print("folium bytes: the HTML file with Leaflet/markercluster inlined (~190 KB of it), "
          "served raw; gzip: what a compressing server would send. Ours: every response of "
          "the first load, decoded and on the wire (gzip). build: folium map + HTML render; "
          "ours: load_atlas + create_app (server start, once).")
    print("\nratios ours / theirs (below 1: ours is smaller or faster)")
    head = f"{'N':>9}  {'vs':<25}{'visible':>9}{'wire bytes':>12}{'data/HTML gzip':>16}"
    print(head)
    print("-" * len(head))
    by_n: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_n.setdefault(r["n"], {})[r["method"]] = r
    for n, methods in by_n.items():
        mine = methods.get("ours (dashboard)")
        for method, theirs in methods.items():
            if method.startswith("ours") or mine is None:
                continue
            if "skipped" in theirs:
                print(f"{n:>9,}  {method:<25}{'—':>9}{'—':>12}{'—':>16}")
                continue
            print(f"{n:>9,}  {method:<25}{mine['visible'] / theirs['visible']:>9.2f}"
                  f"{mine['gzip'] / theirs['gzip']:>12.2f}"
                  f"{mine['data_gzip'] / theirs['gzip']:>16.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=[1_000, 10_000, 100_000, 1_000_000],
                        type=lambda s: int(float(s)))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the synthetic folders and HTML here and reuse the folders")
    parser.add_argument("--budget-s", type=float, default=120.0,
                        help="skip a case whose estimated build + load exceeds this")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newtown-folium-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=CHROMIUM_ARGS)
            try:
                rows = run(args, workdir, browser)
            finally:
                browser.close()
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print_tables(rows)


if __name__ == "__main__":
    main()
