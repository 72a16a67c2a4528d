"""The store on PostgreSQL + PostGIS: what a GIS client sees, the errors, several processes.

The store's behaviour (versions, review, history, dump, backup) is tested on both engines by
tests/test_store.py; here is what only PostgreSQL has. Everything runs on the throwaway
cluster of tests/pg.py through its least-privilege role, password from PGPASSFILE.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from geo._errors import StoreError
from geo.atlas import load_atlas
from geo.store import init_store, open_store
from geo.store.postgis import CHANNEL
from tests import pg

ROOT = Path(__file__).resolve().parents[1]
WHY = dict(reason="checked on site", source="site visit 2026-11-30")


@pytest.fixture(scope="module")
def pg_store_url(pg_databases):
    """One store in PostgreSQL for the read-only checks of this module."""
    name = pg_databases.create()
    url = pg_databases.url(name)
    with init_store(url) as s:
        s.add_user("root", "admin", "root-password", actor=None)
    yield url
    pg_databases.drop(name)


@pytest.fixture
def fresh_url(pg_databases):
    name = pg_databases.create()
    yield pg_databases.url(name)
    pg_databases.drop(name)


def query(url, sql, *params):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql, params).all() if params else \
                conn.exec_driver_sql(sql).all()
    finally:
        engine.dispose()


def gdal(url):
    u = sa.engine.make_url(url)
    return f"PG:host={u.host} port={u.port} dbname={u.database} user={u.username}"


# ------------------------------------------------------------------ what a GIS client sees
def test_tables_are_typed_postgis_layers_with_keys_and_spatial_indexes(pg_store_url):
    columns = {f"{t}.{c}": (kind, srid) for t, c, kind, srid in query(
        pg_store_url, "SELECT f_table_name, f_geometry_column, type, srid "
                      "FROM geometry_columns")}
    assert columns["facilities.geom"] == ("POINT", 4326)
    assert columns["facilities_current.geom"] == ("POINT", 4326)  # the view keeps the type
    for layer in ("towns", "districts", "corridors", "corridor_lines", "zones", "city", "parks"):
        assert columns[f"{layer}.geom"][1] == 4326, layer
    gist = {t for (t,) in query(pg_store_url, "SELECT tablename FROM pg_indexes "
                                              "WHERE indexdef LIKE '%%USING gist%%'")}
    assert {"facilities", "towns", "districts", "corridors", "zones", "parks"} <= gist
    keyed = {t for (t,) in query(pg_store_url, "SELECT tc.table_name FROM "
                                               "information_schema.table_constraints tc "
                                               "WHERE constraint_type = 'PRIMARY KEY'")}
    assert {"facilities", "changes", "users", "towns", "districts", "corridors",
            "zones"} <= keyed
    (owner_is_super,) = query(pg_store_url, "SELECT rolsuper FROM pg_roles r JOIN pg_tables t "
                                            "ON t.tableowner = r.rolname "
                                            "WHERE t.tablename = 'facilities'")[0]
    assert owner_is_super is False  # the app's own role made and owns the tables


def test_the_stored_frame_is_kept_out_of_line_without_a_second_compression(pg_store_url):
    """It is LZ4 already: pglz would shrink it a little and make every opening pay for the
    server's decompression."""
    storage = query(pg_store_url, "SELECT attstorage FROM pg_attribute WHERE attrelid = "
                                  "'atlas_snapshot'::regclass AND attname = 'data'")
    assert storage == [("e",)]
    (stored, length), = query(pg_store_url, "SELECT pg_column_size(data), octet_length(data) "
                                            "FROM atlas_snapshot")
    assert stored == length


def test_columns_carry_chinese_and_english_comments(pg_store_url):
    comments = dict(query(pg_store_url,
                          "SELECT a.attname, col_description(a.attrelid, a.attnum) "
                          "FROM pg_attribute a WHERE a.attrelid = 'facilities'::regclass "
                          "AND a.attnum > 0 AND NOT a.attisdropped"))
    assert comments["name_zh"] == "中文名称 / Chinese name"
    assert all(comments.values()), [c for c, v in comments.items() if not v]
    (view,) = query(pg_store_url, "SELECT obj_description('facilities_current'::regclass)")[0]
    assert "在用设施" in view and "in service" in view
    (town_name,) = query(pg_store_url, "SELECT col_description('towns'::regclass, "
                                       "(SELECT attnum FROM pg_attribute WHERE attrelid = "
                                       "'towns'::regclass AND attname = 'name_zh'))")[0]
    assert town_name == "中文名称 / Chinese name"


def test_ogrinfo_reads_the_facilities_with_the_dashboards_count_and_chinese_names(
        pg_store_url):
    atlas = load_atlas()
    summary = subprocess.run(["ogrinfo", "-ro", "-so", gdal(pg_store_url), "facilities"],
                             capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Geometry: Point$", summary, flags=re.M), summary
    assert f"Feature Count: {len(atlas.facilities)}" in summary
    assert "EPSG\",4326" in summary or "ID[\"EPSG\",4326]" in summary
    first = atlas.facilities.index[0]
    name = atlas.facilities.loc[first, "name_zh"]
    feature = subprocess.run(["ogrinfo", "-ro", "-q", "-where", f"id = '{first}'",
                              gdal(pg_store_url), "facilities_current"],
                             capture_output=True, text=True, check=True).stdout
    assert f"name_zh (String) = {name}" in feature
    assert "POINT (" in feature
    towns = subprocess.run(["ogrinfo", "-ro", "-so", gdal(pg_store_url), "towns"],
                           capture_output=True, text=True, check=True).stdout
    assert f"Feature Count: {len(atlas.towns)}" in towns


# ------------------------------------------------------------------ clear one-line errors
def one_line(exc_info):
    message = str(exc_info.value)
    assert "\n" not in message
    return message


def test_a_database_without_postgis_says_who_must_add_it(pg_cluster):
    url = pg_cluster.url(pg.NO_POSTGIS_DATABASE)
    for call in (open_store, init_store):
        with pytest.raises(StoreError) as caught:
            call(url)
        message = one_line(caught)
        assert message.startswith(f"postgresql://{pg.APP_ROLE}@127.0.0.1:{pg_cluster.port}/"
                                  f"{pg.NO_POSTGIS_DATABASE}: PostGIS is not installed")
        assert "CREATE EXTENSION postgis" in message


def test_wrong_password_and_missing_database_say_what_to_do(pg_cluster, monkeypatch):
    with pytest.raises(StoreError) as caught:
        open_store(pg_cluster.url("no_such_db"))
    assert "does not exist" in one_line(caught) and "createdb" in str(caught.value)
    monkeypatch.setenv("PGPASSFILE", os.devnull)  # no password found anywhere
    monkeypatch.setenv("PGPASSWORD", "wrong-password")
    with pytest.raises(StoreError) as caught:
        open_store(pg_cluster.url())
    message = one_line(caught)
    assert "password authentication failed" in message and "PGPASSWORD or ~/.pgpass" in message
    assert "wrong-password" not in message


def test_an_empty_database_and_a_newer_schema_are_refused(fresh_url):
    with pytest.raises(StoreError, match="not a New Town Atlas store") as caught:
        open_store(fresh_url)
    assert "newtown store init" in one_line(caught)
    init_store(fresh_url).close()
    with pytest.raises(StoreError, match="a store exists already in this database"):
        init_store(fresh_url)
    engine = sa.create_engine(fresh_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    engine.dispose()
    with pytest.raises(StoreError) as caught:
        open_store(fresh_url)
    message = one_line(caught)
    assert message.startswith("postgresql://") and "schema version 99" in message
    assert "upgrade newtown-atlas" in message


def test_init_is_one_transaction_a_failure_leaves_the_database_empty(fresh_url, monkeypatch):
    from geo.store import postgis

    def broken(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(postgis, "create_gis_tables", broken)  # after every store table
    with pytest.raises(OSError, match="simulated"):
        init_store(fresh_url)
    tables = query(fresh_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                              "AND tablename <> 'spatial_ref_sys'")
    assert tables == []


# ------------------------------------------------------------------ several processes
WATCHER = """
import sys, time
from geo.store import open_store
store = open_store(sys.argv[1])
start = store.revision()
print("ready", start, flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    revision, table = store.snapshot()
    if revision != start:
        row = table.set_index("id").loc["JD-002"]
        print("seen", revision, repr(time.time()), row["name_en"], flush=True)
        break
    time.sleep(0.02)
"""


def test_a_second_process_sees_an_approved_change_and_hears_it(pg_store_url):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER, pg_store_url],
                               stdout=subprocess.PIPE, text=True, env=env)
    listener = psycopg.connect(sa.engine.make_url(pg_store_url).set(
        drivername="postgresql").render_as_string(hide_password=False), autocommit=True)
    try:
        listener.execute(f"LISTEN {CHANNEL}")
        assert watcher.stdout is not None
        ready = watcher.stdout.readline().split()
        assert ready[0] == "ready"
        with open_store(pg_store_url) as store:
            store.add_user("ed", "editor", "ed-password", actor="root")
            proposal = store.propose("ed", "set", "JD-002", {"name_en": "Seen elsewhere"},
                                     **WHY)
            approved = store.approve(proposal.change_id, "root")
            approved_at = time.time()
        seen = watcher.stdout.readline().rstrip("\n").split(maxsplit=3)
        watcher.wait(timeout=60)
        assert seen[:2] == ["seen", str(approved.revision)]
        assert seen[3] == "Seen elsewhere"
        lag = float(seen[2]) - approved_at
        print(f"second process saw revision {seen[1]} {lag * 1000:.0f} ms after the approval")
        # The NOTIFY sent at commit reaches a listening connection with the revision.
        select.select([listener.fileno()], [], [], 10)
        heard = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
        assert heard == [str(approved.revision)]
    finally:
        listener.close()
        if watcher.poll() is None:
            watcher.kill()
        watcher.wait(timeout=30)
        if watcher.stdout is not None:
            watcher.stdout.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthz(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return response.headers["X-Newtown-Revision"], response.read().decode()


@pytest.mark.slow
def test_two_dashboard_processes_on_one_database_show_a_change_made_by_the_cli(fresh_url):
    with init_store(fresh_url) as s:
        s.add_user("root", "admin", "root-password", actor=None)
        table = s.snapshot()[1]
        count = len(table)
        # A facility no other row names as its parent can be retired on its own.
        leaf = next(i for i in table["id"] if i not in set(table["parent_id"]))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ports = [_free_port(), _free_port()]
    servers = [subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--store",
                                 fresh_url, "--port", str(port), "--workers", "2"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for port in ports]
    try:
        deadline = time.monotonic() + 180
        for port, server in zip(ports, servers, strict=True):
            while True:
                try:
                    assert _healthz(port) == ("0", f"ok {count} facilities\n")
                    break
                except OSError:
                    assert server.poll() is None and time.monotonic() < deadline
                    time.sleep(0.2)
        cli = subprocess.run([sys.executable, "-m", "dashboard.cli", "facility", "retire",
                              leaf, "--reason", "closed", "--source", "notice",
                              "--user", "root", "--store", fresh_url],
                             env=env, capture_output=True, text=True)
        assert cli.returncode == 0, cli.stderr
        changed = time.monotonic()
        for port in ports:
            while _healthz(port) != ("1", f"ok {count - 1} facilities\n"):
                assert time.monotonic() < changed + 60, f"port {port} never showed revision 1"
                time.sleep(0.05)
            print(f"port {port}: revision 1 served {time.monotonic() - changed:.2f} s after "
                  "the CLI returned")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def test_a_waiting_process_is_woken_by_the_notify_of_a_change(pg_store_url):
    """`Store.wait_for_revision` LISTENs: it returns the new revision when another
    connection commits a change, long before its (60 s) timeout, without polling."""
    import threading

    with open_store(pg_store_url) as waiting, open_store(pg_store_url) as writer:
        known = waiting.revision()
        assert waiting.wait_for_revision(known - 1, timeout_s=60) == known  # moved already
        got: list[tuple[int, float]] = []

        def wait() -> None:
            got.append((waiting.wait_for_revision(known, timeout_s=60), time.monotonic()))

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(1.5)  # the waiter is listening (and has read the revision once)
        assert not got
        started = time.monotonic()
        writer.propose("root", "set", "JD-004", {"name_en": "Heard"}, **WHY)
        thread.join(timeout=60)
        assert got and got[0][0] == known + 1
        print(f"woken {(got[0][1] - started) * 1000:.0f} ms after the edit began")
        assert got[0][1] - started < 30  # woken by the NOTIFY, not by the 60 s timeout
