"""A throwaway PostgreSQL + PostGIS cluster for the test run (real server, no mocks).

``ThrowawayCluster.start()`` runs ``initdb`` into a new temporary folder, starts the server
on a free 127.0.0.1 port with its socket in that folder, creates the PostGIS extension as
the cluster's superuser and hands the database to a least-privilege login role (owner of
its database, no superuser, cannot create databases, roles or extensions); ``stop()`` stops
the server and deletes the folder. As root the server runs as the ``postgres`` system user
(postgres refuses to run as root, so every server command goes through ``runuser``); as
any other user it runs as that user.

The app role's password reaches libpq through a temporary ``.pgpass`` file (``PGPASSFILE``),
never through a URL or a command line, as the docs tell users to do.

Also a command for people: ``scripts/pg_test_cluster start|stop`` (see its --help).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "postgres"
APP_ROLE = "newtown_app"
DATABASE = "newtown_test"
#: A second database of the app role where PostGIS is NOT installed (for the error test).
NO_POSTGIS_DATABASE = "newtown_plain"
#: Set to 1 (scripts/test does) to make a missing PostgreSQL/PostGIS fail the tests
#: instead of skipping them.
REQUIRE_ENV = "NEWTOWN_REQUIRE_PG"


class ClusterUnavailableError(RuntimeError):
    """PostgreSQL or PostGIS cannot be started here; the message says why and what to do."""


def _bin_dir() -> Path:
    """The newest installed PostgreSQL server's bin folder (Debian layout, then PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ClusterUnavailableError(
        "PostgreSQL server programs (initdb) are not installed; run scripts/setup --test "
        "as root (apt-get install postgresql postgresql-15-postgis-3 gdal-bin)")


def _postgis_installed(bin_dir: Path) -> bool:
    share = subprocess.run([str(bin_dir / "pg_config"), "--sharedir"], capture_output=True,
                           text=True, check=False).stdout.strip()
    candidates = [Path(share)] if share else []
    version = bin_dir.parent.name
    candidates.append(Path("/usr/share/postgresql") / version)
    return any((c / "extension" / "postgis.control").exists() for c in candidates)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ThrowawayCluster:
    """One temporary cluster: folder, port, app role and its password (see module doc)."""

    folder: Path = field(default_factory=Path)
    port: int = 0
    password: str = ""
    bin_dir: Path = field(default_factory=Path)
    run_as: str | None = None  # system user the server runs as when we are root
    pgpass: Path = field(default_factory=Path)
    _started: bool = False

    # ---- helpers -------------------------------------------------------------------
    def _cmd(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def _run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(self._cmd(*args), input=stdin, capture_output=True, text=True,
                              check=False, cwd=self.folder)
        if done.returncode != 0:
            raise ClusterUnavailableError(
                f"{Path(args[0]).name} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-800:]}")
        return done.stdout

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the cluster's superuser over the folder's Unix socket."""
        return self._run(str(self.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                         "-h", str(self.folder), "-p", str(self.port), "-U", SUPERUSER,
                         "-d", database, "-At", stdin=sql)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    # ---- public ----------------------------------------------------------------------
    def url(self, database: str = DATABASE, driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL of the app role (no password: libpq reads it from PGPASSFILE)."""
        return f"{driver}://{APP_ROLE}@127.0.0.1:{self.port}/{database}"

    def env(self) -> dict[str, str]:
        """Environment that lets libpq (psycopg, ogrinfo, psql) find the app's password."""
        return {"PGPASSFILE": str(self.pgpass)}

    def gdal_source(self, database: str = DATABASE) -> str:
        """The ``PG:`` connection string GDAL/QGIS use (password from PGPASSFILE)."""
        return f"PG:host=127.0.0.1 port={self.port} dbname={database} user={APP_ROLE}"

    def start(self) -> ThrowawayCluster:
        """Create, start and provision the cluster (raises ClusterUnavailableError if it cannot)."""
        self.bin_dir = _bin_dir()
        if not _postgis_installed(self.bin_dir):
            raise ClusterUnavailableError(
                "PostGIS is not installed for PostgreSQL "
                f"{self.bin_dir.parent.name}; run scripts/setup --test as root "
                "(apt-get install postgresql-15-postgis-3)")
        self.run_as = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SUPERUSER)
            except KeyError as exc:
                raise ClusterUnavailableError("running as root but there is no 'postgres' system "
                                         "user to run the server as") from exc
            if shutil.which("runuser") is None:
                raise ClusterUnavailableError("running as root but 'runuser' is missing")
            self.run_as = SUPERUSER
        self.folder = Path(tempfile.mkdtemp(prefix="newtown-pg-"))
        self.folder.chmod(0o700)
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        atexit.register(self.stop)
        self.port = _free_port()
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                  "--encoding=UTF8", "--locale=C.UTF-8", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--no-sync")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=60 -c shared_buffers=64MB")
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.folder / "server.log"), "-o", options, "-w", "-t", "60", "start")
        self._started = True
        self.password = secrets.token_urlsafe(18)
        # Least privilege: a login role that owns its databases and nothing else.
        self.psql(
            f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            f"PASSWORD '{self.password}';\n"
            f"CREATE DATABASE {DATABASE} OWNER {APP_ROLE} ENCODING 'UTF8' TEMPLATE template0;\n"
            f"CREATE DATABASE {NO_POSTGIS_DATABASE} OWNER {APP_ROLE} ENCODING 'UTF8' "
            "TEMPLATE template0;\n")
        # PostGIS needs a superuser to install; the app role then uses it.
        self.psql("CREATE EXTENSION postgis;\n", database=DATABASE)
        self.pgpass = self.folder / "pgpass"
        # Readable by us (libpq in this process and its children) only.
        self.pgpass.write_text(f"127.0.0.1:{self.port}:*:{APP_ROLE}:{self.password}\n",
                               encoding="utf-8")
        self.pgpass.chmod(0o600)
        return self

    def stop(self) -> None:
        """Stop the server (fast) and delete the cluster's folder; safe to call twice."""
        if self._started:
            with contextlib.suppress(ClusterUnavailableError):
                self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m",
                          "immediate", "-w", "stop")
            self._started = False
        if self.folder != Path() and self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)


class Databases:
    """Databases of the app role on a running cluster, made by the superuser for each test.

    ``create()`` copies a template: by default an empty database with PostGIS (what a DBA
    hands the app), or any database such as a store made once per session (PostgreSQL
    copies it as files, much faster than loading it again).
    """

    EMPTY = "store_empty"

    def __init__(self, cluster: ThrowawayCluster):
        self.cluster = cluster
        self._count = 0
        cluster.psql(f"CREATE DATABASE {self.EMPTY} OWNER {APP_ROLE} TEMPLATE template0;\n")
        cluster.psql("CREATE EXTENSION postgis;\n", database=self.EMPTY)

    def create(self, name: str | None = None, *, template: str | None = None,
               replace: bool = False) -> str:
        """Make database ``name`` (a new name if None) from ``template``; return its name."""
        if name is None:
            self._count += 1
            name = f"store_{self._count}"
        if replace:
            self.drop(name)
        self.cluster.psql(f"CREATE DATABASE {name} OWNER {APP_ROLE} "
                          f"TEMPLATE {template or self.EMPTY};\n")
        return name

    def drop(self, name: str) -> None:
        """Drop a database, ending its connections first."""
        self.cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);\n")

    def url(self, name: str) -> str:
        """The app role's URL of database ``name``."""
        return self.cluster.url(name)


def required() -> bool:
    """Whether a missing database must fail the tests (scripts/test and CI) rather than skip."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/pg_test_cluster",
        description="Start a throwaway PostgreSQL+PostGIS cluster in a temp folder and print "
                    "its URL and PGPASSFILE as JSON; stop it with 'stop FOLDER'.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("start", help="start a cluster (it keeps running until 'stop')")
    stop = sub.add_parser("stop", help="stop the cluster in FOLDER and delete the folder")
    stop.add_argument("folder")
    args = parser.parse_args(argv)
    if args.command == "start":
        cluster = ThrowawayCluster()
        try:
            cluster.start()
        except ClusterUnavailableError as exc:
            cluster.stop()
            print(f"pg_test_cluster: {exc}", file=sys.stderr)
            return 1
        atexit.unregister(cluster.stop)
        print(json.dumps({"folder": str(cluster.folder), "port": cluster.port,
                          "url": cluster.url(), "PGPASSFILE": str(cluster.pgpass),
                          "gdal": cluster.gdal_source()}, indent=2))
        return 0
    folder = Path(args.folder)
    if not (folder / "data" / "PG_VERSION").exists():
        print(f"pg_test_cluster: {folder} is not a cluster folder made by 'start'",
              file=sys.stderr)
        return 1
    cluster = ThrowawayCluster(folder=folder, bin_dir=_bin_dir(), _started=True,
                               run_as=SUPERUSER if os.geteuid() == 0 else None)
    cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
