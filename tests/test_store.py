"""The editable store: transactions, versions, review, roles, revert, dump, backup, crash safety.

Every test takes a store URL from the ``store_url`` fixture, parametrised over engines: SQLite
(a GeoPackage file) and PostgreSQL + PostGIS (a database of the throwaway test cluster,
tests/pg.py, used through its least-privilege role; skipped where PostgreSQL cannot run,
failed instead under scripts/test). PostgreSQL-only checks are in tests/test_store_postgis.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import sqlalchemy as sa
from geopandas.testing import assert_geodataframe_equal

from geo._errors import AccessDeniedError, ConflictError, DataError, StoreError
from geo.atlas import load_atlas
from geo.settings import bundled_data_dir
from geo.store import init_store, open_store
from geo.store.store import RETIRED_FILE

ROOT = Path(__file__).resolve().parents[1]
DATA = bundled_data_dir()
WHY = dict(reason="checked on site", source="site visit 2026-11-30")


@pytest.fixture(scope="session")
def template_store(tmp_path_factory):
    """The bundled data in a store with one account per role, made once per test session."""
    path = tmp_path_factory.mktemp("template") / "atlas.gpkg"
    with init_store(path, review=True) as s:
        add_template_users(s)
    return path


def add_template_users(s):
    s.add_user("root", "admin", "root-password", actor=None)
    s.add_user("ed", "editor", "ed-password", actor="root")
    s.add_user("eve", "editor", "eve-password", actor="root")
    s.add_user("rev", "reviewer", "rev-password", actor="root")
    s.add_user("vic", "viewer", "vic-password", actor="root")


@pytest.fixture(scope="session")
def pg_template(pg_databases):
    """The PostgreSQL twin of ``template_store``: a database other tests' databases copy."""
    name = pg_databases.create()
    with init_store(pg_databases.url(name), review=True) as s:
        add_template_users(s)
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request):
    """The database engines the store is tested on."""
    return request.param


@pytest.fixture
def store_url(engine, tmp_path, request):
    """Where a fresh store goes for this engine (a new file; an empty PostGIS database)."""
    if engine == "sqlite":
        yield str(tmp_path / "atlas.gpkg")
        return
    databases = request.getfixturevalue("pg_databases")
    name = databases.create()
    yield databases.url(name)
    databases.drop(name)


@pytest.fixture
def store(engine, store_url, request):
    """A store holding the bundled data and the template's accounts, for this engine."""
    if engine == "sqlite":
        # The store is one self-contained file.
        shutil.copy(request.getfixturevalue("template_store"), store_url)
    else:
        request.getfixturevalue("pg_databases").create(
            sa.engine.make_url(store_url).database,
            template=request.getfixturevalue("pg_template"), replace=True)
    s = open_store(store_url)
    yield s
    s.close()


def gdal_source(url):
    """What GDAL (so QGIS) opens for a store URL: the file, or a ``PG:`` connection string."""
    if "://" not in url:
        return url
    u = sa.engine.make_url(url)
    return f"PG:host={u.host} port={u.port} dbname={u.database} user={u.username}"


def gdal_layers(url):
    """{layer: geometry type} as GDAL lists them (pyogrio's GDAL has no PostgreSQL driver:
    the system's ``ogrinfo`` reads PostGIS, as QGIS does, password from PGPASSFILE)."""
    if "://" not in url:
        return dict(pyogrio.list_layers(url))
    out = subprocess.run(["ogrinfo", "-ro", "-q", gdal_source(url)], capture_output=True,
                         text=True, check=True).stdout
    found = re.findall(r"^\d+: (\S+) \(([^)]+)\)", out, flags=re.M)
    return dict(found)


def gdal_read(url, layer):
    """A layer read through GDAL into a GeoDataFrame (ogr2ogr to GeoJSON for PostGIS)."""
    if "://" not in url:
        return pyogrio.read_dataframe(url, layer=layer)
    out = subprocess.run(["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", gdal_source(url), layer],
                         capture_output=True, check=True).stdout
    return gpd.read_file(io.BytesIO(out))


def sa_url(url):
    return url if "://" in url else f"sqlite:///{url}"


def applied_counts(store):
    counts: dict[str, int] = {}
    for change in store.history():
        if change.is_applied:
            counts[change.facility_id] = counts.get(change.facility_id, 0) + 1
    return counts


# ---------------------------------------------------------------- init, snapshot, GeoPackage
def test_init_keeps_every_row_as_text_and_is_a_geopackage(store, store_url):
    revision, table = store.snapshot()
    source = pd.read_csv(DATA / "facilities.csv", dtype=str, keep_default_na=False)
    assert revision == 0
    assert list(table["id"]) == list(source["id"])
    for column in source.columns:
        assert list(table[column]) == list(source[column]), column
    # GDAL links its own SQLite: two SQLite libraries must not hold one file open in one
    # process (closing one drops the other's POSIX locks), so the store is closed first.
    store.close()
    layers = gdal_layers(store_url)
    assert layers["facilities"] == "Point" and layers["facilities_current"] == "Point"
    gdf = gdal_read(store_url, "facilities_current")
    assert len(gdf) == len(source) and gdf.crs.to_epsg() == 4326
    first = gdf.set_index("id").loc[source["id"].iloc[0]]
    assert first.geometry.x == pytest.approx(float(source["lon"].iloc[0]))
    assert first.geometry.y == pytest.approx(float(source["lat"].iloc[0]))


def test_atlas_from_store_equals_atlas_from_files(store):
    assert_geodataframe_equal(store.atlas().facilities, load_atlas(DATA).facilities)


def test_open_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(StoreError, match="no store here"):
        open_store(tmp_path / "none.gpkg")
    other = tmp_path / "other.gpkg"
    shutil.copy(DATA / "boundaries" / "towns.geojson", other)
    with pytest.raises(StoreError, match=r"cannot open as a store|not a New Town Atlas store"):
        open_store(other)
    # Nothing listens on port 1: one line naming the URL without its password.
    with pytest.raises(StoreError, match="cannot use the database") as caught:
        open_store("postgresql://planner:secret@127.0.0.1:1/atlas")
    message = str(caught.value)
    assert message.startswith("postgresql://planner@127.0.0.1:1/atlas: ")
    assert "secret" not in message and "\n" not in message
    assert "check that the server runs" in message


def test_init_failing_after_the_rows_are_loaded_leaves_no_store(store_url, monkeypatch):
    """The facility indexes are built after the bulk load, in the same transaction: a failure
    there (here an index the bundled data cannot satisfy: towns repeat) leaves no store."""
    from geo.store import store as store_module

    original = store_module._drop_indexes

    def with_a_failing_index(conn, table):
        return [*original(conn, table), "CREATE UNIQUE INDEX ix_broken ON facilities (town)"]

    monkeypatch.setattr(store_module, "_drop_indexes", with_a_failing_index)
    with pytest.raises((StoreError, sa.exc.IntegrityError)):
        init_store(store_url)
    if "://" in store_url:
        engine = sa.create_engine(store_url)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() in ([], ["spatial_ref_sys"])
        engine.dispose()
    else:
        assert list(Path(store_url).parent.iterdir()) == []  # no file, no temporary leftovers
    monkeypatch.setattr(store_module, "_drop_indexes", original)
    with init_store(store_url) as made:  # the same place takes a store afterwards
        assert len(made.snapshot()[1]) == len(load_atlas(DATA).facilities)


def test_init_from_a_file_without_an_optional_column_stores_it_empty(store_url, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(DATA, folder)
    source = pd.read_csv(DATA / "facilities.csv", dtype=str, keep_default_na=False)
    source.drop(columns=["address"]).to_csv(folder / "facilities.csv", index=False)
    with init_store(store_url, folder) as made:
        _, table = made.snapshot()
    assert (table["address"] == "").all()
    for column in source.columns.drop("address"):
        assert list(table[column]) == list(source[column]), column


def test_init_keeps_backslashes_quotes_and_line_breaks_in_text(store_url, tmp_path):
    """Texts CSV and COPY treat specially arrive as written (on PostgreSQL a backslash-dot
    sends the table through the row-by-row COPY)."""
    folder = tmp_path / "data"
    shutil.copytree(DATA, folder)
    source = pd.read_csv(DATA / "facilities.csv", dtype=str, keep_default_na=False)
    odd = ['C:\\.x "quoted", \\N', 'line one\nline two', '\\.', '']
    source.loc[: len(odd) - 1, "address"] = odd
    source.to_csv(folder / "facilities.csv", index=False)
    with init_store(store_url, folder) as made:
        _, table = made.snapshot()
        dumped = made.dump(tmp_path / "dump")
    assert list(table["address"].iloc[: len(odd)]) == odd
    assert (dumped / "facilities.csv").read_bytes() == (folder / "facilities.csv").read_bytes()


def test_init_refuses_an_existing_path(store, store_url):
    with pytest.raises(StoreError, match="exists already"):
        init_store(store_url)


# ---------------------------------------------------------------- versions and conflicts
def test_a_change_bumps_version_and_revision_and_keeps_before_after(store):
    change = store.propose("root", "set", "JD-002", {"name_en": "Renamed"}, expect_version=1,
                           **WHY)
    assert change.review_state == "applied" and change.version == 2
    assert change.before["name_en"] != "Renamed" and change.after["name_en"] == "Renamed"
    assert store.facility("JD-002")["version"] == 2
    revision, table = store.snapshot()
    assert revision == 1
    assert table.set_index("id").loc["JD-002", "name_en"] == "Renamed"


def test_stale_expect_version_is_refused_naming_who_and_when(store):
    first = store.propose("rev", "set", "JD-002", {"address": "A"}, expect_version=1, **WHY)
    with pytest.raises(ConflictError) as caught:
        store.propose("root", "set", "JD-002", {"address": "B"}, expect_version=1, **WHY)
    message = str(caught.value)
    assert "version 2, not 1" in message and "rev" in message and first.time in message
    assert store.facility("JD-002")["address"] == "A"
    assert len(store.history("JD-002")) == 1


def test_a_change_the_loader_rejects_is_refused_with_the_loaders_message(store, tmp_path):
    with pytest.raises(DataError) as caught:
        store.propose("root", "move", "JD-002", {"lon": "121.30", "lat": "31.00"}, **WHY)
    # The same edit made by hand in a copy of the data folder, read by the loader.
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    table = pd.read_csv(copy / "facilities.csv", dtype=str, keep_default_na=False)
    table.loc[table["id"] == "JD-002", ["lon", "lat"]] = ["121.30", "31.00"]
    table.to_csv(copy / "facilities.csv", index=False)
    with pytest.raises(DataError) as loader:
        load_atlas(copy)
    assert [str(p) for p in caught.value.problems] == [str(p) for p in loader.value.problems]
    assert "lies in 松江区" in str(caught.value)
    assert store.facility("JD-002")["version"] == 1 and store.history() == []


def loader_problems(tmp_path, edit) -> list[str]:
    """The loader's problems for a copy of data/ whose facility table ``edit`` changed."""
    copy = tmp_path / "by-hand"
    shutil.copytree(DATA, copy)
    table = pd.read_csv(copy / "facilities.csv", dtype=str, keep_default_na=False)
    edit(table).to_csv(copy / "facilities.csv", index=False)
    with pytest.raises(DataError) as caught:
        load_atlas(copy)
    return [str(p) for p in caught.value.problems]


def test_rules_between_rows_see_the_rows_they_involve(store, tmp_path):
    store.propose("root", "set", "JD-003", {"parent_id": "JD-002"}, **WHY)
    # Retiring a parent would leave its child pointing at nothing.
    with pytest.raises(DataError) as caught:
        store.propose("root", "retire", "JD-002", reason="closed", source="notice")

    def without_parent(t):
        t.loc[t["id"] == "JD-003", "parent_id"] = "JD-002"
        return t[t["id"] != "JD-002"]

    assert [str(p) for p in caught.value.problems] == loader_problems(tmp_path, without_parent)
    assert "no row has this id" in str(caught.value)
    # A parent loop is the loader's cycle error.
    with pytest.raises(DataError) as caught:
        store.propose("root", "set", "JD-002", {"parent_id": "JD-003"}, **WHY)

    def loop(t):
        t.loc[t["id"] == "JD-003", "parent_id"] = "JD-002"
        t.loc[t["id"] == "JD-002", "parent_id"] = "JD-003"
        return t

    assert [str(p) for p in caught.value.problems] == loader_problems(tmp_path / "2", loop)
    assert store.facility("JD-002")["version"] == 1


def test_placeholder_precision_is_checked_as_load_atlas_checks_it(store, tmp_path):
    _, table = store.snapshot()
    fid = table.loc[table["placement"] == "town_placeholder", "id"].iloc[0]
    with pytest.raises(DataError) as caught:
        store.propose("root", "set", fid, {"coord_precision_m": "10"}, **WHY)

    def imprecise(t):
        t.loc[t["id"] == fid, "coord_precision_m"] = "10"
        return t

    assert [str(p) for p in caught.value.problems] == loader_problems(tmp_path, imprecise)
    assert "stands for its whole area" in str(caught.value)


def test_add_checks_catalog_terms_and_a_taken_id(store):
    row = store.snapshot()[1].set_index("id").loc["JD-002"].to_dict()
    with pytest.raises(StoreError, match="taken"):
        store.propose("root", "add", "JD-002", row, **WHY)
    with pytest.raises(DataError, match="town"):
        store.propose("root", "add", "NEW-1", {**row, "town": "Atlantis"}, **WHY)
    added = store.propose("root", "add", "NEW-1", row, expect_version=0, **WHY)
    assert added.version == 1 and store.snapshot()[1]["id"].iloc[-1] == "NEW-1"
    assert "NEW-1" in store.atlas().facilities.index


def test_a_failure_mid_transaction_leaves_the_store_as_before(store, monkeypatch):
    from geo.store import gpkg, postgis

    def broken(*args, **kwargs):
        raise OSError("disk full (simulated)")

    # Each runs after the row and the revision are written (one per engine).
    monkeypatch.setattr(gpkg, "touch", broken)
    monkeypatch.setattr(postgis, "notify", broken)
    with pytest.raises(OSError, match="simulated"):
        store.propose("root", "set", "JD-002", {"name_en": "Lost"}, **WHY)
    monkeypatch.undo()
    assert store.history() == [] and store.revision() == 0
    assert store.facility("JD-002")["version"] == 1
    assert store.facility("JD-002")["name_en"] != "Lost"


# ---------------------------------------------------------------- review and roles
def test_review_flow_proposal_then_approve_or_reject(store):
    proposal = store.propose("ed", "set", "JD-002", {"name_en": "Proposed"}, **WHY)
    assert proposal.review_state == "proposed"
    assert store.revision() == 0 and store.facility("JD-002")["name_en"] != "Proposed"
    assert [c.change_id for c in store.proposals()] == [proposal.change_id]
    approved = store.approve(proposal.change_id, "rev", "matches the source")
    assert approved.review_state == "approved" and approved.reviewer == "rev"
    assert approved.review_comment == "matches the source" and approved.reviewed_at
    assert store.facility("JD-002")["name_en"] == "Proposed" and store.revision() == 1
    other = store.propose("eve", "set", "JD-003", {"name_en": "Nope"}, **WHY)
    rejected = store.reject(other.change_id, "root", "no source")
    assert rejected.review_state == "rejected"
    assert store.facility("JD-003")["name_en"] != "Nope" and store.proposals() == []
    with pytest.raises(StoreError, match="rejected already"):
        store.approve(other.change_id, "rev")


def test_approving_a_proposal_overtaken_by_another_change_is_refused(store):
    proposal = store.propose("ed", "set", "JD-002", {"name_en": "Old idea"}, **WHY)
    store.propose("rev", "set", "JD-002", {"address": "moved"}, **WHY)
    with pytest.raises(ConflictError, match="changed since change #"):
        store.approve(proposal.change_id, "root")


def test_roles_are_checked_by_the_store_itself(store):
    with pytest.raises(AccessDeniedError, match="viewer"):
        store.propose("vic", "set", "JD-002", {"name_en": "x"}, **WHY)
    with pytest.raises(AccessDeniedError, match="unknown user"):
        store.propose("mallory", "set", "JD-002", {"name_en": "x"}, **WHY)
    proposal = store.propose("ed", "set", "JD-002", {"name_en": "x"}, **WHY)
    with pytest.raises(AccessDeniedError, match="reviewer role"):
        store.approve(proposal.change_id, "eve")
    with pytest.raises(AccessDeniedError, match="admin"):
        store.add_user("sneaky", "admin", "password123", actor="rev")
    store.disable_user("ed", actor="root")
    with pytest.raises(AccessDeniedError, match="disabled"):
        store.propose("ed", "set", "JD-003", {"name_en": "x"}, **WHY)
    with pytest.raises(StoreError, match="last active admin"):
        store.disable_user("root", actor="root")
    assert store.revision() == 0


def test_review_off_applies_an_editors_change(store_url):
    with init_store(store_url, review=False) as solo:
        solo.add_user("me", "admin", "my-password", actor=None)
        solo.add_user("ed", "editor", "ed-password", actor="me")
        change = solo.propose("ed", "set", "JD-002", {"name_en": "Direct"}, **WHY)
        assert change.review_state == "applied" and solo.revision() == 1


def test_passwords_are_salted_hashes_and_authenticate(store, store_url):
    user = store.authenticate("ed", "ed-password")
    assert user.role == "editor"
    with pytest.raises(AccessDeniedError, match="unknown user or wrong password"):
        store.authenticate("ed", "wrong-password")
    with pytest.raises(AccessDeniedError, match="unknown user or wrong password"):
        store.authenticate("nobody", "ed-password")
    with pytest.raises(StoreError, match="too short"):
        store.add_user("short", "viewer", "abc", actor="root")
    raw = sa.create_engine(sa_url(store_url))
    with raw.connect() as conn:
        hashes = dict(conn.exec_driver_sql("SELECT name, password_hash FROM users").all())
    raw.dispose()
    assert all(h.startswith("scrypt$") and "password" not in h for h in hashes.values())
    assert hashes["ed"] != hashes["eve"]
    assert {u.name: u.role for u in store.users()}["rev"] == "reviewer"


# ---------------------------------------------------------------- history and revert
def test_revert_is_a_new_change_and_brings_back_a_retired_facility(store):
    original = store.facility("JD-002")
    store.propose("root", "set", "JD-002", {"name_en": "Two"}, **WHY)
    store.propose("root", "move", "JD-002", {"lon": "121.237", "lat": "31.401"}, **WHY)
    store.propose("root", "retire", "JD-002", reason="closed in 2026", source="notice")
    assert "JD-002" not in set(store.snapshot()[1]["id"])
    assert "JD-002" not in store.atlas().facilities.index
    with pytest.raises(StoreError, match="retired"):
        store.propose("root", "set", "JD-002", {"name_en": "x"}, **WHY)
    back = store.revert("JD-002", 1, "root", **WHY)
    assert back.action == "revert" and back.version == 5
    now = store.facility("JD-002")
    assert {k: now[k] for k in original if k != "version"} == {
        k: original[k] for k in original if k != "version"}
    history = store.history("JD-002")
    assert [c.action for c in history] == ["set", "move", "retire", "revert"]
    assert [c.version for c in history] == [2, 3, 4, 5]
    assert "JD-002" in store.atlas().facilities.index
    with pytest.raises(StoreError, match="revert to a version from 1 to 4"):
        store.revert("JD-002", 5, "root", **WHY)


def test_history_filters(store):
    store.propose("root", "set", "JD-002", {"name_en": "a"}, **WHY)
    store.propose("rev", "set", "JD-003", {"name_en": "b"}, **WHY)
    assert [c.facility_id for c in store.history(user="rev")] == ["JD-003"]
    assert len(store.history("JD-002")) == 1
    assert len(store.history(since="2000-01-01")) == 2
    assert store.history(since="2999-01-01") == []
    with pytest.raises(StoreError, match="bad date"):
        store.history(since="yesterday")
    assert json.loads(json.dumps(store.history()[0].to_json()))["user"] == "root"


def test_incremental_atlas_equals_a_full_rebuild(store, store_url):
    before = store.atlas()
    row = store.snapshot()[1].set_index("id").loc["JD-002"].to_dict()
    store.propose("root", "set", "JD-003", {"name_en": "Changed", "town": "Jiading"}, **WHY)
    store.propose("root", "retire", "JD-008", reason="closed", source="notice")
    store.propose("root", "add", "NEW-9", row, **WHY)
    patched = store.atlas()
    assert store.atlas_source == ("patch", 3)
    assert patched is not before and len(patched.facilities) == len(before.facilities)
    with open_store(store_url) as fresh:  # the stored frame of revision 0 + the 3 rows since
        from_snapshot = fresh.atlas()
        assert fresh.atlas_source == ("snapshot", 3)
    assert_geodataframe_equal(patched.facilities, from_snapshot.facilities)
    drop_snapshot(store_url)
    with open_store(store_url) as fresh:  # no stored frame: every row validated
        full = fresh.atlas()
        assert fresh.atlas_source == ("full", len(full.facilities))
    assert_geodataframe_equal(patched.facilities, full.facilities)
    with open_store(store_url) as fresh:  # ... and the full validation was stored for next time
        assert_geodataframe_equal(fresh.atlas().facilities, full.facilities)
        assert fresh.atlas_source == ("snapshot", 0)


def drop_snapshot(url):
    """Delete the stored validated frame (what a store made before schema version 2 lacks)."""
    engine = sa.create_engine(url if "://" in url else f"sqlite:///{url}")
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM atlas_snapshot")
    engine.dispose()


def test_a_snapshot_made_by_other_code_is_not_used(store, store_url):
    engine = sa.create_engine(store_url if "://" in store_url else f"sqlite:///{store_url}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE atlas_snapshot SET fingerprint = 'other rules'")
    engine.dispose()
    with open_store(store_url) as fresh:
        atlas = fresh.atlas()
        assert fresh.atlas_source == ("full", len(atlas.facilities))
    assert_geodataframe_equal(atlas.facilities, load_atlas(DATA).facilities)


def test_upgrade_from_the_previous_schema_keeps_every_row(store, store_url):
    """A store at schema version 1 (made before the Alembic migrations) is refused with the
    one-line advice, and `upgrade_store` brings it to the head keeping all its data."""
    from geo.store import SCHEMA_VERSION, migrate, upgrade_store

    store.propose("ed", "set", "JD-003", {"name_en": "Proposed"}, **WHY)
    store.propose("root", "retire", "JD-008", reason="closed", source="notice")
    history, users = store.history(), store.users()
    revision_before, table = store.snapshot()
    atlas = store.atlas()
    store.close()
    engine = sa.create_engine(store_url if "://" in store_url else f"sqlite:///{store_url}")
    with engine.begin() as conn:  # the layout of schema version 1, as releases before made it
        migrate.downgrade(conn, migrate.BASELINE)
        conn.exec_driver_sql("DROP TABLE alembic_version")
        assert not sa.inspect(conn).has_table("atlas_snapshot")
        assert conn.exec_driver_sql(
            "SELECT value FROM meta WHERE key = 'schema_version'").scalar() == "1"
    engine.dispose()
    with pytest.raises(StoreError) as caught:
        open_store(store_url)
    message = str(caught.value)
    assert "\n" not in message and "older than this program's" in message
    assert "run `newtown store upgrade " in message
    assert upgrade_store(store_url) == ("0001", migrate.head())
    with open_store(store_url) as upgraded:
        assert upgraded.history() == history and upgraded.users() == users
        revision, after = upgraded.snapshot()
        assert revision == revision_before == 1
        pd.testing.assert_frame_equal(after, table)
        assert_geodataframe_equal(upgraded.atlas().facilities, atlas.facilities)
        assert upgraded.atlas_source == ("snapshot", 0)  # the upgrade stored the frame
        assert upgraded.proposals()[0].after["name_en"] == "Proposed"
    engine = sa.create_engine(store_url if "://" in store_url else f"sqlite:///{store_url}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() \
            == migrate.head()
        assert conn.exec_driver_sql(
            "SELECT value FROM meta WHERE key = 'schema_version'").scalar() == str(SCHEMA_VERSION)
    engine.dispose()
    assert upgrade_store(store_url) == (migrate.head(), migrate.head())  # nothing left to do


# ---------------------------------------------------------------- dump and backup
def test_dump_of_an_unchanged_store_is_byte_identical(store, tmp_path):
    out = store.dump(tmp_path / "dump")
    for file in DATA.rglob("*"):
        if file.is_file():
            assert (out / file.relative_to(DATA)).read_bytes() == file.read_bytes(), file
    assert load_atlas(out) is not None


def test_dump_after_edits_keeps_unchanged_rows_byte_identical(store, tmp_path):
    store.propose("root", "set", "JD-003", {"name_en": "Edited, with a comma"}, **WHY)
    store.propose("root", "retire", "JD-008", reason="closed", source="notice")
    out = store.dump(tmp_path / "dump")
    source_lines = (DATA / "facilities.csv").read_bytes().splitlines(keepends=True)
    dumped_lines = (out / "facilities.csv").read_bytes().splitlines(keepends=True)
    changed = [line for line in source_lines if line.startswith((b"JD-003,", b"JD-008,"))]
    assert [line for line in source_lines if line not in changed] == [
        line for line in dumped_lines if not line.startswith(b"JD-003,")]
    assert b'"Edited, with a comma"' in next(line for line in dumped_lines
                                             if line.startswith(b"JD-003,"))
    atlas = load_atlas(out)
    assert atlas.facilities.loc["JD-003", "name_en"] == "Edited, with a comma"
    assert "JD-008" not in atlas.facilities.index
    retired = pd.read_csv(out / RETIRED_FILE, dtype=str, keep_default_na=False)
    assert list(retired["id"]) == ["JD-008"] and list(retired["retired_reason"]) == ["closed"]
    # A dump goes back into a store with the retired row kept as retired.
    with init_store(tmp_path / "again.gpkg", out) as again:
        assert again.facility("JD-008")["retired"] is True
        assert len(again.snapshot()[1]) == len(store.snapshot()[1])
    # Dumping again over the folder replaces it whole.
    store.revert("JD-008", 1, "root", **WHY)
    store.dump(out)
    assert not (out / RETIRED_FILE).exists()


WRITER = """
import sys
from geo.store import open_store
store = open_store(sys.argv[1])
ids = sys.argv[2].split(",")
for n in range(int(sys.argv[3])):
    fid = ids[n % len(ids)]
    change = store.propose("root", "set", fid, {"address": f"batch edit {n}"},
                           reason="batch", source="test")
    print(change.change_id, flush=True)
"""


def _writer(url: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", WRITER, url, "JD-002,JD-003,SJ-001", str(count)],
                            stdout=subprocess.PIPE, text=True, env=env)


def test_backup_while_a_writer_runs_is_consistent(store, store_url, tmp_path):
    writer = _writer(store_url, 60)
    backups = []
    try:
        assert writer.stdout is not None
        writer.stdout.readline()  # the writer is running
        for n in range(5):
            backups.append(store.backup(tmp_path / f"backup-{n}.gpkg"))
            time.sleep(0.05)
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0
    for file in backups:
        with open_store(file) as copy:
            counts = applied_counts(copy)
            for fid in ("JD-002", "JD-003", "SJ-001"):
                assert copy.facility(fid)["version"] == 1 + counts.get(fid, 0)
            assert copy.revision() == sum(counts.values())
    assert pyogrio.read_info(backups[-1], layer="facilities")["features"] > 0


@pytest.mark.slow
def test_kill_9_during_a_batch_of_edits_loses_nothing_committed(store, store_url, tmp_path):
    writer = _writer(store_url, 10_000)
    committed = []
    assert writer.stdout is not None
    for line in writer.stdout:
        committed.append(int(line))
        if len(committed) >= 40:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    committed += [int(line) for line in writer.stdout.read().split()]
    with open_store(store_url) as after:
        ids = {c.change_id for c in after.history()}
        assert set(committed) <= ids  # every change the writer saw committed is there
        counts = applied_counts(after)
        for fid in ("JD-002", "JD-003", "SJ-001"):
            assert after.facility(fid)["version"] == 1 + counts[fid]
        assert after.revision() == len(ids)
        out = after.dump(tmp_path / "dump")
    check = subprocess.run([sys.executable, "-m", "dashboard.cli", "check", "--data", str(out)],
                           capture_output=True, text=True, env={**os.environ,
                                                                "PYTHONPATH": str(ROOT)})
    assert check.returncode == 0, check.stdout + check.stderr


def test_reading_commands_take_the_store_and_see_its_approved_state(store, store_url, tmp_path,
                                                                    capsys):
    """info, check, export and the analyses read ``--store URL`` like a data folder: an approved
    change shows, a pending proposal does not, and every figure equals the store's dump."""
    from dashboard.cli import main

    store.propose("root", "move", "JD-002", {"lon": 121.17, "lat": 31.30}, **WHY)  # to Anting
    store.propose("ed", "set", "JD-003", {"name_en": "Pending only"}, **WHY)  # a proposal
    dump = store.dump(tmp_path / "dump")

    def run(*argv: str) -> str:
        assert main(list(argv)) == 0
        return capsys.readouterr().out

    from_store = json.loads(run("info", "--store", store_url, "--json"))
    from_dump = json.loads(run("info", "--data", str(dump), "--json"))
    assert from_store == from_dump
    bundled = json.loads(run("info", "--json"))
    assert from_store != bundled  # the approved move changed what info reports
    out = run("check", "--store", store_url)
    assert f"revision {store.revision()}" in out and "all valid" in out
    out_file = tmp_path / "jiading.geojson"
    run("export", "--store", store_url, "--format", "geojson", "--town", "jiading",
        "-o", str(out_file))
    exported = json.loads(out_file.read_text(encoding="utf-8"))
    names = {f["properties"]["id"]: f["properties"]["name_en"] for f in exported["features"]}
    assert "JD-003" in names and names["JD-003"] != "Pending only"
    moved = next(f for f in exported["features"] if f["properties"]["id"] == "JD-002")
    assert moved["geometry"]["coordinates"] == pytest.approx([121.17, 31.30])
    cov_store = json.loads(run("coverage", "--store", store_url, "--json"))
    cov_dump = json.loads(run("coverage", "--data", str(dump), "--json"))
    assert cov_store["towns"] == cov_dump["towns"]
    with pytest.raises(SystemExit):
        main(["info", "--store", store_url, "--data", str(dump)])
    assert "not allowed with" in capsys.readouterr().err

# ------------------------------------------------------------------ dashboard sign-in support
def test_session_secret_is_made_once_and_shared_by_every_opener(store, store_url):
    first = store.session_secret()
    assert len(first) >= 48
    with open_store(store_url) as other:
        assert other.session_secret() == first


def test_sign_in_failures_are_counted_in_the_store_per_account_and_address(store, store_url):
    from geo._errors import TooManyAttemptsError

    assert store.sign_in("ed", "ed-password", "10.0.0.1").role == "editor"
    for i in range(4):
        with pytest.raises(AccessDeniedError, match="unknown user or wrong password"):
            store.sign_in("ed", "wrong-password", f"10.0.0.{i}")
    with open_store(store_url) as other:  # another process counts the same failures
        with pytest.raises(AccessDeniedError):
            other.sign_in("ed", "wrong-password", "10.0.0.7")
        with pytest.raises(TooManyAttemptsError, match="try again in"):
            other.sign_in("ed", "ed-password", "10.0.0.8")  # even the right password
    assert store.sign_in("rev", "rev-password", "10.0.0.8").name == "rev"  # not its account
    for name in ("x1", "x2", "x3", "x4", "x5"):
        with pytest.raises(AccessDeniedError):
            store.sign_in(name, "whatever-pw", "10.9.9.9")
    with pytest.raises(TooManyAttemptsError):
        store.sign_in("rev", "rev-password", "10.9.9.9")  # that address is blocked


@pytest.mark.parametrize("version", ["0001", "0002", "0003"])
def test_a_store_from_before_the_migrations_is_upgraded_with_the_sign_in_table(
        store, store_url, version):
    """A store as the releases before Alembic left it (``meta.schema_version`` 1 or 2, no
    ``alembic_version``), or as the release before sessions left it (revision 0003), is
    refused until upgraded; the upgrade adds what it lacks (the sign-in table from 1, the
    sessions table, the validated frame) and failures and sessions are recorded after."""
    from geo.store import SCHEMA_VERSION, migrate, upgrade_store

    store.close()
    raw = sa.create_engine(sa_url(store_url))
    with raw.begin() as conn:  # make it look like such a store
        migrate.downgrade(conn, version)
        if version != "0003":  # 0003 was made with Alembic already
            conn.exec_driver_sql("DROP TABLE alembic_version")
        assert sa.inspect(conn).has_table("login_failures") == (version != "0001")
        assert not sa.inspect(conn).has_table("sessions")
    with pytest.raises(StoreError, match="run `newtown store upgrade "):
        open_store(store_url)
    assert upgrade_store(store_url) == (version, migrate.head())
    with open_store(store_url) as upgraded:
        with raw.connect() as conn:
            assert sa.inspect(conn).has_table("login_failures")
            assert conn.exec_driver_sql("SELECT value FROM meta WHERE key = 'schema_version'"
                                        ).scalar_one() == str(SCHEMA_VERSION)
            assert sa.inspect(conn).has_table("sessions")
        raw.dispose()
        with pytest.raises(AccessDeniedError):
            upgraded.sign_in("ed", "wrong-password", "10.0.0.1")
        user = upgraded.sign_in("ed", "ed-password", "10.0.0.1")  # sign-in works again
        _, token = upgraded.open_session(user.name, lifetime_s=60, address="10.0.0.1")
        assert upgraded.session_user(token)[0].name == "ed"  # type: ignore[index]


# ---------------------------------------------------------------- sessions
def test_sessions_are_recorded_listed_and_revoked_one_by_one(store):
    """Each sign-in is a row (no secret in it); revoking one ends that one only; an account
    may end its own, an admin anyone's, nobody else."""
    first, token1 = store.open_session("ed", lifetime_s=3600, address="10.0.0.1",
                                       agent="Chromium test")
    second, token2 = store.open_session("ed", lifetime_s=3600, address="10.0.0.2")
    assert store.session_user(token1)[0].name == "ed"
    assert store.session_user(token2)[1] == second
    assert store.session_user("not-a-token") is None and store.session_user("") is None
    listed = store.sessions("ed")
    assert {s.session_id for s in listed} == {first.session_id, second.session_id}
    assert {s.address for s in listed} == {"10.0.0.1", "10.0.0.2"}
    assert not any(token in repr(listed) for token in (token1, token2))
    raw = sa.create_engine(sa_url(store.url if store.path is None else str(store.path)))
    with raw.connect() as conn:  # the store keeps only the token's hash
        dumped = repr(conn.exec_driver_sql("SELECT * FROM sessions").all())
    raw.dispose()
    assert token1 not in dumped and token2 not in dumped
    with pytest.raises(AccessDeniedError):  # an editor cannot end someone else's sessions
        store.revoke_sessions("ed", actor="eve")
    with pytest.raises(StoreError, match="no session 'nope'"):
        store.revoke_sessions("ed", actor="root", session_id="nope")
    assert store.revoke_sessions("ed", actor="root", session_id=first.session_id) == 1
    assert store.session_user(token1) is None  # at once
    assert store.session_user(token2) is not None  # the other sign-in goes on
    assert store.revoke_sessions("ed", actor="ed") == 1  # one's own: allowed
    assert store.session_user(token2) is None and store.sessions("ed") == []


def test_a_password_change_or_disabling_ends_the_accounts_sessions(store):
    _, token = store.open_session("ed", lifetime_s=3600)
    _, other = store.open_session("eve", lifetime_s=3600)
    with pytest.raises(AccessDeniedError):
        store.set_password("ed", "new-password-1", actor="eve")
    store.set_password("ed", "new-password-1", actor="ed")
    assert store.session_user(token) is None
    assert store.authenticate("ed", "new-password-1").name == "ed"
    _, token = store.open_session("ed", lifetime_s=3600)
    store.disable_user("ed", actor="root")
    assert store.session_user(token) is None and store.sessions("ed") == []
    with pytest.raises(AccessDeniedError):
        store.open_session("ed", lifetime_s=3600)
    assert store.session_user(other) is not None  # other accounts are untouched
    _, expired = store.open_session("eve", lifetime_s=-1)
    assert store.session_user(expired) is None
    assert len(store.sessions("eve")) == 1  # the expired one is not listed
