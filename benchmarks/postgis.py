"""The store on PostgreSQL + PostGIS against the embedded GeoPackage store, in the same run.

Usage: .venv/bin/python benchmarks/postgis.py [--n 1e5[,1e6]] [--url postgresql://...]
       [--workdir DIR]

Without --url a throwaway cluster is started (tests/pg.py; needs PostgreSQL + PostGIS, as
root it runs the server as ``postgres``) and removed afterwards. With --url the database
must be empty and have PostGIS (password from PGPASSWORD or ~/.pgpass).

For each N (synthetic facilities, benchmarks/synth.py) and each engine it prints:
  init            ``init_store`` from the folder: validation as ``newtown check`` + writing
                  (PostgreSQL: COPY inside one transaction; the COPY part alone on its row);
  open + Atlas    ``open_store`` and the first ``Store.atlas()`` in a fresh Store: what
                  ``serve --store`` pays at start-up (the issue's target: <= 5 s at 1e6);
  filter change   the dashboard's server work for a filter change on the served Atlas
                  (``selection_view``, town jiading + industry auto, uncached), median of 3;
                  for PostgreSQL also the same filter as one SQL query returning GeoJSON;
  edit -> other   one edit committed by this process until a SECOND process that serves
                  the same store has the new revision, and has its new Atlas (it polls the
                  revision every 20 ms, then patches its Atlas), median of 5 edits.
Wall-clock seconds on this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402  (after the sys.path set-up)
from synth import cached_data_dir  # noqa: E402

from geo.query import Filter  # noqa: E402
from geo.store import init_store, open_store, postgis  # noqa: E402

TYPICAL = {"towns": ["jiading"], "industries": ["auto"]}
EDITS = 5

WATCHER = """
import json, sys, time
from geo.store import open_store
store = open_store(sys.argv[1])
store.atlas()
last = store.revision()
print(json.dumps({"ready": last}), flush=True)
while True:
    revision = store.revision()
    if revision != last:
        seen = time.time()
        store.atlas()
        print(json.dumps({"revision": revision, "seen": seen, "atlas": time.time()}),
              flush=True)
        last = revision
        if revision >= int(sys.argv[2]):
            break
    time.sleep(0.02)
"""


def secs(s: float) -> str:
    return f"{s * 1000:,.0f} ms" if s < 1 else f"{s:,.2f} s"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@contextlib.contextmanager
def copy_timer(totals: dict[str, float]) -> Iterator[None]:
    """Adds the time spent in COPY (postgis.copy_rows) to totals['copy']."""
    original = postgis.copy_rows

    def wrapped(*args: Any, **kwargs: Any) -> None:
        start = time.perf_counter()
        try:
            original(*args, **kwargs)
        finally:
            totals["copy"] = totals.get("copy", 0.0) + time.perf_counter() - start

    postgis.copy_rows = wrapped
    try:
        yield
    finally:
        postgis.copy_rows = original


def filter_time(store: Any) -> float:
    from dashboard.callbacks.filters import selection_view
    from dashboard.mapdata import MapData

    atlas = store.atlas()
    flt = Filter.create(**TYPICAL)
    times = []
    for _ in range(3):
        mapdata = MapData(atlas)  # uncached: a filter not seen before
        start = time.perf_counter()
        selection_view(mapdata, flt, datum="wgs84", lang="zh", bounds=None, zoom=None)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sql_filter_time(url: str) -> tuple[float, int]:
    """The typical filter as one PostGIS query returning a GeoJSON FeatureCollection."""
    engine = sa.create_engine(url)
    sql = ("SELECT json_build_object('type', 'FeatureCollection', 'features', "
           "coalesce(json_agg(ST_AsGeoJSON(f.*)::json), '[]'::json)) FROM "
           "(SELECT id, name_zh, category, geom FROM facilities_current "
           "WHERE town = 'jiading' AND ';' || industries || ';' LIKE '%%;auto;%%') f")
    times, count = [], 0
    try:
        with engine.connect() as conn:
            for _ in range(3):
                start = time.perf_counter()
                doc = conn.exec_driver_sql(sql).scalar_one()
                times.append(time.perf_counter() - start)
                count = len(doc["features"])
    finally:
        engine.dispose()
    return statistics.median(times), count


def edit_to_other_process(url: str, ids: list[str]) -> tuple[float, float]:
    """Median (seen, atlas) delays in a second process after each of len(ids) edits."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open_store(url) as store:
        start_revision = store.revision()
        target = start_revision + len(ids)
        watcher = subprocess.Popen([sys.executable, "-c", WATCHER, url, str(target)],
                                   stdout=subprocess.PIPE, text=True, env=env)
        assert watcher.stdout is not None
        json.loads(watcher.stdout.readline())  # ready: it serves the store
        seen, atlas = [], []
        for n, fid in enumerate(ids):
            store.propose("bench", "set", fid, {"name_en": f"bench edit {n}"},
                          reason="benchmark", source="synthetic")
            committed = time.time()
            report = json.loads(watcher.stdout.readline())
            seen.append(report["seen"] - committed)
            atlas.append(report["atlas"] - committed)
            time.sleep(0.2)
        watcher.wait(timeout=120)
        watcher.stdout.close()
    return statistics.median(seen), statistics.median(atlas)


def run_engine(name: str, url: str, folder: Path, n: int) -> dict[str, Any]:
    row: dict[str, Any] = {"engine": name, "n": n}
    totals: dict[str, float] = {}
    with copy_timer(totals):
        row["init"], store = timed(lambda: init_store(url, folder, review=False))
    row["copy"] = totals.get("copy")
    store.add_user("bench", "admin", "bench-password", actor=None)
    _, table = store.snapshot()
    ids = [str(v) for v in table["id"].iloc[:: max(1, len(table) // EDITS)][:EDITS]]
    store.close()
    row["open"], store = timed(lambda: open_store(url))
    atlas_s, atlas = timed(store.atlas)
    row["open"] += atlas_s
    assert len(atlas.facilities) == n
    row["filter"] = filter_time(store)
    store.close()
    if name == "postgresql":
        row["sql_filter"], row["sql_count"] = sql_filter_time(url)
    row["seen"], row["other_atlas"] = edit_to_other_process(url, ids)
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\nstore engines, synthetic facilities (wall time on this machine)")
    head = (f"{'N':>9} {'engine':<11} {'init':>9} {'(COPY)':>9} {'open+Atlas':>11} "
            f"{'filter':>9} {'SQL filter':>11} {'edit->seen':>11} {'edit->Atlas':>12}")
    print(head)
    print("-" * len(head))
    for r in rows:
        copy = secs(r["copy"]) if r.get("copy") is not None else "-"
        sql = (f"{secs(r['sql_filter'])}" if r.get("sql_filter") is not None else "-")
        print(f"{r['n']:>9,} {r['engine']:<11} {secs(r['init']):>9} {copy:>9} "
              f"{secs(r['open']):>11} {secs(r['filter']):>9} {sql:>11} "
              f"{secs(r['seen']):>11} {secs(r['other_atlas']):>12}")
    print("filter = selection_view on the served Atlas (typical filter: town jiading + "
          "industry auto); SQL filter = the same selection as one PostGIS query to GeoJSON; "
          f"edit->seen / edit->Atlas = median over {EDITS} edits until a second process has "
          "the revision / its new Atlas")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="1e5",
                        help="comma-separated sizes, e.g. 1e5,1e6 (default 1e5)")
    parser.add_argument("--url", default=None,
                        help="an empty PostGIS database (default: a throwaway cluster)")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "newtown-bench")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.n.split(",")]
    cluster = databases = None
    if args.url is None:
        from tests import pg

        cluster = pg.ThrowawayCluster().start()
        os.environ["PGPASSFILE"] = str(cluster.pgpass)
        databases = pg.Databases(cluster)
    rows = []
    try:
        for n in sizes:
            folder = cached_data_dir(n, 0, args.workdir)
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(run_engine("sqlite", str(Path(tmp) / "atlas.gpkg"), folder, n))
            if databases is not None:
                name = databases.create()
                url = databases.url(name)
            else:
                url, name = args.url, None
            rows.append(run_engine("postgresql", url, folder, n))
            if databases is not None and name is not None:
                databases.drop(name)
            print_table(rows)
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
