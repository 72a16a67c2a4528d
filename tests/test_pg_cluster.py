"""The throwaway PostgreSQL + PostGIS cluster the PostGIS tests run on, and its app role.

The role the app and the tests use must be able to do what the store needs (own tables with
typed geometry columns and spatial indexes in its database) and nothing more.
"""

from __future__ import annotations

import psycopg
import pytest

from tests import pg


def connect(cluster, database=pg.DATABASE):
    # No password here: libpq reads it from the cluster's PGPASSFILE (set by the fixture).
    return psycopg.connect(host="127.0.0.1", port=cluster.port, dbname=database,
                           user=pg.APP_ROLE, autocommit=True)


def test_app_role_is_not_privileged_and_postgis_is_there(pg_cluster):
    with connect(pg_cluster) as conn:
        row = conn.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication "
                           "FROM pg_roles WHERE rolname = current_user").fetchone()
        assert row == (False, False, False, False)
        version = conn.execute("SELECT postgis_lib_version()").fetchone()
        assert version is not None and version[0].startswith("3.")


def test_app_role_can_make_a_spatial_table_with_chinese_text(pg_cluster):
    with connect(pg_cluster) as conn:
        conn.execute("CREATE TABLE smoke (id text PRIMARY KEY, name_zh text, "
                     "geom geometry(Point, 4326) NOT NULL)")
        try:
            conn.execute("CREATE INDEX smoke_geom ON smoke USING gist (geom)")
            conn.execute("INSERT INTO smoke VALUES ('a', '嘉定新城', "
                         "ST_SetSRID(ST_MakePoint(121.25, 31.38), 4326))")
            row = conn.execute("SELECT name_zh, ST_X(geom), ST_SRID(geom) FROM smoke").fetchone()
            assert row == ("嘉定新城", 121.25, 4326)
        finally:
            conn.execute("DROP TABLE smoke")


@pytest.mark.parametrize("statement", [
    "CREATE EXTENSION postgis",
    "CREATE DATABASE other_db",
    "CREATE ROLE other_role",
])
def test_app_role_cannot_administer_the_server(pg_cluster, statement):
    with connect(pg_cluster, pg.NO_POSTGIS_DATABASE) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_password_is_not_in_the_url(pg_cluster):
    url = pg_cluster.url()
    assert pg_cluster.password not in url and "@127.0.0.1" in url
    # A wrong password is refused: the server really checks it.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host="127.0.0.1", port=pg_cluster.port, dbname=pg.DATABASE,
                        user=pg.APP_ROLE, password="not-the-password")
