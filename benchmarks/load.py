"""Bounded load test: concurrent simulated users against `newtown serve` on 127.0.0.1.

Usage: .venv/bin/python benchmarks/load.py [--users 20] [--seconds 60] [--workers 8]
           [--data DIR] [--think-s 0] [--seed 0]

Starts the production server (`python -m dashboard.cli serve`, waitress with --workers
threads) in a subprocess on a free 127.0.0.1 port, waits for /healthz, then runs --users
threads for --seconds. Each user, like a browser loading the page and using it, does:

  GET /, GET /_dash-layout, GET /_dash-dependencies,
  POST /_dash-update-component for the page render (url.search -> page),
  the filter callback (outputs layer-facilities.data, selection-count.children, ...),
  the clusters run (cl-run) and the export (export-button, GeoJSON of facilities + towns).

Payloads are built from /_dash-dependencies the way dash-renderer builds them, so a new
State on a callback needs no change here. Every user has its own filters (town, industry,
category, level, status, text, drawn area, basemap, language; no two users share one), and
every response is checked: HTTP 200, JSON that parses, and for the three data callbacks the
answer computed locally with geo.query.Filter on the same data: the count text, the ids of
the facilities sent to the map, the number of points clustered, and the ids and sidecar
filter in the exported zip. A response for another user's filter is an error, so zero
errors means no two sessions saw each other's state.

The run stops by itself: no request starts after the deadline, every request has a
timeout, and the server subprocess is stopped at the end. Prints a table of requests,
errors and p50/p95/max latency per request type and overall; exits 1 if any request
failed. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import io
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard.i18n import t  # noqa: E402
from dashboard.urlstate import PageState, state_to_search  # noqa: E402
from geo import catalog  # noqa: E402
from geo._errors import DataError  # noqa: E402
from geo.atlas import Atlas, load_atlas  # noqa: E402
from geo.query import Filter, decode_area, encode_area  # noqa: E402

HOST = "127.0.0.1"
UPDATE = "/_dash-update-component"
#: Request types in the order a user makes them (and the table prints them).
KINDS = ("GET /", "GET /_dash-layout", "GET /_dash-dependencies", "page render",
         "filter", "clusters run", "export")


# -- the users' filters --------------------------------------------------------------------


@dataclass(frozen=True)
class UserFilter:
    """Control values as the page holds them, and what they must select."""

    towns: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    text: str = ""
    drawn: str | None = None
    basemap: str = "none"
    lang: str = "zh"

    def flt(self) -> Filter:
        return Filter.create(towns=self.towns, industries=self.industries,
                             categories=self.categories, levels=self.levels,
                             statuses=self.statuses, text=self.text,
                             within=decode_area(self.drawn) if self.drawn else None)

    def search(self) -> str:
        """The URL query string the page would be opened with."""
        return state_to_search(PageState(filter=self.flt(), lang=self.lang,
                                         basemap=self.basemap))


def make_user_filters(atlas: Atlas, users: int, per_user: int, seed: int) -> list[list[UserFilter]]:
    """``per_user`` distinct filters for each user; no filter is given to two users.

    Filters with many different counts are preferred, so a response meant for another user
    would show up as a wrong count, not only as wrong ids.
    """
    rng = random.Random(seed)
    fac = atlas.facilities
    towns = list(catalog.TOWNS)
    layers = list(catalog.INDUSTRY_LAYERS)
    categories = sorted(set(fac["category"]))
    levels = sorted(set(fac["level"]))
    statuses = sorted(set(fac["status"]))
    words = sorted({w for name in fac["name_zh"] for w in (name[:2], name[-2:]) if w})
    x0, y0, x1, y1 = atlas.towns.total_bounds
    seen: set[UserFilter] = set()
    by_count: dict[int, list[UserFilter]] = defaultdict(list)
    for _ in range(20_000):
        if len(seen) >= users * per_user * 4:
            break
        drawn = None
        if rng.random() < 0.15:  # a rectangle drawn on the map
            w = rng.uniform(x0, x1 - 0.1)
            s = rng.uniform(y0, y1 - 0.1)
            e, n = w + rng.uniform(0.1, 0.4), s + rng.uniform(0.1, 0.4)
            drawn = encode_area(shapely.box(w, s, e, n))
        candidate = UserFilter(
            towns=tuple(sorted(rng.sample(towns, rng.choice([0, 1, 1, 2, 3])))),
            industries=tuple(sorted(rng.sample(layers, rng.choice([0, 0, 1, 2])))),
            categories=tuple(sorted(rng.sample(categories, rng.choice([0, 0, 0, 1, 2])))),
            levels=tuple(sorted(rng.sample(levels, rng.choice([0, 0, 0, 1])))),
            statuses=tuple(sorted(rng.sample(statuses, rng.choice([0, 0, 0, 1])))),
            text=rng.choice(words) if rng.random() < 0.1 else "",
            drawn=drawn,
            basemap=rng.choice(["none", "none", "amap"]),
            lang=rng.choice(["zh", "en"]),
        )
        if candidate in seen:
            continue
        seen.add(candidate)
        by_count[len(candidate.flt().select(fac))].append(candidate)
    # Deal filters out round-robin over the counts, so users hold as many counts as possible.
    pool: list[UserFilter] = []
    queues = [by_count[c] for c in sorted(by_count)]
    for round_ in itertools.count():
        added = False
        for queue in queues:
            if round_ < len(queue):
                pool.append(queue[round_])
                added = True
        if not added or len(pool) >= users * per_user:
            break
    if len(pool) < users * per_user:
        raise SystemExit(f"could only make {len(pool)} distinct filters for {users} users")
    rng.shuffle(pool)
    return [pool[i::users][:per_user] for i in range(users)]


# -- Dash requests -------------------------------------------------------------------------


def find_callback(deps: list[dict[str, Any]], *, output: str | None = None,
                  input_id: str | None = None) -> dict[str, Any]:
    for dep in deps:
        outputs = _parse_outputs(dep["output"])
        names = {f"{o['id']}.{o['property']}" for o in
                 (outputs if isinstance(outputs, list) else [outputs])}
        if output is not None and output in names:
            return dep
        if input_id is not None and any(i["id"] == input_id for i in dep["inputs"]):
            return dep
    raise SystemExit(f"no callback with output {output!r} / input {input_id!r} in "
                     "/_dash-dependencies")


def _parse_outputs(spec: str) -> list[dict[str, str]] | dict[str, str]:
    """dash-renderer's form: a list for ``..a.b...c.d..``, one object for ``a.b``."""
    def one(text: str) -> dict[str, str]:
        component, _, prop = text.rpartition(".")
        return {"id": component, "property": prop}

    if spec.startswith(".."):
        return [one(p) for p in spec[2:-2].split("...")]
    return one(spec)


def update_payload(dep: dict[str, Any], values: dict[str, Any], changed: list[str]) -> bytes:
    """The body dash-renderer posts to /_dash-update-component for one callback."""
    def with_value(item: dict[str, str]) -> dict[str, Any]:
        key = f"{item['id']}.{item['property']}"
        out: dict[str, Any] = {"id": item["id"], "property": item["property"]}
        if key in values:
            out["value"] = values[key]
        return out

    body = {
        "output": dep["output"],
        "outputs": _parse_outputs(dep["output"]),
        "inputs": [with_value(i) for i in dep["inputs"]],
        "state": [with_value(s) for s in dep.get("state", [])],
        "changedPropIds": changed,
    }
    return json.dumps(body).encode()


def control_values(uf: UserFilter, atlas: Atlas) -> dict[str, Any]:
    (south, west), (north, east) = [[30.6, 120.9], [31.6, 122.0]]
    return {
        "url.search": uf.search(),
        "filter-town.value": list(uf.towns),
        "filter-industry.value": list(uf.industries),
        "filter-category.value": list(uf.categories),
        "filter-level.value": list(uf.levels),
        "filter-status.value": list(uf.statuses),
        "filter-search.value": uf.text,
        "drawn-area.data": uf.drawn,
        "basemap.value": uf.basemap,
        "uploaded.data": None,
        "map.bounds": [[south, west], [north, east]],
        "map.zoom": 9,
        "page-lang.data": uf.lang,
        "cl-run.n_clicks": 1,
        "cl-method.value": "dbscan",
        "cl-eps.value": 3000,
        "cl-min-samples.value": 3,
        "cl-min-cluster.value": 5,
        "cl-extras.value": [],
        "cl-bandwidth.value": 2000,
        "cl-cell.value": "h3:8",
        "cl-store.data": None,
        "export-button.n_clicks": 1,
        "export-format.value": "geojson",
        "export-layers.value": ["facilities", "towns"],
        "export-datum.value": "wgs84",
    }


# -- checks --------------------------------------------------------------------------------


class CheckError(Exception):
    """The server answered, but not with what this user's filter selects."""


def _response(doc: dict[str, Any], component: str, prop: str) -> Any:
    try:
        return doc["response"][component][prop]
    except (KeyError, TypeError):
        raise CheckError(f"response lacks {component}.{prop}") from None


def find_component(tree: Any, component_id: str) -> dict[str, Any] | None:
    """The component with this id in a rendered layout (nested dicts and lists)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") == component_id:
                return node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def check_page(doc: dict[str, Any], uf: UserFilter) -> None:
    """The page rendered from this user's URL shows this user's language and filter."""
    if _response(doc, "page-lang", "data") != uf.lang:
        raise CheckError(f"page rendered in {doc['response']['page-lang']['data']!r}, "
                         f"expected {uf.lang!r}")
    page = _response(doc, "page", "children")
    for component_id, want in (("filter-town", uf.flt().towns),
                               ("filter-industry", uf.flt().industries),
                               ("basemap", uf.basemap)):
        node = find_component(page, component_id)
        if node is None:
            raise CheckError(f"rendered page has no {component_id}")
        got = node["props"].get("value")
        if (tuple(got or ()) if isinstance(want, tuple) else got) != want:
            raise CheckError(f"{component_id} rendered as {got!r}, expected {want!r}")


def check_filter(doc: dict[str, Any], uf: UserFilter, expected: Any, total: int) -> None:
    count = _response(doc, "selection-count", "children")
    want = t("selected", uf.lang, n=len(expected), total=total)
    if count != want:
        raise CheckError(f"count {count!r}, expected {want!r} for {uf}")
    features = _response(doc, "layer-facilities", "data")["features"]
    ids = sorted(str(f["properties"]["id"]) for f in features)
    if ids != sorted(map(str, expected.index)):
        raise CheckError(f"map got {len(ids)} facilities, expected {len(expected)}")


def check_clusters(doc: dict[str, Any], expected: Any) -> None:
    data = _response(doc, "cl-store", "data")
    if data["count"] != len(expected):
        raise CheckError(f"clusters ran on {data['count']} facilities, expected {len(expected)}")
    members = {m for row in data["rows"] for m in row["members"].split(";") if m}
    if not members <= set(map(str, expected.index)):
        raise CheckError("a cluster holds a facility outside this user's selection")


def check_export(doc: dict[str, Any], uf: UserFilter, expected: Any) -> None:
    download = _response(doc, "export-download", "data")
    raw = base64.b64decode(download["content"]) if download.get("base64") else \
        download["content"].encode()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        facilities = json.loads(archive.read("facilities.geojson"))
        meta_name = next(n for n in archive.namelist() if n.endswith(".meta.json"))
        meta = json.loads(archive.read(meta_name))
    ids = sorted(str(f["properties"]["id"]) for f in facilities["features"])
    if ids != sorted(map(str, expected.index)):
        raise CheckError(f"export holds {len(ids)} facilities, expected {len(expected)}")
    want = uf.flt().to_params()
    got = (meta.get("filter") or {})
    if {k: v for k, v in got.items() if v} != want:
        raise CheckError(f"export sidecar filter {got!r}, expected {want!r}")


# -- the simulated users -------------------------------------------------------------------


@dataclass
class Record:
    kind: str
    seconds: float
    error: str | None = None


@dataclass
class User:
    number: int
    port: int
    filters: list[UserFilter]
    atlas: Atlas
    deadline: float
    timeout_s: float
    think_s: float
    seed: int
    records: list[Record] = field(default_factory=list)
    connection: http.client.HTTPConnection | None = None

    def _conn(self) -> http.client.HTTPConnection:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout_s)
        return self.connection

    def request(self, kind: str, method: str, path: str, body: bytes | None = None,
                check: Any = None) -> Any:
        headers = {"Accept-Encoding": "gzip", "Accept": "application/json, */*",
                   "User-Agent": f"newtown-load/{self.number}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        error = None
        result = None
        try:
            conn = self._conn()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.getheader("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            if response.status != 200:
                error = f"HTTP {response.status}: {data[:200]!r}"
            elif path != "/":
                result = json.loads(data)
                if check is not None:
                    check(result)
            elif b"_dash-renderer" not in data and b"dash_renderer" not in data:
                error = "the page is not the Dash index"
        except CheckError as exc:
            error = f"wrong answer: {exc}"
        except json.JSONDecodeError as exc:
            error = f"not JSON: {exc}"
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if self.connection is not None:
                self.connection.close()
            self.connection = None
        self.records.append(Record(kind, time.perf_counter() - started, error))
        return result

    def run(self, deps: list[dict[str, Any]]) -> None:
        try:
            self._run(deps)
        except BaseException as exc:  # a bug here must show in the report, not vanish
            self.records.append(Record("user crashed", 0.0, f"{type(exc).__name__}: {exc}"))

    def _run(self, deps: list[dict[str, Any]]) -> None:
        rng = random.Random(self.seed * 1000 + self.number)
        page = find_callback(deps, output="page.children")
        selection = find_callback(deps, output="selection-count.children")
        clusters = find_callback(deps, input_id="cl-run")
        export = find_callback(deps, input_id="export-button")
        total = len(self.atlas.facilities)
        steps = 0
        try:
            for uf in itertools.cycle(self.filters):
                expected = uf.flt().select(self.atlas.facilities)
                values = control_values(uf, self.atlas)
                plan = [
                    ("GET /", "GET", "/", None, None),
                    ("GET /_dash-layout", "GET", "/_dash-layout", None, None),
                    ("GET /_dash-dependencies", "GET", "/_dash-dependencies", None, None),
                    # A fresh page has no language yet: the render callback fills it in.
                    ("page render", "POST", UPDATE,
                     update_payload(page, {**values, "page-lang.data": None}, ["url.search"]),
                     lambda doc, uf=uf: check_page(doc, uf)),
                    ("filter", "POST", UPDATE,
                     update_payload(selection, values, ["filter-town.value"]),
                     lambda doc, uf=uf, e=expected: check_filter(doc, uf, e, total)),
                    ("clusters run", "POST", UPDATE,
                     update_payload(clusters, values, ["cl-run.n_clicks"]),
                     lambda doc, e=expected: check_clusters(doc, e)),
                    ("export", "POST", UPDATE,
                     update_payload(export, values, ["export-button.n_clicks"]),
                     lambda doc, uf=uf, e=expected: check_export(doc, uf, e)),
                ]
                for kind, method, path, body, check in plan:
                    if time.monotonic() >= self.deadline:
                        return
                    self.request(kind, method, path, body, check)
                    steps += 1
                    if self.think_s > 0:
                        time.sleep(min(rng.uniform(0.5, 1.5) * self.think_s,
                                       max(0.0, self.deadline - time.monotonic())))
        finally:
            if self.connection is not None:
                self.connection.close()


# -- server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, timeout_s: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_server(workers: int, data: Path | None, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [sys.executable, "-m", "dashboard.cli", "serve", "--host", HOST, "--port", str(port),
           "--workers", str(workers)]
    if data is not None:
        cmd += ["--data", str(data)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            status, body = get(port, "/healthz", timeout_s=2)
            if status == 200 and body.startswith(b"ok"):
                return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise SystemExit(f"the server did not answer /healthz within 120 s:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # waitress stops cleanly on Ctrl+C
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# -- report --------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def report(records: list[Record], *, seconds: float) -> str:
    by_kind: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_kind[r.kind].append(r)
    head = f"{'request':<26}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
    lines = [head, "-" * len(head)]

    def row(label: str, group: list[Record]) -> str:
        times = sorted(r.seconds * 1000 for r in group)
        errors = sum(r.error is not None for r in group)
        return (f"{label:<26}{len(group):>9}{errors:>8}{percentile(times, 50):>9.0f}"
                f"{percentile(times, 95):>9.0f}{(times[-1] if times else float('nan')):>9.0f}")

    for kind in [*KINDS, *sorted(set(by_kind) - set(KINDS))]:
        if by_kind.get(kind):
            lines.append(row(kind, by_kind[kind]))
    lines.append("-" * len(head))
    lines.append(row("all", records))
    lines.append(f"throughput: {len(records) / seconds:.1f} requests/s over {seconds:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=8,
                        help="waitress threads of the server (newtown serve --workers)")
    parser.add_argument("--data", type=Path, default=None, help="data folder (default bundled)")
    parser.add_argument("--think-s", type=float, default=0.0,
                        help="mean pause between a user's requests (0: back to back)")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="per-request timeout")
    parser.add_argument("--filters-per-user", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.users < 1 or args.seconds <= 0:
        parser.error("--users must be >= 1 and --seconds > 0")

    try:
        atlas = load_atlas(args.data)
    except DataError as exc:  # the server would refuse the same data: say so and stop
        print(f"error: data problems\n{exc}", file=sys.stderr)
        return 2
    filters = make_user_filters(atlas, args.users, args.filters_per_user, args.seed)
    counts = sorted({len(uf.flt().select(atlas.facilities)) for fs in filters for uf in fs})
    with tempfile.TemporaryDirectory(prefix="newtown-load-") as tmp:
        log = Path(tmp) / "server.log"
        proc, port = start_server(args.workers, args.data, log)
        try:
            status, body = get(port, "/_dash-dependencies", timeout_s=30)
            if status != 200:
                raise SystemExit(f"/_dash-dependencies answered HTTP {status}")
            deps = json.loads(body)
            started = time.monotonic()
            deadline = started + args.seconds
            users = [User(n, port, filters[n], atlas, deadline, args.timeout_s, args.think_s,
                          args.seed) for n in range(args.users)]
            threads = [threading.Thread(target=u.run, args=(deps,), daemon=True,
                                        name=f"user-{u.number}") for u in users]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()) + args.timeout_s + 5)
            elapsed = time.monotonic() - started
            stuck = [th.name for th in threads if th.is_alive()]
            healthy = get(port, "/healthz")[0] == 200
        finally:
            stop_server(proc)
        server_errors = [line for line in log.read_text(errors="replace").splitlines()
                         if "Traceback" in line or "ERROR" in line]
    records = [r for u in users for r in u.records]
    print(f"newtown serve --workers {args.workers} on {HOST}:{port}; {args.users} users for "
          f"{args.seconds:g} s, think {args.think_s:g} s; {len(atlas.facilities)} facilities; "
          f"{sum(map(len, filters))} distinct filters selecting {len(counts)} different counts "
          f"({counts[0]}-{counts[-1]})")
    print(report(records, seconds=elapsed))
    errors = [r for r in records if r.error is not None]
    print(f"errors: {len(errors)}; server log lines with Traceback/ERROR: {len(server_errors)}; "
          f"/healthz after the run: {'ok' if healthy else 'FAILED'}"
          + (f"; users still running at the end: {', '.join(stuck)}" if stuck else ""))
    for r in errors[:10]:
        print(f"  {r.kind}: {r.error}")
    return 1 if errors or stuck or server_errors or not healthy else 0


if __name__ == "__main__":
    sys.exit(main())
