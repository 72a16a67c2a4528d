"""Export: file sizes for the bundled data, and time and size at 1e4/1e5 synthetic facilities.

Usage: .venv/bin/python benchmarks/export.py [--sizes 10000,100000] [--browser]

Three tables:
1. every format (GeoJSON, GPKG, SHP, CSV, KML, HTML, PNG) for the bundled data, with the
   layers the CLI writes by default for maps (facilities, towns, districts, corridor, G60 line,
   zone) - CSV holds the facilities only;
2. HTML map build (``build_webmap``, in memory) and the whole ``export(fmt="html")`` (build +
   sidecar + atomic write), plus the PNG, at each synthetic size, with the same boundary layers;
3. the five data formats at the largest size, facilities only.

Synthetic facilities are bundled rows drawn with replacement (seed 42), given new ids and unique
names and addresses, and moved by a normal offset of sigma 1.5 km applied in EPSG:4549 metres.
With ``--browser`` the HTML map of each size is also opened in headless Chromium (network off)
and timed until the page is parsed (DOMContentLoaded: boundaries drawn) and until every marker
is in the cluster layer.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd
import numpy as np

from geo.atlas import Atlas, load_atlas
from geo.crs import to_metric
from geo.export import FORMATS, export
from geo.webmap import build_webmap

MAP_LAYERS = ("facilities", "towns", "districts", "corridors", "corridor_lines", "zones")
SEED = 42
JITTER_M = 1500.0


def synthetic_facilities(atlas: Atlas, n: int, *, seed: int = SEED) -> gpd.GeoDataFrame:
    """``n`` facilities resampled from the bundled ones, moved by N(0, 1.5 km) in metres."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(atlas.facilities), size=n)
    frame = atlas.facilities.iloc[rows].copy()
    frame["id"] = [f"SYN-{i:06d}" for i in range(n)]
    # unique texts, as real data would have (repeated ones would flatter the HTML's encoding)
    for column in ("name_zh", "name_en", "address"):
        frame[column] = frame[column] + " #" + frame["id"]
    frame.index = frame["id"].to_numpy()
    metric = to_metric(frame.geometry)
    moved = gpd.GeoSeries.from_xy(metric.x + rng.normal(0, JITTER_M, n),
                                  metric.y + rng.normal(0, JITTER_M, n),
                                  crs=metric.crs, index=frame.index).to_crs(4326)
    frame = frame.set_geometry(moved)
    frame["lon"], frame["lat"] = moved.x.to_numpy(), moved.y.to_numpy()
    return frame


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def megabytes(path: Path) -> float:
    return path.stat().st_size / 1e6


def row(*cells: object) -> str:
    widths = (26, 10, 10, 12)
    return "  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                     for i, (c, w) in enumerate(zip(cells, widths, strict=False)))


def browser_load_s(path: Path, n: int) -> tuple[float, float]:
    """Seconds to DOMContentLoaded and to every facility clustered, network off."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
        page = context.new_page()
        start = time.perf_counter()
        page.goto(path.as_uri(), wait_until="domcontentloaded", timeout=300_000)
        parsed = time.perf_counter() - start
        page.wait_for_function(
            f"() => newtownAtlas.layers.facilities.getLayers().length === {n} && "
            "document.querySelectorAll('.marker-cluster, path.facility-marker').length > 0",
            timeout=300_000, polling=100)
        done = time.perf_counter() - start
        context.close()
        browser.close()
    return parsed, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="comma-separated numbers of synthetic facilities")
    parser.add_argument("--browser", action="store_true",
                        help="also time opening each HTML map in headless Chromium")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    atlas = load_atlas()
    meta: dict[str, object] = {"filter": {}, "sources": {"benchmark": "benchmarks/export.py"}}
    build_webmap({"towns": atlas.towns})  # warm up: folium import, inlined assets

    with tempfile.TemporaryDirectory(prefix="newtown-bench-") as tmp:
        out = Path(tmp)
        print(f"1. bundled data ({len(atlas.facilities)} facilities; layers: "
              f"{', '.join(MAP_LAYERS)})")
        print(row("format", "seconds", "MB", "file"))
        for fmt in (*FORMATS, "html", "png"):
            names = ("facilities",) if fmt == "csv" else MAP_LAYERS
            layers = {name: getattr(atlas, name) for name in names}
            seconds, result = timed(lambda: export(layers, out / f"bundled-{fmt}", fmt=fmt,  # noqa: B023
                                                   metadata=meta))
            print(row(fmt, f"{seconds:.2f}", f"{megabytes(result.output):.3f}",
                      result.output.name))

        print("\n2. HTML and PNG maps of synthetic facilities (+ the boundary layers)")
        print(row("step", "n", "seconds", "MB"))
        for n in sizes:
            facilities = synthetic_facilities(atlas, n)
            layers = {"facilities": facilities,
                      **{name: getattr(atlas, name) for name in MAP_LAYERS[1:]}}
            seconds, page = timed(lambda: build_webmap(layers, metadata=meta))  # noqa: B023
            print(row("build_webmap (memory)", f"{n:,}", f"{seconds:.2f}",
                      f"{len(page.encode('utf-8')) / 1e6:.1f}"))
            seconds, result = timed(lambda: export(layers, out / f"syn-{n}", fmt="html",  # noqa: B023
                                                   metadata=meta))
            print(row("export html (to disk)", f"{n:,}", f"{seconds:.2f}",
                      f"{megabytes(result.output):.1f}"))
            if args.browser:
                parsed, done = browser_load_s(result.output, n)
                print(row("Chromium: page parsed", f"{n:,}", f"{parsed:.2f}", ""))
                print(row("Chromium: all clustered", f"{n:,}", f"{done:.2f}", ""))
            seconds, result = timed(lambda: export(layers, out / f"syn-{n}", fmt="png",  # noqa: B023
                                                   metadata=meta))
            print(row("export png", f"{n:,}", f"{seconds:.2f}",
                      f"{megabytes(result.output):.2f}"))

        n = max(sizes)
        facilities = {"facilities": synthetic_facilities(atlas, n)}
        print(f"\n3. data formats, {n:,} synthetic facilities (facilities layer only)")
        print(row("format", "n", "seconds", "MB"))
        for fmt in FORMATS:
            seconds, result = timed(lambda: export(facilities, out / f"data-{fmt}", fmt=fmt,  # noqa: B023
                                                   metadata=meta))
            print(row(fmt, f"{n:,}", f"{seconds:.2f}", f"{megabytes(result.output):.1f}"))


if __name__ == "__main__":
    main()
