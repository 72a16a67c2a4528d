"""The store's tables (SQLAlchemy Core), built from the facility columns of the running code."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from geo.facilities import COLUMNS
from geo.store import postgis

#: Version of the table layout (``meta.schema_version``); the Alembic migrations in
#: ``geo/store/migrations`` bring an older store to it (``newtown store upgrade``).
SCHEMA_VERSION = 4

ACTIONS = ("add", "set", "move", "retire", "revert")
REVIEW_STATES = ("proposed", "approved", "rejected", "applied")
ROLES = ("viewer", "editor", "reviewer", "admin")
#: What ``atlas_snapshot`` is, for GIS clients (PostgreSQL keeps table comments).
SNAPSHOT_COMMENT = ("校验后的设施表 (缓存) / the validated facility frame of one revision: a "
                    "cache that lets opening skip revalidating every row")


def facility_columns() -> tuple[str, ...]:
    """The facility columns of the running code (``geo.facilities.COLUMNS``, read each call)."""
    return tuple(COLUMNS)


def build_metadata(dialect: str = "sqlite") -> tuple[sa.MetaData, dict[str, sa.Table]]:
    """Every table of the store, with one TEXT column per facility column of the code.

    ``dialect`` is the engine's (``sqlite`` or ``postgresql``): the tables are the same but
    for the geometry column's type (a GeoPackage blob, or a typed PostGIS
    ``geometry(Point, 4326)`` with a GIST index) and, on PostgreSQL, the column comments.
    """
    md = sa.MetaData()
    geom_type: Any = postgis.geometry() if dialect == "postgresql" else sa.LargeBinary
    facilities = sa.Table(
        "facilities", md,
        # GeoPackage feature tables need an integer primary key; it is also the file order.
        sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("geom", geom_type, nullable=False),
        *(sa.Column(c, sa.Text, nullable=False, server_default="") for c in facility_columns()),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("retired", sa.Integer, nullable=False, server_default="0"),
        sa.Column("retired_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Index("ix_facilities_id", "id", unique=True),
        sa.Index("ix_facilities_revision", "revision"),
        sqlite_autoincrement=True,
    )
    source_lines = sa.Table(
        "facility_source_lines", md,
        sa.Column("fid", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("line", sa.Text, nullable=False),
    )
    changes = sa.Table(
        "changes", md,
        sa.Column("change_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("facility_id", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("base_version", sa.Integer, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("before", sa.Text),  # JSON
        sa.Column("after", sa.Text, nullable=False),  # JSON
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("time", sa.Text, nullable=False),  # UTC, ISO 8601
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("review_state", sa.Text, nullable=False),
        sa.Column("reviewer", sa.Text),
        sa.Column("review_comment", sa.Text),
        sa.Column("reviewed_at", sa.Text),
        sa.Column("revision", sa.Integer),  # store revision it produced, once applied
        sa.CheckConstraint(f"action IN {ACTIONS!r}", name="ck_changes_action"),
        sa.CheckConstraint(f"review_state IN {REVIEW_STATES!r}", name="ck_changes_state"),
        sa.Index("ix_changes_facility", "facility_id", "change_id"),
        sa.Index("ix_changes_state", "review_state"),
        sqlite_autoincrement=True,
    )
    users = sa.Table(
        "users", md,
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created", sa.Text, nullable=False),
        sa.CheckConstraint(f"role IN {ROLES!r}", name="ck_users_role"),
    )
    layers = sa.Table(
        "layers", md,
        sa.Column("path", sa.Text, primary_key=True),  # relative to the data folder, '/'-joined
        sa.Column("content", sa.LargeBinary, nullable=False),  # the file's bytes, verbatim
    )
    meta = sa.Table(
        "meta", md,
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    # Failed sign-ins (schema version 2, migration 0002): the dashboard limits them per
    # account and per address; kept in the store so every server process counts the same.
    login_failures = sa.Table(
        "login_failures", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.Text, nullable=False),  # the name typed (may not exist)
        sa.Column("address", sa.Text, nullable=False),  # the client's address
        sa.Column("time", sa.Text, nullable=False),  # UTC, ISO 8601
        sa.Index("ix_login_failures_account", "account", "time"),
        sa.Index("ix_login_failures_address", "address", "time"),
    )
    # Schema version 3 (migration 0003): the validated facility frame of one revision
    # (geo.store.snapshot), and the stripped id / parent id the incremental check looks up.
    atlas_snapshot = sa.Table(
        "atlas_snapshot", md,
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    # Schema version 4 (migration 0004): one row per dashboard sign-in, checked on every
    # request, so a sign-in can be ended on its own (the cookie holds the token, this table
    # only its SHA-256).
    sessions = sa.Table(
        "sessions", md,
        sa.Column("session_id", sa.Text, primary_key=True),  # public: listed, revoked by
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("created", sa.Text, nullable=False),  # UTC, ISO 8601
        sa.Column("last_seen", sa.Text, nullable=False),
        sa.Column("expires", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False, server_default=""),
        sa.Column("agent", sa.Text, nullable=False, server_default=""),
        sa.Index("ix_sessions_token", "token_hash", unique=True),
        sa.Index("ix_sessions_user", "user"),
    )
    sa.Index("ix_facilities_trim_id", sa.func.trim(facilities.c.id))
    if "parent_id" in facilities.c:
        sa.Index("ix_facilities_trim_parent", sa.func.trim(facilities.c.parent_id))
    tables = {t.name: t for t in (facilities, source_lines, changes, users, layers, meta,
                                  login_failures, atlas_snapshot, sessions)}
    if dialect == "postgresql":  # SQLite keeps no comments
        for table, comments in ((facilities, postgis.FACILITY_COMMENTS),
                                (changes, postgis.CHANGE_COMMENTS)):
            for column in table.columns:
                column.comment = comments.get(column.name)
        facilities.comment = "设施 (已批准的状态; 撤销的行保留) / facilities: approved state"
        changes.comment = "修改历史 / history of every change (proposed, approved, rejected)"
        users.comment = "账户 (密码仅存加盐哈希) / accounts (salted password hashes only)"
        layers.comment = "边界文件原文 / the boundary files, byte for byte"
        meta.comment = "库信息 (schema_version, revision) / store settings and revision"
        login_failures.comment = "登录失败记录 (限速用) / failed sign-ins, for the rate limit"
        atlas_snapshot.comment = SNAPSHOT_COMMENT
        sessions.comment = ("登录会话 (仅存令牌哈希) / sign-in sessions (token hashes only), "
                            "revocable")
    return md, tables
