"""Load and validate facility tables (CSV, GeoJSON, GeoPackage) into a WGS84 GeoDataFrame."""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections.abc import Callable, Iterable
from itertools import repeat
from pathlib import Path
from typing import SupportsInt

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
    "lon", "lat", "coord_source", "coord_precision_m", "placement", "parent_id", "level",
    "status", "year", "year_event", "year_source", "source",
)
#: Columns a curated data folder (``newtown check``, the store) must fill on every row; an
#: upload may leave ``placement`` out (its rows are then taken as sites, and say so).
STRICT_REQUIRED: tuple[str, ...] = ("placement",)
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
    strict: bool = False,
) -> gpd.GeoDataFrame:
    """Read a facility file and validate every row; raise one DataError listing all problems.

    ``strict`` applies the rules of curated data (see :func:`validate_facilities`).

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
    return validate_facilities(table, file=str(path), city=city, districts=districts,
                               strict=strict)


def _read_csv_table(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    file = str(path)
    if not raw.strip():
        raise DataError(Problem(file, None, None, None, "file is empty; expected a header row "
                                f"with columns {', '.join(REQUIRED)}"))
    try:
        text, encoding = decode_text(raw)
    except UnicodeDecodeError as exc:
        raise DataError(Problem(file, None, None, None,
                                f"cannot decode text as UTF-8 or GB18030 ({exc.reason})")) from exc
    if not text.strip():  # e.g. nothing but a byte-order mark
        raise DataError(Problem(file, None, None, None, "file is empty; expected a header row "
                                f"with columns {', '.join(REQUIRED)}"))
    # pandas parses UTF-8 bytes much faster than a str (which it re-encodes chunk by chunk).
    if encoding == "utf-8":
        utf8 = raw
    elif encoding == "utf-8 with BOM":
        utf8 = raw[len(codecs.BOM_UTF8):]
    else:
        utf8 = text.encode("utf-8")
    table = _parse_csv_fast(utf8)
    if table is None:
        table = _parse_csv_exact(text, file)
    return table


def _parse_csv_fast(utf8: bytes) -> pd.DataFrame | None:
    """pandas' C parser on a well-formed file; None when the csv module must decide.

    The C parser fails on a row with too many cells but pads a short row with empty cells,
    and it keeps a row of blank cells that the csv-module path drops. Both leave the last
    cell blank, so a blank last cell anywhere (rare: ``source``, the last column, is
    required) sends the file to the exact path, as does any parser error.
    """
    try:
        frame = pd.read_csv(io.BytesIO(utf8), header=None, dtype=object, encoding="utf-8",
                            keep_default_na=False, skip_blank_lines=True, engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if frame.empty or frame.iloc[:, -1].str.strip().eq("").any():
        return None
    cells = frame.to_numpy(dtype=object)
    header = [str(h).strip() for h in cells[0]]
    return pd.DataFrame(cells[1:], columns=header, dtype=object)


def _parse_csv_exact(text: str, file: str) -> pd.DataFrame:
    """The csv module, row by row: names every row whose cell count differs from the header."""
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
    strict: bool = False,
) -> gpd.GeoDataFrame:
    """Validate a raw facility table (strings or numbers) and return a clean GeoDataFrame.

    Parameters
    ----------
    table : DataFrame
        Raw cells, one row per facility, columns named as in :data:`COLUMNS`.
    file : str
        The name used in problem messages.
    city, districts : optional
        WGS84 outline of Shanghai and district polygons (with ``name_zh``) for the checks
        "inside Shanghai" and "inside the stated district".
    strict : bool
        The rules of curated data (the bundled folder, a store): every row states its
        ``placement``, and a ``year`` states what it is the year of (``year_event``) and
        where it comes from (``year_source``). Without it (uploads) a blank placement means
        ``site`` and a year may stand alone.

    Returns
    -------
    GeoDataFrame
        Indexed by ``id``, catalog keys in place of free spellings, EPSG:4326. A blank
        ``level`` or ``status`` becomes ``unknown``: nothing unestablished is presented as
        known.
    """
    repeated = sorted({str(c) for c in table.columns[table.columns.duplicated()]})
    if repeated:
        raise DataError([Problem(file, None, c, None, "column appears more than once in the "
                                                      "header; keep one") for c in repeated],
                        file=file)
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

    def add(row: SupportsInt, field: str, value: object, message: str) -> None:
        problems.append(Problem(file, int(row), field, value, message))

    text_cols = [c for c in COLUMNS if c not in {"lon", "lat", "coord_precision_m", "year"}]
    required_text = REQUIRED + (STRICT_REQUIRED if strict else ())
    # Text columns as object arrays of str: numpy and plain loops over them are several
    # times faster than pandas string methods (this is the hot path at a million rows).
    text = {column: _clean_text(df[column]) for column in text_cols}
    for column in required_text:
        if column in text_cols:
            for row in rows[text[column] == ""]:
                add(row, column, None, "required value is blank")
    for column in ("id", "name_zh", "name_en", "address"):
        values = text[column]
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        for row in rows[lengths > MAX_TEXT_LENGTH]:
            add(row, column, values[row - 1][:40] + "…",
                f"longer than {MAX_TEXT_LENGTH} characters")
        formula = np.fromiter(map(str.startswith, values, repeat(_FORMULA_PREFIXES)),
                              dtype=bool, count=len(values))
        for row in rows[formula]:
            add(row, column, values[row - 1][:40],
                "starts like a spreadsheet formula (=, +, -, @); remove the leading character")

    # Duplicate ids name every row involved.
    ids = text["id"]
    dup = (ids != "") & pd.Series(ids, dtype=object).duplicated(keep=False).to_numpy()
    if dup.any():
        at = np.flatnonzero(dup)
        repeated_ids = pd.Series(ids[at], index=at, dtype=object)
        for value, group in repeated_ids.groupby(repeated_ids).groups.items():
            where = ", ".join(str(i + 1) for i in group)
            for i in group:
                add(i + 1, "id", value, f"duplicate id (rows {where})")

    # Catalog terms: accept keys, zh, en and aliases; normalise to keys.
    text["category"] = _resolve_column(text["category"], "category", catalog.CATEGORY_NAMES,
                                       add)
    text["town"] = _resolve_column(text["town"], "town", catalog.TOWN_NAMES, add)
    text["level"] = _resolve_column(text["level"], "level", catalog.LEVEL_NAMES, add,
                                    default="unknown")
    text["status"] = _resolve_column(text["status"], "status", catalog.STATUS_NAMES, add,
                                     default="unknown")
    text["placement"] = _resolve_column(text["placement"], "placement",
                                        catalog.PLACEMENT_NAMES, add,
                                        default="" if strict else "site")
    text["year_event"] = _resolve_column(text["year_event"], "year_event",
                                         catalog.YEAR_EVENT_NAMES, add, default="")
    _check_parents(text["id"], text["parent_id"], add)
    text["district"] = _resolve_column(
        text["district"], "district", catalog.DISTRICT_NAMES, add, default="",
        to_value=lambda key: catalog.DISTRICTS[key].zh,
    )
    industries = _resolve_industries(text.pop("industries"), add)

    lon, lat = _coordinates(df, add)
    precision = _numbers(df, "coord_precision_m", add, positive=True)
    year = _numbers(df, "year", add, optional=True, integer=True, lo=1850, hi=2100)
    _check_year_fields(year, text["year_event"], text["year_source"], add, strict=strict)

    ok = np.isfinite(lon) & np.isfinite(lat)
    if city is not None:
        inside = np.zeros(len(df), dtype=bool)
        inside[ok] = shapely.contains_xy(_prepared(city), lon[ok], lat[ok])
        for row in rows[ok & ~inside]:
            add(row, "lon/lat", (lon[row - 1], lat[row - 1]),
                "point lies outside Shanghai's boundary")
        ok &= inside
    if districts is not None:
        _check_districts(text["district"], lon, lat, ok, districts, add)

    if problems:
        problems.sort(key=lambda p: (p.row or 0, COLUMNS.index(p.field) if p.field in COLUMNS
                                     else len(COLUMNS)))
        raise DataError(problems, file=file)

    for column, values in text.items():
        df[column] = pd.Series(values, index=df.index)  # all str: pandas infers its str dtype
    df["industries"] = pd.Series(industries, index=df.index, dtype=object)
    out = df.assign(lon=lon, lat=lat, coord_precision_m=precision,
                    year=pd.array(year, dtype="Int64"))
    extra = [c for c in df.columns if c not in COLUMNS]
    out = out[list(COLUMNS) + extra].set_index("id", drop=False)
    out.index.name = None
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs=GEOGRAPHIC_CRS)


def _check_parents(ids: np.ndarray, parents: np.ndarray, add: Adder) -> None:
    """``parent_id`` names another row of the table, and following parents never loops."""
    known = {value: i for i, value in enumerate(ids) if value}
    parent_of: dict[str, str] = {}
    for i, (fid, parent) in enumerate(zip(ids, parents, strict=True)):
        if not parent:
            continue
        if parent == fid:
            add(i + 1, "parent_id", parent, "a facility cannot be its own parent")
        elif parent not in known:
            add(i + 1, "parent_id", parent, "no row has this id; give the id of the facility "
                                            "this one is part of, or leave it blank")
        else:
            parent_of[fid] = parent
    reported: set[str] = set()
    for start in parent_of:
        seen = [start]
        node = parent_of.get(start)
        while node is not None and node not in seen:
            seen.append(node)
            node = parent_of.get(node)
        if node is not None and start not in reported:
            loop = seen[seen.index(node):]
            reported.update(loop)
            add(known[start] + 1, "parent_id", parent_of[start],
                "parents form a cycle: " + " -> ".join([*loop, node]))


def _check_year_fields(year: np.ndarray, event: np.ndarray, source: np.ndarray, add: Adder,
                       *, strict: bool) -> None:
    """A year says what it is the year of; an event or year source needs a year."""
    dated = np.isfinite(year)
    for i in np.flatnonzero(~dated & (event != "")):
        add(i + 1, "year_event", event[i], "year_event is given but year is blank")
    if not strict:
        return
    for i in np.flatnonzero(dated & (event == "")):
        add(i + 1, "year_event", None,
            f"year {int(year[i])} needs year_event (what it is the year of: "
            f"{', '.join(catalog.YEAR_EVENTS)})")
    for i in np.flatnonzero(dated & (source == "")):
        add(i + 1, "year_source", None,
            f"year {int(year[i])} needs year_source (the citation for the year)")


def _closest(name: str, options: Iterable[object]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, [str(o) for o in options], n=1, cutoff=0.5)
    return found[0] if found else None


Adder = Callable[[SupportsInt, str, object, str], None]

# Validation is vectorised: masks over whole columns find the flagged rows, and Problems are
# built only for those (rare) rows. Values are resolved once per distinct value (a column
# of a million rows holds a few hundred distinct towns, categories or industry lists).


def _all_str(values: np.ndarray) -> bool:
    """True when every value is a ``str`` (no None/NaN/number): the fast paths apply."""
    return bool(pd.api.types.infer_dtype(values, skipna=False) == "string")


def _clean_text(values: pd.Series) -> np.ndarray:
    """Stripped text as an object array; blank, None and NaN become "", others their str."""
    array = values.to_numpy(dtype=object)
    if _all_str(array):
        return np.array([v.strip() for v in array], dtype=object)
    cleaned = values.map(lambda v: "" if _blank(v) else str(v).strip())
    return cleaned.to_numpy(dtype=object)


def _resolve_column(
    values: np.ndarray,
    column: str,
    vocabulary: catalog.Vocabulary,
    add: Adder,
    *,
    default: str | None = None,
    to_value: Callable[[str], str] = lambda key: key,
) -> np.ndarray:
    codes, uniques = pd.factorize(values)
    blank_value = default if default is not None else ""
    mapped: list[str] = []
    errors: dict[int, str] = {}
    for j, value in enumerate(uniques):
        if value == "":
            mapped.append(blank_value)
            continue
        try:
            mapped.append(to_value(vocabulary.resolve(value)))
        except UnknownNameError as exc:
            mapped.append(value)
            errors[j] = str(exc)
    if errors:
        bad = np.zeros(len(uniques), dtype=bool)
        bad[list(errors)] = True
        for i in np.flatnonzero(bad[codes]):
            add(i + 1, column, uniques[codes[i]], errors[codes[i]])
    return np.array(mapped, dtype=object)[codes]


def _resolve_industries(values: np.ndarray, add: Adder) -> np.ndarray:
    codes, uniques = pd.factorize(values)
    results: list[str] = []
    bad_parts: dict[int, list[str]] = {}
    for j, value in enumerate(uniques):
        keys: list[str] = []
        bad: list[str] = []
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
            bad_parts[j] = bad
            results.append("")
        else:
            results.append(";".join(keys))
    if bad_parts:
        flagged = np.zeros(len(uniques), dtype=bool)
        flagged[list(bad_parts)] = True
        seen: set[int] = set()
        for i in np.flatnonzero(flagged[codes]):
            j = int(codes[i])
            if j not in seen:
                seen.add(j)
                for part in bad_parts[j]:
                    add(i + 1, "industries", part,
                        "unknown industry; " + catalog.INDUSTRY_NAMES.suggest(part))
            else:
                add(i + 1, "industries", uniques[j], "unknown industry (see first occurrence)")
    return np.array(results, dtype=object)[codes]


def _to_float(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values.map(lambda v: str(v).strip() if isinstance(v, str) else v),
                            errors="coerce")
    return np.array(numbers, dtype=float)  # a writable copy


def _raw_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(numbers as float with NaN where not numeric, mask of blank raw values)."""
    array = values.to_numpy(dtype=object)
    if _all_str(array):
        stripped = np.array([v.strip() for v in array], dtype=object)
        blank = stripped == ""
        numbers = np.full(len(array), np.nan)
        # Blank converts to NaN anyway; leaving it out spares pandas a failed parse per cell.
        numbers[~blank] = pd.to_numeric(stripped[~blank], errors="coerce")
        return numbers, blank
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "fiu":
        numbers = np.array(values, dtype=float)
        return numbers, np.isnan(numbers) if values.dtype.kind == "f" else np.zeros(
            len(values), dtype=bool)
    return _to_float(values), values.map(_blank).to_numpy(dtype=bool)


def _coordinates(df: pd.DataFrame, add: Adder) -> tuple[np.ndarray, np.ndarray]:
    lon, blank_lon = _raw_numbers(df["lon"])
    lat, blank_lat = _raw_numbers(df["lat"])
    raw_lon, raw_lat = df["lon"], df["lat"]
    bad_lon = blank_lon | ~np.isfinite(lon)
    bad_lat = blank_lat | ~np.isfinite(lat)
    for i in np.flatnonzero(bad_lon | bad_lat):
        for name, blank, value, raw in (("lon", blank_lon[i], lon[i], raw_lon),
                                        ("lat", blank_lat[i], lat[i], raw_lat)):
            if blank:
                add(i + 1, name, None, "required value is blank")
            elif not math.isfinite(value):
                add(i + 1, name, raw.iloc[i], "not a finite number (decimal degrees expected)")
    min_lon, min_lat, max_lon, max_lat = SHANGHAI_BBOX
    x, y = lon, lat
    valid = ~(bad_lon | bad_lat)
    with np.errstate(invalid="ignore"):
        swapped = (min_lat <= x) & (x <= max_lat) & (min_lon <= y) & (y <= max_lon)
        out_of_range = (np.abs(x) > 180) | (np.abs(y) > 90)
        mercator = ((np.abs(x) > 1.3e7) & (np.abs(x) < 1.4e7)
                    & (np.abs(y) > 3.5e6) & (np.abs(y) < 3.8e6))
        in_box = (min_lon <= x) & (x <= max_lon) & (min_lat <= y) & (y <= max_lat)
    messages = (
        "lon and lat look swapped (lat value in the lon column)",
        "looks like EPSG:3857 web-mercator metres; give WGS84 degrees",
        "out of range: lon must be within ±180 and lat within ±90",
        f"point is outside Shanghai (bounding box lon {min_lon}–{max_lon}, "
        f"lat {min_lat}–{max_lat})",
    )
    code = np.select([swapped, out_of_range & mercator, out_of_range, ~in_box], [1, 2, 3, 4], 0)
    code[~valid] = 0
    for i in np.flatnonzero(code):
        add(i + 1, "lon/lat", (raw_lon.iloc[i], raw_lat.iloc[i]), messages[code[i] - 1])
    drop = ~valid | (code > 0)
    lon[drop] = np.nan
    lat[drop] = np.nan
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
    values, blank = _raw_numbers(df[column])
    raw = df[column]
    finite = np.isfinite(values)
    given = ~blank
    zeros = np.zeros(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        not_positive = (values <= 0) if positive else zeros
        fractional = (values != np.trunc(values)) if integer else zeros
        out_of_range = ((values < lo) if lo is not None else zeros) | (
            (values > hi) if hi is not None else zeros)
    code = np.select(
        [blank & (not optional), given & ~finite, given & not_positive, given & fractional,
         given & out_of_range],
        [1, 2, 3, 4, 5], 0,
    )
    for i in np.flatnonzero(code):
        c = code[i]
        if c == 1:
            add(i + 1, column, None, "required value is blank")
        elif c == 2:
            add(i + 1, column, raw.iloc[i], "not a number")
        elif c == 3:
            add(i + 1, column, raw.iloc[i], "must be a positive number of metres")
        elif c == 4:
            add(i + 1, column, raw.iloc[i], "must be a whole number")
        else:
            add(i + 1, column, raw.iloc[i], f"must be between {lo:g} and {hi:g}")
    return values


def _prepared(geom: shapely.Geometry) -> shapely.Geometry:
    """A prepared copy (the caller's geometry is left as it was)."""
    copy = shapely.from_wkb(shapely.to_wkb(geom))
    shapely.prepare(copy)
    return copy


def _check_districts(
    district: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    ok: np.ndarray,
    districts: gpd.GeoDataFrame,
    add: Adder,
) -> None:
    """Fill a blank district (in place) from the point; flag a stated district it is not in."""
    found = np.full(len(district), "", dtype=object)
    todo = np.flatnonzero(ok)
    # Where districts overlap, the last one in file order wins: test them last-first and
    # give each point to the first that contains it.
    for name, geom in reversed(list(zip(districts["name_zh"], districts.geometry,
                                        strict=True))):
        if todo.size == 0:
            break
        x0, y0, x1, y1 = geom.bounds
        px, py = lon[todo], lat[todo]
        near = np.flatnonzero((px >= x0) & (px <= x1) & (py >= y0) & (py <= y1))
        if near.size == 0:
            continue
        hit = near[shapely.contains_xy(_prepared(geom), px[near], py[near])]
        found[todo[hit]] = name
        todo = np.delete(todo, hit)
    idx = np.flatnonzero(ok)
    stated, where = district[idx], found[idx]
    blank = stated == ""
    district[idx[blank]] = where[blank]
    mismatch = ~blank & (where != "") & (stated != where)
    for i in idx[mismatch]:
        add(i + 1, "district", district[i],
            f"point ({lon[i]:.6f}, {lat[i]:.6f}) lies in {found[i]}, not in {district[i]}")
