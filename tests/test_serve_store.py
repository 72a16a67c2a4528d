"""`newtown serve --store`: the approved state served read-only, new revisions without restart."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from werkzeug.test import Client

from dashboard.app import create_app
from dashboard.storeapp import StoreServer
from geo.store import init_store

ROOT = Path(__file__).resolve().parents[1]
#: Rows in the bundled facilities.csv (the header excluded), counted, not typed.
N_BUNDLED = len((Path(__file__).resolve().parents[1] / "data" / "facilities.csv")
                .read_text(encoding="utf-8").splitlines()) - 1
WHY = dict(reason="closed", source="notice 2026-11")


@pytest.fixture
def store(tmp_path):
    with init_store(tmp_path / "atlas.gpkg") as s:
        s.add_user("root", "admin", "root-password", actor=None)
        s.add_user("ed", "editor", "ed-password", actor="root")
        yield s


def test_each_request_is_served_by_one_revision_and_approved_changes_swap_in(store):
    server = StoreServer(store, create_app, poll_s=3600)  # refreshed by hand below
    try:
        client = Client(server)
        first = client.get("/healthz")
        assert first.headers["X-Newtown-Revision"] == "0"
        assert first.get_data(as_text=True) == f"ok {N_BUNDLED} facilities\n"
        proposal = store.propose("ed", "retire", "JD-008", **WHY)
        assert server.refresh() is False  # a proposal is not approved data
        store.approve(proposal.change_id, "root")
        assert server.refresh() is True
        after = client.get("/healthz")
        assert after.headers["X-Newtown-Revision"] == "1"
        assert after.get_data(as_text=True) == f"ok {N_BUNDLED - 1} facilities\n"
        assert client.get("/").status_code == 200
    finally:
        server.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthz(port: int) -> tuple[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return response.headers["X-Newtown-Revision"], response.read().decode()


@pytest.mark.slow
def test_serve_store_shows_a_change_made_by_another_process(store, tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "server.log").open("w")  # a pipe nobody reads could fill and block
    server = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--store",
                               str(store.path), "--port", str(port), "--workers", "2"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                assert _healthz(port) == ("0", f"ok {N_BUNDLED} facilities\n")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        cli = subprocess.run([sys.executable, "-m", "dashboard.cli", "facility", "retire",
                              "JD-008", "--reason", "closed", "--source", "notice",
                              "--user", "root", "--store", str(store.path)],
                             env=env, capture_output=True, text=True)
        assert cli.returncode == 0, cli.stderr
        changed = time.monotonic()
        while _healthz(port) != ("1", f"ok {N_BUNDLED - 1} facilities\n"):
            assert time.monotonic() < changed + 60, "the server never showed revision 1"
            time.sleep(0.05)
        print(f"revision 1 served {time.monotonic() - changed:.2f} s after the CLI returned")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_a_new_revisions_display_data_equals_a_fresh_build(store):
    """`MapData.following` (what a swap uses) gives what `MapData(atlas)` computes, after a
    rename with HTML in it, a move, a retirement and an addition; the boundaries are shared."""
    import numpy as np
    import pandas as pd

    from dashboard.mapdata import MapData

    before = MapData(store.atlas())
    _ = (before.boundaries, before.tooltips, before.metric_xy, before.colours)
    _, table = store.snapshot()
    row = table.set_index("id").loc["JD-002"].to_dict()
    store.propose("root", "set", "JD-003", {"name_en": "<b>R&D</b> 'centre'"}, **WHY)
    store.propose("root", "move", "JD-005", {"lon": "121.2500", "lat": "31.3800"}, **WHY)
    store.propose("root", "retire", "JD-008", **WHY)
    store.propose("root", "add", "NEW-1", {**row, "name_zh": "新<平台>"}, **WHY)
    atlas = store.atlas()
    derived, fresh = MapData.following(before, atlas), MapData(atlas)
    assert derived.boundaries is before.boundaries  # the same frames: not rebuilt
    for lang in ("zh", "en"):
        pd.testing.assert_series_equal(derived.tooltips[lang], fresh.tooltips[lang])
    assert derived.tooltips["en"]["JD-003"] == "&lt;b&gt;R&amp;D&lt;/b&gt; &#x27;centre&#x27;"
    assert derived.tooltips["zh"]["NEW-1"] == "新&lt;平台&gt;"
    for got, want in zip(derived.metric_xy, fresh.metric_xy, strict=True):
        np.testing.assert_array_equal(got, want)
    pd.testing.assert_series_equal(derived.colours, fresh.colours)
    # the metric coordinates are the Atlas' own projection (EPSG:4549), to the millimetre
    np.testing.assert_allclose(fresh.metric_xy[0], atlas.facilities_m.geometry.x, atol=1e-3)
    np.testing.assert_allclose(fresh.metric_xy[1], atlas.facilities_m.geometry.y, atol=1e-3)
    assert derived.boundaries == fresh.boundaries


def test_a_sync_inside_a_callback_answers_before_warming_the_first_views(store, monkeypatch):
    """``sync`` (called by an editing callback) swaps in the new revision without computing
    its first views on the committing request; a background thread warms them after."""
    import threading

    import dashboard.storeapp as storeapp
    from dashboard.callbacks.filters import first_view

    server = StoreServer(store, create_app, poll_s=3600)
    warmed: list[object] = []
    release = threading.Event()
    real_warm_up = storeapp.warm_up

    def slow_warm(mapdata):  # the real warm-up, held back until the swap has answered
        release.wait(10)
        real_warm_up(mapdata)
        warmed.append(mapdata)

    monkeypatch.setattr(storeapp, "warm_up", slow_warm)
    try:
        store.propose("root", "retire", "JD-008", **WHY)
        first_view.cache_clear()
        assert server.sync() == 1  # returned while the warm-up is still held back
        assert first_view.cache_info().currsize == 0 and not warmed
        client = Client(server)
        assert client.get("/healthz").get_data(as_text=True) == \
            f"ok {N_BUNDLED - 1} facilities\n"
        release.set()
        for _ in range(100):
            if warmed:
                break
            time.sleep(0.05)
        assert warmed and first_view.cache_info().currsize == 2  # zh and en
    finally:
        release.set()
        server.close()


def test_the_watchers_refresh_serves_the_change_before_warming(store, monkeypatch):
    """A second process's watcher swaps the new revision in first; the warm-up comes after."""
    import dashboard.storeapp as storeapp

    server = StoreServer(store, create_app, poll_s=3600)
    seen: list[int] = []
    monkeypatch.setattr(storeapp, "warm_up", lambda mapdata: seen.append(server.revision))
    try:
        store.propose("root", "retire", "JD-008", **WHY)
        assert server.refresh() is True
        assert seen == [1]  # already serving revision 1 when the warm-up ran
        assert server.refresh() is False and seen == [1]
    finally:
        server.close()
