"""The store on PostgreSQL + PostGIS: connecting, clear errors, the write lock, the GIS tables."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from geoalchemy2 import Geometry

from geo._errors import StoreError

#: The channel a committed revision is announced on (``LISTEN newtown_revision``).
CHANNEL = "newtown_revision"
#: Advisory lock every writer holds for its transaction: writers queue, as SQLite's write
#: lock makes them (``BEGIN IMMEDIATE``), so a version check and its write see one state.
WRITE_LOCK_KEY = 0x4E54_4131  # 'NTA1'
SRID = 4326
#: The boundary files copied into typed PostGIS tables for GIS clients (read-only copies:
#: the store's own boundaries stay the files in ``layers``, byte for byte).
GIS_LAYERS = {
    "towns": "boundaries/towns.geojson",
    "districts": "boundaries/districts.geojson",
    "corridors": "boundaries/corridors.geojson",
    "corridor_lines": "boundaries/corridor_lines.geojson",
    "zones": "boundaries/zones.geojson",
    "city": "boundaries/shanghai.geojson",
    "parks": "boundaries/parks.geojson",
}
_HELP = "see docs/POSTGIS.md"


def is_postgres(url: str) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``, ``postgresql+psycopg://``) URL."""
    return url.startswith(("postgresql:", "postgresql+", "postgres:"))


def shown(url: sa.engine.URL) -> str:
    """The URL as it may be shown: without any password, without the driver name."""
    bare = sa.engine.URL.create("postgresql", url.username, None, url.host, url.port,
                                url.database, url.query)
    return bare.render_as_string(hide_password=True)


def make_engine(text: str) -> tuple[sa.Engine, str]:
    """(engine, URL safe to show) for a PostgreSQL URL; the password comes from libpq
    (``PGPASSWORD`` or ``~/.pgpass``) when the URL has none."""
    try:
        url = sa.engine.make_url(text)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"cannot read the store URL ({exc})") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    safe = shown(url)
    if url.drivername != "postgresql+psycopg":
        raise StoreError(f"{safe}: use postgresql://USER@HOST:PORT/DATABASE (driver psycopg 3)")
    if not url.database:
        raise StoreError(f"{safe}: the URL names no database; add /DATABASE")
    engine = sa.create_engine(
        url, isolation_level="REPEATABLE READ", pool_pre_ping=True,
        connect_args={"connect_timeout": 10, "application_name": "newtown-atlas"})

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # Readers: one snapshot per transaction (REPEATABLE READ), like a SQLite read.
        # Writers: READ COMMITTED after taking the write lock, so they see the last commit.
        if conn.get_execution_options().get("immediate", False):
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    return engine, safe


def describe(safe: str, exc: BaseException) -> StoreError:
    """One line for a database error met while opening: what failed and what to do."""
    orig = getattr(exc, "orig", None) or exc
    detail = " ".join(str(orig).split())
    detail = re.sub(r"^connection failed: ", "", detail)
    low = detail.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        todo = "put the password in PGPASSWORD or ~/.pgpass (never in a command line)"
    elif "does not exist" in low and "database" in low:
        todo = "create it: createdb -O ROLE DATABASE (as the database owner)"
    elif "permission denied" in low:
        todo = "the role needs to own the database or its schema"
    elif any(s in low for s in ("connection refused", "could not connect", "timeout",
                                "could not translate", "name or service not known",
                                "no route", "server closed")):
        todo = "check that the server runs and the host and port in the URL"
    else:
        todo = _HELP
    return StoreError(f"{safe}: cannot use the database ({detail[:300]}); {todo}")


def require_postgis(conn: sa.Connection, safe: str) -> None:
    """Refuse a database without the PostGIS extension, saying who must add it."""
    found = conn.exec_driver_sql(
        "SELECT extversion FROM pg_extension WHERE extname = 'postgis'").scalar()
    if found is None:
        raise StoreError(f"{safe}: PostGIS is not installed in this database; a superuser "
                         "must run CREATE EXTENSION postgis; in it (" + _HELP + ")")


def geometry(kind: str = "POINT") -> Geometry:
    """A typed PostGIS geometry column type in EPSG:4326 (GIST index made with the table)."""
    return Geometry(geometry_type=kind, srid=SRID, spatial_index=True)


def point(lon: float, lat: float) -> str:
    """A WGS84 point as EWKT, the value the geometry column takes (PostGIS parses it)."""
    return f"SRID={SRID};POINT({float(lon)!r} {float(lat)!r})"


def points(lon: Iterable[float], lat: Iterable[float]) -> list[str]:
    """Many WGS84 points as EWKT."""
    return [point(x, y) for x, y in zip(lon, lat, strict=True)]


def notify(conn: sa.Connection, revision: int) -> None:
    """Announce a new revision to listeners; PostgreSQL delivers it at commit (or never)."""
    conn.exec_driver_sql("SELECT pg_notify(%s, %s)", (CHANNEL, str(revision)))


class RevisionListener:
    """A connection of its own that LISTENs on :data:`CHANNEL` (autocommit, opened once).

    Notifications sent while nobody waits queue on the connection, so a caller who checks
    the revision and then waits never misses one sent in between.
    """

    def __init__(self, engine: sa.Engine):
        url = engine.url.set(drivername="postgresql")
        self._conn = psycopg.connect(url.render_as_string(hide_password=False),
                                     autocommit=True, connect_timeout=10,
                                     application_name="newtown-atlas listener")
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a notification; True if one came (or had come)."""
        for _ in self._conn.notifies(timeout=timeout_s, stop_after=1):
            return True
        return False

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def copy_rows(conn: sa.Connection, table: str, columns: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> None:
    """Bulk load rows with COPY in the connection's transaction (text cells, EWKT geometry)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


#: One WGS84 point as EWKB (little-endian, Point with the SRID flag, SRID, x, y): 25 bytes.
_EWKB_POINT = np.dtype([("order", "u1"), ("kind", "<u4"), ("srid", "<u4"), ("x", "<f8"),
                        ("y", "<f8")])
_EWKB_POINT_SRID = 0x2000_0001
#: Bytes of CSV handed to COPY per write.
_COPY_CHUNK = 8 << 20


def points_ewkb_hex(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
    """WGS84 points as hex EWKB text (PostGIS reads it as a geometry; the doubles exactly)."""
    records = np.empty(len(lon), dtype=_EWKB_POINT)
    records["order"], records["kind"], records["srid"] = 1, _EWKB_POINT_SRID, SRID
    records["x"], records["y"] = lon, lat
    text = records.tobytes().hex().upper().encode("ascii")
    width = 2 * _EWKB_POINT.itemsize
    return pa.array(np.frombuffer(text, dtype=f"S{width}"), type=pa.binary()).cast(pa.string())


def copy_columns(conn: sa.Connection, table: str, columns: Mapping[str, pa.Array]) -> None:
    """Bulk load whole columns with COPY in the connection's transaction.

    Arrow writes the CSV in C++ (every value quoted, so an empty text stays an empty text,
    never NULL) and it goes to the server in large pieces: no Python step per row. A text
    holding a backslash-dot (which CSV COPY could take for its end-of-data line) is loaded
    row by row through :func:`copy_rows` instead.
    """
    data = pa.table(dict(columns))
    for column in data.columns:
        if pa.types.is_string(column.type) and pc.any(
                pc.match_substring(column, "\\.")).as_py():
            copy_rows(conn, table, data.column_names, zip(*(c.to_pylist() for c in data.columns),
                                                          strict=True))
            return
    sink = pa.BufferOutputStream()
    pacsv.write_csv(data, sink, pacsv.WriteOptions(include_header=False,
                                                   quoting_style="all_valid"))
    payload = memoryview(sink.getvalue())
    raw = conn.connection.driver_connection
    assert raw is not None
    names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in data.column_names)
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)") as copy:
        for start in range(0, len(payload), _COPY_CHUNK):
            copy.write(payload[start:start + _COPY_CHUNK])


def reset_sequence(conn: sa.Connection, table: str, column: str) -> None:
    """Move a serial column's sequence past the largest value loaded with explicit keys."""
    conn.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
        f"COALESCE((SELECT max({column}) FROM {table}), 0) + 1, false)")


def create_gis_tables(conn: sa.Connection, folder: Path) -> list[str]:
    """Typed PostGIS copies of the boundary layers present in ``folder`` (a data folder).

    Each gets a ``gid`` primary key, its attributes as text or numbers, a
    ``geometry(Geometry, 4326)`` column ``geom`` with a GIST index, and table comments.
    Returns the tables made.
    """
    made = []
    for name, rel in GIS_LAYERS.items():
        path = folder / rel
        if not path.is_file():
            continue
        frame = gpd.read_file(path)
        if frame.crs is not None and frame.crs.to_epsg() != SRID:
            frame = frame.to_crs(SRID)
        md = sa.MetaData()
        attrs = [c for c in frame.columns if c != frame.geometry.name]
        columns = []
        for c in attrs:
            kind: Any = sa.Text
            dtype = frame[c].dtype
            if pd.api.types.is_bool_dtype(dtype):
                kind = sa.Boolean
            elif pd.api.types.is_integer_dtype(dtype):
                kind = sa.BigInteger
            elif pd.api.types.is_float_dtype(dtype):
                kind = sa.Float
            columns.append(sa.Column(c, kind, comment=BOUNDARY_COMMENTS.get(c)))
        table = sa.Table(
            name, md,
            sa.Column("gid", sa.Integer, primary_key=True, autoincrement=False,
                      comment="要素编号 / feature number (file order)"),
            *columns,
            sa.Column("geom", geometry("GEOMETRY"), nullable=False,
                      comment="边界几何 (WGS84) / boundary geometry (EPSG:4326)"),
            comment=f"{LAYER_COMMENTS.get(name, name)} (copy of {rel}; edit the files)")
        md.create_all(conn)
        rows = []
        for gid, (_, rec) in enumerate(frame.iterrows(), start=1):
            row: dict[str, Any] = {"gid": gid, "geom": f"SRID={SRID};{rec.geometry.wkt}"}
            for c in attrs:
                value = rec[c]
                if isinstance(value, np.generic):
                    value = value.item()
                row[c] = None if value is None or pd.isna(value) else value
            rows.append(row)
        if rows:
            conn.execute(sa.insert(table), rows)
        made.append(name)
    return made


def comment_view(conn: sa.Connection, view: str, text: str) -> None:
    """A comment on a view (SQLAlchemy comments only tables and columns)."""
    quoted = text.replace("'", "''")
    conn.exec_driver_sql(f"COMMENT ON VIEW {view} IS '{quoted}'")


#: Column comments of the store's tables, Chinese / English.
FACILITY_COMMENTS = {
    "fid": "内部行号 / internal row number (primary key, file order)",
    "geom": "位置 (WGS84 点) / location (EPSG:4326 point, from lon/lat)",
    "id": "设施编号 / facility id",
    "name_zh": "中文名称 / Chinese name",
    "name_en": "英文名称 / English name",
    "category": "类别 / category (catalog key)",
    "industries": "产业 (分号分隔) / industries (';'-separated catalog keys)",
    "town": "所属新城 / new town",
    "district": "所在区 / district",
    "address": "地址 / address",
    "lon": "经度 (WGS84, 原文) / longitude (WGS84, as written)",
    "lat": "纬度 (WGS84, 原文) / latitude (WGS84, as written)",
    "coord_source": "坐标来源 / where the coordinates come from",
    "coord_precision_m": "坐标精度 (米) / coordinate precision (m)",
    "placement": "定位方式 / placement (site, area, town or district placeholder)",
    "parent_id": "上级设施编号 / parent facility id",
    "level": "级别 / level",
    "status": "状态 / status",
    "year": "年份 / year",
    "year_event": "年份事件 / what the year marks",
    "year_source": "年份来源 / source of the year",
    "source": "资料来源 / source citation",
    "version": "版本号 (每次修改加一) / version (one more per applied change)",
    "retired": "已撤销 (1 是, 0 否) / retired (1 yes, 0 no); retired rows are kept",
    "retired_reason": "撤销原因 / why it was retired",
    "revision": "库修订号 (最后修改) / store revision of its last change",
}
CHANGE_COMMENTS = {
    "change_id": "修改编号 / change number",
    "facility_id": "设施编号 / facility id",
    "version": "修改后的版本 / the facility's version once applied",
    "base_version": "基于的版本 / the version the change was made against",
    "action": "操作 / action (add, set, move, retire, revert)",
    "before": "修改前 (JSON) / state before (JSON)",
    "after": "修改后 (JSON) / state after (JSON)",
    "user": "修改人 / who made it",
    "time": "时间 (UTC) / when (UTC, ISO 8601)",
    "reason": "原因 / reason",
    "source": "依据 / source citation",
    "review_state": "审核状态 / review state (proposed, approved, rejected, applied)",
    "reviewer": "审核人 / reviewer",
    "review_comment": "审核意见 / reviewer's comment",
    "reviewed_at": "审核时间 (UTC) / when reviewed (UTC)",
    "revision": "产生的库修订号 / store revision it produced",
}
BOUNDARY_COMMENTS = {
    "key": "代码 / key", "code": "行政区划代码 / division code",
    "name_zh": "中文名称 / Chinese name", "name_en": "英文名称 / English name",
    "district": "所在区 / district", "town": "所属新城 / new town",
    "area_km2": "面积 (平方公里) / area (km²)", "source": "资料来源 / source",
    "boundary_quality": "边界质量 / boundary quality", "precision_m": "精度 (米) / precision (m)",
    "datum_origin": "原始坐标系 / datum of the source", "note": "备注 / note",
}
LAYER_COMMENTS = {
    "towns": "五个新城 / the five new towns",
    "districts": "上海各区 / Shanghai's districts",
    "corridors": "走廊 / corridors",
    "corridor_lines": "走廊中线 / corridor centre lines",
    "zones": "片区 / zones",
    "city": "上海市界 / Shanghai outline",
    "parks": "园区 / parks",
}
