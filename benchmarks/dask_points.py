"""Beyond one machine: 1e6..1e7 points assigned to towns and counted per grid cell on Dask.

Usage: .venv/bin/python benchmarks/dask_points.py [--sizes 1e6 1e7] [--runs 3]
                                                 [--formats parquet csv] [--workers 2]
                                                 [--baseline-max 1e7] [--workdir DIR]

Seeded synthetic points (benchmark only, never real): 40% in Gaussian clumps inside the five
new towns, 60% uniform over Shanghai's bounding box, as a city-wide POI layer would be. They
are written once to ``--workdir`` (default /tmp/newtown-bench) as Parquet (row groups of 1e6
rows) and CSV (name, lon, lat) and reused on later runs.

For each N and format the table gives the median wall time of ``--runs`` runs of
:func:`geo.parallel.summarise_points` (read, validate, assign to towns, 1 km grid counts):

* ``sync``: Dask's synchronous scheduler, one thread: the cost of the work itself;
* ``threads``: Dask's threaded scheduler, one process, ``--workers`` threads;
* ``cluster``: a LocalCluster of ``--workers`` worker processes, already started (its start
  time is printed once), and ``cluster+cov``: the same with coverage counting by all the
  bundled facilities at their category radii;
* ``geopandas``: the usual single-machine way, for comparison (Parquet only): read,
  ``points_from_xy``, ``sjoin(predicate="within")`` against the towns, ``to_crs(4549)`` and
  a groupby on the grid cell; run once at N > 1e6.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.atlas import load_atlas
from geo.coverage import service_engine
from geo.crs import to_metric
from geo.parallel import dask_client, open_points, summarise_points
from geo.settings import GEOGRAPHIC_CRS, METRIC_CRS, SHANGHAI_BBOX

SEED = 20261126


def synthetic_points(n: int, towns: gpd.GeoDataFrame, *, seed: int = SEED) -> pd.DataFrame:
    """``n`` points: 40% clumped inside the towns, 60% uniform over the city's bbox."""
    rng = np.random.default_rng(seed)
    towns_m = towns.to_crs(METRIC_CRS)
    n_town = int(n * 0.4)
    xs, ys = [], []
    geoms = towns_m.geometry.to_numpy()
    share = shapely.area(geoms) / shapely.area(geoms).sum()
    for geom, k in zip(geoms, rng.multinomial(n_town, share), strict=True):
        minx, miny, maxx, maxy = geom.bounds
        centres = rng.uniform([minx, miny], [maxx, maxy], size=(max(1, k // 5000), 2))
        pick = centres[rng.integers(0, len(centres), k)]
        xs.append(pick[:, 0] + rng.normal(0, 900, k))
        ys.append(pick[:, 1] + rng.normal(0, 900, k))
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(METRIC_CRS, GEOGRAPHIC_CRS, always_xy=True).transform(
        np.concatenate(xs), np.concatenate(ys))
    west, south, east, north = SHANGHAI_BBOX
    rest = n - n_town
    lon = np.concatenate([lon, rng.uniform(west, east, rest)])
    lat = np.concatenate([lat, rng.uniform(south, north, rest)])
    order = rng.permutation(n)
    return pd.DataFrame({"lon": np.round(lon[order], 6), "lat": np.round(lat[order], 6)})


def data_files(n: int, workdir: Path, towns: gpd.GeoDataFrame, formats: list[str]
               ) -> dict[str, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    files = {fmt: workdir / f"points_n{n}_seed{SEED}.{fmt}" for fmt in formats}
    if all(p.exists() for p in files.values()):
        return files
    start = time.perf_counter()
    frame = synthetic_points(n, towns)
    if "parquet" in files and not files["parquet"].exists():
        frame.to_parquet(files["parquet"], row_group_size=1_000_000)
    if "csv" in files and not files["csv"].exists():
        named = frame.assign(name=[f"SYN-{i:08d}" for i in range(n)])[["name", "lon", "lat"]]
        named.to_csv(files["csv"], index=False)
    print(f"  wrote {n:,} synthetic points in {time.perf_counter() - start:.1f} s")
    return files


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def geopandas_baseline(path: Path, towns: gpd.GeoDataFrame, cell_m: float) -> pd.Series:
    frame = pd.read_parquet(path)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                              crs=GEOGRAPHIC_CRS)
    joined = gpd.sjoin(points, towns[["key", "geometry"]], predicate="within", how="left")
    metric = joined.to_crs(METRIC_CRS)
    cells = pd.DataFrame({"ix": np.floor(metric.geometry.x / cell_m),
                          "iy": np.floor(metric.geometry.y / cell_m)})
    cells.value_counts()
    return joined["key"].fillna("outside").value_counts()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1e6", "1e7"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv"],
                        choices=["parquet", "csv"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-max", type=float, default=1e7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/newtown-bench"))
    args = parser.parse_args()

    atlas = load_atlas()
    engine = service_engine(to_metric(atlas.facilities))
    rows = []
    start = time.perf_counter()
    with dask_client("local", workers=args.workers) as cluster_name:
        cluster_start = time.perf_counter() - start
        print(f"{cluster_name}: started in {cluster_start:.2f} s")
        for size in args.sizes:
            n = int(float(size))
            files = data_files(n, args.workdir, atlas.towns, args.formats)
            for fmt, path in files.items():
                source = open_points(path)
                row = {"N": n, "format": fmt, "partitions": source.npartitions,
                       "MB": path.stat().st_size / 1e6}
                t, summary = median_time(lambda s=source: summarise_points(s, atlas.towns),
                                         args.runs)
                row["cluster"] = t
                t, _ = median_time(lambda s=source: summarise_points(
                    s, atlas.towns, discs=engine), args.runs)
                row["cluster+cov"] = t
                rows.append((row, summary))
    print("(cluster closed; sync/threads/geopandas below run in this process)")
    for row, summary in rows:
        source = open_points(Path(args.workdir) / f"points_n{row['N']}_seed{SEED}.{row['format']}")
        for name, scheduler in (("sync", "sync"), ("threads", "threads")):
            with dask_client(scheduler):
                runs = args.runs if row["N"] <= 1_000_000 else max(1, args.runs - 1)
                t, other = median_time(lambda s=source: summarise_points(s, atlas.towns), runs)
            row[name] = t
            assert other.by_town.equals(summary.by_town), "schedulers disagree"
        if row["format"] == "parquet" and row["N"] <= args.baseline_max:
            runs = args.runs if row["N"] <= 1_000_000 else 1
            t, counts = median_time(lambda p=source.path: geopandas_baseline(
                p, atlas.towns, 1000.0), runs)
            row["geopandas"] = t
            ours = summary.by_town["points"]
            assert counts.reindex(ours.index, fill_value=0).astype(int).equals(
                ours.astype(int)), "geopandas and geo.parallel disagree"
        print(f"  N={row['N']:.0e} {row['format']}: done", flush=True)

    head = ["N", "format", "MB", "parts", "geopandas", "sync", "threads", "cluster",
            "cluster+cov", "geopandas/cluster"]
    print()
    print(f"median of {args.runs} runs (1e7: sync/threads {max(1, args.runs - 1)}, geopandas 1)"
          f"; {args.workers} workers; LocalCluster start {cluster_start:.2f} s (not included)")
    print("  ".join(f"{h:>12}" for h in head))
    for row, _ in rows:
        base = row.get("geopandas")
        cells = [f"{row['N']:.0e}", row["format"], f"{row['MB']:.0f}", str(row["partitions"]),
                 f"{base:.2f} s" if base else "-", f"{row['sync']:.2f} s",
                 f"{row['threads']:.2f} s", f"{row['cluster']:.2f} s",
                 f"{row['cluster+cov']:.2f} s",
                 f"{base / row['cluster']:.1f}x" if base else "-"]
        print("  ".join(f"{c:>12}" for c in cells))


if __name__ == "__main__":
    main()
