"""Load and validate facility tables (CSV, GeoJSON, GeoPackage) into a WGS84 GeoDataFrame."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import catalog
from geo._errors import DataError, Problem, UnknownNameError
from geo._io import decode_text, read_vector
from geo.settings import GEOGRAPHIC_CRS, SHANGHAI_BBOX

#: Columns of a facility table, in file order.
COLUMNS: tuple[str, ...] = (
    "id", "name_zh", "name_en", "category", "industries", "town", "district", "address",
    "lon", "lat", "coord_source", "coord_precision_m", "level", "status", "year", "source",
)
#: Columns that must be present and non-blank on every row.
REQUIRED: tuple[str, ...] = (
    "id", "name_zh", "category", "industries", "town", "lon", "lat",
    "coord_source", "coord_precision_m", "source",
)
MAX_TEXT_LENGTH = 300
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def read_facilities(
    path: str | Path,
    *,
    city: shapely.Geometry | None = None,
    districts: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Read a facility file and validate every row; raise one DataError listing all problems.

    ``city`` (the Shanghai outline) and ``districts`` (with ``name_zh``), both in WGS84, enable
    the checks "inside Shanghai" and "inside the stated district". The result is indexed by
    ``id``, holds catalog keys (not free spellings) and is in EPSG:4326.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(Problem(str(path), None, None, None, "file not found"))
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        table = _read_csv_table(path)
    elif suffix in {".geojson", ".json", ".gpkg"}:
        table = _read_vector_table(path)
    else:
        raise DataError(Problem(str(path), None, None, suffix,
                                "unsupported file type; use .csv, .geojson or .gpkg"))
    return validate_facilities(table, file=str(path), city=city, districts=districts)


def _read_csv_table(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    file = str(path)
    if not raw.strip():
        raise DataError(Problem(file, None, None, None, "file is empty; expected a header row "
                                f"with columns {', '.join(REQUIRED)}"))
    try:
        text, _encoding = decode_text(raw)
    except UnicodeDecodeError as exc:
        raise DataError(Problem(file, None, None, None,
                                f"cannot decode text as UTF-8 or GB18030 ({exc.reason})")) from exc
    # The csv module handles \r\n, \r and \n line endings and quoted newlines alike.
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    problems = []
    for n, row in enumerate(body, start=1):
        if len(row) != len(header):
            problems.append(Problem(file, n, None, len(row),
                                    f"row has {len(row)} cells but the header has {len(header)}"))
    if problems:
        raise DataError(problems, file=file)
    return pd.DataFrame(body, columns=header, dtype=object)


def _read_vector_table(path: Path) -> pd.DataFrame:
    file = str(path)
    gdf = read_vector(path)
    problems: list[Problem] = []
    if gdf.crs is None:
        raise DataError(Problem(file, None, "crs", None,
                                "file has no CRS; save it with EPSG:4326 (WGS84)"))
    if not gdf.crs.equals(GEOGRAPHIC_CRS):
        gdf = gdf.to_crs(GEOGRAPHIC_CRS)
    geom_types = gdf.geometry.geom_type
    for n, (gtype, geom) in enumerate(zip(geom_types, gdf.geometry, strict=True), start=1):
        if geom is None or geom.is_empty:
            problems.append(Problem(file, n, "geometry", None, "missing geometry"))
        elif gtype != "Point":
            problems.append(Problem(file, n, "geometry", gtype, "facilities must be Points"))
    if problems:
        raise DataError(problems, file=file)
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).astype(object)
    table["lon"] = gdf.geometry.x.to_numpy()
    table["lat"] = gdf.geometry.y.to_numpy()
    return table


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value).strip() == ""


def validate_facilities(
    table: pd.DataFrame,
    *,
    file: str = "<table>",
    city: shapely.Geometry | None = None,
    districts: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Validate a raw facility table (strings or numbers) and return a clean GeoDataFrame."""
    problems: list[Problem] = []
    if table.empty and len(table.columns) > 0:
        raise DataError(Problem(file, None, None, None,
                                "header only: the file has no data rows"), file=file)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        near = {c: _closest(c, table.columns) for c in missing}
        hints = "; ".join(f"'{c}'" + (f" (found '{near[c]}'?)" if near[c] else "")
                          for c in missing)
        raise DataError(Problem(file, None, None, list(map(str, table.columns)),
                                f"missing required column(s): {hints}"), file=file)
    df = table.copy()
    for column in COLUMNS:
        if column not in df.columns:
            df[column] = ""
    df = df.reset_index(drop=True)
    rows = np.arange(1, len(df) + 1)

    def add(row: int, field: str, value: object, message: str) -> None:
        problems.append(Problem(file, int(row), field, value, message))

    text_cols = [c for c in COLUMNS if c not in {"lon", "lat", "coord_precision_m", "year"}]
    for column in text_cols:
        df[column] = df[column].map(lambda v: "" if _blank(v) else str(v).strip())
    for column in REQUIRED:
        if column in text_cols:
            for row in rows[df[column].eq("").to_numpy()]:
                add(row, column, None, "required value is blank")
    for column in ("id", "name_zh", "name_en", "address"):
        values = df[column]
        for row in rows[values.str.len().gt(MAX_TEXT_LENGTH).to_numpy()]:
            add(row, column, values.iloc[row - 1][:40] + "…",
                f"longer than {MAX_TEXT_LENGTH} characters")
        for row in rows[values.str.startswith(_FORMULA_PREFIXES).to_numpy()]:
            add(row, column, values.iloc[row - 1][:40],
                "starts like a spreadsheet formula (=, +, -, @); remove the leading character")

    # Duplicate ids name every row involved.
    ids = df["id"]
    dup = ids.ne("") & ids.duplicated(keep=False)
    for value, group in df[dup].groupby("id").groups.items():
        where = ", ".join(str(i + 1) for i in group)
        for i in group:
            add(i + 1, "id", value, f"duplicate id (rows {where})")

    # Catalog terms: accept keys, zh, en and aliases; normalise to keys.
    df["category"] = _resolve_column(df, "category", catalog.CATEGORY_NAMES, add)
    df["town"] = _resolve_column(df, "town", catalog.TOWN_NAMES, add)
    df["level"] = _resolve_column(df, "level", catalog.LEVEL_NAMES, add, default="other")
    df["status"] = _resolve_column(df, "status", catalog.STATUS_NAMES, add, default="operating")
    df["district"] = _resolve_column(
        df, "district", catalog.DISTRICT_NAMES, add, default="",
        to_value=lambda key: catalog.DISTRICTS[key].zh,
    )
    df["industries"] = _resolve_industries(df, add)

    lon, lat = _coordinates(df, add)
    precision = _numbers(df, "coord_precision_m", add, positive=True)
    year = _numbers(df, "year", add, optional=True, integer=True, lo=1850, hi=2100)

    ok = np.isfinite(lon) & np.isfinite(lat)
    if city is not None:
        inside = np.zeros(len(df), dtype=bool)
        inside[ok] = shapely.contains_xy(city, lon[ok], lat[ok])
        for row in rows[ok & ~inside]:
            add(row, "lon/lat", (lon[row - 1], lat[row - 1]),
                "point lies outside Shanghai's boundary")
        ok &= inside
    if districts is not None:
        _check_districts(df, lon, lat, ok, districts, add)

    if problems:
        problems.sort(key=lambda p: (p.row or 0, COLUMNS.index(p.field) if p.field in COLUMNS
                                     else len(COLUMNS)))
        raise DataError(problems, file=file)

    out = df.assign(lon=lon, lat=lat, coord_precision_m=precision,
                    year=pd.array(year, dtype="Int64"))
    extra = [c for c in df.columns if c not in COLUMNS]
    out = out[list(COLUMNS) + extra].set_index("id", drop=False)
    out.index.name = None
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs=GEOGRAPHIC_CRS)


def _closest(name: str, options: Iterable[object]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, [str(o) for o in options], n=1, cutoff=0.5)
    return found[0] if found else None


Adder = Callable[[int, str, object, str], None]


def _resolve_column(
    df: pd.DataFrame,
    column: str,
    vocabulary: catalog.Vocabulary,
    add: Adder,
    *,
    default: str | None = None,
    to_value: Callable[[str], str] = lambda key: key,
) -> pd.Series:
    resolved: dict[str, str] = {}
    for value in df[column].unique():
        if value == "":
            continue
        try:
            resolved[value] = to_value(vocabulary.resolve(value))
        except UnknownNameError as exc:
            for i in np.flatnonzero(df[column].eq(value).to_numpy()):
                add(i + 1, column, value, str(exc))
    blank_value = default if default is not None else ""
    return df[column].map(lambda v: resolved.get(v, blank_value if v == "" else v))


def _resolve_industries(df: pd.DataFrame, add: Adder) -> pd.Series:
    cache: dict[str, str | None] = {}
    out = []
    for i, value in enumerate(df["industries"]):
        if value not in cache:
            keys, bad = [], []
            for part in str(value).replace("；", ";").replace(",", ";").split(";"):
                part = part.strip()
                if not part:
                    continue
                key = catalog.INDUSTRY_NAMES.lookup(part)
                if key is None:
                    bad.append(part)
                elif key not in keys:
                    keys.append(key)
            if bad:
                cache[value] = None
                for part in bad:
                    add(i + 1, "industries", part,
                        "unknown industry; " + catalog.INDUSTRY_NAMES.suggest(part))
            else:
                cache[value] = ";".join(keys)
        elif cache[value] is None:
            add(i + 1, "industries", value, "unknown industry (see first occurrence)")
        out.append(cache[value] or "")
    return pd.Series(out, index=df.index, dtype=object)


def _to_float(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values.map(lambda v: str(v).strip() if isinstance(v, str) else v),
                            errors="coerce")
    return np.array(numbers, dtype=float)  # a writable copy


def _coordinates(df: pd.DataFrame, add: Adder) -> tuple[np.ndarray, np.ndarray]:
    lon = _to_float(df["lon"])
    lat = _to_float(df["lat"])
    min_lon, min_lat, max_lon, max_lat = SHANGHAI_BBOX
    for i in range(len(df)):
        x, y = lon[i], lat[i]
        row = i + 1
        bad = False
        for name, v, raw in (("lon", x, df["lon"].iloc[i]), ("lat", y, df["lat"].iloc[i])):
            if _blank(raw):
                add(row, name, None, "required value is blank")
                bad = True
            elif not math.isfinite(v):
                add(row, name, raw, "not a finite number (decimal degrees expected)")
                bad = True
        if bad:
            lon[i] = lat[i] = np.nan
            continue
        message = None
        if min_lat <= x <= max_lat and min_lon <= y <= max_lon:
            message = "lon and lat look swapped (lat value in the lon column)"
        elif abs(x) > 180 or abs(y) > 90:
            if 1.3e7 < abs(x) < 1.4e7 and 3.5e6 < abs(y) < 3.8e6:
                message = ("looks like EPSG:3857 web-mercator metres; give WGS84 degrees")
            else:
                message = "out of range: lon must be within ±180 and lat within ±90"
        elif not (min_lon <= x <= max_lon and min_lat <= y <= max_lat):
            message = (f"point is outside Shanghai (bounding box lon {min_lon}–{max_lon}, "
                       f"lat {min_lat}–{max_lat})")
        if message:
            add(row, "lon/lat", (df["lon"].iloc[i], df["lat"].iloc[i]), message)
            lon[i] = lat[i] = np.nan
    return lon, lat


def _numbers(
    df: pd.DataFrame,
    column: str,
    add: Adder,
    *,
    optional: bool = False,
    positive: bool = False,
    integer: bool = False,
    lo: float | None = None,
    hi: float | None = None,
) -> np.ndarray:
    values = _to_float(df[column])
    for i, v in enumerate(values):
        raw = df[column].iloc[i]
        if _blank(raw):
            if not optional:
                add(i + 1, column, None, "required value is blank")
            continue
        if not math.isfinite(v):
            add(i + 1, column, raw, "not a number")
        elif positive and v <= 0:
            add(i + 1, column, raw, "must be a positive number of metres")
        elif integer and v != int(v):
            add(i + 1, column, raw, "must be a whole number")
        elif (lo is not None and v < lo) or (hi is not None and v > hi):
            add(i + 1, column, raw, f"must be between {lo:g} and {hi:g}")
    return values


def _check_districts(
    df: pd.DataFrame,
    lon: np.ndarray,
    lat: np.ndarray,
    ok: np.ndarray,
    districts: gpd.GeoDataFrame,
    add: Adder,
) -> None:
    """Fill a blank district from the point; flag a stated district the point is not in."""
    found = np.array([""] * len(df), dtype=object)
    idx = np.flatnonzero(ok)
    for name, geom in zip(districts["name_zh"], districts.geometry, strict=True):
        hit = shapely.contains_xy(geom, lon[idx], lat[idx])
        found[idx[hit]] = name
    for i in idx:
        stated = df.at[i, "district"]
        if stated == "":
            df.at[i, "district"] = found[i]
        elif found[i] and stated != found[i]:
            add(i + 1, "district", stated,
                f"point ({lon[i]:.6f}, {lat[i]:.6f}) lies in {found[i]}, not in {stated}")
