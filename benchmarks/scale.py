"""Scale: load, validate, filter, count and the map update at 1e3..1e6 synthetic facilities.

Usage: .venv/bin/python benchmarks/scale.py [--sizes 1e3 1e4 1e5 1e6] [--runs 5]
                                            [--large-runs 2] [--seed 0] [--workdir DIR]

Synthetic facilities (benchmarks/synth.py, seeded, labelled synthetic) are written to data
folders under ``--workdir`` (default: a temp folder removed at the end; a given folder is
kept and reused on the next run). For each N the script prints the median wall time of
``--runs`` runs (``--large-runs`` at N >= 1e6) of:

- read+validate: ``read_facilities(facilities.csv, city=..., districts=...)``, the checks
  ``newtown check`` and the app run on every row;
- load_atlas: every file of the folder, plus the ``layers``/``in_town`` annotation;
- select: ``Filter.select`` for one town + one industry layer (jiading, auto), and the rows
  it selects;
- counts: ``counts_by_town_and_layer`` over all N facilities;
- map update: ``dashboard.callbacks.filters.selection_view`` (uncached: the work a selection
  not seen before costs; ``first_view`` caches it per filter) for the same filter (datum
  wgs84, lang zh, no bounds/zoom: the view after a filter change), first call (cold caches)
  and the median of the later ones, and the size of what it returns for the map:
  ``json.dumps(view.geojson)`` (points) and ``json.dumps(view.aggregate)`` (grid counts, when
  the server aggregates), raw and gzipped (the app compresses responses).
A second map-update row uses the empty filter (the first view of the page: all N).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import inspect
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import shapely
from synth import cached_data_dir

from dashboard.callbacks.filters import selection_view
from dashboard.mapdata import MapData
from geo.atlas import counts_by_town_and_layer, load_atlas
from geo.facilities import read_facilities
from geo.query import Filter
from geo.settings import bundled_data_dir

TYPICAL = {"towns": ["jiading"], "industries": ["auto"]}


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median wall time of ``runs`` calls and the last result."""
    times, result = [], None
    for _ in range(runs):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def nbytes(obj: Any) -> tuple[int, int]:
    """Bytes of ``json.dumps(obj)``, raw and gzipped (level 6, as flask-compress)."""
    if obj is None:
        return 0, 0
    raw = json.dumps(obj).encode("utf-8")
    return len(raw), len(gzip.compress(raw, compresslevel=6))


def kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.2f} MB"


def secs(s: float) -> str:
    return f"{s * 1000:,.0f} ms" if s < 1 else f"{s:,.2f} s"


def check_view_signature() -> None:
    params = inspect.signature(selection_view).parameters
    if "bounds" not in params or "zoom" not in params:
        raise SystemExit("selection_view does not accept bounds/zoom yet "
                         f"(signature: {inspect.signature(selection_view)}); retry later")


def view_call(mapdata: MapData, flt: Filter) -> Callable[[], Any]:
    return lambda: selection_view(mapdata, flt, datum="wgs84", lang="zh",
                                  bounds=None, zoom=None)


def measure(n: int, folder: Path, runs: int) -> dict[str, Any]:
    bundled = load_atlas(bundled_data_dir())
    city = shapely.union_all(bundled.city.geometry.to_numpy())
    districts = bundled.districts
    row: dict[str, Any] = {"n": n, "runs": runs}
    row["read"], _ = timed(lambda: read_facilities(folder / "facilities.csv", city=city,
                                                   districts=districts), runs)
    row["atlas"], atlas = timed(lambda: load_atlas(folder), runs)
    flt = Filter.create(**TYPICAL)
    row["select"], selected = timed(lambda: flt.select(atlas.facilities), max(runs, 3))
    row["selected"] = len(selected)
    row["counts"], _ = timed(lambda: counts_by_town_and_layer(atlas.facilities), max(runs, 3))
    for name, view_filter in (("typical", flt), ("all", Filter())):
        mapdata = MapData(atlas)
        call = view_call(mapdata, view_filter)
        start = time.perf_counter()
        view = call()
        cold = time.perf_counter() - start
        warm, view = timed(call, max(runs, 3))
        features = len(view.geojson.get("features", [])) if view.geojson else 0
        cells = len(view.aggregate.get("features", [])) if view.aggregate else 0
        row[name] = {"cold": cold, "warm": warm, "points": features, "cells": cells,
                     "geojson": nbytes(view.geojson), "aggregate": nbytes(view.aggregate)}
    gc.collect()
    return row


def print_tables(rows: list[dict[str, Any]]) -> None:
    print("\nload, validate, filter, count (median wall time)")
    head = (f"{'N':>9} {'runs':>4} {'read+validate':>14} {'load_atlas':>11} {'select':>9} "
            f"{'selected':>9} {'counts':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['n']:>9,} {r['runs']:>4} {secs(r['read']):>14} {secs(r['atlas']):>11} "
              f"{secs(r['select']):>9} {r['selected']:>9,} {secs(r['counts']):>9}")
    print("\nmap update: selection_view(MapData(atlas), flt, datum='wgs84', lang='zh', "
          "bounds=None, zoom=None)")
    head = (f"{'N':>9} {'filter':<8} {'cold':>9} {'warm':>9} {'points':>7} {'cells':>6} "
            f"{'geojson raw':>12} {'gzip':>10} {'aggregate raw':>14} {'gzip':>10}")
    print(head)
    print("-" * len(head))
    for r in rows:
        for name in ("typical", "all"):
            v = r[name]
            print(f"{r['n']:>9,} {name:<8} {secs(v['cold']):>9} {secs(v['warm']):>9} "
                  f"{v['points']:>7,} {v['cells']:>6,} {kb(v['geojson'][0]):>12} "
                  f"{kb(v['geojson'][1]):>10} {kb(v['aggregate'][0]):>14} "
                  f"{kb(v['aggregate'][1]):>10}")
    print("typical = town jiading + industry layer auto; all = no filter (first view). "
          "cold = first call on a fresh MapData; warm = median of later calls.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1e3", "1e4", "1e5", "1e6"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--large-runs", type=int, default=2, help="runs at N >= 1e6")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the synthetic folders here and reuse them")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes]
    check_view_signature()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newtown-scale-"))
    rows = []
    try:
        for n in sizes:
            start = time.perf_counter()
            folder = cached_data_dir(n, args.seed, workdir)
            print(f"N={n:,}: synthetic data ready in {time.perf_counter() - start:.1f} s "
                  f"({folder})", flush=True)
            runs = args.large_runs if n >= 1_000_000 else args.runs
            rows.append(measure(n, folder, runs))
            print(f"N={n:,}: measured", flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print_tables(rows)


if __name__ == "__main__":
    main()
