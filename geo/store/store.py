"""The editable store: approved facilities, their history, a review queue, accounts, a revision."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import operator
import os
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import shapely
import sqlalchemy as sa

from geo import catalog
from geo._errors import (
    AccessDeniedError,
    ConflictError,
    DataError,
    Problem,
    StoreError,
    TooManyAttemptsError,
)
from geo.atlas import Atlas, annotate_facilities, check_placeholder_precision, load_atlas
from geo.boundaries import read_boundaries
from geo.facilities import validate_facilities
from geo.settings import DataLayout, bundled_data_dir
from geo.store import accounts, csvrows, gpkg, migrate, postgis, snapshot
from geo.store.schema import (
    ACTIONS,
    SCHEMA_VERSION,
    build_metadata,
    facility_columns,
)

#: The file ``dump`` writes retired facilities to (and ``init --from`` reads them back from).
RETIRED_FILE = "facilities_retired.csv"
#: Facility file name used in validation messages, as ``newtown check`` names it.
FACILITIES_FILE = "facilities.csv"
#: Failed sign-ins allowed per account and per address within the window (seconds).
SIGN_IN_LIMIT = 5
SIGN_IN_WINDOW_S = 15 * 60
_MOVE_FIELDS = frozenset({"lon", "lat", "coord_source", "coord_precision_m"})
#: Rows changed since the stored snapshot beyond which a process that opened the store
#: writes a fresh snapshot (so later openings validate fewer rows).
SNAPSHOT_REFRESH_ROWS = 1000
#: SQLite page cache (KiB) of the connection that loads a new store (``store init``).
INIT_CACHE_KIB = 256 * 1024
#: Key of the validated facility frame in ``atlas_snapshot``.
SNAPSHOT_KEY = "facilities"
#: A session's ``last_seen`` is written at most this often (seconds): a read per request,
#: a write per minute of use.
SESSION_TOUCH_S = 60

log = logging.getLogger("newtown")


@dataclass(frozen=True)
class User:
    """An account: name, role (viewer, editor, reviewer, admin), disabled flag, creation time."""

    name: str
    role: str
    disabled: bool
    created: str


@dataclass(frozen=True)
class Session:
    """One sign-in of the dashboard: public id, account, UTC times, client address and browser.

    The secret token the session cookie carries is never kept (only its SHA-256) nor shown.
    """

    session_id: str
    user: str
    created: str
    last_seen: str
    expires: str
    address: str
    agent: str


@dataclass(frozen=True)
class Change:
    """One row of the history: a proposed or applied change of one facility."""

    change_id: int
    facility_id: str
    version: int  # the facility's version once this change is applied
    base_version: int  # the version it was made against
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any]
    user: str
    time: str  # UTC, ISO 8601
    reason: str
    source: str
    review_state: str  # proposed | approved | rejected | applied
    reviewer: str | None
    review_comment: str | None
    reviewed_at: str | None
    revision: int | None  # the store revision it produced (None until applied)

    @property
    def is_applied(self) -> bool:
        """True when the change is part of the approved state (applied or approved)."""
        return self.review_state in {"applied", "approved"}

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return dataclasses.asdict(self)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _engine(url: str | os.PathLike[str]) -> tuple[sa.Engine, Path | None, str]:
    """(engine, file path for SQLite, URL safe to show)."""
    text = os.fspath(url)
    if postgis.is_postgres(text):
        pg_engine, shown = postgis.make_engine(text)
        return pg_engine, None, shown
    if "://" in text:
        parsed = sa.engine.make_url(text)
        if parsed.get_backend_name() != "sqlite" or not parsed.database:
            raise StoreError(f"{parsed.render_as_string(hide_password=True)}: unsupported store "
                             "URL; give a file path (atlas.gpkg) or sqlite:///PATH")
        path = Path(parsed.database)
    else:
        path = Path(text)
    path = path.resolve()
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout = 60000")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # A writer takes the write lock at BEGIN, so its reads and its write see one state
        # and two writers queue instead of failing at commit.
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine, path, str(path)


class Store:
    """An editable store of facilities (a GeoPackage file) with history, review and accounts.

    Open one with :func:`open_store` or create one with :func:`init_store`. Every method that
    changes data takes the acting user's name and checks their role itself.
    """

    def __init__(self, engine: sa.Engine, path: Path | None, shown: str):
        self._engine = engine
        self.path = path
        self.url = shown
        self._md, self._t = build_metadata(engine.dialect.name)
        self._pg = engine.dialect.name == "postgresql"
        self._columns = facility_columns()
        self._lock = threading.RLock()  # guards the caches below (not the database)
        self._table: pd.DataFrame | None = None  # approved, active rows (index fid)
        self._table_revision = -1
        self._atlas: Atlas | None = None
        self._atlas_revision = -1
        self._atlas_fids = np.zeros(0, dtype=np.int64)  # the store fid of each Atlas row
        #: How the last Atlas was made: "full" (every row validated), "snapshot" (the stored
        #: validated frame plus the rows changed since) or "patch" (an earlier Atlas plus the
        #: changed rows); and how many rows were validated for it.
        self.atlas_source: tuple[str, int] = ("", 0)
        self._fingerprint = snapshot.fingerprint(self._columns)
        self._listener: postgis.RevisionListener | None = None
        self._listener_lock = threading.Lock()
        self._layers_dir: Path | None = None
        self._boundaries: tuple[shapely.Geometry, gpd.GeoDataFrame, gpd.GeoDataFrame] | None \
            = None

    # ----------------------------------------------------------------- transactions
    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One transaction holding SQLite's write lock from its start (BEGIN IMMEDIATE)."""
        with self._engine.connect().execution_options(immediate=True) as conn, conn.begin():
            yield conn

    def close(self) -> None:
        """Release the database connections and the temporary boundary folder."""
        with self._listener_lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        self._engine.dispose()
        if self._layers_dir is not None:
            shutil.rmtree(self._layers_dir, ignore_errors=True)
            self._layers_dir = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- meta
    def _meta(self, conn: sa.Connection) -> dict[str, str]:
        t = self._t["meta"]
        return {str(k): str(v) for k, v in conn.execute(sa.select(t.c.key, t.c.value))}

    def _set_meta(self, conn: sa.Connection, key: str, value: str) -> None:
        t = self._t["meta"]
        conn.execute(sa.update(t).where(t.c.key == key).values(value=value))

    def revision(self) -> int:
        """The store's revision: it grows by one with every change that reaches viewers."""
        t = self._t["meta"]
        with self._read() as conn:
            return int(conn.execute(sa.select(t.c.value).where(t.c.key == "revision"))
                       .scalar_one())

    def wait_for_revision(self, known: int, *, timeout_s: float,
                          stop: threading.Event | None = None) -> int:
        """Wait until the revision differs from ``known`` or ``timeout_s`` passes; the revision.

        PostgreSQL: woken by the NOTIFY every applied change sends at commit (LISTEN on a
        connection of its own), so a change reaches a waiting process in milliseconds; the
        timeout is only a fallback. SQLite has no notifications: this sleeps ``timeout_s``
        (or until ``stop`` is set) and reads the revision (one indexed read).

        Parameters
        ----------
        known : int
            The revision the caller has.
        timeout_s : float
            Longest wait, seconds.
        stop : threading.Event, optional
            Ends a SQLite wait early when set.

        Returns
        -------
        int
            The store's revision after the wait.
        """
        if not self._pg:
            if stop is not None:
                stop.wait(timeout_s)
            else:
                time.sleep(timeout_s)
            return self.revision()
        deadline = time.monotonic() + timeout_s
        checked = False
        while True:
            with self._listener_lock:  # close() takes it too: wait in slices of <= 1 s
                try:
                    if self._listener is None:
                        self._listener = postgis.RevisionListener(self._engine)
                        checked = False
                    if not checked:  # once LISTENing: a later commit cannot go unheard
                        revision = self.revision()
                        if revision != known:
                            return revision
                        checked = True
                    left = deadline - time.monotonic()
                    if left <= 0 or (stop is not None and stop.is_set()):
                        return self.revision()
                    if self._listener.wait(min(left, 1.0)):
                        return self.revision()
                    continue
                except psycopg.Error as exc:  # a dropped connection: poll until it is back
                    log.warning("%s: LISTEN failed (%s); polling the revision", self.url, exc)
                    if self._listener is not None:
                        with contextlib.suppress(psycopg.Error):
                            self._listener.close()
                    self._listener = None
            pause = min(max(deadline - time.monotonic(), 0.0), 1.0)
            if stop is not None:
                stop.wait(pause)
            else:
                time.sleep(pause)
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                return self.revision()

    @property
    def review_required(self) -> bool:
        """True when an editor's change waits for a reviewer."""
        with self._read() as conn:
            return self._meta(conn)["review_required"] == "1"

    # ----------------------------------------------------------------- accounts
    def _user(self, conn: sa.Connection, name: str) -> User | None:
        t = self._t["users"]
        row = conn.execute(sa.select(t).where(t.c.name == name)).mappings().first()
        if row is None:
            return None
        return User(row["name"], row["role"], bool(row["disabled"]), row["created"])

    def _actor(self, conn: sa.Connection, name: str, needed: str, what: str) -> User:
        user = self._user(conn, name)
        if user is None:
            raise AccessDeniedError(f"unknown user {name!r}: {what} needs an account with the "
                                    f"{needed} role or higher")
        if user.disabled:
            raise AccessDeniedError(f"user {name!r} is disabled: {what} is refused")
        if not accounts.at_least(user.role, needed):
            raise AccessDeniedError(f"user {name!r} is a {user.role}: {what} needs the "
                                    f"{needed} role or higher")
        return user

    def add_user(self, name: str, role: str, password: str, *, actor: str | None) -> User:
        """Create an account; ``actor`` must be an admin (except for the store's first admin).

        Parameters
        ----------
        name : str
            The account name (1-64 visible characters).
        role : str
            viewer, editor, reviewer or admin.
        password : str
            Stored only as a salted scrypt hash.
        actor : str or None
            The admin creating the account; None is accepted only while the store has no
            active admin, and then only for an admin account.

        Returns
        -------
        User
        """
        accounts.check_role(role)
        name = name.strip()
        if not name or len(name) > 64 or not name.isprintable():
            raise StoreError(f"bad user name {name!r}: use 1-64 printable characters")
        hashed = accounts.hash_password(password)
        t = self._t["users"]
        with self._write() as conn:
            admins = conn.execute(sa.select(sa.func.count()).select_from(t).where(
                (t.c.role == "admin") & (t.c.disabled == 0))).scalar_one()
            if actor is None or admins == 0:
                if admins:
                    raise AccessDeniedError("adding a user needs an admin (give the acting "
                                            "admin's name)")
                if role != "admin":
                    raise AccessDeniedError("the store has no admin yet: the first account "
                                            "must have the admin role")
            else:
                self._actor(conn, actor, "admin", "adding a user")
            if self._user(conn, name) is not None:
                raise StoreError(f"user {name!r} exists already")
            created = _now()
            conn.execute(sa.insert(t).values(name=name, role=role, password_hash=hashed,
                                             disabled=0, created=created))
        return User(name, role, False, created)

    def users(self) -> list[User]:
        """Every account (name, role, disabled, created); never the password hashes."""
        t = self._t["users"]
        with self._read() as conn:
            rows = conn.execute(sa.select(t.c.name, t.c.role, t.c.disabled, t.c.created)
                                .order_by(t.c.name)).all()
        return [User(r.name, r.role, bool(r.disabled), r.created) for r in rows]

    def disable_user(self, name: str, *, actor: str) -> None:
        """Disable an account (kept for the history) and end its sessions; ``actor`` must be
        an admin."""
        t = self._t["users"]
        with self._write() as conn:
            self._actor(conn, actor, "admin", "disabling a user")
            user = self._user(conn, name)
            if user is None:
                raise StoreError(f"no user {name!r}")
            if user.role == "admin" and not user.disabled:
                admins = conn.execute(sa.select(sa.func.count()).select_from(t).where(
                    (t.c.role == "admin") & (t.c.disabled == 0))).scalar_one()
                if admins <= 1:
                    raise StoreError(f"{name!r} is the last active admin; add another admin "
                                     "first")
            conn.execute(sa.update(t).where(t.c.name == name).values(disabled=1))
            self._end_sessions(conn, name)

    def user(self, name: str) -> User | None:
        """The account called ``name`` (active or disabled), or None; never its password hash."""
        with self._read() as conn:
            return self._user(conn, name)

    def session_secret(self) -> str:
        """The random key a web front end signs its session cookies with, made at first use.

        Kept in ``meta`` so every server process on the store signs and checks cookies with
        the same key; it never leaves the store except to the process that serves it.
        """
        t = self._t["meta"]
        query = sa.select(t.c.value).where(t.c.key == "session_secret")
        with self._read() as conn:
            found = conn.execute(query).scalar_one_or_none()
        if found is not None:
            return str(found)
        with self._write() as conn:  # the write lock: two processes cannot both create it
            found = conn.execute(query).scalar_one_or_none()
            if found is None:
                found = secrets.token_urlsafe(48)
                conn.execute(sa.insert(t).values(key="session_secret", value=found))
        return str(found)

    def authenticate(self, name: str, password: str) -> User:
        """The user if ``password`` is theirs and the account is active; else AccessDeniedError."""
        t = self._t["users"]
        with self._read() as conn:
            row = conn.execute(sa.select(t).where(t.c.name == name)).mappings().first()
        stored = row["password_hash"] if row is not None else accounts.hash_password("x" * 12)
        ok = accounts.verify_password(password, stored)  # same work for unknown names
        if row is None or not ok:
            raise AccessDeniedError("unknown user or wrong password")
        if row["disabled"]:
            raise AccessDeniedError(f"user {name!r} is disabled")
        return User(row["name"], row["role"], False, row["created"])

    def sign_in(self, name: str, password: str, address: str, *,
                limit: int = SIGN_IN_LIMIT, window_s: int = SIGN_IN_WINDOW_S) -> User:
        """:meth:`authenticate`, refusing an account or address with too many recent failures.

        Parameters
        ----------
        name, password : str
            What the user typed.
        address : str
            The client's address (as the web server saw it).
        limit : int
            Failures allowed per account and per address within ``window_s``.
        window_s : int
            The window, seconds.

        Returns
        -------
        User

        Raises
        ------
        TooManyAttemptsError
            ``limit`` failures for ``name`` or from ``address`` within the window: refused
            without checking the password (even a right one), with the seconds to wait.
        AccessDeniedError
            Unknown user, wrong password or disabled account (recorded as a failure).
        """
        name = name.strip()[:200]
        now = datetime.now(UTC)
        since = (now - timedelta(seconds=window_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        t = self._t["login_failures"]
        with self._read() as conn:
            for column, value in ((t.c.account, name), (t.c.address, address)):
                # The limit-th most recent failure: the block lifts when it leaves the window.
                nth = conn.execute(sa.select(t.c.time).where((column == value)
                                                             & (t.c.time >= since))
                                   .order_by(t.c.time.desc()).offset(limit - 1).limit(1)
                                   ).scalar_one_or_none()
                if nth is not None:
                    then = datetime.fromisoformat(str(nth).replace("Z", "+00:00"))
                    wait = max(1, math.ceil((then - now).total_seconds() + window_s))
                    raise TooManyAttemptsError(
                        f"too many failed sign-ins for this account or from this address; "
                        f"try again in {wait} s", wait)
        try:
            user = self.authenticate(name, password)
        except AccessDeniedError:
            with self._write() as conn:
                conn.execute(sa.delete(t).where(t.c.time < since))  # keep the table small
                conn.execute(sa.insert(t).values(account=name, address=address, time=_now()))
            raise
        return user

    def set_password(self, name: str, password: str, *, actor: str) -> None:
        """Change an account's password (an admin, or the account itself); ends its sessions."""
        hashed = accounts.hash_password(password)
        t = self._t["users"]
        with self._write() as conn:
            if actor != name:
                self._actor(conn, actor, "admin", "changing another user's password")
            if self._user(conn, name) is None:
                raise StoreError(f"no user {name!r}")
            conn.execute(sa.update(t).where(t.c.name == name).values(password_hash=hashed))
            self._end_sessions(conn, name)

    # ----------------------------------------------------------------- sessions
    def _end_sessions(self, conn: sa.Connection, name: str,
                      session_id: str | None = None) -> int:
        t = self._t["sessions"]
        where = t.c.user == name
        if session_id is not None:
            where = where & (t.c.session_id == session_id)
        return int(conn.execute(sa.delete(t).where(where)).rowcount or 0)

    def open_session(self, name: str, *, lifetime_s: int, address: str = "",
                     agent: str = "") -> tuple[Session, str]:
        """Record a sign-in of the active account ``name``; (the session, its secret token).

        The token goes into the signed cookie; the store keeps only its SHA-256, so a copy
        of the store cannot be turned into a cookie. Expired sessions are deleted here.

        Parameters
        ----------
        name : str
            An account that has just authenticated.
        lifetime_s : int
            Seconds until the session expires.
        address, agent : str
            The client's address and browser (shown by ``newtown users sessions``).

        Returns
        -------
        (Session, str)
        """
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        expires = (now + timedelta(seconds=lifetime_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        made = Session(secrets.token_hex(6), name, stamp, stamp, expires, address[:100],
                       agent[:200])
        t = self._t["sessions"]
        with self._write() as conn:
            user = self._user(conn, name)
            if user is None or user.disabled:
                raise AccessDeniedError(f"user {name!r} cannot sign in")
            conn.execute(sa.delete(t).where(t.c.expires < stamp))
            conn.execute(sa.insert(t).values(token_hash=_token_hash(token),
                                             **dataclasses.asdict(made)))
        return made, token

    def session_user(self, token: str) -> tuple[User, Session] | None:
        """The active account and the session of a cookie's token; None when the session was
        ended (signed out, revoked, password changed), expired, or the account is disabled.

        One indexed read; ``last_seen`` is written at most every :data:`SESSION_TOUCH_S`.
        """
        if not token:
            return None
        t, u = self._t["sessions"], self._t["users"]
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        query = (sa.select(t, u.c.role, u.c.disabled, u.c.created.label("user_created"))
                 .join(u, u.c.name == t.c.user).where(t.c.token_hash == _token_hash(token)))
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None or row["disabled"] or row["expires"] <= stamp:
            return None
        seen = datetime.fromisoformat(str(row["last_seen"]).replace("Z", "+00:00"))
        if (now - seen).total_seconds() >= SESSION_TOUCH_S:
            with self._write() as conn:
                conn.execute(sa.update(t).where(t.c.session_id == row["session_id"])
                             .values(last_seen=stamp))
        found = Session(row["session_id"], row["user"], row["created"], row["last_seen"],
                        row["expires"], row["address"], row["agent"])
        return User(row["user"], row["role"], False, row["user_created"]), found

    def close_session(self, token: str) -> None:
        """End the session of a cookie's token (signing out); nothing if it is gone already."""
        t = self._t["sessions"]
        with self._write() as conn:
            conn.execute(sa.delete(t).where(t.c.token_hash == _token_hash(token)))

    def sessions(self, name: str | None = None) -> list[Session]:
        """Open (unexpired) sessions, of ``name`` or of everyone, newest first; no secrets."""
        t = self._t["sessions"]
        stamp = _now()
        query = sa.select(t).where(t.c.expires > stamp)
        if name is not None:
            query = query.where(t.c.user == name)
        with self._read() as conn:
            rows = conn.execute(query.order_by(t.c.created.desc())).mappings().all()
        return [Session(r["session_id"], r["user"], r["created"], r["last_seen"], r["expires"],
                        r["address"], r["agent"]) for r in rows]

    def revoke_sessions(self, name: str, *, actor: str, session_id: str | None = None) -> int:
        """End one session of ``name`` (``session_id``) or all of them; how many ended.

        ``actor`` is an admin, or ``name`` itself. A session id that is not one of the
        account's is refused (so a typo is not reported as success).
        """
        with self._write() as conn:
            if actor != name:
                self._actor(conn, actor, "admin", "revoking another user's sessions")
            if self._user(conn, name) is None:
                raise StoreError(f"no user {name!r}")
            ended = self._end_sessions(conn, name, session_id)
            if session_id is not None and not ended:
                raise StoreError(f"user {name!r} has no session {session_id!r}; see `newtown "
                                 f"users sessions {name}`")
        return ended

    # ----------------------------------------------------------------- reading rows
    def _state(self, row: Mapping[Any, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {c: row[c] for c in self._columns}
        state["retired"] = bool(row["retired"])
        state["retired_reason"] = row["retired_reason"]
        return state

    def _current(self, conn: sa.Connection, facility_id: str) -> Mapping[Any, Any] | None:
        t = self._t["facilities"]
        return conn.execute(sa.select(t).where(t.c.id == facility_id)).mappings().first()

    def _refresh(self, conn: sa.Connection) -> tuple[int, pd.DataFrame, list[int]]:
        """Bring the cached approved table to the database's revision; (rev, table, changed fids).

        Only rows changed since the cached revision are read (an index on ``revision``).
        """
        t = self._t["facilities"]
        revision = int(self._meta(conn)["revision"])
        cols = [t.c.fid, *(t.c[c] for c in self._columns)]
        if self._table is None:
            # The driver's own cursor: plain tuples, no SQLAlchemy Row per facility.
            quote = conn.dialect.identifier_preparer.quote
            sql = (f"SELECT fid, {', '.join(quote(c) for c in self._columns)} FROM facilities "
                   "WHERE retired = 0 ORDER BY fid")
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                rows = cursor.execute(sql).fetchall()
            finally:
                cursor.close()
            self._table = _frame(rows, self._columns)
            self._table_revision = revision
            return revision, self._table, []
        if revision == self._table_revision:
            return revision, self._table, []
        rows = list(conn.execute(sa.select(*cols, t.c.retired).where(
            t.c.revision > self._table_revision)).all())
        table = _patched_rows(self._table, rows, self._columns)
        self._table, self._table_revision = table, revision
        return revision, table, [int(r[0]) for r in rows]

    def snapshot(self) -> tuple[int, pd.DataFrame]:
        """The approved facilities as raw text cells, with the revision they belong to.

        Returns
        -------
        (int, DataFrame)
            The revision and one row per active (not retired) facility in file order, columns
            as ``geo.facilities.COLUMNS``, values exactly as stored. Treat it as read-only: a
            later revision is a new frame.
        """
        with self._lock, self._read() as conn:
            revision, table, _ = self._refresh(conn)
        return revision, table

    # ----------------------------------------------------------------- boundaries and Atlas
    def _layers_folder(self) -> Path:
        """The boundary files, written once per Store into a private temporary folder."""
        if self._layers_dir is None:
            folder = Path(tempfile.mkdtemp(prefix="newtown-store-"))
            weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
            t = self._t["layers"]
            with self._read() as conn:
                for path, content in conn.execute(sa.select(t.c.path, t.c.content)):
                    target = folder / path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(content)
            self._layers_dir = folder
        return self._layers_dir

    def _boundary_frames(self) -> tuple[shapely.Geometry, gpd.GeoDataFrame, gpd.GeoDataFrame]:
        """(Shanghai outline, districts, towns with catalog keys) as ``load_atlas`` reads them."""
        if self._boundaries is None:
            layout = DataLayout(self._layers_folder())
            city = read_boundaries(layout.city, kind="city")
            districts = read_boundaries(layout.districts, kind="districts")
            towns = read_boundaries(layout.towns, kind="towns")
            towns = towns.assign(key=[catalog.TOWN_NAMES.resolve(k) for k in towns["key"]])
            self._boundaries = (shapely.union_all(city.geometry.to_numpy()), districts, towns)
        return self._boundaries

    def _related(self, conn: sa.Connection, subjects: Mapping[int, Mapping[Any, Any] | None]
                 ) -> dict[int, Mapping[Any, Any]]:
        """The approved rows the loader's rules between rows would look at for ``subjects``.

        Rows sharing a subject's id (duplicates), children of a subject, and ancestors of all
        of these, read from the database in the caller's transaction (indexes on the
        stripped id and parent id), so no process needs the whole table in memory.
        """
        t = self._t["facilities"]
        cols = [t.c.fid, *(t.c[c] for c in self._columns)]
        has_parent = "parent_id" in self._columns
        out = set(subjects)
        members: dict[int, Mapping[Any, Any]] = {
            fid: row for fid, row in subjects.items() if row is not None}

        def take(column: str, matches: set[str]) -> list[Mapping[Any, Any]]:
            if not matches:
                return []
            found: list[Mapping[Any, Any]] = []
            query = sa.select(*cols).where((t.c.retired == 0)
                                           & sa.func.trim(t.c[column]).in_(sorted(matches)))
            for row in conn.execute(query).mappings():
                fid = int(row["fid"])
                if (str(row[column]).strip() in matches and fid not in out
                        and fid not in members):
                    members[fid] = row
                    found.append(row)
            return found

        key_ids = {str(r["id"]).strip() for r in members.values()}
        gone = [f for f, r in subjects.items() if r is None]
        if gone:  # the id a leaving row had (its children and duplicates are involved)
            key_ids |= {str(v).strip() for v in conn.execute(
                sa.select(t.c.id).where(t.c.fid.in_(gone))).scalars()}
        take("id", key_ids)  # rows sharing an id (duplicates)
        if has_parent:
            take("parent_id", key_ids)  # children of a subject
            frontier = list(members.values())
            while frontier:  # ancestors of everything involved
                wanted = {str(r["parent_id"]).strip() for r in frontier} - {""}
                frontier = take("id", wanted)
        return members

    def _row_numbers(self, conn: sa.Connection, order: list[int],
                     subjects: Mapping[int, Mapping[Any, Any] | None]) -> list[int]:
        """The row each fid would have in ``facilities.csv`` once ``subjects`` are applied."""
        t = self._t["facilities"]
        active = {int(f) for f in conn.execute(sa.select(t.c.fid).where(
            (t.c.retired == 0) & t.c.fid.in_(list(subjects)))).scalars()}
        leaving = np.array(sorted(active), dtype=np.int64)
        arriving = np.array(sorted(f for f, r in subjects.items() if r is not None),
                            dtype=np.int64)
        numbers = []
        for f in order:
            before = conn.execute(sa.select(sa.func.count()).select_from(t).where(
                (t.c.retired == 0) & (t.c.fid < f))).scalar_one()
            numbers.append(int(before - np.searchsorted(leaving, f)
                               + np.searchsorted(arriving, f) + 1))
        return numbers

    def _loader_check(
        self, conn: sa.Connection, subjects: Mapping[int, Mapping[Any, Any] | None]
    ) -> tuple[gpd.GeoDataFrame | None, list[int]]:
        """Validate rows as the loader would validate the whole table they would make.

        ``subjects`` maps fids to their new raw row (None: the row leaves the table). The
        loader's rules that look at one row run on the subjects; the rules between rows
        (duplicate ids, parents) see every row they involve (:meth:`_related`). Problems are
        numbered by the row each would have in ``facilities.csv``. Returns the validated
        subject rows and their fids (None and [] when no row is left to validate).
        """
        members = self._related(conn, subjects)
        if not members:
            return None, []
        order = sorted(members)
        sub = pd.DataFrame([{c: members[f][c] for c in self._columns} for f in order],
                           columns=list(self._columns), dtype=object)
        city, districts, towns = self._boundary_frames()

        def renumbered(problems: list[Problem]) -> DataError:
            numbers = self._row_numbers(conn, order, subjects)
            return DataError([dataclasses.replace(p, row=numbers[p.row - 1] if p.row else None)
                              for p in problems], file=FACILITIES_FILE)

        try:
            valid = validate_facilities(sub, file=FACILITIES_FILE, city=city,
                                        districts=districts, strict=True)
        except DataError as exc:
            raise renumbered(exc.problems) from None
        # The cross-file rule load_atlas adds after the facility file's own rules.
        placeholder = check_placeholder_precision(valid, towns, districts, file=FACILITIES_FILE)
        if placeholder:
            raise renumbered(placeholder)
        chosen = [f for f in order if subjects.get(f) is not None]
        keep = [str(members[f]["id"]).strip() for f in chosen]
        return valid.loc[keep], chosen

    def atlas(self) -> Atlas:
        """An Atlas of the approved facilities and the store's boundary files.

        The same as ``versioned_atlas()[1]``.
        """
        return self.versioned_atlas()[1]

    def versioned_atlas(self) -> tuple[int, Atlas]:
        """The current revision and an Atlas of its approved facilities and boundary files.

        The first call reads the validated frame the store keeps (``atlas_snapshot``, made
        by the same code) and validates only the rows changed since; without a usable one it
        validates everything (the loader's rules, as ``load_atlas``) and stores the result
        for the next process. Later calls after a change validate and annotate only the
        changed rows.

        Returns
        -------
        Atlas
            Of the revision current at the call (returned with it); a later revision gives
            a new Atlas.
        """
        with self._lock:
            save = False
            with self._read() as conn:
                revision = int(self._meta(conn)["revision"])
                if self._atlas is not None and revision == self._atlas_revision:
                    return revision, self._atlas
                base: tuple[Atlas, np.ndarray, int] | None = None
                if self._atlas is not None:
                    base = (self._atlas, self._atlas_fids, self._atlas_revision)
                    source = "patch"
                else:
                    base = self._stored_snapshot(conn)
                    source = "snapshot"
                if base is not None:
                    atlas, fids, n = self._patched_atlas(conn, *base)
                    save = source == "snapshot" and n > SNAPSHOT_REFRESH_ROWS
                else:
                    atlas, fids = self._full_atlas(conn)
                    source, n, save = "full", len(fids), True
            self._atlas, self._atlas_fids, self._atlas_revision = atlas, fids, revision
            self.atlas_source = (source, n)
            if save:
                self._save_snapshot(revision, atlas, fids)
            return revision, atlas

    def _full_atlas(self, conn: sa.Connection) -> tuple[Atlas, np.ndarray]:
        """Every approved row validated by ``load_atlas`` (the loader's own path)."""
        t = self._t["facilities"]
        quote = conn.dialect.identifier_preparer.quote
        sql = (f"SELECT fid, {', '.join(quote(c) for c in self._columns)} FROM facilities "
               "WHERE retired = 0 ORDER BY fid")
        del t
        # The driver's own cursor: plain tuples, no SQLAlchemy Row per facility.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            rows = cursor.execute(sql).fetchall()
        finally:
            cursor.close()
        table = _frame(rows, self._columns)
        atlas = load_atlas(self._layers_folder(), facilities_table=table.reset_index(drop=True))
        return atlas, table.index.to_numpy(dtype=np.int64)

    def _stored_snapshot(self, conn: sa.Connection) -> tuple[Atlas, np.ndarray, int] | None:
        """(Atlas, fids, revision) from the stored validated frame, if this code made it."""
        s = self._t["atlas_snapshot"]
        row = conn.execute(sa.select(s.c.revision, s.c.fingerprint).where(
            s.c.key == SNAPSHOT_KEY)).first()
        if row is None or row.fingerprint != self._fingerprint:
            return None
        if self._pg:
            # psycopg's binary format: the tens of MB come as they are, not hex-encoded by
            # the server and decoded here (at 1e6 rows 0.15 s against 0.45 s).
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor(binary=True) as cursor:
                found = cursor.execute("SELECT data FROM atlas_snapshot WHERE key = %s",
                                       (SNAPSHOT_KEY,)).fetchone()
            assert found is not None
            data = found[0]
        else:
            data = conn.execute(sa.select(s.c.data).where(s.c.key == SNAPSHOT_KEY)).scalar_one()
        facilities, fids = snapshot.decode(bytes(data))
        # The boundaries as load_atlas reads and checks them, with one stored root row (no
        # parent) standing in for the facility file; the stored frame then replaces it.
        t = self._t["facilities"]
        query = sa.select(*(t.c[c] for c in self._columns)).where(t.c.retired == 0)
        if "parent_id" in self._columns:
            query = query.where(sa.func.trim(t.c.parent_id) == "")
        one = conn.execute(query.order_by(t.c.fid).limit(1)).mappings().first()
        if one is None:
            return None
        frame = pd.DataFrame([dict(one)], columns=list(self._columns), dtype=object)
        atlas = load_atlas(self._layers_folder(), facilities_table=frame)
        facilities = facilities.set_crs(atlas.facilities.crs, allow_override=True)
        return dataclasses.replace(atlas, facilities=facilities), fids, int(row.revision)

    def _save_snapshot(self, revision: int, atlas: Atlas, fids: np.ndarray) -> None:
        """Store the validated frame of ``revision`` for the next process that opens the store.

        A cache: if it cannot be written (a read-only role or file) serving goes on and the
        next opening validates in full again; the reason is logged.
        """
        data = snapshot.encode(atlas.facilities, fids)
        s = self._t["atlas_snapshot"]
        try:
            with self._write() as conn:
                stored = conn.execute(sa.select(s.c.revision).where(
                    s.c.key == SNAPSHOT_KEY)).scalar()
                values = dict(revision=revision, fingerprint=self._fingerprint, data=data)
                if stored is None:
                    conn.execute(sa.insert(s).values(key=SNAPSHOT_KEY, **values))
                else:
                    conn.execute(sa.update(s).where(s.c.key == SNAPSHOT_KEY).values(**values))
        except (sa.exc.DBAPIError, sqlite3.Error) as exc:
            log.warning("%s: could not store the validated snapshot (%s); the next opening "
                        "validates every row", self.url, exc)

    def _patched_atlas(self, conn: sa.Connection, atlas: Atlas, fids: np.ndarray,
                       since: int) -> tuple[Atlas, np.ndarray, int]:
        """``atlas`` (rows ``fids``, of revision ``since``) with the rows changed since then
        validated, annotated and put in place; (Atlas, fids, rows changed)."""
        t = self._t["facilities"]
        changed = conn.execute(sa.select(t.c.fid, *(t.c[c] for c in self._columns),
                                         t.c.retired).where(t.c.revision > since)
                               ).mappings().all()
        if not changed:
            return atlas, fids, 0
        subjects: dict[int, Mapping[Any, Any] | None] = {
            int(r["fid"]): (None if r["retired"] else r) for r in changed}
        valid, new_fids = self._loader_check(conn, subjects)
        old = atlas.facilities
        new = (annotate_facilities(valid, atlas.towns)[old.columns]
               if valid is not None and len(valid) else old.iloc[:0])
        at = pd.Index(fids).get_indexer(pd.Index(new_fids, dtype=np.int64))
        if len(new_fids) == len(subjects) and (at >= 0).all():
            # Rows changed in place (the usual edit): share every column whose cells did not
            # change (no copy) and rewrite only the others. The text columns are Arrow
            # arrays: writing a few cells copies the column, so only changed columns pay.
            facilities = old.copy(deep=False)
            for column in old.columns:
                before, after = old[column].iloc[at], new[column]
                if before.dtype == after.dtype and before.equals(after):
                    continue
                rewritten = old[column].copy()
                rewritten.iloc[at] = after.to_numpy()
                facilities[column] = rewritten
            out_fids = fids
        else:
            # Rows added, retired or brought back: the unchanged rows and the new ones, put
            # back in the table's order (fid) by whole-column takes.
            keep = ~np.isin(fids, list(subjects))
            merged = pd.concat([old.iloc[np.flatnonzero(keep)], new])
            merged_fids = np.concatenate([fids[keep], np.asarray(new_fids, dtype=np.int64)])
            order = np.argsort(merged_fids, kind="stable")
            facilities, out_fids = merged.iloc[order], merged_fids[order]
        facilities = gpd.GeoDataFrame(facilities, geometry=old.geometry.name, crs=old.crs)
        return dataclasses.replace(atlas, facilities=facilities), out_fids, len(changed)

    # ----------------------------------------------------------------- changes
    def _last_change(self, conn: sa.Connection, facility_id: str) -> str:
        t = self._t["changes"]
        row = conn.execute(sa.select(t).where(
            (t.c.facility_id == facility_id) & t.c.review_state.in_(("applied", "approved")))
            .order_by(t.c.change_id.desc()).limit(1)).mappings().first()
        if row is None:
            meta = self._meta(conn)
            return f"imported from {meta.get('imported_from', '?')} at {meta.get('created', '?')}"
        by = f"changed by {row['user']} at {row['time']}"
        if row["reviewer"]:
            by += f", approved by {row['reviewer']} at {row['reviewed_at']}"
        return f"{by} (change #{row['change_id']}, {row['action']}: {row['reason']})"

    def _check_expected(self, conn: sa.Connection, facility_id: str,
                        current: Mapping[Any, Any] | None, expect_version: int | None) -> None:
        if expect_version is None:
            return
        version = int(current["version"]) if current is not None else 0
        if version != expect_version:
            if current is None:
                raise ConflictError(f"facility {facility_id} does not exist (expected version "
                                    f"{expect_version})")
            raise ConflictError(
                f"facility {facility_id} is at version {version}, not {expect_version}: "
                f"{self._last_change(conn, facility_id)}; reload it and make your edit again")

    def _state_at(self, conn: sa.Connection, facility_id: str, version: int) -> dict[str, Any]:
        """The facility's state as of ``version`` (from the history)."""
        t = self._t["changes"]
        applied = t.c.review_state.in_(("applied", "approved"))
        row = conn.execute(sa.select(t.c.after).where(
            (t.c.facility_id == facility_id) & applied & (t.c.version == version))
            .order_by(t.c.change_id.desc()).limit(1)).first()
        if row is not None:
            return dict(json.loads(row.after))
        row = conn.execute(sa.select(t.c.before).where(
            (t.c.facility_id == facility_id) & applied & (t.c.version == version + 1))
            .order_by(t.c.change_id).limit(1)).first()
        if row is not None and row.before is not None:
            return dict(json.loads(row.before))
        raise StoreError(f"facility {facility_id} has no version {version} in its history")

    def _new_state(self, conn: sa.Connection, action: str, facility_id: str,
                   current: Mapping[Any, Any] | None, values: Mapping[Any, Any],
                   reason: str) -> dict[str, Any]:
        def text(v: Any) -> str:
            return "" if v is None else str(v)

        unknown = sorted(set(values) - set(self._columns) - {"to_version"})
        if unknown:
            raise StoreError(f"unknown column(s) {', '.join(unknown)}; the columns are "
                             f"{', '.join(self._columns)}")
        if action == "add":
            if current is not None:
                state = "retired" if current["retired"] else "active"
                raise StoreError(f"facility id {facility_id} is taken ({state}, version "
                                 f"{current['version']}); choose another id")
            if str(values.get("id", facility_id)) != facility_id:
                raise StoreError("the id in the values differs from the facility id")
            new = {c: text(values.get(c, "")) for c in self._columns}
            new["id"] = facility_id
            return {**new, "retired": False, "retired_reason": ""}
        if current is None:
            raise StoreError(f"no facility {facility_id}")
        before = self._state(current)
        if action == "revert":
            try:
                to_version = int(values["to_version"])
            except (KeyError, TypeError, ValueError):
                raise StoreError("revert needs to_version, a whole number") from None
            if not 1 <= to_version < int(current["version"]):
                raise StoreError(f"facility {facility_id} is at version {current['version']}: "
                                 f"revert to a version from 1 to {int(current['version']) - 1}")
            return self._state_at(conn, facility_id, to_version)
        if before["retired"]:
            raise StoreError(f"facility {facility_id} is retired ({before['retired_reason']}); "
                             "revert it to an earlier version to bring it back")
        if action == "retire":
            return {**before, "retired": True, "retired_reason": reason}
        if "to_version" in values:
            raise StoreError("to_version belongs to revert only")
        if action == "move":
            extra = sorted(set(values) - _MOVE_FIELDS)
            if extra or not {"lon", "lat"} <= set(values):
                raise StoreError("move takes lon and lat (WGS84), optionally coord_source and "
                                 f"coord_precision_m; got {', '.join(sorted(values))}")
        elif "id" in values and text(values["id"]) != facility_id:
            raise StoreError("a facility's id cannot change; retire it and add the new id")
        return {**before, **{k: text(v) for k, v in values.items()}}

    def propose(
        self,
        user: str,
        action: str,
        facility_id: str,
        values: Mapping[Any, Any] | None = None,
        *,
        reason: str,
        source: str,
        expect_version: int | None = None,
    ) -> Change:
        """Propose (editor, review on) or apply (reviewer/admin, or review off) one change.

        Parameters
        ----------
        user : str
            The acting account; an editor or higher.
        action : str
            ``add`` (values: the row), ``set`` (values: the columns to change), ``move``
            (values: ``lon``, ``lat`` in WGS84 degrees, optionally ``coord_source``,
            ``coord_precision_m``), ``retire`` (no values; ``reason`` is kept as the
            retirement reason) or ``revert`` (values: ``to_version``).
        facility_id : str
            The facility's ``id``.
        values : mapping, optional
            Column -> new text, as described for ``action``.
        reason, source : str
            Why, and the citation supporting the change (both required).
        expect_version : int, optional
            The version the user's edit is based on (0 for an add); a different current
            version is refused with a ConflictError naming who changed it and when.

        Returns
        -------
        Change
            Its ``review_state`` is ``proposed`` or ``applied``.

        Raises
        ------
        AccessDeniedError, ConflictError, DataError (the loader's message), StoreError
        """
        if action not in ACTIONS:
            raise StoreError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
        if not reason.strip() or not source.strip():
            raise StoreError("every change needs a reason and a source citation")
        facility_id = facility_id.strip()
        with self._lock, self._write() as conn:
            actor = self._actor(conn, user, "editor", f"{action} of {facility_id}")
            current = self._current(conn, facility_id)
            self._check_expected(conn, facility_id, current, expect_version)
            after = self._new_state(conn, action, facility_id, current, values or {}, reason)
            self._check_change(conn, current, after)
            review = self._meta(conn)["review_required"] == "1"
            apply_now = not review or accounts.at_least(actor.role, "reviewer")
            base = int(current["version"]) if current is not None else 0
            t = self._t["changes"]
            inserted = conn.execute(sa.insert(t).values(
                facility_id=facility_id, version=base + 1, base_version=base, action=action,
                before=json.dumps(self._state(current), ensure_ascii=False)
                if current is not None else None,
                after=json.dumps(after, ensure_ascii=False), user=actor.name, time=_now(),
                reason=reason, source=source,
                review_state="applied" if apply_now else "proposed",
            )).inserted_primary_key
            assert inserted is not None
            change_id = int(inserted[0])
            if apply_now:
                revision = self._apply(conn, current, after, base + 1)
                conn.execute(sa.update(t).where(t.c.change_id == change_id)
                             .values(revision=revision))
            return self._change(conn, int(change_id))

    def _check_change(self, conn: sa.Connection, current: Mapping[Any, Any] | None,
                      after: Mapping[Any, Any]) -> None:
        # A new row sorts after every row ever stored (AUTOINCREMENT fids only grow; the
        # largest 32-bit value, as PostgreSQL's serial fid is one).
        fid = int(current["fid"]) if current is not None else 2**31 - 1
        row = None if after["retired"] else {c: after[c] for c in self._columns}
        self._loader_check(conn, {fid: row})

    def _apply(self, conn: sa.Connection, current: Mapping[Any, Any] | None,
               after: Mapping[Any, Any], version: int) -> int:
        """Write the new state of one facility and bump the revision; return the revision."""
        revision = int(self._meta(conn)["revision"]) + 1
        t = self._t["facilities"]
        values = {c: after[c] for c in self._columns}
        values.update(version=version, retired=int(bool(after["retired"])),
                      retired_reason=after["retired_reason"], revision=revision,
                      geom=self._point(float(after["lon"]), float(after["lat"])))
        if current is None:
            conn.execute(sa.insert(t).values(**values))
        else:
            conn.execute(sa.update(t).where(t.c.fid == current["fid"]).values(**values))
            lines = self._t["facility_source_lines"]
            conn.execute(sa.delete(lines).where(lines.c.fid == current["fid"]))
        self._set_meta(conn, "revision", str(revision))
        if self._pg:
            postgis.notify(conn, revision)
        else:
            gpkg.touch(conn, ["facilities"])
        return revision

    def _point(self, lon: float, lat: float) -> Any:
        """The geometry column's value for a WGS84 point, in this engine's form."""
        return postgis.point(lon, lat) if self._pg else gpkg.point_blob(lon, lat)

    def _change(self, conn: sa.Connection, change_id: int) -> Change:
        t = self._t["changes"]
        row = conn.execute(sa.select(t).where(t.c.change_id == change_id)).mappings().first()
        if row is None:
            raise StoreError(f"no change #{change_id}")
        return _to_change(row)

    def review(self, change_id: int, reviewer: str, *, approve: bool, comment: str) -> Change:
        """Approve (apply) or reject a proposed change; ``reviewer`` needs the reviewer role."""
        verb = "approving" if approve else "rejecting"
        with self._lock, self._write() as conn:
            actor = self._actor(conn, reviewer, "reviewer", f"{verb} change #{change_id}")
            change = self._change(conn, change_id)
            if change.review_state != "proposed":
                raise StoreError(f"change #{change_id} is {change.review_state} already")
            t = self._t["changes"]
            done = dict(reviewer=actor.name, review_comment=comment, reviewed_at=_now())
            if not approve:
                conn.execute(sa.update(t).where(t.c.change_id == change_id)
                             .values(review_state="rejected", **done))
                return self._change(conn, change_id)
            current = self._current(conn, change.facility_id)
            version = int(current["version"]) if current is not None else 0
            if version != change.base_version:
                raise ConflictError(
                    f"facility {change.facility_id} changed since change #{change_id} was "
                    f"proposed (now version {version}, proposal made against "
                    f"{change.base_version}): {self._last_change(conn, change.facility_id)}; "
                    "reject it and propose again")
            self._check_change(conn, current, change.after)
            revision = self._apply(conn, current, change.after, change.base_version + 1)
            conn.execute(sa.update(t).where(t.c.change_id == change_id)
                         .values(review_state="approved", revision=revision, **done))
            return self._change(conn, change_id)

    def approve(self, change_id: int, reviewer: str, comment: str = "") -> Change:
        """Approve a proposed change: it is validated again and applied."""
        return self.review(change_id, reviewer, approve=True, comment=comment)

    def reject(self, change_id: int, reviewer: str, comment: str = "") -> Change:
        """Reject a proposed change (it stays in the history, marked rejected)."""
        return self.review(change_id, reviewer, approve=False, comment=comment)

    def revert(self, facility_id: str, to_version: int, user: str, *, reason: str,
               source: str, expect_version: int | None = None) -> Change:
        """Bring a facility back to an earlier version: a new change, never a rewrite."""
        return self.propose(user, "revert", facility_id, {"to_version": to_version},
                            reason=reason, source=source, expect_version=expect_version)

    def history(self, facility_id: str | None = None, *, since: str | date | None = None,
                user: str | None = None, review_state: str | None = None) -> list[Change]:
        """Changes, oldest first, optionally of one facility, since a UTC date/time, by a user.

        ``since`` is an ISO date or date-time (UTC), compared with each change's time.
        """
        t = self._t["changes"]
        query = sa.select(t).order_by(t.c.change_id)
        if facility_id is not None:
            query = query.where(t.c.facility_id == facility_id)
        if since is not None:
            query = query.where(t.c.time >= _since(since))
        if user is not None:
            query = query.where(t.c.user == user)
        if review_state is not None:
            query = query.where(t.c.review_state == review_state)
        with self._read() as conn:
            return [_to_change(r) for r in conn.execute(query).mappings()]

    def queue_state(self) -> tuple[int, int]:
        """(latest change id, pending proposals): moves whenever a change is proposed or
        decided, even when the revision does not (a proposal does not change the approved
        state). Two aggregate reads over indexed columns, for a review queue that polls."""
        t = self._t["changes"]
        with self._read() as conn:
            latest = conn.execute(sa.select(sa.func.max(t.c.change_id))).scalar()
            pending = conn.execute(sa.select(sa.func.count()).select_from(t)
                                   .where(t.c.review_state == "proposed")).scalar_one()
        return int(latest or 0), int(pending)

    def proposals(self) -> list[Change]:
        """The review queue: changes waiting for a reviewer, oldest first."""
        return self.history(review_state="proposed")

    def facility(self, facility_id: str) -> dict[str, Any] | None:
        """The stored row of one facility (active or retired), with its version; None if absent."""
        with self._read() as conn:
            row = self._current(conn, facility_id)
        if row is None:
            return None
        return {**self._state(row), "version": int(row["version"])}

    # ----------------------------------------------------------------- files out
    def dump(self, folder: str | os.PathLike[str]) -> Path:
        """Write a ``data/``-shaped folder of the approved state (staged, then renamed into place).

        Unchanged rows keep their source text byte for byte; changed and added rows are
        written as the csv module writes them. Retired facilities go to
        ``facilities_retired.csv`` (with ``retired_reason``), which ``newtown check`` ignores
        and ``store init --from`` reads back.

        Returns
        -------
        Path
            The folder written.
        """
        target = Path(folder).resolve()
        t, lines = self._t["facilities"], self._t["facility_source_lines"]
        with self._read() as conn:
            meta = self._meta(conn)
            rows = conn.execute(
                sa.select(t, lines.c.line).outerjoin(lines, lines.c.fid == t.c.fid)
                .order_by(t.c.fid)).mappings().all()
            layer_rows = conn.execute(sa.select(self._t["layers"])).all()
        header = list(json.loads(meta["csv_header"]))
        newline, encoding = meta["csv_newline"], meta["csv_encoding"]
        active = [r for r in rows if not r["retired"]]
        outside = [c for c in self._columns if c not in header]
        if any(str(r[c]).strip() for r in active for c in outside):
            header, header_line = list(self._columns), None  # the source header cannot hold it
        else:
            header_line = meta["csv_header_line"]
        parts = [header_line if header_line is not None
                 else csvrows.format_record(header, newline)]
        for r in active:
            if header_line is not None and r["line"] is not None:
                parts.append(r["line"])
            else:
                parts.append(csvrows.format_record([r[c] for c in header], newline))
        target.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
        try:
            for path, content in layer_rows:
                out = stage / path
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(content)
            (stage / FACILITIES_FILE).write_bytes(
                csvrows.encode_text(csvrows.join_records(parts, newline), encoding))
            retired = [r for r in rows if r["retired"]]
            if retired:
                cols = [*self._columns, "retired_reason"]
                text = "".join([csvrows.format_record(cols, "\n"),
                                *(csvrows.format_record([r[c] for c in cols], "\n")
                                  for r in retired)])
                (stage / RETIRED_FILE).write_text(text, encoding="utf-8")
            stage.chmod(0o755)
            _replace_folder(stage, target)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return target

    def backup(self, file: str | os.PathLike[str]) -> Path:
        """A consistent copy of the whole store as a GeoPackage store file, safe while serving.

        SQLite: the online backup. PostgreSQL: every table read in one snapshot and written
        to a new GeoPackage store (``open_store`` opens it; the server's own backups are
        ``pg_dump``'s job, see docs/POSTGIS.md).
        """
        target = Path(file).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        if self._pg:
            Path(tmp).unlink()
            try:
                self._copy_to_geopackage(Path(tmp))
                Path(tmp).replace(target)
            except BaseException:
                for leftover in (tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"):
                    Path(leftover).unlink(missing_ok=True)
                raise
            return target
        try:
            raw = self._engine.raw_connection()
            try:
                source = raw.driver_connection
                assert isinstance(source, sqlite3.Connection)
                copy = sqlite3.connect(tmp)
                try:
                    source.backup(copy)  # one step: a single read transaction, one revision
                    copy.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
                finally:
                    copy.close()
            finally:
                raw.close()
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def _copy_to_geopackage(self, path: Path) -> None:
        """Write every table of this (PostgreSQL) store, read in one snapshot, to a new file."""
        t = self._t["facilities"]
        plain = [c for c in t.columns if c.name != "geom"]
        with self._read() as conn:  # REPEATABLE READ: one snapshot for every table
            facilities = [dict(r) for r in conn.execute(
                sa.select(*plain, sa.func.ST_X(t.c.geom).label("x"),
                          sa.func.ST_Y(t.c.geom).label("y")).order_by(t.c.fid)).mappings()]
            others = {name: [dict(r) for r in conn.execute(sa.select(table)).mappings()]
                      for name, table in self._t.items() if name != "facilities"}
        engine, _, _ = _engine(path)
        md, tables = build_metadata("sqlite")
        lon = np.array([r["x"] for r in facilities], dtype=float)
        lat = np.array([r["y"] for r in facilities], dtype=float)
        try:
            with engine.connect().execution_options(immediate=True) as conn, conn.begin():
                gpkg.create_core(conn)
                md.create_all(conn)
                migrate.stamp_head(conn)  # open_store checked: the source is at the head
                for r in facilities:
                    r["geom"] = gpkg.point_blob(r.pop("x"), r.pop("y"))
                if facilities:
                    conn.execute(sa.insert(tables["facilities"]), facilities)
                for name, rows in others.items():
                    if rows:
                        conn.execute(sa.insert(tables[name]), rows)
                _finish_geopackage(conn, self._columns, lon, lat)
        finally:
            engine.dispose()
        _set_wal(path)


def _frame(rows: Sequence[Sequence[Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows ``(fid, *columns)`` as a frame of text cells indexed by fid (column by column:
    pandas probes every row object when handed rows, which is slow for SQLAlchemy's)."""
    cells = list(zip(*rows, strict=True)) if rows else [()] * (len(columns) + 1)
    data = {c: np.array(v, dtype=object) for c, v in zip(columns, cells[1:], strict=True)}
    return pd.DataFrame(data, index=pd.Index(np.array(cells[0], dtype=np.int64), name="fid"),
                        columns=list(columns), dtype=object)


def _patched_rows(table: pd.DataFrame, rows: list[Any], columns: tuple[str, ...]) -> pd.DataFrame:
    """A new approved table: ``table`` with changed rows ``(fid, *columns, retired)`` applied."""
    if not rows:
        return table
    new = table.copy()
    positions = new.index.get_indexer(pd.Index([int(r[0]) for r in rows]))
    added, dropped = [], []
    for row, at in zip(rows, positions, strict=True):
        retired = bool(row[-1])
        if at >= 0 and not retired:
            new.iloc[int(at)] = pd.Series(list(row[1:-1]), index=new.columns, dtype=object)
        elif at >= 0:
            dropped.append(at)
        elif not retired:
            added.append(row[:-1])
    if dropped:
        new = new.iloc[np.delete(np.arange(len(new)), dropped)]
    if added:
        extra = _frame(added, columns)
        new = pd.concat([new, extra])
        if not new.index.is_monotonic_increasing:  # a retired row brought back by a revert
            new = new.sort_index()
    return new


def _replace_folder(stage: Path, target: Path) -> None:
    """Rename ``stage`` to ``target``; an existing ``target`` is moved aside, then removed."""
    if not target.exists():
        stage.rename(target)
        return
    if not target.is_dir():
        raise StoreError(f"{target} exists and is not a folder")
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    aside.rmdir()
    target.rename(aside)
    try:
        stage.rename(target)
    except BaseException:
        aside.rename(target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _token_hash(token: str) -> str:
    """What the store keeps of a session token (SHA-256: the token is 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _since(value: str | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    text = value.strip()
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise StoreError(f"bad date {value!r}: use YYYY-MM-DD or an ISO date-time (UTC)") \
            from None
    return text


def _to_change(row: Mapping[Any, Any]) -> Change:
    return Change(
        change_id=int(row["change_id"]), facility_id=row["facility_id"],
        version=int(row["version"]), base_version=int(row["base_version"]),
        action=row["action"],
        before=json.loads(row["before"]) if row["before"] is not None else None,
        after=json.loads(row["after"]), user=row["user"], time=row["time"],
        reason=row["reason"], source=row["source"], review_state=row["review_state"],
        reviewer=row["reviewer"], review_comment=row["review_comment"],
        reviewed_at=row["reviewed_at"],
        revision=int(row["revision"]) if row["revision"] is not None else None,
    )


# --------------------------------------------------------------------- open and init
def open_store(url: str | os.PathLike[str], *, check: bool = True) -> Store:
    """Open an existing store (a file path, ``sqlite:///PATH`` or ``postgresql://...``).

    Parameters
    ----------
    url : str or path
        The store's file (a GeoPackage made by :func:`init_store`).
    check : bool
        Refuse a store whose schema is not this program's (one line: run ``newtown store
        upgrade`` for an older one, upgrade the program for a newer one). Only
        :func:`upgrade_store` opens without the check.

    Returns
    -------
    Store
    """
    engine, path, shown = _engine(url)
    if path is not None and not path.is_file():
        engine.dispose()
        raise StoreError(f"{shown}: no store here; create one with `newtown store init {shown}`")
    store = Store(engine, path, shown)
    try:
        with store._read() as conn:
            if store._pg:
                postgis.require_postgis(conn, shown)
            tables = set(sa.inspect(conn).get_table_names())
            if not {"meta", "facilities", "changes"} <= tables:
                raise StoreError(f"{shown}: not a New Town Atlas store (no meta/facilities/"
                                 f"changes tables); create one with `newtown store init {shown}`")
            if check:
                migrate.check(conn, shown)
    except sqlite3.DatabaseError as exc:
        store.close()
        raise StoreError(f"{shown}: cannot open as a store ({exc})") from exc
    except sa.exc.DBAPIError as exc:
        store.close()
        if store._pg:
            raise postgis.describe(shown, exc) from None
        raise StoreError(f"{shown}: cannot open as a store ({exc.orig})") from exc
    except BaseException:
        store.close()
        raise
    return store


def upgrade_store(url: str | os.PathLike[str]) -> tuple[str | None, str]:
    """Bring a store to this program's schema (Alembic migrations, one transaction).

    Also stores the validated facility frame of the current revision, so the first serving
    process does not validate every row.

    Parameters
    ----------
    url : str or path
        The store (file path or PostgreSQL URL).

    Returns
    -------
    (str or None, str)
        The schema revision before and after.
    """
    with open_store(url, check=False) as store:
        try:
            with store._write() as conn:
                before, after = migrate.upgrade(conn, store.url)
        except sa.exc.DBAPIError as exc:
            if store._pg:
                raise postgis.describe(store.url, exc) from None
            raise StoreError(f"{store.url}: the upgrade failed and was rolled back "
                             f"({exc.orig})") from exc
        store.atlas()  # validates in full if needed and stores the frame for the next opening
    return before, after


def init_store(url: str | os.PathLike[str], from_dir: str | os.PathLike[str] | None = None,
               *, review: bool = True) -> Store:
    """Create a store from a ``data/``-shaped folder (default: the bundled data).

    The folder is validated as ``newtown check`` validates it; the new file is written beside
    its final name and renamed into place only when complete.

    Parameters
    ----------
    url : str or path
        The new store's file (``.gpkg`` recommended; must not exist yet), or a PostgreSQL
        URL of a database with PostGIS that holds no store (``postgresql://USER@HOST/DB``;
        the password from PGPASSWORD or ~/.pgpass).
    from_dir : str or path, optional
        A folder laid out like ``data/``.
    review : bool
        True: an editor's change waits for a reviewer. False: every change applies at once.

    Returns
    -------
    Store
        Open on the new file.
    """
    engine, path, shown = _engine(url)
    engine.dispose()
    if path is not None and path.exists():
        raise StoreError(f"{shown} exists already; choose a new path or remove it")
    source = Path(from_dir) if from_dir is not None else bundled_data_dir()
    atlas = load_atlas(source)  # every rule of `newtown check`; raises one DataError
    layout = DataLayout(source)
    csv_text = csvrows.split_records(layout.facilities.read_bytes(), str(layout.facilities))
    columns = facility_columns()
    extra = [h for h in csv_text.header if h not in columns]
    if extra:
        raise DataError(Problem(str(layout.facilities), None, None, extra,
                                "the store keeps only the columns "
                                f"{', '.join(columns)}; move or drop the other column(s)"))
    if len(csv_text.records) != len(atlas.facilities):
        raise StoreError(f"{layout.facilities}: {len(csv_text.records)} records but the loader "
                         f"read {len(atlas.facilities)} rows")
    retired = _read_retired(source / RETIRED_FILE, columns)
    if path is None:  # PostgreSQL: one transaction makes everything or nothing
        try:
            _create(engine, shown, source, csv_text, atlas, retired, review=review)
        except sa.exc.DBAPIError as exc:
            raise postgis.describe(shown, exc) from None
        finally:
            engine.dispose()
        return open_store(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    Path(tmp).unlink()
    try:
        file_engine, _, _ = _engine(Path(tmp))
        try:
            _create(file_engine, str(tmp), source, csv_text, atlas, retired, review=review)
        finally:
            file_engine.dispose()
        _set_wal(Path(tmp))
        Path(tmp).replace(path)
    except BaseException:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"):
            Path(leftover).unlink(missing_ok=True)
        raise
    return open_store(path)


def _read_retired(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    text = csvrows.split_records(path.read_bytes(), str(path))
    wanted = [*columns, "retired_reason"]
    missing = [c for c in ("id", "lon", "lat") if c not in text.header]
    if missing:
        raise DataError(Problem(str(path), None, None, text.header,
                                f"missing column(s) {', '.join(missing)}"))
    rows = []
    for n, (cells, _) in enumerate(text.records, start=1):
        if len(cells) != len(text.header):
            raise DataError(Problem(str(path), n, None, len(cells),
                                    f"row has {len(cells)} cells but the header has "
                                    f"{len(text.header)}"))
        row = dict(zip(text.header, cells, strict=True))
        rows.append({c: row.get(c, "") for c in wanted})
    return rows


def _create(engine: sa.Engine, shown: str, source: Path, csv_text: csvrows.CsvText,
            atlas: Atlas, retired: list[dict[str, str]], *, review: bool) -> None:
    """Make the store's tables and load the folder, in one transaction (either engine)."""
    pg = engine.dialect.name == "postgresql"
    md, tables = build_metadata(engine.dialect.name)
    columns = facility_columns()
    now = _now()
    point = postgis.point if pg else gpkg.point_blob
    with engine.connect().execution_options(immediate=True) as conn, conn.begin():
        if pg:
            postgis.require_postgis(conn, shown)
            if sa.inspect(conn).has_table("meta"):
                raise StoreError(f"{shown}: a store exists already in this database; open it, "
                                 "or use another database")
        else:
            gpkg.create_core(conn)
            # A bigger page cache for this connection only (it is closed after the load):
            # the indexes of a million rows are built in memory, not paged in and out.
            conn.exec_driver_sql(f"PRAGMA cache_size = -{INIT_CACHE_KIB}")
        md.create_all(conn)
        if pg:
            # The stored frame is compressed already (LZ4): kept out of line as it is, not
            # compressed again by pglz (at 1e6 rows 95 -> 69 MB, and every opening paid the
            # server's decompression: about 0.3 s).
            conn.exec_driver_sql(
                "ALTER TABLE atlas_snapshot ALTER COLUMN data SET STORAGE EXTERNAL")
        # The facility indexes are built once after the load (a sort each) rather than
        # grown row by row; same definitions, same transaction (a duplicate id still fails).
        indexes = _drop_indexes(conn, "facilities")
        fac = atlas.facilities
        lon, lat = fac["lon"].to_numpy(dtype=float), fac["lat"].to_numpy(dtype=float)
        names = ["fid", "geom", *columns, "version", "retired", "retired_reason", "revision"]
        if pg:  # COPY of whole columns: the bulk path of PostgreSQL
            postgis.copy_columns(conn, "facilities",
                                 _facility_columns(csv_text, columns,
                                                   postgis.points_ewkb_hex(lon, lat)))
            n = len(csv_text.records)
            postgis.copy_columns(conn, "facility_source_lines", {
                "fid": pa.array(np.arange(1, n + 1, dtype=np.int64)),
                "line": pa.array([line for _, line in csv_text.records], type=pa.string())})
            postgis.reset_sequence(conn, "facilities", "fid")
        else:
            rows = _facility_rows(csv_text, columns, gpkg.point_blobs(lon, lat))
            lines = ((fid, line) for fid, (_, line) in enumerate(csv_text.records, start=1))
            # The driver's executemany with plain tuples, in this transaction: SQLAlchemy's
            # insert of a million dicts spent ~30 s building parameters (1e6 rows: 84 s init).
            quote = conn.dialect.identifier_preparer.quote
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.executemany(f"INSERT INTO facilities ({', '.join(quote(n) for n in names)}) "
                            f"VALUES ({', '.join('?' * len(names))})", rows)
            raw.executemany("INSERT INTO facility_source_lines (fid, line) VALUES (?, ?)",
                            lines)
        for statement in indexes:
            conn.exec_driver_sql(statement)
        taken = set(fac.index)
        for r in retired:
            if r["id"].strip() in taken:
                raise StoreError(f"{RETIRED_FILE}: id {r['id']} is also in "
                                 f"{FACILITIES_FILE}")
            try:
                geom = point(float(r["lon"]), float(r["lat"]))
            except ValueError:
                raise StoreError(f"{RETIRED_FILE}: id {r['id']}: lon/lat are not "
                                 "numbers") from None
            conn.execute(sa.insert(tables["facilities"]).values(
                **{c: r[c] for c in columns}, geom=geom, version=1, retired=1,
                retired_reason=r["retired_reason"], revision=0))
        layer_rows = []
        for file in sorted(source.rglob("*")):
            rel = file.relative_to(source)
            if (not file.is_file() or rel.as_posix() in {FACILITIES_FILE, RETIRED_FILE}
                    or any(p.startswith(".") or p == "__pycache__" for p in rel.parts)):
                continue
            layer_rows.append({"path": rel.as_posix(), "content": file.read_bytes()})
        conn.execute(sa.insert(tables["layers"]), layer_rows)
        meta = {
            "schema_version": str(SCHEMA_VERSION), "revision": "0",
            "review_required": "1" if review else "0", "created": now,
            "imported_from": str(source.resolve()),
            "csv_header": json.dumps(csv_text.header, ensure_ascii=False),
            "csv_header_line": csv_text.header_line, "csv_encoding": csv_text.encoding,
            "csv_newline": csv_text.newline,
        }
        conn.execute(sa.insert(tables["meta"]),
                     [{"key": k, "value": v} for k, v in meta.items()])
        migrate.stamp_head(conn)
        # The rows were just validated by load_atlas: keep the result for the first opening.
        conn.execute(sa.insert(tables["atlas_snapshot"]).values(
            key=SNAPSHOT_KEY, revision=0, fingerprint=snapshot.fingerprint(columns),
            data=snapshot.encode(fac, np.arange(1, len(fac) + 1, dtype=np.int64))))
        if pg:
            postgis.create_gis_tables(conn, source)
            _current_view(conn, columns)
            postgis.comment_view(conn, "facilities_current",
                                 "在用设施 (已批准, 未撤销) / facilities in service: approved, "
                                 "not retired")
        else:
            _finish_geopackage(conn, columns, lon, lat)


def _drop_indexes(conn: sa.Connection, table: str) -> list[str]:
    """Drop the secondary indexes of ``table`` (not its primary key); their CREATE statements,
    exactly as the database reports them, to run again once the table is loaded."""
    if conn.dialect.name == "postgresql":
        found = conn.exec_driver_sql(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = "
            "current_schema() AND i.tablename = %(t)s AND i.indexname NOT IN (SELECT conname "
            "FROM pg_constraint WHERE conrelid = %(t)s::regclass)", {"t": table}).all()
    else:
        found = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL", (table,)).all()
    quote = conn.dialect.identifier_preparer.quote
    for name, _ in found:
        conn.exec_driver_sql(f"DROP INDEX {quote(name)}")
    return [str(statement) for _, statement in found]


def _facility_columns(csv_text: csvrows.CsvText, columns: tuple[str, ...],
                      geoms: pa.Array) -> dict[str, pa.Array]:
    """The new store's facility rows as Arrow columns (``fid, geom, *columns, version,
    retired, retired_reason, revision``); a column the file lacks is empty."""
    header, n = csv_text.header, len(csv_text.records)
    for fid, (cells, _) in enumerate(csv_text.records, start=1):
        if len(cells) != len(header):
            raise StoreError(f"{FACILITIES_FILE}: row {fid} has {len(cells)} cells but the "
                             f"header has {len(header)}")
    if len(geoms) != n:
        raise StoreError(f"{FACILITIES_FILE}: {n} records but {len(geoms)} points")
    where = {name: at for at, name in enumerate(header)}  # a repeated name: its last cell
    by_column = list(zip(*(cells for cells, _ in csv_text.records), strict=True)) if n else []
    empty = pa.array([""] * n, type=pa.string())
    out: dict[str, pa.Array] = {"fid": pa.array(np.arange(1, n + 1, dtype=np.int64)),
                                "geom": geoms}
    for column in columns:
        at = where.get(column)
        out[column] = pa.array(by_column[at], type=pa.string()) if at is not None and n \
            else empty
    out.update(version=pa.array(np.ones(n, dtype=np.int64)),
               retired=pa.array(np.zeros(n, dtype=np.int64)), retired_reason=empty,
               revision=pa.array(np.zeros(n, dtype=np.int64)))
    return out


def _facility_rows(csv_text: csvrows.CsvText, columns: tuple[str, ...],
                   geoms: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
    """The new store's facility rows ``(fid, geom, *columns, version, retired,
    retired_reason, revision)`` from the file's records (a column the file lacks is empty)."""
    header = csv_text.header
    where = {name: at for at, name in enumerate(header)}  # a repeated name: its last cell
    # A column the file lacks reads the "" appended after the row's cells; one itemgetter
    # picks every cell in C (no Python step per cell: 2e7 of them at 1e6 rows).
    picks = [where.get(c, len(header)) for c in columns]
    pad = [""] if len(header) in picks else []
    pick = operator.itemgetter(*picks)
    if len(geoms) != len(csv_text.records):
        raise StoreError(f"{FACILITIES_FILE}: {len(csv_text.records)} records but "
                         f"{len(geoms)} points")
    for fid, ((cells, _), geom) in enumerate(zip(csv_text.records, geoms, strict=True),
                                             start=1):
        if len(cells) != len(header):
            raise StoreError(f"{FACILITIES_FILE}: row {fid} has {len(cells)} cells but the "
                             f"header has {len(header)}")
        values = pick(cells + pad if pad else cells)
        yield (fid, geom, *(values if len(picks) > 1 else (values,)), 1, 0, "", 0)


def _current_view(conn: sa.Connection, columns: tuple[str, ...]) -> None:
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(
        "CREATE VIEW facilities_current AS SELECT fid, geom, "
        + ", ".join(quote(c) for c in columns)
        + ", version FROM facilities WHERE retired = 0")


def _finish_geopackage(conn: sa.Connection, columns: tuple[str, ...], lon: np.ndarray,
                       lat: np.ndarray) -> None:
    """The view of facilities in service and the GeoPackage layer registrations."""
    gpkg.register_features(conn, "facilities", "geom",
                           "Facilities: approved state (retired rows have retired = 1)",
                           lon, lat)
    _current_view(conn, columns)
    gpkg.register_features(conn, "facilities_current", "geom",
                           "Facilities in service (not retired)", lon, lat)
    gpkg.register_attributes(conn, "changes", "History of every change")


def _set_wal(path: Path) -> None:
    """WAL: readers never wait for the writer, and a backup runs beside a writer."""
    raw = sqlite3.connect(path)
    try:
        raw.execute("PRAGMA journal_mode = WAL")
    finally:
        raw.close()
