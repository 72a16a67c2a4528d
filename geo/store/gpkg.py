"""GeoPackage plumbing: the core tables, layer registration and point geometry blobs."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import cast

import numpy as np
import sqlalchemy as sa
from pyproj import CRS

from geo._errors import InputError

#: ``PRAGMA application_id`` of a GeoPackage ('GPKG') and its ``user_version`` (1.4.0).
APPLICATION_ID = 0x47504B47
USER_VERSION = 10400
SRS_ID = 4326
# 'GP', version 0, flags 0b00000001 (little-endian, no envelope, not empty), srs_id.
_HEADER = struct.pack("<2sBBi", b"GP", 0, 1, SRS_ID)
_POINT_WKB = struct.Struct("<BIdd")  # little-endian, type 1 (Point), x, y

_CORE_TABLES = (
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
        description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
        identifier TEXT UNIQUE, description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
)


def point_blob(lon: float, lat: float) -> bytes:
    """A GeoPackage geometry blob for one WGS84 point (header without envelope + WKB)."""
    return _HEADER + _POINT_WKB.pack(1, 1, lon, lat)


#: One point blob as a packed record (header, byte order, WKB type, x, y): 29 bytes.
_BLOB_RECORD = np.dtype([("header", "S8"), ("order", "u1"), ("kind", "<u4"), ("x", "<f8"),
                         ("y", "<f8")])


def point_blobs(lon: Iterable[float], lat: Iterable[float]) -> list[bytes]:
    """GeoPackage geometry blobs for many WGS84 points (the bytes :func:`point_blob` makes,
    packed by numpy in one pass rather than one ``struct.pack`` per point)."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:  # numpy would silently broadcast one latitude to every longitude
        raise InputError(f"{len(x)} longitudes but {len(y)} latitudes")
    records = np.empty(len(x), dtype=_BLOB_RECORD)
    records["header"], records["order"], records["kind"] = _HEADER, 1, 1
    records["x"], records["y"] = x, y
    blobs = records.view(np.dtype((np.void, _BLOB_RECORD.itemsize))).tolist()
    return cast(list[bytes], blobs)


def blob_lonlat(blob: bytes) -> tuple[float, float]:
    """The (lon, lat) of a point blob written by :func:`point_blob`."""
    _, _, x, y = _POINT_WKB.unpack_from(blob, len(_HEADER))
    return float(x), float(y)


def create_core(conn: sa.Connection) -> None:
    """Make the database a GeoPackage: application id, core tables, the WGS84 SRS."""
    conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.exec_driver_sql(f"PRAGMA user_version = {USER_VERSION}")
    for statement in _CORE_TABLES:
        conn.exec_driver_sql(statement)
    wkt = CRS.from_epsg(SRS_ID).to_wkt("WKT1_GDAL")
    rows = [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic"),
        ("WGS 84 geodetic", SRS_ID, "EPSG", SRS_ID, wkt, "longitude/latitude, WGS 84"),
    ]
    conn.exec_driver_sql(
        "INSERT OR IGNORE INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, "
        "organization_coordsys_id, definition, description) VALUES (?, ?, ?, ?, ?, ?)", rows)


def register_features(conn: sa.Connection, table: str, geometry_column: str,
                      description: str, lon: np.ndarray, lat: np.ndarray) -> None:
    """Register a point table (or view) as a GeoPackage feature layer in EPSG:4326."""
    extent = ((float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
              if len(lon) else (None, None, None, None))
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, "
        "min_x, min_y, max_x, max_y, srs_id) VALUES (?, 'features', ?, ?, ?, ?, ?, ?, ?)",
        (table, table, description, *extent, SRS_ID))
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO gpkg_geometry_columns (table_name, column_name, "
        "geometry_type_name, srs_id, z, m) VALUES (?, ?, 'POINT', ?, 0, 0)",
        (table, geometry_column, SRS_ID))


def register_attributes(conn: sa.Connection, table: str, description: str) -> None:
    """Register a plain table as a GeoPackage attribute layer (QGIS and GDAL list it)."""
    conn.exec_driver_sql(
        "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description) "
        "VALUES (?, 'attributes', ?, ?)", (table, table, description))


def touch(conn: sa.Connection, tables: Iterable[str]) -> None:
    """Record the time of a change of these layers (``gpkg_contents.last_change``)."""
    for table in tables:
        conn.exec_driver_sql(
            "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
            "WHERE table_name = ?", (table,))
