"""Review in the dashboard over real HTTP: sign-in, and an approval committed and served.

Usage: .venv/bin/python benchmarks/review.py [--n 0|1e5] [--approvals 10] [--workdir DIR]

Makes a store (the bundled data, or --n synthetic facilities from benchmarks/synth.py),
serves it with `StoreServer` on a local port (werkzeug, threaded) and prints:
  sign-in      POST /auth/login (scrypt check, the failure-count read, the cookie);
  approve      the Review tab's approve callback, POSTed as the browser posts it: the
               store's approve (validated, one transaction) plus the server's swap to the
               new revision (a new Atlas and Dash app) before it answers, so the next
               request (the map's redraw) is served by the new revision;
  redraw       the selection callback on the new revision (what the map asks for next).
Times are wall-clock seconds on a shared machine (median and max), and the CPU seconds of
this process (server and client) for the approval.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard import ids
from dashboard.app import create_app
from dashboard.state import FILTER_CONTROLS
from dashboard.storeapp import StoreServer
from geo.store import init_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=lambda s: int(float(s)), default=0,
                        help="synthetic facilities (0: the bundled data)")
    parser.add_argument("--approvals", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir())
                        / "newtown-bench")
    args = parser.parse_args()
    folder = None
    if args.n:
        from synth import cached_data_dir

        folder = cached_data_dir(args.n, 0, args.workdir)
    with tempfile.TemporaryDirectory() as tmp:
        store = init_store(Path(tmp) / "atlas.gpkg", folder)
        store.add_user("root", "admin", "root-password", actor=None)
        store.add_user("ed", "editor", "ed-password", actor="root")
        store.add_user("rev", "reviewer", "rev-password", actor="root")
        started = time.perf_counter()
        server = StoreServer(store, create_app, poll_s=3600)  # swaps only on sync()
        print(f"facilities: {len(store.snapshot()[1])}; serving started in "
              f"{time.perf_counter() - started:.2f} s")
        http = make_server("127.0.0.1", 0, server, threaded=True)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{http.server_port}"
        origin = {"Origin": base}
        session = requests.Session()
        signin = []
        for _ in range(5):
            t0 = time.perf_counter()
            r = session.post(base + "/auth/login", json={"name": "rev",
                                                         "password": "rev-password"},
                             headers=origin, timeout=60)
            signin.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
        _, table = store.snapshot()
        targets = list(table["id"].iloc[:: max(1, len(table) // args.approvals)]
                       [: args.approvals])
        key = next(k for k in server.app.callback_map
                   if k.startswith(f"..{ids.REVIEW_STATUS}.children"))
        approve, redraw, approve_cpu = [], [], []
        for n, fid in enumerate(targets):
            change = store.propose("ed", "set", str(fid), {"name_en": f"reviewed {n}"},
                                   reason="benchmark", source="synthetic")
            button = {"type": ids.REVIEW_APPROVE, "change": change.change_id}
            body = {
                "output": key,
                "outputs": [{"id": ids.REVIEW_STATUS, "property": "children"},
                            {"id": ids.DATA_REVISION, "property": "data"}],
                "inputs": [[{"id": button, "property": "n_clicks", "value": 1}], []],
                "state": [[{"id": {**button, "type": ids.REVIEW_COMMENT}, "property": "value",
                            "value": "ok"}],
                          [{"id": {**button, "type": ids.REVIEW_COMMENT}, "property": "id",
                            "value": {**button, "type": ids.REVIEW_COMMENT}}],
                          {"id": ids.PAGE_LANG, "property": "data", "value": "en"}],
                "changedPropIds": [
                    f'{{"change":{change.change_id},"type":"{ids.REVIEW_APPROVE}"}}.n_clicks'],
            }
            t0, c0 = time.perf_counter(), time.process_time()
            r = session.post(base + "/_dash-update-component", json=body, headers=origin,
                             timeout=120)
            approve.append(time.perf_counter() - t0)
            approve_cpu.append(time.process_time() - c0)
            assert "approved" in r.text, r.text[:300]
            assert r.headers["X-Newtown-Revision"] == str(store.revision() - 1)
            t0 = time.perf_counter()
            r = session.post(base + "/_dash-update-component", json=selection_body(server),
                             headers=origin, timeout=120)
            redraw.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.headers["X-Newtown-Revision"] == \
                str(store.revision()), r.text[:300]
        http.shutdown()
        server.close()
        store.close()
    for label, xs in (("sign-in", signin), ("approve + swap (answered)", approve),
                      ("redraw on the new revision", redraw)):
        print(f"{label:30s} median {statistics.median(xs):.3f} s, max {max(xs):.3f} s "
              f"({len(xs)} runs)")
    print(f"{'approve + swap, CPU':30s} median {statistics.median(approve_cpu):.3f} s "
          "(server and client share this process)")


def selection_body(server: StoreServer) -> dict[str, object]:
    """The selection callback's request for the unfiltered view (what the map asks for)."""
    callback = next(k for k, v in server.app.callback_map.items()
                    if any(i["id"] == ids.DATA_REVISION for i in v["inputs"])
                    and f"{ids.FACILITIES}.data" in k and "@" not in k.split("..")[1])
    spec = server.app.callback_map[callback]
    values = {ids.BASEMAP: "none", ids.PAGE_LANG: "en"}
    controls = {cid for cid, _ in FILTER_CONTROLS.values()}
    inputs = [{"id": i["id"], "property": i["property"],
               "value": values.get(i["id"])}
              for i in spec["inputs"]]
    state = [{"id": s["id"], "property": s["property"], "value": values.get(s["id"])}
             for s in spec["state"]]
    assert controls <= {i["id"] for i in spec["inputs"]}
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]}
               for o in callback.strip(".").split("...")]
    return {"output": callback, "outputs": outputs, "inputs": inputs, "state": state,
            "changedPropIds": [f"{ids.DATA_REVISION}.data"]}


if __name__ == "__main__":
    main()
