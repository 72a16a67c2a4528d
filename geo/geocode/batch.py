"""Geocode a table or a CSV file row by row: judge each answer, fill honest points, list the rest.

Every filled row says where its point came from (``coord_source``) and how far off it may be
(``coord_precision_m``); no match, an ambiguous match or a match outside Shanghai leaves the
row empty and listed, never guessed. Rows that already have ``lon``/``lat`` are left alone.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._errors import DataError, InputError, Problem
from geo._io import atomic_write, decode_text
from geo.crs import to_metric
from geo.geocode.answers import (
    Candidate,
    GeocodeResult,
    GeocodeStopError,
    Lookup,
    RowError,
    Unresolved,
    number_or_none,
)
from geo.geocode.client import Geocoder
from geo.settings import GEOGRAPHIC_CRS, SHANGHAI_BBOX, DataLayout, bundled_data_dir

__all__ = [
    "COORD_COLUMNS",
    "GeocodeProgress",
    "geocode_csv",
    "geocode_table",
    "partial_output_path",
    "read_address_csv",
    "shanghai_outline",
    "write_unresolved_csv",
]

#: Columns the geocoder fills; added at the end of the table when missing.
COORD_COLUMNS: Final = ("lon", "lat", "coord_source", "coord_precision_m")

@dataclass(frozen=True)
class GeocodeProgress:
    """A snapshot after each row, for progress output."""

    done: int
    total: int
    filled: int
    cache_hits: int
    failures: int
    requests: int


def shanghai_outline(data_dir: str | os.PathLike[str] | None = None) -> shapely.Geometry | None:
    """The Shanghai city outline (WGS84) from a data folder, or None when it has no such file.

    Reads the same file (and validation) as ``load_atlas().city`` without loading every other
    layer, so a problem in, say, facilities.csv does not block geocoding.
    """
    from geo.boundaries import read_boundaries

    layout = DataLayout(Path(data_dir) if data_dir is not None else bundled_data_dir())
    if not layout.city.is_file():
        return None
    city = read_boundaries(layout.city, kind="city")
    outline = shapely.union_all(city.geometry.to_numpy())
    shapely.prepare(outline)
    return outline


def _inside_shanghai(lon: float, lat: float, outline: shapely.Geometry | None) -> bool:
    min_lon, min_lat, max_lon, max_lat = SHANGHAI_BBOX
    if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
        return False
    return outline is None or bool(shapely.contains_xy(outline, lon, lat))


def _spread_m(candidates: list[Candidate]) -> float:
    """Largest distance between two candidates, metres (EPSG:4549)."""
    if len(candidates) < 2:
        return 0.0
    points = gpd.GeoSeries(gpd.points_from_xy([c.lon for c in candidates],
                                              [c.lat for c in candidates]), crs=GEOGRAPHIC_CRS)
    xy = shapely.get_coordinates(to_metric(points).to_numpy())
    diff = xy[:, None, :] - xy[None, :, :]
    return float(np.sqrt((diff ** 2).sum(axis=-1)).max())


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def geocode_table(
    table: pd.DataFrame,
    geocoder: Geocoder,
    *,
    address_column: str = "address",
    city: str = "上海市",
    outline: shapely.Geometry | None = None,
    ambiguous_m: float = 1000.0,
    max_consecutive_errors: int = 5,
    on_progress: Callable[[GeocodeProgress], None] | None = None,
    file: str = "<table>",
) -> GeocodeResult:
    """Fill lon/lat/coord_source/coord_precision_m for rows without coordinates.

    Returns a copy of ``table`` (same index; the four columns added at the end if missing)
    and the list of rows left empty with the reason. Several usable answers more than
    ``ambiguous_m`` apart make a row ambiguous; closer ones are one place and widen its
    precision. ``outline`` (WGS84, e.g. :func:`shanghai_outline`) refines the bounding-box
    test. ``coord_source`` reads ``geocode:<provider> level=<match level> <date answered>``.
    Raises GeocodeStopError (with ``.result``) when the provider refuses to go on, after
    ``max_consecutive_errors`` rows in a row fail to reach it, or on Ctrl+C.
    """
    if address_column not in table.columns:
        raise DataError(Problem(file, None, address_column, None,
                                f"no address column '{address_column}'; the columns are "
                                f"{', '.join(map(str, table.columns))} (choose one with "
                                "--address-column)"))
    for name in (address_column, *COORD_COLUMNS):
        if list(table.columns).count(name) > 1:
            raise DataError(Problem(file, None, name, None, "column appears more than once"))
    if not ambiguous_m > 0:
        raise InputError(f"ambiguous_m must be a distance in metres > 0, got {ambiguous_m!r}")
    out = table.astype(object).copy()
    for name in COORD_COLUMNS:
        if name not in out.columns:
            # object, not pandas' default str dtype: the column takes floats and ints too
            out[name] = pd.Series([""] * len(out), index=out.index, dtype=object)
    counts = dict.fromkeys(("rows", "filled", "kept", "blank", "cache_hits", "requests",
                            "no_match", "ambiguous", "outside", "errors", "no_address",
                            "bad_lonlat", "not_attempted"), 0)
    counts["rows"] = len(out)
    result = GeocodeResult(out, geocoder.provider, [], counts)
    requests_before, hits_before = geocoder.requests_made, geocoder.cache_hits
    consecutive_errors = 0
    columns = list(out.columns)
    lon_at, lat_at = columns.index("lon"), columns.index("lat")
    addr_at = columns.index(address_column)
    unresolved = result.unresolved

    def tally(reason: str) -> None:
        key = {"no match": "no_match", "outside Shanghai": "outside", "error": "errors",
               "no address": "no_address", "bad lon/lat": "bad_lonlat"}.get(reason, reason)
        counts[key] += 1

    for position, (index, values) in enumerate(zip(out.index, out.itertuples(index=False,
                                                                              name=None),
                                                   strict=True)):
        row = position + 1
        address = "" if _blank(values[addr_at]) else " ".join(str(values[addr_at]).split())
        lon_raw, lat_raw = values[lon_at], values[lat_at]
        if all(_blank(v) for v in values):
            counts["blank"] += 1
        elif not (_blank(lon_raw) and _blank(lat_raw)):
            if number_or_none(lon_raw) is not None and number_or_none(lat_raw) is not None:
                counts["kept"] += 1  # already placed: never re-geocoded, never touched
            else:
                unresolved.append(Unresolved(row, index, address, "bad lon/lat",
                                             f"lon={lon_raw!r}, lat={lat_raw!r}: fix or blank "
                                             "both to geocode"))
                tally("bad lon/lat")
        elif not address:
            unresolved.append(Unresolved(row, index, "", "no address",
                                         f"column '{address_column}' is blank"))
            tally("no address")
        else:
            try:
                try:
                    lookup = geocoder.lookup(address, city)
                except KeyboardInterrupt as interrupt:  # keep what was done, as for a refusal
                    raise GeocodeStopError("interrupted (Ctrl+C)",
                                           reason="interrupted") from interrupt
            except GeocodeStopError as stop:
                unresolved.append(Unresolved(row, index, address, "stopped",
                                             f"the run stopped here ({stop.reason})"))
                counts["not_attempted"] = len(out) - position
                counts["requests"] = geocoder.requests_made - requests_before
                counts["cache_hits"] = geocoder.cache_hits - hits_before
                result.stopped = f"stopped at row {row} of {len(out)}: {stop}"
                stop.result = result
                raise
            except RowError as exc:
                unresolved.append(Unresolved(row, index, address, "error", str(exc)))
                tally("error")
                consecutive_errors = consecutive_errors + 1 if exc.transport else 0
                if consecutive_errors >= max_consecutive_errors:
                    counts["not_attempted"] = len(out) - row
                    counts["requests"] = geocoder.requests_made - requests_before
                    counts["cache_hits"] = geocoder.cache_hits - hits_before
                    unreachable = GeocodeStopError(
                        f"{geocoder.label} at {geocoder.base_url} could not be reached for "
                        f"{consecutive_errors} rows in a row ({exc})", reason="unreachable")
                    result.stopped = f"stopped after row {row} of {len(out)}: {unreachable}"
                    unreachable.result = result
                    raise unreachable from exc
            else:
                consecutive_errors = 0
                verdict = _judge(lookup, geocoder.provider, outline, ambiguous_m)
                if isinstance(verdict, tuple):
                    reason, detail = verdict
                    unresolved.append(Unresolved(row, index, address, reason, detail))
                    tally(reason)
                else:
                    out.iat[position, lon_at] = round(verdict.lon, 6)
                    out.iat[position, lat_at] = round(verdict.lat, 6)
                    out.iat[position, columns.index("coord_source")] = verdict.source
                    out.iat[position, columns.index("coord_precision_m")] = verdict.precision_m
                    counts["filled"] += 1
        if on_progress is not None:
            failures = sum(counts[k] for k in ("no_match", "ambiguous", "outside", "errors",
                                               "no_address", "bad_lonlat"))
            on_progress(GeocodeProgress(row, len(out), counts["filled"],
                                        geocoder.cache_hits - hits_before, failures,
                                        geocoder.requests_made - requests_before))
    counts["requests"] = geocoder.requests_made - requests_before
    counts["cache_hits"] = geocoder.cache_hits - hits_before
    return result


@dataclass(frozen=True)
class _Fill:
    lon: float
    lat: float
    source: str
    precision_m: int


def _judge(lookup: Lookup, provider: str, outline: shapely.Geometry | None,
           ambiguous_m: float) -> _Fill | tuple[Literal["no match", "ambiguous",
                                                        "outside Shanghai"], str]:
    """Decide what one answer is worth: a point to write, or the reason to leave it empty."""
    answer = lookup.answer
    if not answer.candidates:
        return "no match", answer.note or "no result"
    usable = [c for c in answer.candidates if c.precision_m is not None]
    if not usable:
        levels = ", ".join(sorted({c.level or "(none)" for c in answer.candidates}))
        return "no match", f"only matches coarser than a district or without a level ({levels})"
    spread = _spread_m(usable)
    if spread > ambiguous_m:
        return "ambiguous", (f"{len(usable)} results up to {spread / 1000:.1f} km apart: "
                             + "; ".join(f"{c.label or c.level} ({c.lon:.5f}, {c.lat:.5f})"
                                         for c in usable[:3]))
    best = usable[0]
    if not _inside_shanghai(best.lon, best.lat, outline):
        return "outside Shanghai", f"{best.label or best.level} at {best.lon:.5f}, {best.lat:.5f}"
    assert best.precision_m is not None
    precision = max(best.precision_m, math.ceil(spread / 10.0) * 10.0)
    date = lookup.fetched_at.date().isoformat()
    return _Fill(best.lon, best.lat, f"geocode:{provider} level={best.level} {date}",
                 int(precision))


# -------------------------------------------------------------------------------- CSV files


def read_address_csv(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, list[str], str]:
    """Read a CSV (UTF-8, UTF-8 with BOM or GB18030) as text cells.

    Returns (table with stripped header names, the header as written, encoding). Every row
    keeps its place, blank ones included, so row numbers match the file's data rows.
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise DataError(Problem(file, None, None, None, "file not found"))
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(Problem(file, None, None, None,
                                "file is empty; expected a header row with an address column"))
    try:
        text, encoding = decode_text(raw)
    except UnicodeDecodeError as exc:
        raise DataError(Problem(file, None, None, None,
                                f"cannot decode text as UTF-8 or GB18030 ({exc.reason})")) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise DataError(Problem(file, max(reader.line_num - 1, 1), None, None,
                                f"unreadable CSV: {exc}")) from exc
    header = rows[0]
    width = len(header)
    body = []
    problems = []
    for n, cells in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in cells):
            cells = [""] * width  # a blank line or a row of empty cells
        elif len(cells) != width:
            problems.append(Problem(file, n, None, len(cells),
                                    f"row has {len(cells)} cells but the header has {width}"))
            continue
        body.append(cells)
    if problems:
        raise DataError(problems, file=file)
    table = pd.DataFrame(body, columns=[h.strip() for h in header], dtype=object)
    return table, header, encoding


def _cell(value: object) -> str:
    if _blank(value):
        return ""
    if isinstance(value, float | np.floating):
        return f"{float(value):.6f}"
    return str(value)


def _write_table_csv(path: Path, header: list[str], table: pd.DataFrame) -> None:
    """UTF-8 with BOM (Excel opens it correctly), CRLF, written atomically."""
    names = header + [str(c) for c in table.columns[len(header):]]
    with atomic_write(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(names)
        for values in table.itertuples(index=False, name=None):
            writer.writerow([_cell(v) for v in values])


def partial_output_path(output: str | os.PathLike[str]) -> Path:
    """Where a stopped run leaves what it did: ``OUT.partial.csv`` beside ``OUT.csv``."""
    output = Path(output)
    stem = output.name[: -len(output.suffix)] if output.suffix else output.name
    return output.with_name(f"{stem}.partial{output.suffix or '.csv'}")


def write_unresolved_csv(path: str | os.PathLike[str], result: GeocodeResult) -> None:
    """The unresolved rows (row, address, reason, detail) as a CSV, atomically."""
    with atomic_write(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["row", "address", "reason", "detail"])
        for item in result.unresolved:
            writer.writerow([item.row, item.address, item.reason, item.detail])


def geocode_csv(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    geocoder: Geocoder,
    *,
    address_column: str = "address",
    city: str = "上海市",
    outline: shapely.Geometry | None = None,
    ambiguous_m: float = 1000.0,
    max_consecutive_errors: int = 5,
    on_progress: Callable[[GeocodeProgress], None] | None = None,
) -> GeocodeResult:
    """Geocode a CSV file into a new CSV file; the input is only read.

    The output has the input's columns plus lon, lat, coord_source, coord_precision_m (added
    if missing), UTF-8 with BOM, written atomically. On GeocodeStopError the rows done so far
    go to :func:`partial_output_path` (atomically; ``stop.partial_path``) and the output
    path is left as it was.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if output_path.exists() and input_path.exists() and output_path.samefile(input_path):
        raise InputError(f"{output_path}: the output would overwrite the input; "
                         "choose another -o path (the input is never modified)")
    table, header, _encoding = read_address_csv(input_path)
    try:
        result = geocode_table(table, geocoder, address_column=address_column, city=city,
                               outline=outline, ambiguous_m=ambiguous_m,
                               max_consecutive_errors=max_consecutive_errors,
                               on_progress=on_progress, file=str(input_path))
    except GeocodeStopError as stop:
        if stop.result is not None:
            partial = partial_output_path(output_path)
            _write_table_csv(partial, header, stop.result.table)
            stop.partial_path = partial
        raise
    _write_table_csv(output_path, header, result.table)
    return result
