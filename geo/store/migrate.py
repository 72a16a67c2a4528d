"""Schema versions of the store as Alembic migrations: where a store stands, and upgrading it."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from geo._errors import StoreError
from geo.store.schema import SCHEMA_VERSION, facility_columns

#: The folder of the migration scripts (shipped inside the package).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The revision a store had before migrations existed (``meta.schema_version = 1``).
BASELINE = "0001"
#: Releases before the migrations kept only ``meta.schema_version``: its revision.
PRE_ALEMBIC = {"1": "0001", "2": "0002"}


def _config(conn: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def head() -> str:
    """The newest revision this program knows (what ``store init`` makes)."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None
    return found


def known() -> list[str]:
    """Every revision this program knows, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


def current(conn: sa.Connection) -> str | None:
    """The store's revision: Alembic's, or the baseline for a store made before migrations.

    None when the store holds neither (not a store).
    """
    found = MigrationContext.configure(conn).get_current_revision()
    if found is not None:
        return found
    meta = sa.table("meta", sa.column("key"), sa.column("value"))
    if not sa.inspect(conn).has_table("meta"):
        return None
    version = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")) \
        .scalar()
    if version is None:
        return None
    if str(version) in PRE_ALEMBIC:
        return PRE_ALEMBIC[str(version)]
    return f"schema version {version}"


def _newer(conn: sa.Connection, shown: str) -> None:
    """Refuse a store a newer release made: its ``meta.schema_version`` (kept in step with the
    migrations, and what releases before Alembic compare) or an Alembic revision unknown here.
    """
    meta = sa.table("meta", sa.column("key"), sa.column("value"))
    version = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")) \
        .scalar()
    if version is not None and str(version).isdigit() and int(version) > SCHEMA_VERSION:
        raise StoreError(f"{shown}: the store has schema version {version}, newer than this "
                         f"program's {SCHEMA_VERSION}; upgrade newtown-atlas to open it")
    found = current(conn)
    if found is not None and found not in known():
        raise StoreError(f"{shown}: the store has {_name(found)}, newer than this program's "
                         f"revision {head()}; upgrade newtown-atlas to open it")


def missing_columns(conn: sa.Connection) -> list[str]:
    """Facility columns of the running code the store's ``facilities`` table lacks."""
    present = {c["name"] for c in sa.inspect(conn).get_columns("facilities")}
    return [c for c in facility_columns() if c not in present]


def check(conn: sa.Connection, shown: str) -> None:
    """Refuse a store whose layout is not this program's, with one line saying what to run.

    Raises
    ------
    StoreError
        Older layout (or facility columns the code has gained): run ``newtown store
        upgrade``; a layout this program does not know: upgrade the program.
    """
    _newer(conn, shown)
    found = current(conn)
    newest = head()
    missing = missing_columns(conn)
    if found == newest and not missing:
        return
    if found == newest:
        raise StoreError(f"{shown}: the store lacks the facility column(s) "
                         f"{', '.join(missing)} of this program's data model; run "
                         f"`newtown store upgrade {shown}`")
    raise StoreError(f"{shown}: the store's schema is at revision {found}, older than this "
                     f"program's {newest}; run `newtown store upgrade {shown}` (back it up "
                     "first with `newtown store backup`)")


def _name(found: str | None) -> str:
    if found is None:
        return "no schema revision"
    return found if found.startswith("schema version") else f"schema revision {found}"


def upgrade(conn: sa.Connection, shown: str) -> tuple[str | None, str]:
    """Bring the store to the head revision inside the caller's transaction.

    A store made before migrations is stamped with the baseline first; facility columns the
    code has gained (a newer data model) are added as blank TEXT columns, whose rules then
    apply at each row's next change (``newtown check`` on a dump names the rows). Returns
    (revision before, revision after).

    Raises
    ------
    StoreError
        The store's revision is unknown to this program (made by a newer release).
    """
    _newer(conn, shown)
    found = current(conn)
    if found is None:
        raise StoreError(f"{shown}: not a New Town Atlas store; create one with "
                         f"`newtown store init {shown}`")
    config = _config(conn)
    if MigrationContext.configure(conn).get_current_revision() is None:
        command.stamp(config, found)  # a store from before the migrations
    command.upgrade(config, "head")
    for column in missing_columns(conn):
        name = conn.dialect.identifier_preparer.quote(column)
        conn.exec_driver_sql(f"ALTER TABLE facilities ADD COLUMN {name} TEXT NOT NULL "
                             "DEFAULT ''")
    return found, head()


def stamp_head(conn: sa.Connection) -> None:
    """Record a store just made at the newest layout as being at the head revision."""
    command.stamp(_config(conn), "head")


def downgrade(conn: sa.Connection, revision: str) -> None:
    """Take the store back to an older revision (for tests of the upgrade path)."""
    command.downgrade(_config(conn), revision)
