"""Read a user's uploaded file (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile) safely.

Uploads arrive as bytes with a file name. They are size-limited, parsed without eval or
pickle, unpacked with zip-bomb checks into a private temporary folder (never a user-chosen
path), converted from the declared datum to WGS84 and validated with the same rules as the
bundled data.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._errors import DataError, Problem
from geo._io import decode_text, read_vector
from geo.crs import convert, convert_gdf
from geo.facilities import validate_facilities
from geo.settings import GEOGRAPHIC_CRS, SHANGHAI_BBOX

UploadDatum = Literal["wgs84", "gcj02", "bd09"]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Unpacked size limit and compression ratio above which a zip is treated as a bomb.
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_ZIP_RATIO = 100
MAX_ZIP_MEMBERS = 50
SUPPORTED = (".csv", ".txt", ".xlsx", ".geojson", ".json", ".gpkg", ".zip")


@dataclass(frozen=True)
class Upload:
    """A parsed upload: facilities (points) or boundaries (polygons), in WGS84."""

    name: str
    kind: Literal["facilities", "boundaries"]
    data: gpd.GeoDataFrame
    notes: tuple[str, ...] = field(default=())


def read_upload(
    filename: str,
    raw: bytes,
    *,
    datum: UploadDatum = "wgs84",
    city: shapely.Geometry | None = None,
    districts: gpd.GeoDataFrame | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> Upload:
    """Parse and validate one uploaded file; raise DataError listing every problem."""
    name = PurePosixPath(filename.replace("\\", "/")).name or "upload"
    suffix = PurePosixPath(name).suffix.lower()
    if len(raw) > max_bytes:
        raise DataError(Problem(name, None, None, f"{len(raw) / 2**20:.1f} MB",
                                f"file is larger than the upload limit of "
                                f"{max_bytes / 2**20:.0f} MB"))
    if suffix not in SUPPORTED:
        raise DataError(Problem(name, None, None, suffix or "(none)",
                                f"unsupported file type; upload one of {', '.join(SUPPORTED)}"))
    if not raw.strip():
        raise DataError(Problem(name, None, None, None, "file is empty"))
    if suffix in {".csv", ".txt", ".xlsx"}:
        table = _read_table(name, raw, suffix)
        if datum != "wgs84":
            table = _table_to_wgs84(table, datum)
        data = validate_facilities(table, file=name, city=city, districts=districts)
        return Upload(name, "facilities", data, _datum_note(datum))
    with tempfile.TemporaryDirectory(prefix="newtown-upload-") as tmp:
        path = _materialise(name, raw, suffix, Path(tmp))
        try:
            gdf = read_vector(path)
        except DataError as exc:  # name the user's file, never the server's temp copy
            raise DataError([_renamed(p, name, tmp) for p in exc.problems], file=name) from None
        if gdf.crs is None:
            raise DataError(Problem(name, None, "crs", None,
                                    "file has no CRS; declare EPSG:4326 (WGS84)"))
        if not gdf.crs.equals(GEOGRAPHIC_CRS):
            gdf = gdf.to_crs(GEOGRAPHIC_CRS)
    gdf = gdf.reset_index(drop=True)
    types = set(gdf.geometry.geom_type.dropna())
    if datum != "wgs84":
        gdf = convert_gdf(gdf, from_datum=datum, to_datum="wgs84")
    if types and types <= {"Point"}:
        table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).astype(object)
        table["lon"], table["lat"] = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
        data = validate_facilities(table, file=name, city=city, districts=districts)
        return Upload(name, "facilities", data, _datum_note(datum))
    if types and types <= {"Polygon", "MultiPolygon"}:
        return Upload(name, "boundaries", _check_polygons(name, gdf), _datum_note(datum))
    raise DataError(Problem(name, None, "geometry", sorted(types),
                            "expected only points (facilities) or only polygons (boundaries)"))


def _renamed(problem: Problem, name: str, folder: str) -> Problem:
    message = problem.message.replace(str(Path(folder)), "").replace("/layer.shp", name)
    for temp in (f"upload{PurePosixPath(name).suffix.lower()}", "layer.shp"):
        message = message.replace(temp, name)
    return Problem(name, problem.row, problem.field, problem.value, message)


def _datum_note(datum: str) -> tuple[str, ...]:
    if datum == "wgs84":
        return ()
    return (f"coordinates declared as {datum.upper()} were converted to WGS84",)


def _read_table(name: str, raw: bytes, suffix: str) -> pd.DataFrame:
    if suffix == ".xlsx":
        try:
            # openpyxl reads the XML parts; no macros or formulas are evaluated.
            table = pd.read_excel(io.BytesIO(raw), dtype=str, engine="openpyxl",
                                  keep_default_na=False)
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
            raise DataError(Problem(name, None, None, None,
                                    f"cannot read as an Excel workbook: {exc}")) from exc
        return table.astype(object)
    import csv

    try:
        text, _ = decode_text(raw)
    except UnicodeDecodeError as exc:
        raise DataError(Problem(name, None, None, None,
                                "cannot decode text as UTF-8 or GB18030")) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = [r for r in reader if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise DataError(Problem(name, max(reader.line_num - 1, 1), None, None,
                                f"unreadable CSV: {exc}")) from exc
    if not rows:
        raise DataError(Problem(name, None, None, None, "file is empty"))
    header, body = [h.strip() for h in rows[0]], rows[1:]
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if repeated:
        raise DataError([Problem(name, None, h, None, "column appears more than once in the "
                                                      "header; keep one") for h in repeated],
                        file=name)
    bad = [Problem(name, n, None, len(r), f"row has {len(r)} cells but the header has "
                                          f"{len(header)}")
           for n, r in enumerate(body, start=1) if len(r) != len(header)]
    if bad:
        raise DataError(bad, file=name)
    return pd.DataFrame(body, columns=header, dtype=object)


def _table_to_wgs84(table: pd.DataFrame, datum: UploadDatum) -> pd.DataFrame:
    """Convert lon/lat columns from GCJ-02/BD-09; cells that are not numbers stay for the
    validator to report."""
    if "lon" not in table.columns or "lat" not in table.columns:
        return table
    lon = pd.to_numeric(table["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(table["lat"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    x, y = convert(lon[ok], lat[ok], from_datum=datum, to_datum="wgs84")
    out = table.copy()
    lon_out = out["lon"].astype(object).to_numpy().copy()
    lat_out = out["lat"].astype(object).to_numpy().copy()
    lon_out[ok], lat_out[ok] = x, y
    out["lon"], out["lat"] = lon_out, lat_out
    return out


def _materialise(name: str, raw: bytes, suffix: str, folder: Path) -> Path:
    """Write the upload into a private temp folder (GDAL reads files) and return what to open."""
    if suffix != ".zip":
        path = folder / f"upload{suffix}"
        path.write_bytes(raw)
        return path
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise DataError(Problem(name, None, None, None, f"not a valid zip file: {exc}")) from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise DataError(Problem(name, None, None, len(members),
                                    f"zip holds more than {MAX_ZIP_MEMBERS} files"))
        total = sum(m.file_size for m in members)
        packed = max(1, sum(m.compress_size for m in members))
        if total > MAX_UNZIPPED_BYTES or total / packed > MAX_ZIP_RATIO:
            raise DataError(Problem(name, None, None, f"{total / 2**20:.0f} MB unpacked",
                                    "zip unpacks to too much data (possible zip bomb); "
                                    f"limit {MAX_UNZIPPED_BYTES / 2**20:.0f} MB and ratio "
                                    f"{MAX_ZIP_RATIO}:1"))
        shapefiles = [m for m in members if m.filename.lower().endswith(".shp")]
        if len(shapefiles) != 1:
            raise DataError(Problem(name, None, None, [m.filename for m in members][:10],
                                    "a zipped Shapefile must hold exactly one .shp (with its "
                                    ".shx, .dbf and .prj)"))
        stem = PurePosixPath(shapefiles[0].filename).stem
        for member in members:
            inner = PurePosixPath(member.filename)
            if inner.stem != stem:
                continue
            # Only the file name is kept: no directories, so nothing escapes the temp folder.
            target = folder / f"layer{inner.suffix.lower()}"
            try:
                with archive.open(member) as src:
                    data = src.read(MAX_UNZIPPED_BYTES + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise DataError(Problem(name, None, None, member.filename,
                                        f"damaged zip: {exc}")) from exc
            if len(data) > MAX_UNZIPPED_BYTES:
                raise DataError(Problem(name, None, None, member.filename,
                                        "zip unpacks to too much data (possible zip bomb)"))
            target.write_bytes(data)
    path = folder / "layer.shp"
    missing = [ext for ext in (".shx", ".dbf") if not (folder / f"layer{ext}").exists()]
    if missing:
        raise DataError(Problem(name, None, None, missing,
                                "the Shapefile is missing its " + " and ".join(missing)))
    return path


def _check_polygons(name: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    problems = []
    min_lon, min_lat, max_lon, max_lat = SHANGHAI_BBOX
    for n, geom in enumerate(gdf.geometry, start=1):
        if geom is None or geom.is_empty:
            problems.append(Problem(name, n, "geometry", None, "missing geometry"))
        elif not geom.is_valid:
            problems.append(Problem(name, n, "geometry", shapely.is_valid_reason(geom),
                                    "invalid polygon (e.g. self-intersection)"))
        else:
            x0, y0, x1, y1 = geom.bounds
            if x1 < min_lon or x0 > max_lon or y1 < min_lat or y0 > max_lat:
                problems.append(Problem(name, n, "geometry", tuple(round(v, 3) for v in
                                                                   geom.bounds),
                                        "polygon is not in Shanghai (wrong CRS or datum?)"))
    if problems:
        raise DataError(problems, file=name)
    if "name_zh" not in gdf.columns:
        label = next((c for c in ("name", "NAME", "名称", "name_en") if c in gdf.columns), None)
        gdf = gdf.assign(name_zh=gdf[label].astype(str) if label else
                         [f"{name} #{i + 1}" for i in range(len(gdf))])
    return gdf
