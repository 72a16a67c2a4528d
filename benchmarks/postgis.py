"""The store on PostgreSQL + PostGIS against the embedded GeoPackage store, in the same run.

Usage: .venv/bin/python benchmarks/postgis.py [--n 1e5[,1e6]] [--url postgresql://...]
       [--workdir DIR] [--json FILE] [--engines sqlite,postgresql]

Without --url a throwaway cluster is started (tests/pg.py; needs PostgreSQL + PostGIS, as
root it runs the server as ``postgres``) and removed afterwards. With --url the database
must be empty and have PostGIS (password from PGPASSWORD or ~/.pgpass).

For each N (synthetic facilities, benchmarks/synth.py) and each engine it prints:
  init            ``init_store`` from the folder: validation as ``newtown check`` + writing,
                  wall and (this process's) CPU
                  (PostgreSQL: COPY inside one transaction; the COPY part alone on its row);
  open + Atlas    ``open_store`` and the first ``Store.atlas()`` in a fresh process: what
                  ``serve --store`` pays at start-up for its data (the issue's target: <= 5 s;
                  it reads the validated frame the store keeps, see docs/STORE.md);
  serve start     the same plus the served app: display data (MapData) and ``create_app``;
  filter change   the served app's server work for a filter change (``selection_view``, town
                  jiading + industry auto, on the app's warm MapData), median of 5; beside it
                  the same call on an app serving the same rows from files (``load_atlas``,
                  i.e. ``newtown serve --data``), the issue's yardstick; for PostgreSQL also
                  the same filter as one SQL query returning GeoJSON;
  edit -> served  one edit committed by this process until a SECOND process running
                  ``StoreServer`` (as ``serve --store`` does: LISTEN/NOTIFY on PostgreSQL, a
                  0.2 s poll on SQLite) serves the new revision (its new Atlas, display data
                  and app swapped in), median of 5 edits; and the swap's own server time
                  (wall and CPU of ``StoreServer.refresh`` in this process), median of 5.
Each figure is wall-clock seconds on this machine unless it says CPU; every step of a row
runs in a fresh child process so no row warms the next.
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

from geo.store import init_store, open_store, postgis  # noqa: E402

TYPICAL = {"towns": ["jiading"], "industries": ["auto"]}
EDITS = 5

#: A fresh process opening the store: open + Atlas, then the served app, then filter changes.
OPENER = """
import json, statistics, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from geo.store import open_store
from geo.query import Filter
from dashboard.app import create_app
from dashboard.mapdata import MapData
from dashboard.callbacks.filters import selection_view
imported = time.perf_counter() - t0
t0, c0 = time.perf_counter(), time.process_time()
store = open_store(sys.argv[1])
atlas = store.atlas()
open_s, open_cpu = time.perf_counter() - t0, time.process_time() - c0
mapdata = MapData(atlas)
create_app(atlas, mapdata=mapdata)
serve_s, serve_cpu = time.perf_counter() - t0, time.process_time() - c0
flt = Filter.create(**json.loads(sys.argv[2]))
times = []
for _ in range(5):
    t = time.perf_counter()
    selection_view(mapdata, flt, datum="wgs84", lang="zh", bounds=None, zoom=None)
    times.append(time.perf_counter() - t)
cold = MapData(atlas)
t = time.perf_counter()
selection_view(cold, flt, datum="wgs84", lang="zh", bounds=None, zoom=None)
print(json.dumps({"open": open_s, "open_cpu": open_cpu, "serve": serve_s,
                  "serve_cpu": serve_cpu, "filter": statistics.median(times),
                  "filter_cold": time.perf_counter() - t, "source": store.atlas_source,
                  "imports": imported}))
"""

#: The same filter change on an app serving the folder's files (serve --data).
FILES = """
import json, statistics, sys, time
from geo.atlas import load_atlas
from geo.query import Filter
from dashboard.app import create_app
from dashboard.mapdata import MapData
from dashboard.callbacks.filters import selection_view
t0 = time.perf_counter()
atlas = load_atlas(sys.argv[1])
load_s = time.perf_counter() - t0
mapdata = MapData(atlas)
create_app(atlas, mapdata=mapdata)
flt = Filter.create(**json.loads(sys.argv[2]))
times = []
for _ in range(5):
    t = time.perf_counter()
    selection_view(mapdata, flt, datum="wgs84", lang="zh", bounds=None, zoom=None)
    times.append(time.perf_counter() - t)
print(json.dumps({"load": load_s, "filter": statistics.median(times)}))
"""

#: A second process serving the store with StoreServer; reports when each revision is served.
WATCHER = """
import json, sys, time
from geo.store import open_store
from dashboard.app import create_app
from dashboard.storeapp import StoreServer
store = open_store(sys.argv[1])
server = StoreServer(store, create_app)
last = server.revision
print(json.dumps({"ready": last}), flush=True)
while True:
    if server.revision != last:
        last = server.revision
        print(json.dumps({"revision": last, "served": time.time(),
                          "cpu": time.process_time()}), flush=True)
        if last >= int(sys.argv[2]):
            break
    time.sleep(0.002)
server.close()
"""


def secs(s: float) -> str:
    return f"{s * 1000:,.0f} ms" if s < 1 else f"{s:,.2f} s"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@contextlib.contextmanager
def copy_timer(totals: dict[str, float]) -> Iterator[None]:
    """Adds the time spent in COPY (postgis.copy_columns, the bulk load of init, and
    postgis.copy_rows, its fallback) to totals['copy']."""
    originals = {name: getattr(postgis, name) for name in ("copy_columns", "copy_rows")}
    depth = [0]  # copy_columns may fall back to copy_rows: count the outer call only

    def timing(original: Callable[..., None]) -> Callable[..., None]:
        def wrapped(*args: Any, **kwargs: Any) -> None:
            start = time.perf_counter()
            depth[0] += 1
            try:
                original(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    totals["copy"] = totals.get("copy", 0.0) + time.perf_counter() - start
        return wrapped

    for name, original in originals.items():
        setattr(postgis, name, timing(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(postgis, name, original)


def child(code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh Python process; its last line of output, as JSON."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=env, check=False)
    if out.returncode:
        raise RuntimeError(f"child failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


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
    """Median delay until a second process's StoreServer serves each of len(ids) edits, and
    the median CPU seconds that process spent from one served revision to the next (the
    swap, plus ~1 s of its idle 2 ms polling loop)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open_store(url) as store:
        target = store.revision() + len(ids)
        watcher = subprocess.Popen([sys.executable, "-c", WATCHER, url, str(target)],
                                   stdout=subprocess.PIPE, text=True, env=env)
        assert watcher.stdout is not None
        json.loads(watcher.stdout.readline())  # ready: it serves the store
        served, cpu = [], []
        last_cpu = None
        for n, fid in enumerate(ids):
            time.sleep(1.0)  # let the watcher settle (warm views of the last swap)
            started = time.time()
            store.propose("bench", "set", fid, {"name_en": f"bench edit {n}"},
                          reason="benchmark", source="synthetic")
            report = json.loads(watcher.stdout.readline())
            served.append(report["served"] - started)
            if last_cpu is not None:
                cpu.append(report["cpu"] - last_cpu)
            last_cpu = report["cpu"]
        watcher.wait(timeout=600)
        watcher.stdout.close()
    return statistics.median(served), statistics.median(cpu) if cpu else float("nan")


def swap_time(url: str, ids: list[str]) -> tuple[float, float]:
    """Median wall and CPU seconds of StoreServer.refresh after one edit (in this process)."""
    from dashboard.app import create_app
    from dashboard.storeapp import StoreServer

    walls, cpus = [], []
    with open_store(url) as store:
        server = StoreServer(store, create_app, poll_s=3600)
        server.close()  # stop its watcher (LISTEN would swap first): refreshed by hand
        try:
            for n, fid in enumerate(ids):
                store.propose("bench", "set", fid, {"name_en": f"swap edit {n}"},
                              reason="benchmark", source="synthetic")
                wall, cpu = time.perf_counter(), time.process_time()
                assert server.refresh()
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
        finally:
            server.close()
    return statistics.median(walls), statistics.median(cpus)


def run_engine(name: str, url: str, folder: Path, n: int) -> dict[str, Any]:
    row: dict[str, Any] = {"engine": name, "n": n}
    totals: dict[str, float] = {}
    row["load_before"] = os.getloadavg()[0]
    cpu = time.process_time()
    with copy_timer(totals):
        row["init"], store = timed(lambda: init_store(url, folder, review=False))
    row["init_cpu"] = time.process_time() - cpu
    row["copy"] = totals.get("copy")
    store.add_user("bench", "admin", "bench-password", actor=None)
    _, table = store.snapshot()
    ids = [str(v) for v in table["id"].iloc[:: max(1, len(table) // EDITS)][:EDITS]]
    store.close()
    row.update(child(OPENER, url, json.dumps(TYPICAL)))
    assert row["source"][0] == "snapshot", row["source"]
    if name == "postgresql":
        row["sql_filter"], row["sql_count"] = sql_filter_time(url)
    row["served"], row["served_cpu"] = edit_to_other_process(url, ids)
    row["swap"], row["swap_cpu"] = swap_time(url, ids)
    row["load_after"] = os.getloadavg()[0]
    print(json.dumps(row), flush=True)
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\nstore engines, synthetic facilities (wall time on this machine; CPU in brackets)")
    head = (f"{'N':>9} {'engine':<11} {'init':>18} {'(COPY)':>9} {'open+Atlas':>18} "
            f"{'serve start':>18} {'filter':>8} {'(files)':>8} {'(cold)':>8} {'SQL':>8} "
            f"{'edit->served':>18} {'swap':>18} {'load':>10}")
    print(head)
    print("-" * len(head))
    for r in rows:
        copy = secs(r["copy"]) if r.get("copy") is not None else "-"
        sql = secs(r["sql_filter"]) if r.get("sql_filter") is not None else "-"
        files = secs(r["files_filter"]) if r.get("files_filter") is not None else "-"
        init = f"{secs(r['init'])} [{secs(r['init_cpu'])}]"
        load = f"{r['load_before']:.1f}-{r['load_after']:.1f}"
        print(f"{r['n']:>9,} {r['engine']:<11} {init:>18} {copy:>9} "
              f"{secs(r['open']) + ' [' + secs(r['open_cpu']) + ']':>18} "
              f"{secs(r['serve']) + ' [' + secs(r['serve_cpu']) + ']':>18} "
              f"{secs(r['filter']):>8} {files:>8} {secs(r['filter_cold']):>8} {sql:>8} "
              f"{secs(r['served']) + ' [' + secs(r['served_cpu']) + ']':>18} "
              f"{secs(r['swap']) + ' [' + secs(r['swap_cpu']) + ']':>18} {load:>10}")
    print("filter = selection_view on the served app's display data (town jiading + industry "
          "auto), median of 5; files = the same on an app serving the folder's files; cold = "
          "on display data built for the call; SQL = the same selection as one PostGIS query "
          f"to GeoJSON; edit->served = median over {EDITS} edits until a second process's "
          "StoreServer serves the revision; swap = StoreServer.refresh after one edit; "
          "init CPU is this process's only (the PostgreSQL server's work is not in it); "
          "load = 1-minute load average before init and after the row (2 cores here)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="1e5",
                        help="comma-separated sizes, e.g. 1e5,1e6 (default 1e5)")
    parser.add_argument("--url", default=None,
                        help="an empty PostGIS database (default: a throwaway cluster)")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "newtown-bench")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma-separated engines to run (default both)")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.n.split(",")]
    engines = {e.strip() for e in args.engines.split(",") if e.strip()}
    if not engines or engines - {"sqlite", "postgresql"}:
        parser.error("--engines takes sqlite and/or postgresql")
    cluster = databases = None
    if args.url is None and "postgresql" in engines:
        from tests import pg

        cluster = pg.ThrowawayCluster().start()
        os.environ["PGPASSFILE"] = str(cluster.pgpass)
        databases = pg.Databases(cluster)
    rows = []
    try:
        for n in sizes:
            folder = cached_data_dir(n, 0, args.workdir)
            files = child(FILES, str(folder), json.dumps(TYPICAL))
            if "sqlite" in engines:
                with tempfile.TemporaryDirectory() as tmp:
                    rows.append(run_engine("sqlite", str(Path(tmp) / "atlas.gpkg"), folder, n))
                rows[-1]["files_filter"], rows[-1]["files_load"] = files["filter"], files["load"]
            if "postgresql" in engines:
                if databases is not None:
                    name = databases.create()
                    url = databases.url(name)
                else:
                    url, name = args.url, None
                rows.append(run_engine("postgresql", url, folder, n))
                rows[-1]["files_filter"], rows[-1]["files_load"] = (files["filter"],
                                                                    files["load"])
                if databases is not None and name is not None:
                    databases.drop(name)
            print_table(rows)
            if args.json is not None:
                args.json.write_text(json.dumps(rows, indent=1))
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
