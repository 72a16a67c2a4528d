"""Shared fixtures: the bundled data, loaded once per test session."""

from __future__ import annotations

import shutil

import pytest

from geo.atlas import load_atlas


@pytest.fixture(scope="session")
def bundled_atlas():
    return load_atlas()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-features=Translate,MediaRouter,OptimizationHints",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright, one per test session (Playwright's sync API
    allows only one running instance per thread)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL + PostGIS cluster for the session (tests/pg.py), stopped after.

    Skips when PostgreSQL/PostGIS cannot be started here, unless NEWTOWN_REQUIRE_PG=1
    (scripts/test, so CI) where that fails the tests instead.
    """
    import os

    from tests import pg

    cluster = pg.ThrowawayCluster()
    try:
        cluster.start()
    except pg.ClusterUnavailableError as exc:
        cluster.stop()
        if pg.required():
            pytest.fail(f"PostgreSQL + PostGIS are required ({pg.REQUIRE_ENV}=1) but: {exc}")
        pytest.skip(f"no PostgreSQL + PostGIS here ({exc}); set {pg.REQUIRE_ENV}=1 to fail")
    before = os.environ.get("PGPASSFILE")
    os.environ["PGPASSFILE"] = str(cluster.pgpass)  # libpq, psycopg and ogrinfo read it
    try:
        yield cluster
    finally:
        if before is None:
            os.environ.pop("PGPASSFILE", None)
        else:
            os.environ["PGPASSFILE"] = before
        cluster.stop()


@pytest.fixture(scope="session")
def pg_databases(pg_cluster):
    """Makes databases of the app role on the session's cluster (see tests/pg.Databases)."""
    from tests import pg

    return pg.Databases(pg_cluster)
