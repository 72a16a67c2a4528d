"""Editable store at scale: init, open for serving, and one edit made visible, on synthetic data.

Usage: .venv/bin/python benchmarks/store.py [--n 1e5] [--edits 20] [--workdir DIR]

Writes a synthetic data folder (benchmarks/synth.py, cached in --workdir), then prints:
  init          `init_store` from the folder (validates it as `newtown check` does, writes
                the GeoPackage);
  open+atlas    a new process-like start: `open_store` and the first `Store.atlas()` (the
                validated frame the store keeps, plus the rows changed since): what
                `serve --store` pays at start-up; and the same without a stored frame
                (every row validated, as a store from another release of the rules);
  edit+atlas    per edit: one `set` (or `move`) committed by an admin (validated against
                the approved table, row + history in one transaction) and then the next
                `Store.atlas()`, which validates and annotates only the changed row;
  full rebuild  for comparison: a fresh `open_store` + `atlas()` after the edits;
  serve         `serve --store`'s start (open, Atlas, the Dash app with its display caches)
                and, after one more edit, the watcher's swap to the new revision (the new
                Atlas plus a new Dash app built from it);
  load_atlas    the same folder read from files (what `serve --data` does today).
Times are wall-clock seconds and, in brackets, this process's CPU seconds (the machine is
shared: CPU time is the steadier figure when others are busy); median and max for edits.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import cached_data_dir

from dashboard.app import create_app
from dashboard.storeapp import StoreServer
from geo.atlas import load_atlas
from geo.store import init_store, open_store


class Clock:
    """Wall and CPU seconds since it was made (or last ``restart``)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu

    def text(self) -> str:
        wall, cpu = self.lap()
        return f"{wall:.2f} s [cpu {cpu:.2f} s]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=lambda s: int(float(s)), default=100_000)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir())
                        / "newtown-bench")
    args = parser.parse_args()
    folder = cached_data_dir(args.n, 0, args.workdir)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "atlas.gpkg"
        clock = Clock()
        store = init_store(path, folder, review=False)
        rows.append(("init (validate + write)", clock.text()))
        store.add_user("bench", "admin", "bench-password", actor=None)
        store.close()
        size = path.stat().st_size / 1e6
        rows.append(("store file size", f"{size:.1f} MB"))

        clock.restart()
        store = open_store(path)
        atlas = store.atlas()
        rows.append((f"open + first Atlas ({store.atlas_source[0]})", clock.text()))
        assert len(atlas.facilities) == args.n

        _, table = store.snapshot()
        ids = list(table["id"].iloc[:: max(1, len(table) // args.edits)][: args.edits])
        commit_s, visible_s, commit_cpu, visible_cpu = [], [], [], []
        for n, fid in enumerate(ids):
            clock.restart()
            if n % 2:
                row = table.loc[table["id"] == fid].iloc[0]
                store.propose("bench", "move", fid,
                              {"lon": f"{float(row['lon']) + 1e-5:.6f}", "lat": row["lat"]},
                              reason="benchmark", source="synthetic")
            else:
                store.propose("bench", "set", fid, {"name_en": f"edited {n}"},
                              reason="benchmark", source="synthetic")
            wall, cpu = clock.lap()
            commit_s.append(wall)
            commit_cpu.append(cpu)
            atlas = store.atlas()
            wall, cpu = clock.lap()
            visible_s.append(wall)
            visible_cpu.append(cpu)
            assert fid in atlas.facilities.index
        rows.append((f"edit committed ({len(ids)} edits)",
                     f"median {statistics.median(commit_s):.3f} s, max {max(commit_s):.3f} s "
                     f"[cpu median {statistics.median(commit_cpu):.3f} s]"))
        rows.append(("edit committed + new Atlas",
                     f"median {statistics.median(visible_s):.3f} s, "
                     f"max {max(visible_s):.3f} s "
                     f"[cpu median {statistics.median(visible_cpu):.3f} s]"))
        store.close()

        clock.restart()
        with open_store(path) as fresh:
            fresh.atlas()
            rows.append((f"open + Atlas after the edits ({fresh.atlas_source[0]}, "
                         f"{fresh.atlas_source[1]} rows validated)", clock.text()))
        with sqlite3.connect(path) as raw:
            raw.execute("DELETE FROM atlas_snapshot")
        clock.restart()
        with open_store(path) as fresh:
            fresh.atlas()
            rows.append((f"open + Atlas, no stored frame ({fresh.atlas_source[0]})",
                         clock.text()))

        clock.restart()
        with open_store(path) as served:
            server = StoreServer(served, create_app, poll_s=3600)
            rows.append(("serve --store start (open + Atlas + app)", clock.text()))
            clock.restart()
            served.propose("bench", "set", ids[0], {"name_en": "served edit"},
                           reason="benchmark", source="synthetic")
            assert server.refresh()
            rows.append(("edit committed + new app serving", clock.text()))
            server.close()
    clock = Clock()
    load_atlas(folder)
    rows.append(("load_atlas from files", clock.text()))
    load = os.getloadavg()[0]
    print(f"store benchmark, {args.n:,} synthetic facilities (load average {load:.1f} on "
          f"{os.cpu_count()} CPUs)")
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
