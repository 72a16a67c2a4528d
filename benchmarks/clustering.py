"""Clustering at scale: DBSCAN/HDBSCAN (ours vs bare libraries) and Gi* on synthetic facilities.

Usage: .venv/bin/python benchmarks/clustering.py [--sizes 1e3 1e4 1e5] [--runs 3]
                                                 [--pattern mixed|uniform] [--seed 0]

Synthetic facilities (seeded; never written anywhere) lie inside the five towns' polygons of
the bundled data: with ``--pattern mixed`` (default) 70% sit in Gaussian "parks" (sd 300 m,
one park per 200 facilities, centres uniform in the towns) and 30% are spread uniformly;
``uniform`` spreads them all (HDBSCAN's worst case: thousands of tiny density peaks).

Each row is the median wall time of ``--runs`` runs (1 run for the slowest cases, marked *):
- DBSCAN: ``geo.clustering.dbscan_labels`` (from a GeoDataFrame: coordinates, coordinate
  order, canonical numbering, Series) against bare ``sklearn.cluster.DBSCAN().fit(xy)`` on a
  ready array; eps 300 m, min_samples 5.
- HDBSCAN: ``hdbscan_labels`` (the hdbscan package, Borůvka k-d tree, 1 core-distance job)
  against bare ``hdbscan.HDBSCAN`` and scikit-learn's ``HDBSCAN`` (only up to 1e4: ~30 s at
  1e5); min_cluster_size 20.
- hulls: ``cluster_hulls`` for the DBSCAN labels, convex.
- Gi*: ``hotspots`` over the five towns, H3 res 8 and 1 km squares, 999 permutations.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd
import numpy as np
import shapely

from geo.atlas import load_atlas
from geo.clustering import (
    cluster_hulls,
    dbscan_labels,
    hdbscan_labels,
    hotspots,
)

EPS_M = 300.0
MIN_SAMPLES = 5
MIN_CLUSTER_SIZE = 20


def synthetic_facilities(towns_m: gpd.GeoDataFrame, n: int, *, pattern: str,
                         seed: int) -> gpd.GeoDataFrame:
    """``n`` points inside the towns (EPSG:4549), by rejection sampling; seeded."""
    rng = np.random.default_rng(seed)
    area = shapely.union_all(towns_m.geometry.to_numpy())
    shapely.prepare(area)
    minx, miny, maxx, maxy = area.bounds

    def uniform(count: int) -> np.ndarray:
        out = np.empty((0, 2))
        while len(out) < count:
            xy = rng.uniform([minx, miny], [maxx, maxy], size=(max(4 * count, 1000), 2))
            out = np.vstack([out, xy[shapely.contains_xy(area, xy[:, 0], xy[:, 1])]])
        return out[:count]

    if pattern == "uniform":
        xy = uniform(n)
    else:
        parks = uniform(max(1, n // 200))
        clustered = int(0.7 * n)
        out = np.empty((0, 2))
        while len(out) < clustered:
            centre = parks[rng.integers(0, len(parks), size=clustered)]
            xy = centre + rng.normal(0, 300.0, size=centre.shape)
            out = np.vstack([out, xy[shapely.contains_xy(area, xy[:, 0], xy[:, 1])]])
        xy = np.vstack([out[:clustered], uniform(n - clustered)])
    layers = rng.choice(["ic", "biomed", "ai", "auto", "equipment;materials", "digital"], n)
    return gpd.GeoDataFrame({"layers": layers},
                            geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
                            crs=towns_m.crs, index=[f"SYN-{i:07d}" for i in range(n)])


def median_time(func: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(pts: gpd.GeoDataFrame, towns_m: gpd.GeoDataFrame, runs: int,
            ) -> list[tuple[str, int, float, str]]:
    """The table rows for one N."""
    import hdbscan
    from sklearn.cluster import DBSCAN, HDBSCAN

    n = len(pts)
    xy = pts.get_coordinates().to_numpy()
    rows: list[tuple[str, int, float, str]] = []
    ours = median_time(lambda: dbscan_labels(pts, eps_m=EPS_M, min_samples=MIN_SAMPLES), runs)
    bare = median_time(lambda: DBSCAN(eps=EPS_M, min_samples=MIN_SAMPLES).fit(xy), runs)
    labels = dbscan_labels(pts, eps_m=EPS_M, min_samples=MIN_SAMPLES)
    rows += [
        ("DBSCAN, ours (dbscan_labels)", n, ours,
         f"{int(labels.max()) + 1} clusters, {float((labels < 0).mean()):.0%} noise; "
         f"{ours / bare - 1:+.0%} over bare"),
        ("DBSCAN, bare scikit-learn", n, bare, ""),
    ]
    hulls = median_time(lambda: cluster_hulls(pts, labels), runs)
    rows.append(("cluster_hulls (convex) for those", n, hulls, ""))

    slow_runs = 1 if n >= 100_000 else runs
    mark = "*" if slow_runs == 1 else ""
    ours_h = median_time(lambda: hdbscan_labels(pts, min_cluster_size=MIN_CLUSTER_SIZE),
                         slow_runs)
    bare_h = median_time(lambda: hdbscan.HDBSCAN(min_cluster_size=MIN_CLUSTER_SIZE,
                                                 core_dist_n_jobs=1).fit(xy), slow_runs)
    h_labels = hdbscan_labels(pts, min_cluster_size=MIN_CLUSTER_SIZE)
    rows += [
        (f"HDBSCAN, ours (hdbscan_labels){mark}", n, ours_h,
         f"{int(h_labels.max()) + 1} clusters, {float((h_labels < 0).mean()):.0%} noise"),
        (f"HDBSCAN, bare hdbscan package{mark}", n, bare_h, ""),
    ]
    if n <= 10_000:
        sk = median_time(
            lambda: HDBSCAN(min_cluster_size=MIN_CLUSTER_SIZE, copy=True).fit(xy), runs)
        rows.append(("HDBSCAN, scikit-learn", n, sk, f"x{sk / ours_h:.1f} the time of ours"))
    for cell in ("h3:8", "grid:1000"):
        results: list[gpd.GeoDataFrame] = []

        def gi(cell: str = cell, results: list[gpd.GeoDataFrame] = results) -> None:
            results.append(hotspots(pts, cell=cell, study_area=towns_m, permutations=999,
                                    seed=0))

        seconds = median_time(gi, runs)
        cells = results[-1]
        hot = int(cells["hotspot"].str.startswith("hot").sum())
        rows.append((f"Gi* {cell}, 999 permutations", n, seconds,
                     f"{len(cells)} cells, {hot} hot"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1e3", "1e4", "1e5"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pattern", choices=("mixed", "uniform"), default="mixed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("error")  # a warning in a benchmark is a bug to see, not to hide
    warnings.filterwarnings("ignore", message=r"'urllib3\[secure\]' extra is deprecated")

    towns_m = load_atlas().towns_m
    rows: list[tuple[str, int, float, str]] = []
    for size_text in args.sizes:
        n = int(float(size_text))
        pts = synthetic_facilities(towns_m, n, pattern=args.pattern, seed=args.seed)
        rows += measure(pts, towns_m, args.runs)
        print(f"  ... {n:,} done", file=sys.stderr, flush=True)

    print(f"clustering benchmark: pattern {args.pattern}, seed {args.seed}, median of "
          f"{args.runs} runs (* = 1 run); EPSG:4549 metres")
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'N':>8}  {'seconds':>9}  notes")
    for name, n, seconds, note in rows:
        print(f"{name:<{width}}  {n:>8,}  {seconds:>9.3f}  {note}")


if __name__ == "__main__":
    main()
