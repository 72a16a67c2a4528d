"""Point sets too big for one machine's memory: town assignment, grid counts and coverage
counting on Dask.

A city-wide POI layer holds 1e7 points and more. Here the points stay in their file, split
into partitions that Dask workers read and reduce on their own, so only counts travel back:
a few kilobytes per partition, whatever N is. Each partition:

1. reads its rows (CSV byte range, Parquet row groups, or a slice of a vector file read by
   dask-geopandas) and checks lon/lat: blank, non-numeric and out-of-range values are named
   by file, row and field, never dropped silently;
2. converts GCJ-02/BD-09 input to WGS84 when the file is declared so (geo.crs);
3. assigns each point to a new town with ``shapely.contains_xy`` against the prepared town
   polygons in WGS84: the test the Atlas uses for ``in_town``, so the same point gets the
   same town on both paths;
4. projects once to EPSG:4549 metres and counts points per square grid cell, cells anchored
   at multiples of the cell size (as in the dashboard's aggregated view), with
   ``np.bincount`` over one integer per cell;
5. optionally counts the points within reach of selected facilities, with the exact disc test
   of :mod:`geo.coverage` (true circles, radius per facility category or one radius).

Geometry objects are never built for the points: ``contains_xy`` on coordinate arrays is ~7x
faster than a spatial join (docs/PERFORMANCE.md), and building 1e7 shapely Points alone costs more
than the whole assignment. :func:`assign_towns` gives the per-point answer as a lazy
dask-geopandas GeoDataFrame for those who want it, and :func:`write_points` writes it as a
GeoParquet dataset (``newtown analysis points --points-out DIR``).

Schedulers (:func:`dask_client`): ``local`` starts a LocalCluster of worker processes on this
machine (the default), ``threads`` uses Dask's threaded scheduler with no cluster, and any
other value is the address of a running Dask scheduler (``tcp://host:8786``); its workers
must be able to read the input path and import this package.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from dask.base import compute
from dask.delayed import delayed
from numpy.typing import NDArray
from pyproj import CRS, Transformer

from geo._errors import DataError, InputError, Problem
from geo._io import decode_text
from geo.crs import DATUMS, Datum, convert
from geo.settings import GEOGRAPHIC_CRS, METRIC_CRS, SHANGHAI_BBOX

__all__ = [
    "DEFAULT_CELL_M",
    "PointSource",
    "PointsSummary",
    "assign_towns",
    "dask_client",
    "open_points",
    "summarise_points",
    "write_points",
]

FloatArray = NDArray[np.float64]

#: Grid cell size in metres (EPSG:4549) when none is given.
DEFAULT_CELL_M = 1000.0
#: Target size of one CSV partition in bytes (about a million rows of a lean POI file).
DEFAULT_BLOCKSIZE = 32 * 1024 * 1024
#: Rows per partition for vector files read through dask-geopandas.
VECTOR_ROWS_PER_PARTITION = 500_000
#: Problems kept per partition (each is also counted): enough to see the pattern.
MAX_PROBLEMS_PER_PARTITION = 20
#: Problems listed in a DataError or a report.
MAX_PROBLEMS = 200
#: Names tried, in order, when the coordinate columns are not given.
LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
#: Index used for "in no new town" in the per-town arrays.
OUTSIDE = "outside"

SourceKind = Literal["csv", "parquet", "geoparquet", "vector"]
_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".parq", ".geoparquet")
_VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb")


# -- the input ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointSource:
    """A point file split into partitions, with the columns that hold its coordinates.

    ``partitions`` are Dask delayed objects (CSV byte blocks, or pandas/GeoPandas frames),
    in file order so that row numbers can be given back; ``lon``/``lat`` name the columns
    (None for vector files, whose geometry holds the points); ``datum`` says which datum
    lon/lat are in; ``crs`` is the CRS of a vector file's geometry.
    """

    path: Path
    kind: SourceKind
    partitions: tuple[Any, ...]
    lon: str | None
    lat: str | None
    datum: Datum = "wgs84"
    crs: str | None = None
    header: bytes = b""
    encoding: str = "utf-8"
    separator: str = ","

    @property
    def npartitions(self) -> int:
        return len(self.partitions)


def _pick_column(columns: Sequence[str], given: str | None, names: Sequence[str], what: str,
                 file: str) -> str:
    if given is not None:
        if given not in columns:
            raise DataError(Problem(file, None, given, None,
                                    f"no {what} column {given!r}; the columns are "
                                    f"{', '.join(map(str, columns))}"))
        return given
    lowered = {str(c).strip().lower(): str(c) for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    raise DataError(Problem(file, None, None, None,
                            f"no {what} column: expected one of {', '.join(names)} (or name it "
                            f"with --{'lon' if what == 'longitude' else 'lat'}-column); the "
                            f"columns are {', '.join(map(str, columns))}"))


def open_points(
    path: str | os.PathLike[str],
    *,
    lon_column: str | None = None,
    lat_column: str | None = None,
    datum: Datum = "wgs84",
    blocksize: int = DEFAULT_BLOCKSIZE,
) -> PointSource:
    """Open a point file for partitioned reading; nothing but its header is read here.

    CSV (UTF-8 or GB18030) and Parquet hold lon/lat columns (found by name, or given), in
    ``datum``. GeoParquet, GeoPackage, GeoJSON, Shapefile and FlatGeobuf hold point
    geometries in the CRS they declare (``datum`` must then be wgs84: the CRS says it all).
    Raises DataError for a missing, empty or unreadable file or missing columns.
    """
    p = Path(path)
    file = str(p)
    if datum not in DATUMS:
        raise InputError(f"unknown datum {datum!r}; expected one of {', '.join(DATUMS)}")
    if not p.exists():
        raise DataError(Problem(file, None, None, None, "file not found"))
    suffix = "".join(p.suffixes[-1:]).lower()
    if p.is_dir() or suffix in _PARQUET_SUFFIXES:
        return _open_parquet(p, lon_column, lat_column, datum)
    if suffix in _CSV_SUFFIXES:
        return _open_csv(p, lon_column, lat_column, datum, blocksize)
    if suffix in _VECTOR_SUFFIXES:
        if datum != "wgs84":
            raise InputError("--datum applies to lon/lat columns (CSV, Parquet); a vector file "
                             "declares its CRS itself")
        return _open_vector(p)
    raise DataError(Problem(file, None, None, suffix or p.name,
                            "unsupported point file: expected CSV, Parquet/GeoParquet, "
                            "GeoPackage, GeoJSON, Shapefile or FlatGeobuf"))


def _open_csv(p: Path, lon: str | None, lat: str | None, datum: Datum,
              blocksize: int) -> PointSource:
    from dask.bytes.core import read_bytes

    file = str(p)
    if p.stat().st_size == 0:
        raise DataError(Problem(file, None, None, None,
                                "file is empty; expected a header row with lon/lat columns"))
    with p.open("rb") as handle:
        first = handle.readline()
    try:
        header_text, encoding = decode_text(first)
    except UnicodeDecodeError as exc:
        raise DataError(Problem(file, 1, None, None,
                                "header is neither UTF-8 nor GB18030 text")) from exc
    separator = "\t" if p.suffix.lower() == ".tsv" or (
        "\t" in header_text and "," not in header_text) else ","
    columns = [c.strip().strip('"') for c in header_text.rstrip("\r\n").split(separator)]
    lon = _pick_column(columns, lon, LON_NAMES, "longitude", file)
    lat = _pick_column(columns, lat, LAT_NAMES, "latitude", file)
    _, blocks = read_bytes(  # type: ignore[no-untyped-call]  # dask leaves it unannotated
        file, delimiter=b"\n", blocksize=blocksize, sample=False)
    parts = tuple(blocks[0]) if blocks else ()
    pandas_encoding = {"utf-8 with BOM": "utf-8-sig", "utf-8": "utf-8"}.get(encoding, encoding)
    return PointSource(p, "csv", parts, lon, lat, datum, header=first,
                       encoding=pandas_encoding, separator=separator)


def _open_parquet(p: Path, lon: str | None, lat: str | None, datum: Datum) -> PointSource:
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    file = str(p)
    try:
        schema = pq.read_schema(p) if p.is_file() else pq.ParquetDataset(p).schema
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise DataError(Problem(file, None, None, None,
                                f"cannot read as Parquet: {exc}")) from exc
    meta = schema.metadata or {}
    if b"geo" in meta and lon is None and lat is None:
        import dask_geopandas

        frame = dask_geopandas.read_parquet(file)
        crs = frame.crs.to_string() if frame.crs is not None else None
        if datum != "wgs84":
            raise InputError("--datum applies to lon/lat columns; a GeoParquet file declares "
                             "its CRS itself")
        return PointSource(p, "geoparquet", tuple(frame.to_delayed()), None, None, crs=crs)
    columns = list(schema.names)
    lon = _pick_column(columns, lon, LON_NAMES, "longitude", file)
    lat = _pick_column(columns, lat, LAT_NAMES, "latitude", file)
    frame = dd.read_parquet(file, columns=[lon, lat], split_row_groups=True)
    return PointSource(p, "parquet", tuple(frame.to_delayed()), lon, lat, datum)


def _open_vector(p: Path) -> PointSource:
    import dask_geopandas
    import pyogrio

    file = str(p)
    try:
        info = pyogrio.read_info(file)
    except Exception as exc:  # pyogrio raises several GDAL-derived error types
        raise DataError(Problem(file, None, None, None,
                                f"cannot read as a vector file: {exc}")) from exc
    count = int(info.get("features") or 0)
    if count <= 0:
        raise DataError(Problem(file, None, None, None, "the file holds no features"))
    npartitions = max(1, math.ceil(count / VECTOR_ROWS_PER_PARTITION))
    frame = dask_geopandas.read_file(file, npartitions=npartitions)
    crs = str(info.get("crs") or "") or None
    return PointSource(p, "vector", tuple(frame.to_delayed()), None, None, crs=crs)


# -- one partition -------------------------------------------------------------------------------


@dataclass
class _Partial:
    """What one partition sends back: counts, and the first few problems found in it."""

    rows: int
    invalid: int
    problems: list[tuple[int, str, object, str]]  # (position in partition, field, value, why)
    outside_extent: int
    town_points: NDArray[np.int64]  # per town, then "in no town" last
    town_covered: NDArray[np.int64]
    cells: NDArray[np.int64]  # cell keys (see _cell_keys)
    cell_points: NDArray[np.int64]
    cell_covered: NDArray[np.int64]
    seconds: float = 0.0


@dataclass(frozen=True)
class _Plan:
    """Everything a worker needs, small and picklable: sent once per task."""

    file: str
    kind: SourceKind
    lon: str | None
    lat: str | None
    datum: str
    crs: str | None
    header: bytes
    encoding: str
    separator: str
    town_wkb: tuple[bytes, ...]
    cell_m: float
    discs: Any = None  # geo.coverage.engine.Discs / Shapes, or None for no coverage counting


@lru_cache(maxsize=8)
def _prepared_towns(town_wkb: tuple[bytes, ...]
                    ) -> tuple[tuple[shapely.Geometry, tuple[float, float, float, float]], ...]:
    """Prepared town polygons and their bounds, built once per worker process."""
    out: list[tuple[shapely.Geometry, tuple[float, float, float, float]]] = []
    for wkb in town_wkb:
        geom = shapely.from_wkb(wkb)
        shapely.prepare(geom)
        out.append((geom, geom.bounds))
    return tuple(out)


@lru_cache(maxsize=4)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def _numeric(values: pd.Series) -> tuple[FloatArray, NDArray[np.bool_], NDArray[np.bool_]]:
    """Float values, a mask of blanks, and a mask of text that is not a number."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        blank = np.isnan(arr)
        return arr, blank, np.zeros(len(arr), dtype=bool)
    text = values.astype("string").str.strip()
    blank = (text.isna() | (text == "")).to_numpy(dtype=bool)
    arr = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(arr) & ~blank
    return arr, blank, bad


def _read_csv_block(block: bytes, plan: _Plan, index: int) -> pd.DataFrame:
    """Parse one CSV byte block (the first block starts with the header itself)."""
    data = block if index == 0 else plan.header + block
    options: dict[str, Any] = {"usecols": [plan.lon, plan.lat], "sep": plan.separator,
                               "encoding": plan.encoding, "skipinitialspace": True}
    try:
        try:  # the fast path: every value is a number or blank
            return cast(pd.DataFrame, pd.read_csv(io.BytesIO(data), dtype=float, **options))
        except pd.errors.ParserError:
            raise
        except ValueError:  # some cell is text: read as text and name the rows
            return cast(pd.DataFrame, pd.read_csv(io.BytesIO(data), dtype=str,
                                                  keep_default_na=False, **options))
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(Problem(
            plan.file, None, None, None,
            f"part {index + 1} of the file (split at line breaks for parallel reading) is not "
            f"well-formed CSV: {exc}. A quoted cell with a line break in it, or rows with "
            "more cells than the header, cannot be read in parts: save the points as Parquet "
            "or GeoPackage, or remove the line breaks")) from exc


def _coordinates(part: Any, plan: _Plan, index: int
                 ) -> tuple[FloatArray, FloatArray, list[tuple[int, str, object, str]], int,
                            NDArray[np.bool_]]:
    """lon/lat in WGS84, the problems found, their count, and the mask of usable rows."""
    problems: list[tuple[int, str, object, str]] = []
    if plan.kind in ("geoparquet", "vector"):
        gdf = part
        geoms = gdf.geometry.to_numpy()
        kinds = shapely.get_type_id(geoms)
        ok = kinds == 0  # Point
        empty = shapely.is_empty(geoms) | shapely.is_missing(geoms)
        ok &= ~empty
        for pos in np.flatnonzero(~ok)[:MAX_PROBLEMS_PER_PARTITION]:
            g = geoms[pos]
            problems.append((int(pos), "geometry",
                             None if g is None else shapely.get_type_id(g),
                             "empty or missing geometry" if empty[pos]
                             else "not a point (points only)"))
        x = np.full(len(geoms), np.nan)
        y = np.full(len(geoms), np.nan)
        if ok.any():
            coords = shapely.get_coordinates(geoms[ok])
            x[ok], y[ok] = coords[:, 0], coords[:, 1]
        crs = plan.crs
        if crs and CRS.from_user_input(crs) != CRS.from_user_input(GEOGRAPHIC_CRS):
            x, y = _transformer(crs, GEOGRAPHIC_CRS).transform(x, y)
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        invalid = int((~ok).sum())
        ok &= np.isfinite(x) & np.isfinite(y)
        return x, y, problems, invalid, ok

    # CSV and Parquet sources always name their lon/lat columns (_open_csv, _open_parquet).
    assert plan.lon is not None and plan.lat is not None
    frame = _read_csv_block(part, plan, index) if plan.kind == "csv" else part
    lon, lon_blank, lon_bad = _numeric(frame[plan.lon])
    lat, lat_blank, lat_bad = _numeric(frame[plan.lat])
    lon_range = ~(lon_blank | lon_bad) & ~((lon >= -180) & (lon <= 180))
    lat_range = ~(lat_blank | lat_bad) & ~((lat >= -90) & (lat <= 90))
    wrong = lon_blank | lon_bad | lat_blank | lat_bad | lon_range | lat_range
    if wrong.any():
        raw_lon, raw_lat = frame[plan.lon].to_numpy(), frame[plan.lat].to_numpy()
        for pos in np.flatnonzero(wrong)[:MAX_PROBLEMS_PER_PARTITION]:
            for name, raw, blank, bad, out in (
                    (plan.lon, raw_lon, lon_blank, lon_bad, lon_range),
                    (plan.lat, raw_lat, lat_blank, lat_bad, lat_range)):
                if blank[pos]:
                    problems.append((int(pos), name, None, "blank coordinate"))
                elif bad[pos]:
                    problems.append((int(pos), name, str(raw[pos]), "not a number"))
                elif out[pos]:
                    value = float(raw[pos])
                    what = "longitude" if name == plan.lon else "latitude"
                    # A latitude column holding Shanghai's longitudes: the columns are swapped.
                    hint = ("; it looks like a longitude: are the lon and lat columns swapped?"
                            if what == "latitude" and 100 <= value <= 135 else "")
                    problems.append((int(pos), name, value,
                                     f"out of range for degrees of {what}{hint}"))
    ok = ~wrong
    if plan.datum != "wgs84" and ok.any():
        lon = lon.copy()
        lat = lat.copy()
        lon[ok], lat[ok] = convert(lon[ok], lat[ok], from_datum=plan.datum,  # type: ignore[arg-type]
                                   to_datum="wgs84")
    return lon, lat, problems, int(wrong.sum()), ok


def _cell_keys(ix: NDArray[np.int64], iy: NDArray[np.int64]) -> NDArray[np.int64]:
    """One integer per cell: the grid column and row packed into 32 bits each."""
    return (iy << 32) + (ix & 0xFFFFFFFF)


def _cell_xy(keys: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    ix = (keys & 0xFFFFFFFF).astype(np.int64)
    ix = np.where(ix >= 2**31, ix - 2**32, ix)
    return ix, keys >> 32


def _count(keys: NDArray[np.int64], weights: NDArray[np.bool_] | None = None
           ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Distinct keys and their counts (or the number of True weights), by bincount."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo = int(keys.min())
    span = int(keys.max()) - lo + 1
    if span <= 4 * len(keys) + 1024:  # dense enough for one bincount
        counts = np.bincount(keys - lo, weights=weights, minlength=span)
        occupied = np.flatnonzero(np.bincount(keys - lo, minlength=span))
        return occupied.astype(np.int64) + lo, counts[occupied].astype(np.int64)
    uniq, inverse = np.unique(keys, return_inverse=True)
    counts = np.bincount(inverse, weights=weights, minlength=len(uniq))
    return uniq, counts.astype(np.int64)


def _summarise_partition(part: Any, plan: _Plan, index: int) -> _Partial:
    """Validate, assign, grid and cover one partition; return its counts only."""
    start = time.perf_counter()
    lon, lat, problems, invalid, ok = _coordinates(part, plan, index)
    n = len(lon)
    towns = _prepared_towns(plan.town_wkb)
    town = np.full(n, len(towns), dtype=np.int64)  # "in no town" until found in one
    west, south, east, north = SHANGHAI_BBOX
    in_extent = ok & (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    for k, (geom, (x0, y0, x1, y1)) in enumerate(towns):
        near = np.flatnonzero(in_extent & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
                              & (town == len(towns)))
        if len(near):
            inside = shapely.contains_xy(geom, lon[near], lat[near])
            town[near[inside]] = k
    idx = np.flatnonzero(in_extent)
    x, y = _transformer(GEOGRAPHIC_CRS, METRIC_CRS).transform(lon[idx], lat[idx])
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    covered = np.zeros(n, dtype=bool)
    if plan.discs is not None and len(idx):
        covered[idx] = plan.discs.covers_xy(x, y)
    ix = np.floor(x / plan.cell_m).astype(np.int64)
    iy = np.floor(y / plan.cell_m).astype(np.int64)
    keys = _cell_keys(ix, iy)
    cells, cell_points = _count(keys)
    if plan.discs is not None:
        _, cell_covered = _count(keys, covered[idx])
    else:
        cell_covered = np.zeros(len(cells), dtype=np.int64)
    usable = town[ok]
    town_points = np.bincount(usable, minlength=len(towns) + 1).astype(np.int64)
    town_covered = np.bincount(usable, weights=covered[ok],
                               minlength=len(towns) + 1).astype(np.int64)
    return _Partial(rows=n, invalid=invalid, problems=problems,
                    outside_extent=int(ok.sum() - len(idx)), town_points=town_points,
                    town_covered=town_covered, cells=cells, cell_points=cell_points,
                    cell_covered=cell_covered, seconds=time.perf_counter() - start)


# -- the whole file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsSummary:
    """Counts for a whole point file: per town, per grid cell, and what could not be used.

    ``by_town`` is indexed by town key plus ``outside`` (valid points in no new town) with
    columns ``points`` and, when coverage was counted, ``covered`` and ``covered_share``.
    ``grid`` holds the non-empty cells as square polygons in EPSG:4326 (built in EPSG:4549
    metres), with ``cell_m``, ``ix``, ``iy``, ``points`` (and ``covered``). Every row of the
    file is accounted for: ``rows == sum(by_town.points) + invalid``.
    """

    source: str
    rows: int
    invalid: int
    outside_extent: int
    by_town: pd.DataFrame
    grid: gpd.GeoDataFrame
    cell_m: float
    coverage: dict[str, object] | None
    problems: tuple[Problem, ...]
    partitions: int
    scheduler: str
    seconds: float
    warnings: tuple[str, ...] = field(default_factory=tuple)
    partition_rows: tuple[int, ...] = ()  # rows in each partition, in file order

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (without the grid geometries)."""
        towns = {key: {k: (float(v) if isinstance(v, float) else int(v))
                       for k, v in row.items()}
                 for key, row in self.by_town.to_dict(orient="index").items()}
        return {
            "source": self.source, "rows": self.rows, "invalid": self.invalid,
            "outside_shanghai_extent": self.outside_extent, "by_town": towns,
            "grid": {"cell_m": self.cell_m, "cells": len(self.grid),
                     "crs_of_cells": METRIC_CRS},
            "coverage": self.coverage,
            "problems": [str(p) for p in self.problems[:MAX_PROBLEMS]],
            "partitions": self.partitions, "scheduler": self.scheduler,
            "seconds": round(self.seconds, 3), "warnings": list(self.warnings),
        }


def _plan(source: PointSource, towns: gpd.GeoDataFrame, cell_m: float, discs: Any) -> _Plan:
    if towns.crs is None or CRS.from_user_input(towns.crs) != CRS.from_user_input(
            GEOGRAPHIC_CRS):
        raise InputError("towns must be in EPSG:4326 (the Atlas' towns)")
    if not (isinstance(cell_m, (int, float)) and math.isfinite(cell_m) and cell_m >= 10):
        raise InputError(f"cell size must be a number of metres >= 10, got {cell_m!r}")
    return _Plan(file=str(source.path), kind=source.kind, lon=source.lon, lat=source.lat,
                 datum=source.datum, crs=source.crs, header=source.header, encoding=source.encoding,
                 separator=source.separator,
                 town_wkb=tuple(shapely.to_wkb(g) for g in towns.geometry),
                 cell_m=float(cell_m), discs=discs)


def summarise_points(
    source: PointSource,
    towns: gpd.GeoDataFrame,
    *,
    cell_m: float = DEFAULT_CELL_M,
    discs: Any = None,
    coverage: dict[str, object] | None = None,
    skip_invalid: bool = False,
    scheduler: str = "",
) -> PointsSummary:
    """Count ``source``'s points per town and per grid cell (and covered by ``discs``).

    Runs on whatever Dask scheduler is active (see :func:`dask_client`). ``towns`` is the
    Atlas' towns (EPSG:4326, column ``key``). ``discs`` is a service-area engine from
    :func:`geo.coverage.service_engine` (or None); ``coverage`` describes it for the report.
    Rows with blank, non-numeric or out-of-range coordinates raise one DataError naming each
    (file, row, field) unless ``skip_invalid``: then they are counted and listed instead.
    ``scheduler`` describes where it ran, for the report (:func:`dask_client` yields it).
    """
    started = time.perf_counter()
    plan = _plan(source, towns, cell_m, discs)
    plan_ref = delayed(plan, pure=True, traverse=False)
    tasks = [delayed(_summarise_partition, pure=True)(part, plan_ref, i)
             for i, part in enumerate(source.partitions)]
    partials: tuple[_Partial, ...] = (
        compute(*tasks) if tasks else ())  # type: ignore[no-untyped-call]  # unannotated in dask

    keys = [str(k) for k in towns["key"]] + [OUTSIDE]
    rows = sum(p.rows for p in partials)
    invalid = sum(p.invalid for p in partials)
    problems: list[Problem] = []
    offset = 0
    for p in partials:
        for pos, name, value, why in p.problems:
            if len(problems) < MAX_PROBLEMS:
                problems.append(Problem(str(source.path), offset + pos + 1, name, value, why))
        offset += p.rows
    if invalid and not skip_invalid:
        raise DataError(problems + ([Problem(str(source.path), None, None, invalid,
                                             "rows with unusable coordinates in all (use "
                                             "--skip-invalid to count them and go on)")]
                                    if invalid > len(problems) else []))
    town_points = np.sum([p.town_points for p in partials], axis=0) if partials else np.zeros(
        len(keys), dtype=np.int64)
    by_town = pd.DataFrame({"points": np.asarray(town_points, dtype=np.int64)},
                           index=pd.Index(keys, name="town"))
    if discs is not None:
        covered = np.sum([p.town_covered for p in partials], axis=0) if partials else 0
        by_town["covered"] = np.asarray(covered, dtype=np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = by_town["covered"] / by_town["points"].where(by_town["points"] > 0)
        by_town["covered_share"] = share.fillna(0.0).round(6)
    grid = _grid(partials, plan.cell_m, with_covered=discs is not None)
    outside_extent = sum(p.outside_extent for p in partials)
    notes = []
    valid = rows - invalid
    if valid and outside_extent > valid / 2:
        notes.append(f"{outside_extent} of {valid} points lie outside Shanghai's extent: are "
                     "lon and lat swapped, or the coordinates in a projected CRS?")
    if invalid:
        notes.append(f"{invalid} rows with unusable coordinates were counted and left out")
    return PointsSummary(
        source=str(source.path), rows=rows, invalid=invalid, outside_extent=outside_extent,
        by_town=by_town, grid=grid, cell_m=plan.cell_m, coverage=coverage,
        problems=tuple(problems), partitions=source.npartitions,
        scheduler=scheduler or f"dask {dask.config.get('scheduler', 'threads')} scheduler",
        seconds=time.perf_counter() - started, warnings=tuple(notes),
        partition_rows=tuple(p.rows for p in partials))


def _grid(partials: Sequence[_Partial], cell_m: float, *, with_covered: bool
          ) -> gpd.GeoDataFrame:
    """Sum the partitions' cell counts; square cells built in metres, returned in WGS84."""
    if partials:
        keys = np.concatenate([p.cells for p in partials])
        points = np.concatenate([p.cell_points for p in partials])
        covered = np.concatenate([p.cell_covered for p in partials])
    else:
        keys = points = covered = np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(keys, return_inverse=True)
    total = np.bincount(inverse, weights=points, minlength=len(uniq)).astype(np.int64)
    ix, iy = _cell_xy(uniq)
    x0, y0 = ix * cell_m, iy * cell_m
    boxes = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    data: dict[str, Any] = {"cell_m": np.full(len(uniq), cell_m), "ix": ix, "iy": iy,
                            "points": total}
    if with_covered:
        data["covered"] = np.bincount(inverse, weights=covered,
                                      minlength=len(uniq)).astype(np.int64)
    grid = gpd.GeoDataFrame(data, geometry=boxes, crs=METRIC_CRS)
    return grid.to_crs(GEOGRAPHIC_CRS)


# -- per point, lazily ---------------------------------------------------------------------------


def _town_partition(gdf: gpd.GeoDataFrame, town_wkb: tuple[bytes, ...],
                    keys: tuple[str, ...]) -> gpd.GeoDataFrame:
    towns = _prepared_towns(town_wkb)
    geoms = gdf.geometry.to_numpy()
    x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    out = np.full(len(gdf), None, dtype=object)
    for key, (geom, _) in zip(keys, towns, strict=True):
        hit = np.flatnonzero(pd.isna(out) & shapely.contains_xy(geom, x, y))
        out[hit] = key
    return gdf.assign(town=pd.array(out, dtype="string"))


def _points_partition(part: Any, plan: _Plan, index: int, offset: int) -> gpd.GeoDataFrame:
    """The usable points of one partition: 1-based row in the file, lon/lat in WGS84."""
    lon, lat, _, _, ok = _coordinates(part, plan, index)
    rows = np.flatnonzero(ok).astype(np.int64) + offset + 1
    return gpd.GeoDataFrame({"row": rows, "lon": lon[ok], "lat": lat[ok]},
                            geometry=gpd.points_from_xy(lon[ok], lat[ok]), crs=GEOGRAPHIC_CRS)


def write_points(source: PointSource, towns: gpd.GeoDataFrame, path: str | os.PathLike[str],
                 *, summary: PointsSummary) -> Path:
    """Write every usable point with its town as a GeoParquet dataset (a folder, one file per
    partition), on the active Dask scheduler, through dask-geopandas.

    Columns: ``row`` (1-based row in the source file), ``lon``/``lat`` (WGS84, after any
    GCJ-02/BD-09 conversion), ``town`` (key, or missing) and the point geometry. ``summary``
    is :func:`summarise_points`' result for the same source (it gives the row offsets).
    The folder is written beside ``path`` under a temporary name and renamed into place when
    complete; an existing ``path`` is refused rather than replaced.
    """
    import dask.dataframe as dd

    target = Path(path)
    if target.exists():
        raise InputError(f"{target} exists: choose a new name for the points, or remove it")
    if len(summary.partition_rows) != source.npartitions:
        raise InputError("summary is not of this source: summarise_points(source) first")
    offsets = np.concatenate([[0], np.cumsum(summary.partition_rows)[:-1]]).astype(int)
    plan_ref = delayed(_plan(source, towns, summary.cell_m, None), pure=True, traverse=False)
    parts = [delayed(_points_partition, pure=True)(part, plan_ref, i, int(offsets[i]))
             for i, part in enumerate(source.partitions)]
    meta = gpd.GeoDataFrame({"row": np.zeros(0, dtype=np.int64), "lon": np.zeros(0),
                             "lat": np.zeros(0)}, geometry=gpd.points_from_xy([], []),
                            crs=GEOGRAPHIC_CRS)
    import dask_geopandas

    points = dask_geopandas.from_dask_dataframe(
        dd.from_delayed(parts, meta=meta, verify_meta=False), geometry="geometry")
    if points.crs is None:  # from_dask_dataframe drops the CRS
        points = points.set_crs(GEOGRAPHIC_CRS)
    assigned = assign_towns(points, towns)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        assigned.to_parquet(staging, write_index=False)
        staging.replace(target)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def assign_towns(points: Any, towns: gpd.GeoDataFrame) -> Any:
    """The new town of every point, lazily: a dask-geopandas GeoDataFrame with ``town``.

    ``points`` is a dask-geopandas GeoDataFrame of points in EPSG:4326 (for example
    ``dask_geopandas.points_from_xy``); ``town`` is the town key or missing. Same test as
    :func:`summarise_points` and the Atlas' ``in_town``.
    """
    if points.crs is None or CRS.from_user_input(points.crs) != CRS.from_user_input(
            GEOGRAPHIC_CRS):
        raise InputError("points must be in EPSG:4326")
    town_wkb = tuple(shapely.to_wkb(g) for g in towns.geometry)
    keys = tuple(str(k) for k in towns["key"])
    meta = points._meta.assign(town=pd.array([], dtype="string"))
    return points.map_partitions(_town_partition, town_wkb, keys, meta=meta)


# -- schedulers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def dask_client(scheduler: str = "local", *, workers: int | None = None,
                threads_per_worker: int = 1, timeout_s: float = 10.0) -> Iterator[str]:
    """Run the enclosed Dask work on ``scheduler``; yield a description of it.

    ``local`` starts a LocalCluster of ``workers`` processes (default: one per core) for the
    duration, its status pages on a free port (never a fixed one that may be taken);
    ``threads`` / ``sync`` use Dask's local schedulers with no cluster; anything else is the
    address of a running scheduler (``tcp://10.0.0.5:8786``). Raises ValueError for a
    scheduler that cannot be reached within ``timeout_s`` seconds.
    """
    with dask.config.set({"dataframe.shuffle.method": "tasks"}):
        if scheduler in ("threads", "sync", "synchronous"):
            name = "sync" if scheduler != "threads" else "threads"
            with dask.config.set(scheduler=name):
                yield f"dask {name} scheduler (no cluster)"
            return
        from distributed import Client, LocalCluster

        # distributed's Client and LocalCluster are unannotated: hence the no-untyped-call ignores.
        if scheduler == "local":
            n = workers or os.cpu_count() or 1
            with (
                LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                    dashboard_address=":0", silence_logs=40) as cluster,
                Client(cluster) as client,  # type: ignore[no-untyped-call]
            ):
                yield f"LocalCluster, {len(client.nthreads())} worker processes"
            return
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s")  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        try:
            n_workers = len(client.nthreads())  # type: ignore[no-untyped-call]
            yield f"Dask cluster at {scheduler}, {n_workers} workers"
        finally:
            client.close()  # type: ignore[no-untyped-call]
