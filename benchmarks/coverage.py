"""Coverage per town at 1e3..1e6 synthetic facilities, against buffer-and-union; real-data shares.

Usage: .venv/bin/python benchmarks/coverage.py [--sizes 1e3,1e4,1e5,1e6] [--radii 1000,300]
                                               [--repeats 3] [--naive-max 1e5]

Synthetic facilities are drawn uniformly inside the five (approximate) new-town polygons with
a fixed seed; they are not real and are never written anywhere. For each N and radius the
table gives the median wall time of:

* ``coverage_by_town``: the covered area per town (quadtree + exact boundary integral);
* ``coverage_report``: towns, districts and gap polygons (what ``newtown coverage`` runs);
* the naive method: buffer every point (64-gons, the accuracy used here) and ``union_all``,
  then intersect with each town; run at N <= --naive-max, once at N >= 1e5 (it is slow).

``max |Δshare|`` compares our shares with the naive ones: ours are true circles, the naive
polygons lose up to 0.16% of the area along the coverage edges.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd
import numpy as np
import shapely

from geo.analysis import CoverageParams, run_coverage
from geo.atlas import Atlas, distinct_sites, load_atlas
from geo.coverage import QUAD_SEGS, coverage_by_town, coverage_report
from geo.placement import analysable
from geo.query import Filter

SEED = 20240601


def synthetic_facilities(towns_m: gpd.GeoDataFrame, n: int, *, seed: int = SEED
                         ) -> gpd.GeoDataFrame:
    """``n`` points uniformly inside the towns (area-weighted), EPSG:4549, seeded."""
    rng = np.random.default_rng(seed)
    geoms = towns_m.geometry.to_numpy()
    per_town = rng.multinomial(n, shapely.area(geoms) / shapely.area(geoms).sum())
    xs, ys = [], []
    for geom, k in zip(geoms, per_town, strict=True):
        minx, miny, maxx, maxy = geom.bounds
        got = 0
        while got < k:
            x = rng.uniform(minx, maxx, 2 * (k - got) + 16)
            y = rng.uniform(miny, maxy, 2 * (k - got) + 16)
            inside = shapely.contains_xy(geom, x, y)
            x, y = x[inside][: k - got], y[inside][: k - got]
            xs.append(x)
            ys.append(y)
            got += len(x)
    return gpd.GeoDataFrame(geometry=shapely.points(np.concatenate(xs), np.concatenate(ys)),
                            crs=towns_m.crs)


def naive_shares(facilities_m: gpd.GeoDataFrame, towns_m: gpd.GeoDataFrame,
                 radius_m: float) -> np.ndarray:
    discs = shapely.buffer(facilities_m.geometry.to_numpy(), radius_m, quad_segs=QUAD_SEGS)
    union = shapely.union_all(discs)
    return np.array([union.intersection(t).area / t.area for t in towns_m.geometry])


def timed(func: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bundled_line(atlas: Atlas, locations: int) -> str:
    """What the real-data table covers, counted from the data (never typed in)."""
    facilities = atlas.facilities
    located, placeholders = analysable(facilities)
    placement = located["placement"].value_counts() if "placement" in located.columns else {}
    mix = " / ".join(f"{int(n)} {kind}" for kind, n in placement.items())
    return (f"real bundled data: {len(facilities)} facilities, {len(located)} located "
            f"({mix}), {len(placeholders)} placeholders left out as in every spatial "
            f"analysis; {len(distinct_sites(located))} distinct sites, {locations} distinct "
            "locations (the discs drawn); approximate town boundaries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e3,1e4,1e5,1e6")
    parser.add_argument("--radii", default="1000,300")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-max", type=float, default=1e5)
    args = parser.parse_args()
    sizes = [int(float(v)) for v in args.sizes.split(",")]
    radii = [float(v) for v in args.radii.split(",")]

    atlas = load_atlas()
    towns_m, districts_m = atlas.towns_m, atlas.districts_m
    print(f"coverage per town, synthetic facilities uniform in the five towns (seed {SEED}); "
          f"median of {args.repeats} runs (naive: 1 run at N >= 1e5); {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start (other work inflates every time)")
    head = (f"{'N':>9} {'radius':>7} {'by_town':>9} {'report':>9} {'naive':>9} "
            f"{'speed-up':>9} {'max |Δshare|':>13}  shares (jd qp sj fx nh)")
    print(head)
    print("-" * len(head))
    for n in sizes:
        facilities = synthetic_facilities(towns_m, n)
        for radius in radii:
            ours_t, table = timed(lambda f=facilities, r=radius: coverage_by_town(
                f, towns_m, radius_m=r), args.repeats)
            report_t, _ = timed(lambda f=facilities, r=radius: coverage_report(
                f, towns_m, districts_m, radius_m=r), args.repeats)
            shares = table["covered_share"].to_numpy()  # type: ignore[index]
            naive_cell, speed, diff = "—", "—", "—"
            if n <= args.naive_max:
                naive_t, naive = timed(lambda f=facilities, r=radius: naive_shares(
                    f, towns_m, r), 1 if n >= 100_000 else args.repeats)
                naive_cell = f"{naive_t:8.3f}s"
                speed = f"{naive_t / ours_t:8.1f}x"
                diff = f"{np.max(np.abs(shares - naive)):.1e}"  # type: ignore[operator]
            print(f"{n:>9,} {radius:>6.0f}m {ours_t:8.3f}s {report_t:8.3f}s {naive_cell:>9} "
                  f"{speed:>9} {diff:>13}  " + " ".join(f"{s:.3f}" for s in shares), flush=True)

    print()
    # The real-data shares are `newtown coverage`'s own computation (geo.analysis), so the
    # placeholders are left out here as they are there.
    docs = [run_coverage(atlas, Filter(), CoverageParams(radius_m=r)).to_json()
            for r in (2000.0, 5000.0, None)]
    print(bundled_line(atlas, int(docs[0]["distinct_locations"])))
    head = f"{'town':<22}{'area km²':>10}" + "".join(
        f"{label:>16}" for label in ("2000 m", "5000 m", "per category"))
    print(head)
    print("-" * len(head))
    rows = [[*doc["towns"], doc["total"]] for doc in docs]
    for i, first in enumerate(rows[0]):
        name = first.get("name_en", "five towns")
        cells = "".join(f"{r[i]['covered_m2'] / 1e6:8.1f} {r[i]['covered_share']:6.1%}"
                        for r in rows)
        key = f"  ({first['key']})" if "key" in first else ""
        print(f"{name:<22}{first['area_m2'] / 1e6:>10.1f}{cells}{key}")


if __name__ == "__main__":
    main()
