"""The bad-input corpus: every malformed file through every reader it applies to.

Readers: the bundled-data loaders (geo.facilities.read_facilities with the city outline and
districts, as load_atlas calls it; geo.boundaries.read_boundaries), the upload reader
(geo.ingest.read_upload), the command line (``newtown check --data DIR`` with the file
placed in a copy of data/), and the geocoder's input reader (geo.geocode.read_address_csv).
Each answer must be a DataError (the CLI: exit 2 and the message on stderr) naming the file,
and the row and field where there is one; no other exception, no traceback, and no file
left behind (no partial output, no temp file, nothing unpacked outside a private folder).
A few inputs must load: that is part of the corpus too (GB18030 with no declaration, BOM,
mixed line endings, an upload of plain polygons).

Formula injection in CSV exports is tested in tests/test_export.py
(test_csv_bom_lonlat_and_formula_neutralised, test_neutralise_formula).

docs/CORPUS.md is generated from the same table by ``python tests/test_corpus.py --write-doc``;
``--make-fixtures`` rebuilds the binary fixtures this file added to tests/data/bad.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from geo._errors import DataError, Problem  # noqa: E402

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"
GOOD = DATA / "good"
BUNDLED = ROOT / "data"
DOC = ROOT / "docs" / "CORPUS.md"

FACILITIES = "read_facilities"
BOUNDARIES = "read_boundaries"
UPLOAD = "read_upload"
CLI = "newtown check"
GEOCODER = "read_address_csv"
READERS = (FACILITIES, BOUNDARIES, UPLOAD, CLI, GEOCODER)

HEADER = ("id,name_zh,name_en,category,industries,town,district,address,lon,lat,coord_source,"
          "coord_precision_m,placement,parent_id,level,status,year,year_event,year_source,source")
ROW = ("JD-T{n},测试研究所{n},Test Institute,research_institute,ai,jiading,嘉定区,"
       "嘉定区测试路1号,121.25,31.38,manual test,500,site,,municipal,operating,2020,founded,"
       "test fixture,test fixture")


# -- expectations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejects:
    """A DataError with a problem at this row and field whose text contains ``text``."""

    row: int | None
    field: str | None
    text: str


@dataclass(frozen=True)
class Loads:
    """The reader accepts the input (``rows`` data rows, when given)."""

    rows: int | None = None
    note: str = ""


@dataclass(frozen=True)
class KnownBug:
    """What the reader should do, and why it does not yet (an xfail, strict)."""

    expected: Rejects | Loads
    raises: type[BaseException]
    reason: str


Expectation = Rejects | Loads | KnownBug


@dataclass(frozen=True)
class Case:
    name: str  # file name (in tests/data/bad or good, or made at run time)
    what: str
    readers: dict[str, Expectation]
    folder: str = "bad"  # "bad", "good" or "generated"
    slow: bool = False


def facility_csv(name: str, what: str, reject: Rejects | Loads, *,
                 geocoder: Expectation | None = None, upload: Expectation | None = None,
                 folder: str = "bad", slow: bool = False,
                 loader: Expectation | None = None) -> Case:
    """A facility table: the loader, the upload and the CLI give the same answer."""
    return Case(name, what, {
        FACILITIES: loader or reject,
        UPLOAD: upload or reject,
        CLI: loader or reject,
        GEOCODER: geocoder if geocoder is not None else Loads(note="the geocoder reads only "
                                                                "addresses and coordinates"),
    }, folder=folder, slow=slow)


def boundary_file(name: str, what: str, reject: Rejects, *, upload: Expectation,
                  facilities: Expectation | None = None) -> Case:
    """A town boundary file: the loader and the CLI (as boundaries/towns.geojson) agree."""
    readers: dict[str, Expectation] = {BOUNDARIES: reject, CLI: reject, UPLOAD: upload}
    if facilities is not None:
        readers[FACILITIES] = facilities
    return Case(name, what, readers)


TEMP_NAME = ("the message names the server's temp copy (upload.<ext> / layer.shp under "
             "/tmp/newtown-upload-*) instead of the uploaded file: geo.ingest.read_upload "
             "passes the temp path to geo._io.read_vector and does not rename the problems")
CSV_FIELD_LIMIT = ("Python's csv module refuses a cell over 131072 characters with "
                   "_csv.Error (not a ValueError), which escapes the reader")
BAD_CRC = ("zipfile raises BadZipFile ('Bad CRC-32') while geo.ingest._materialise reads the "
           "member; only the ZipFile constructor's BadZipFile is caught")
CSV_AS_BOUNDARY = ("GDAL reads a CSV without geometry as a plain DataFrame and "
                   "read_boundaries then fails with AttributeError on .crs")

COORD = "lon/lat"
LAST_ROW = -1  # the file's last data row (its number depends on the generated file)
NOT_CLOSED = "do not form a closed linestring"

CASES: list[Case] = [
    # -- facility tables ---------------------------------------------------------------------
    facility_csv("empty.csv", "empty file (0 bytes)", Rejects(None, None, "file is empty"),
                 geocoder=Rejects(None, None, "file is empty")),
    facility_csv("header_only.csv", "header row and no data", Rejects(None, None, "header only"),
                 geocoder=Loads(0, "an empty address table: nothing to do")),
    facility_csv("missing_column.csv", "'latitude' instead of 'lat'",
                 Rejects(None, None, "missing required column(s): 'lat' (found 'latitude'?)")),
    facility_csv("blank_lon.csv", "blank longitude", Rejects(1, "lon", "required value is blank")),
    facility_csv("nan_lat.csv", "'NaN' as latitude", Rejects(1, "lat", "not a finite number")),
    facility_csv("out_of_range.csv", "latitude 95", Rejects(1, COORD, "out of range")),
    facility_csv("swapped_lat_lon.csv", "lat in the lon column and vice versa",
                 Rejects(1, COORD, "look swapped")),
    facility_csv("web_mercator_metres.csv", "coordinates in EPSG:3857 metres",
                 Rejects(1, COORD, "EPSG:3857")),
    facility_csv("beijing.csv", "a point in Beijing", Rejects(1, COORD, "outside Shanghai")),
    facility_csv("duplicate_id.csv", "two rows with the same id",
                 Rejects(2, "id", "duplicate id (rows 1, 2)")),
    facility_csv("unknown_industry.csv", "misspelt industry",
                 Rejects(1, "industries", "did you mean 'biomed'")),
    facility_csv("unknown_town.csv", "misspelt town", Rejects(1, "town", "did you mean 'jiading'")),
    facility_csv("unknown_category.csv", "misspelt category",
                 Rejects(1, "category", "did you mean 'research_institute'")),
    facility_csv("bad_precision.csv", "negative coordinate precision",
                 Rejects(1, "coord_precision_m", "positive number of metres")),
    facility_csv("bad_year.csv", "year '20x0'", Rejects(1, "year", "not a number")),
    facility_csv("formula_name.csv", "=HYPERLINK(...) as the name",
                 Rejects(1, "name_zh", "spreadsheet formula")),
    facility_csv("long_name.csv", "a 400-character English name",
                 Rejects(1, "name_en", "longer than 300 characters")),
    facility_csv("many_problems.csv", "three rows, three different problems",
                 Rejects(3, "industries", "required value is blank")),
    facility_csv("ragged_row.csv", "a row with one cell too many",
                 Rejects(1, None, "row has 17 cells but the header has 16"),
                 geocoder=Rejects(1, None, "row has 17 cells but the header has 16")),
    facility_csv("unterminated_quote.csv", "a quote opened and never closed",
                 Rejects(1, None, "row has 2 cells but the header has 16"),
                 geocoder=Rejects(1, None, "row has 2 cells but the header has 16")),
    facility_csv("duplicate_column.csv", "the header names 'lon' twice",
                 Rejects(None, "lon", "more than once"),
                 ),
    facility_csv("not_text.csv", "binary bytes, neither UTF-8 nor GB18030",
                 Rejects(None, None, "cannot decode text as UTF-8 or GB18030"),
                 geocoder=Rejects(None, None, "cannot decode text as UTF-8 or GB18030")),
    facility_csv("huge_cell.csv", "one name of 200,000 characters",
                 Rejects(1, "name_zh", "longer than 300 characters"), folder="generated",
                 geocoder=Loads(1)),
    facility_csv("huge_cell_blank_source.csv",
                 "the same, and a blank last cell, which sends the loader to the csv module",
                 Rejects(1, "name_zh", "longer than 300 characters"), folder="generated",
                 geocoder=Loads(1)),
    facility_csv("fifty_megabytes.csv", "50 MB of valid rows, the last one with a blank lon "
                 "(never committed)",
                 Rejects(LAST_ROW, "lon", "required value is blank"), folder="generated",
                 upload=Rejects(None, None, "larger than the upload limit of 20 MB"),
                 geocoder=Loads(), slow=True),
    # -- facility tables that must load --------------------------------------------------------
    facility_csv("gb18030.csv", "GB18030 (Excel, Chinese Windows) with no encoding declared",
                 Loads(1), folder="good", geocoder=Loads(1)),
    facility_csv("utf8_bom.csv", "UTF-8 with a byte-order mark", Loads(1), folder="good",
                 geocoder=Loads(1)),
    facility_csv("mixed_line_endings.csv", r"\r\n, \n and \r line endings in one file",
                 Loads(3), folder="good", geocoder=Loads(3)),
    # -- facility vector files -------------------------------------------------------------------
    Case("line_facility.geojson", "a facility drawn as a line", {
        FACILITIES: Rejects(1, "geometry", "facilities must be Points"),
        UPLOAD: Rejects(None, "geometry", "expected only points (facilities) or only polygons"),
    }),
    Case("mixed_geometries.geojson", "a point and a polygon in one FeatureCollection", {
        FACILITIES: Rejects(2, "geometry", "facilities must be Points"),
        UPLOAD: Rejects(None, "geometry", "expected only points (facilities) or only polygons"),
    }),
    Case("nan_coordinate.geojson", "a Point whose longitude is NaN", {
        FACILITIES: Rejects(1, "lon", "required value is blank"),
        UPLOAD: Rejects(1, "lon", "required value is blank"),
    }),
    Case("projected_crs_points.geojson",
         "facility points in EPSG:3857 metres with a (pre-RFC 7946) crs member", {
             FACILITIES: Loads(1, "GDAL honours the crs member; the points are reprojected"),
             UPLOAD: Loads(1, "reprojected, as by the loader"),
         }),
    Case("not_geojson.json", "valid JSON that is not GeoJSON", {
        FACILITIES: Rejects(None, None, "cannot read as a vector file"),
        BOUNDARIES: Rejects(None, None, "cannot read as a vector file"),
        UPLOAD: Rejects(None, None, "cannot read as a vector file"),
    }),
    Case("truncated.geojson", "GeoJSON cut off mid-string", {
        FACILITIES: Rejects(None, None, "cannot read as a vector file"),
        BOUNDARIES: Rejects(None, None, "not valid JSON"),
        CLI: Rejects(None, None, "not valid JSON"),
        UPLOAD: Rejects(None, None, "cannot read as a vector file"),
    }),
    Case("truncated.gpkg", "a GeoPackage cut to its first 32 KB", {
        FACILITIES: Rejects(None, None, "cannot read as a vector file"),
        BOUNDARIES: Rejects(None, None, "cannot read as a vector file"),
        UPLOAD: Rejects(None, None, "cannot read as a vector file"),
        GEOCODER: Rejects(None, None, "cannot decode text"),
    }),
    # -- boundary files --------------------------------------------------------------------------
    boundary_file("self_intersecting_town.geojson", "a bow-tie town polygon",
                  Rejects(1, "geometry", "Self-intersection"),
                  upload=Rejects(1, "geometry", "invalid polygon"),
                  facilities=Rejects(1, "geometry", "facilities must be Points")),
    boundary_file("unclosed_ring_town.geojson", "a polygon ring that does not close",
                  Rejects(None, None, NOT_CLOSED),
                  upload=Rejects(None, None, NOT_CLOSED)),
    boundary_file("projected_crs_member.geojson",
                  "a town with a crs member naming EPSG:3857", Rejects(None, "crs", "EPSG::3857"),
                  upload=Rejects(1, "geometry", "polygon is not in Shanghai")),
    boundary_file("point_as_town.geojson", "a town given as a point",
                  Rejects(1, "geometry", "expected MultiPolygon or Polygon"),
                  upload=Rejects(None, None, "missing required column(s): 'id'")),
    boundary_file("town_missing_source.geojson", "a town without its 'source' property",
                  Rejects(None, "source", "missing required property"),
                  upload=Loads(1, "an uploaded boundary needs no town properties")),
    boundary_file("town_unknown_key.geojson", "a town keyed 'jiadingg'",
                  Rejects(1, "key", "did you mean 'jiading'"),
                  upload=Loads(1, "an uploaded boundary needs no town key")),
    Case("boundaries_as_csv.csv", "a CSV handed to the boundary reader", {
        BOUNDARIES: Rejects(None, "geometry", "no geometry"),
    }, folder="generated"),
    # -- uploads: archives and workbooks -----------------------------------------------------------
    Case("zip_without_shp.zip", "a zip holding a .txt and a .dbf but no .shp", {
        UPLOAD: Rejects(None, None, "must hold exactly one .shp"),
    }),
    Case("zip_bomb.zip", "a 901-byte zip (bzip2) that unpacks to 1 GiB of zeros", {
        UPLOAD: Rejects(None, None, "possible zip bomb"),
    }),
    Case("zip_bomb_lying_sizes.zip",
         "20 MiB of zeros whose zip headers claim 1,000 bytes (CRC of the real data)", {
             UPLOAD: Rejects(None, None, "zip"),
         }),
    Case("not_a_zip.zip", "a .zip that is not a zip archive", {
        UPLOAD: Rejects(None, None, "not a valid zip file"),
    }),
    Case("zip_slip.zip", "a valid polygon Shapefile whose members are named ../../evil/*", {
        UPLOAD: Loads(1, "member paths are dropped: only the file names are used, inside a "
                         "private temp folder"),
    }),
    Case("formula_name.xlsx", "an Excel workbook: a real =HYPERLINK formula cell in row 1, "
         "the same text as a string in row 2", {
             UPLOAD: Rejects(2, "name_zh", "spreadsheet formula"),
         }),
    Case("not_a_workbook.xlsx", "a text file named .xlsx", {
        UPLOAD: Rejects(None, None, "cannot read as an Excel workbook"),
    }),
]
BY_NAME = {case.name: case for case in CASES}


# -- making the inputs ---------------------------------------------------------------------


def _facility_rows(count: int) -> list[str]:
    return [ROW.format(n=n) for n in range(1, count + 1)]


def _fifty_megabytes(path: Path) -> None:
    target = 50 * 2**20
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(HEADER + "\n")
        size, n, lines = len(HEADER) + 1, 0, []
        while size < target:
            n += 1
            line = ROW.format(n=n) + "\n"
            lines.append(line)
            size += len(line.encode("utf-8"))
        lines[-1] = lines[-1].replace(",121.25,", ",,")
        out.write("".join(lines))


GENERATORS: dict[str, Callable[[Path], None]] = {
    "huge_cell.csv": lambda p: p.write_text(
        HEADER + "\n" + ROW.format(n=1).replace("测试研究所1", "长" * 200_000) + "\n",
        encoding="utf-8"),
    "huge_cell_blank_source.csv": lambda p: p.write_text(
        HEADER + "\n" + ROW.format(n=1).replace("测试研究所1", "长" * 200_000)
        .replace(",test fixture", ",") + "\n", encoding="utf-8"),
    "fifty_megabytes.csv": _fifty_megabytes,
    "boundaries_as_csv.csv": lambda p: p.write_text(
        "key,name_zh,source\njiading,嘉定新城,test\n", encoding="utf-8"),
}


def fifty_megabytes_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1


class Inputs:
    """Paths of corpus files; the generated ones are made once, on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, case: Case) -> Path:
        if case.folder == "bad":
            return BAD / case.name
        if case.folder == "good":
            return GOOD / case.name
        path = self.folder / case.name
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            GENERATORS[case.name](path)
        return path


def make_fixtures(folder: Path = BAD) -> None:
    """Write the fixtures this module added to tests/data/bad (deterministic but the xlsx)."""
    import geopandas as gpd
    import openpyxl
    import shapely
    from pyproj import Transformer

    props = {"id": "JD-T1", "name_zh": "测试研究所", "name_en": "Test Institute",
             "category": "research_institute", "industries": "ai", "town": "jiading",
             "district": "嘉定区", "address": "嘉定区测试路1号", "coord_source": "manual test",
             "coord_precision_m": 500, "level": "municipal", "status": "operating",
             "year": 2020, "source": "test fixture"}
    plain = json.dumps(props, ensure_ascii=False)

    def write(name: str, data: bytes | str) -> None:
        path = folder / name
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)

    lines = [HEADER, ROW.format(n=1).replace("测试研究所1", '"测试研究所1')]
    write("unterminated_quote.csv", "\n".join(lines) + "\n")
    write("duplicate_column.csv", HEADER + ",lon\n" + ROW.format(n=1) + ",121.26\n")
    write("nan_coordinate.geojson",
          '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
          + plain + ', "geometry": {"type": "Point", "coordinates": [NaN, 31.38]}}]}\n')
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(121.25, 31.38)
    write("projected_crs_points.geojson", json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
        "features": [{"type": "Feature", "properties": props,
                      "geometry": {"type": "Point", "coordinates": [round(x, 2), round(y, 2)]}}],
    }, ensure_ascii=False) + "\n")
    write("mixed_geometries.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props,
         "geometry": {"type": "Point", "coordinates": [121.25, 31.38]}},
        {"type": "Feature", "properties": {**props, "id": "JD-T2"},
         "geometry": {"type": "Polygon", "coordinates": [[[121.2, 31.3], [121.3, 31.3],
                                                          [121.3, 31.4], [121.2, 31.3]]]}},
    ]}, ensure_ascii=False) + "\n")
    write("not_geojson.json", '{"name": "新城", "values": [1, 2, 3]}\n')
    write("not_a_workbook.xlsx", "id,name_zh\nJD-T1,这不是Excel文件\n")

    def zipped(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", method) as archive:
            for name, data in members.items():
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = method
                archive.writestr(info, data)
        return buffer.getvalue()

    write("zip_without_shp.zip", zipped({"readme.txt": "没有 .shp 文件\n".encode(),
                                         "towns.dbf": b"\x03" + b"\x00" * 31}))
    write("zip_bomb.zip", zipped({"layer.shp": b"\x00" * 2**30}, zipfile.ZIP_BZIP2))
    write("not_a_zip.zip", b"PK\x03\x04 this is not really a zip archive\n")

    # Headers that lie: the member claims 1,000 bytes but holds 20 MiB of deflated zeros.
    real = b"\x00" * (20 * 2**20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(real) + packer.flush()
    write("zip_bomb_lying_sizes.zip", _raw_zip("layer.shp", packed, declared=1000,
                                               crc=zlib.crc32(real)))

    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / "area.shp"
        frame = gpd.GeoDataFrame({"name": ["上传区域"]},
                                 geometry=[shapely.box(121.2, 31.3, 121.3, 31.4)], crs=4326)
        frame.to_file(shp, driver="ESRI Shapefile", engine="pyogrio")
        members = {f"../../evil/area{p.suffix}": p.read_bytes()
                   for p in sorted(Path(tmp).iterdir())}
    write("zip_slip.zip", zipped(members))

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    for n in (1, 2):
        sheet.append(ROW.format(n=n).split(","))
    sheet["B2"] = '=HYPERLINK("http://example.invalid","点我")'  # a real formula cell
    sheet["B3"] = '=HYPERLINK("http://example.invalid","点我")'
    sheet["B3"].data_type = "s"  # the same text stored as a string
    buffer = io.BytesIO()
    book.save(buffer)
    write("formula_name.xlsx", buffer.getvalue())


def _raw_zip(name: str, packed: bytes, *, declared: int, crc: int) -> bytes:
    """A one-member deflate zip whose headers state ``declared`` as the unpacked size."""
    import struct

    fn = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x5821, crc, len(packed),
                        declared, len(fn), 0) + fn
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x5821, crc,
                          len(packed), declared, len(fn), 0, 0, 0, 0, 0, 0) + fn
    body = local + packed
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(body), 0)
    return body + central + end


# -- running a reader ----------------------------------------------------------------------


@dataclass
class Outcome:
    """What one reader made of one input."""

    error: DataError | None = None
    rows: int | None = None
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    shown_name: str = ""  # the file name the user knows (the upload's name, the placed name)
    leftovers: list[str] = field(default_factory=list)  # files a failed read left behind


@contextlib.contextmanager
def private_tempdir(folder: Path) -> Iterator[Path]:
    """Route tempfile (and so the upload reader's unpacking) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved


def _listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")
            if p.is_file()}


class Context:
    """The bundled data's outline and districts, loaded once (as load_atlas passes them)."""

    def __init__(self) -> None:
        import shapely

        from geo.atlas import load_atlas

        atlas = load_atlas(BUNDLED)
        self.city = shapely.union_all(atlas.city.geometry.to_numpy())
        self.districts = atlas.districts


def cli_placement(path: Path) -> Path:
    """Where the CLI test puts a file in the data folder copy."""
    if path.suffix.lower() in {".geojson", ".json"}:
        return Path("boundaries") / "towns.geojson"
    return Path("facilities.csv")


def run_reader(reader: str, path: Path, ctx: Context, work: Path) -> Outcome:
    """Run one reader on one input. Anything but a DataError propagates."""
    from dashboard import cli
    from geo.boundaries import read_boundaries
    from geo.facilities import read_facilities
    from geo.geocode import read_address_csv
    from geo.ingest import read_upload

    work.mkdir(parents=True, exist_ok=True)
    outcome = Outcome(shown_name=path.name)
    before = _listing(path.parent)
    try:
        if reader == FACILITIES:
            outcome.rows = len(read_facilities(path, city=ctx.city, districts=ctx.districts))
        elif reader == BOUNDARIES:
            outcome.rows = len(read_boundaries(path, kind="towns"))
        elif reader == GEOCODER:
            table, _header, _encoding = read_address_csv(path)
            outcome.rows = len(table)
        elif reader == UPLOAD:
            with private_tempdir(work / "tmp") as tmp:
                try:
                    upload = read_upload(path.name, path.read_bytes(), city=ctx.city,
                                         districts=ctx.districts)
                    outcome.rows = len(upload.data)
                finally:
                    outcome.leftovers += [f"tmp/{p.name}" for p in tmp.iterdir()]
            outcome.leftovers += [p.name for p in work.iterdir() if p.name != "tmp"]
        elif reader == CLI:
            data = work / "data"
            shutil.copytree(BUNDLED, data, ignore=shutil.ignore_patterns("*.md"))
            placed = data / cli_placement(path)
            shutil.copyfile(path, placed)
            outcome.shown_name = placed.name
            data_before = _listing(data)
            out, err = io.StringIO(), io.StringIO()
            cwd = Path.cwd()
            os.chdir(work)
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    outcome.exit_code = cli.main(["check", "--data", str(data)])
            finally:
                os.chdir(cwd)
            outcome.stdout, outcome.stderr = out.getvalue(), err.getvalue()
            changed = set(_listing(data).items()) ^ set(data_before.items())
            outcome.leftovers += sorted({name for name, _ in changed})
            outcome.leftovers += [p.name for p in work.iterdir() if p.name != "data"]
        else:
            raise ValueError(f"unknown reader {reader!r}")
    except DataError as exc:
        outcome.error = exc
    if reader != CLI:
        after = _listing(path.parent)
        outcome.leftovers += sorted(set(after) - set(before))
    return outcome


# -- checking an outcome -------------------------------------------------------------------


def rendered(name: str, row: int | None, field: str | None) -> str:
    """How Problem.__str__ starts for this file, row and field."""
    where = [name]
    if row is not None:
        where.append(f"row {row}")
    if field:
        where.append(f"field '{field}'")
    return ", ".join(where) + ": "


def check(outcome: Outcome, expected: Rejects | Loads, reader: str, case: Case,
          path: Path) -> None:
    assert outcome.leftovers == [], f"left behind: {outcome.leftovers}"
    if reader == CLI:
        assert "Traceback" not in outcome.stderr
        if isinstance(expected, Loads):
            assert outcome.exit_code == 0, outcome.stderr
            return
        assert outcome.exit_code == 2, (outcome.exit_code, outcome.stdout, outcome.stderr)
        assert outcome.stdout == "", "a failed check must not print a partial report"
        assert outcome.stderr.startswith("error: data problems\n")
        head = rendered(outcome.shown_name, expected.row, expected.field)
        lines = [line for line in outcome.stderr.splitlines() if head in line]
        assert any(expected.text in line for line in lines), (head, outcome.stderr)
        return
    if isinstance(expected, Loads):
        assert outcome.error is None, str(outcome.error)
        if expected.rows is not None:
            assert outcome.rows == expected.rows
        else:
            assert outcome.rows is not None and outcome.rows > 0
        return
    assert outcome.error is not None, f"{reader} accepted {case.name} ({outcome.rows} rows)"
    problems = outcome.error.problems
    assert problems, "a DataError must carry at least one problem"
    # Every problem names the file the user knows, never a temp copy.
    assert {Path(p.file).name for p in problems} == {outcome.shown_name}, \
        [p.file for p in problems]
    assert Path(outcome.error.file).name == outcome.shown_name, outcome.error.file
    match = [p for p in problems if p.row == expected.row and p.field == expected.field
             and expected.text in str(p)]
    assert match, f"no problem at row {expected.row}, field {expected.field!r} saying " \
                  f"{expected.text!r} in:\n{outcome.error}"
    text = str(outcome.error)
    assert rendered(outcome.shown_name, expected.row, expected.field) in text


def _params() -> list[object]:
    params = []
    for case in CASES:
        for reader in READERS:
            if reader not in case.readers:
                continue
            expectation = case.readers[reader]
            marks = [pytest.mark.slow] if case.slow else []
            if isinstance(expectation, KnownBug):
                marks.append(pytest.mark.xfail(strict=True, raises=expectation.raises,
                                               reason=expectation.reason))
            params.append(pytest.param(case.name, reader, marks=marks,
                                       id=f"{case.name}-{reader}"))
    return params


@pytest.fixture(scope="module")
def context() -> Context:
    return Context()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    return Inputs(tmp_path_factory.mktemp("generated"))


@pytest.mark.parametrize(("name", "reader"), _params())
def test_corpus(name: str, reader: str, context: Context, inputs: Inputs, tmp_path: Path):
    case = BY_NAME[name]
    expectation = case.readers[reader]
    expected = expectation.expected if isinstance(expectation, KnownBug) else expectation
    if isinstance(expected, Rejects) and expected.row == LAST_ROW:
        expected = Rejects(fifty_megabytes_rows(inputs.path(case)), expected.field,
                           expected.text)
    path = inputs.path(case)
    outcome = run_reader(reader, path, context, tmp_path / "work")
    check(outcome, expected, reader, case, path)


# -- checks beyond one reader and one file -------------------------------------------------


def test_corpus_covers_the_issue_list():
    """Issue 9 asks for at least 25 malformed inputs across every reader."""
    malformed = [c for c in CASES if c.folder != "good"]
    assert len(malformed) >= 25
    for reader in READERS:
        assert any(reader in c.readers for c in malformed), reader
    names = {c.name for c in CASES}
    for wanted in ("empty.csv", "header_only.csv", "gb18030.csv", "utf8_bom.csv",
                   "mixed_line_endings.csv", "nan_lat.csv", "blank_lon.csv", "out_of_range.csv",
                   "swapped_lat_lon.csv", "web_mercator_metres.csv", "beijing.csv",
                   "duplicate_id.csv", "unknown_industry.csv", "self_intersecting_town.geojson",
                   "unclosed_ring_town.geojson", "projected_crs_member.geojson",
                   "truncated.gpkg", "zip_without_shp.zip", "zip_bomb.zip",
                   "fifty_megabytes.csv", "long_name.csv", "formula_name.csv"):
        assert wanted in names, wanted
    for case in CASES:
        if case.folder != "generated":
            path = (BAD if case.folder == "bad" else GOOD) / case.name
            assert path.is_file(), path
            assert path.stat().st_size < 300_000, f"{path} is too big to commit"


def test_zip_bomb_is_refused_before_unpacking(tmp_path: Path):
    """The bomb's headers are read, never its data: nothing near 1 GiB is allocated."""
    import tracemalloc

    from geo.ingest import read_upload

    raw = (BAD / "zip_bomb.zip").read_bytes()
    assert len(raw) < 2000
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        assert archive.infolist()[0].file_size == 2**30
    tracemalloc.start()
    try:
        with private_tempdir(tmp_path / "tmp"), pytest.raises(DataError, match="zip bomb"):
            read_upload("zip_bomb.zip", raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20
    assert list((tmp_path / "tmp").iterdir()) == []


def test_zip_slip_writes_nothing_outside_the_private_folder(tmp_path: Path):
    from geo.ingest import read_upload

    deep = tmp_path / "a" / "b"
    with private_tempdir(deep):
        upload = read_upload("zip_slip.zip", (BAD / "zip_slip.zip").read_bytes())
    assert upload.kind == "boundaries" and len(upload.data) == 1
    assert upload.data["name_zh"].tolist() == ["上传区域"]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["a", "a/b"]


def _subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NEWTOWN_DATA"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _bad_data_folder(tmp_path: Path, name: str, broken: str) -> Path:
    data = tmp_path / name
    shutil.copytree(BUNDLED, data, ignore=shutil.ignore_patterns("*.md"))
    if broken == "facilities":
        shutil.copyfile(BAD / "beijing.csv", data / "facilities.csv")
    elif broken == "towns":
        shutil.copyfile(BAD / "truncated.geojson", data / "boundaries" / "towns.geojson")
    elif broken == "missing":
        (data / "boundaries" / "zones.geojson").unlink()
    return data


def test_real_processes_exit_2_with_the_message_and_write_nothing(tmp_path: Path):
    """The installed entry point, in real processes (run side by side: ~3 s each)."""
    runs = {
        "check-facilities": (["check"], "facilities",
                             "facilities.csv, row 1, field 'lon/lat': point is outside Shanghai"),
        "check-towns": (["check"], "towns", "towns.geojson: not valid JSON"),
        "export-missing": (["export", "--format", "geojson", "-o", "out/sel.geojson"], "missing",
                           "zones.geojson: zones boundary file not found"),
    }
    procs = {}
    for label, (args, broken, _) in runs.items():
        data = _bad_data_folder(tmp_path, label, broken)
        work = tmp_path / f"{label}-cwd"
        work.mkdir()
        cmd = [sys.executable, "-m", "dashboard.cli", *args, "--data", str(data)]
        procs[label] = (subprocess.Popen(cmd, cwd=work, env=_subprocess_env(),
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True), work)
    for label, (proc, work) in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, (label, out, err)
        assert "Traceback" not in err
        assert err.startswith("error: data problems\n"), err
        assert runs[label][2] in err, err
        assert out == ""
        assert list(work.iterdir()) == [], f"{label} wrote {list(work.iterdir())}"


@pytest.mark.parametrize("broken", ["facilities", "towns", "missing"])
def test_serve_refuses_to_start_on_bad_data(broken: str, tmp_path: Path, capsys,
                                            monkeypatch):
    """A corrupt or missing data file at start-up: a clear message and exit 2, no server."""
    import waitress

    from dashboard import cli

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server started on bad data")

    monkeypatch.setattr(waitress, "serve", started)
    data = _bad_data_folder(tmp_path, "data", broken)
    code = cli.main(["serve", "--data", str(data)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("error: data problems\n")
    assert {"facilities": "facilities.csv, row 1, field 'lon/lat'",
            "towns": "towns.geojson: not valid JSON",
            "missing": "zones.geojson: zones boundary file not found"}[broken] in captured.err
    assert "serving" not in captured.out


# -- docs/CORPUS.md ------------------------------------------------------------------------


def _describe(reader: str, outcome: Outcome | None, crash: BaseException | None,
              work: Path) -> tuple[str, str]:
    """(result, message) for the table: exact text, temp paths replaced by <tmp>."""
    def clean(text: str) -> str:
        text = text.replace(str(work / "tmp"), "<tmp>").replace(str(work), "<work>")
        text = text.replace(tempfile.gettempdir(), "<tmp>").replace(f"{ROOT}/", "")
        return re.sub(r"<tmp>/newtown-upload-[^/\s']+", "<tmp>/newtown-upload-…", text)

    def rows(n: int | None) -> str:
        return f"{n:,} row{'' if n == 1 else 's'}"

    if crash is not None:
        kind = type(crash)
        module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
        return f"**crash**: `{module}{kind.__name__}`", clean(str(crash))
    assert outcome is not None
    if reader == CLI:
        if outcome.exit_code == 0:
            return "exit 0", ""
        lines = [line.strip().removeprefix("- ") for line in outcome.stderr.splitlines()[2:]]
        return f"exit {outcome.exit_code}", clean("\n".join(lines))
    if outcome.error is None:
        return f"loads ({rows(outcome.rows)})", ""
    problems: list[Problem] = outcome.error.problems
    shown = [str(p) for p in problems[:3]]
    if len(problems) > 3:
        shown.append(f"… and {len(problems) - 3} more")
    return "DataError", clean("\n".join(shown))


def _cell(text: str, limit: int = 400) -> str:
    if len(text) > limit:
        text = text[:limit] + " …"
    text = text.replace("|", "\\|").replace("\n", "<br>")
    return text.replace("<br>", "\x00").replace("<", "&lt;").replace("\x00", "<br>")


def write_doc(doc: Path = DOC) -> str:
    """Run every case through every reader and write the table to ``doc``."""
    import time

    if doc.suffix != ".md":
        raise ValueError(f"the corpus table is Markdown; got {doc}")

    ctx = Context()
    rows: list[str] = []
    bugs = 0
    with tempfile.TemporaryDirectory(prefix="newtown-corpus-") as tmp:
        inputs = Inputs(Path(tmp) / "generated")
        for case in CASES:
            source = {"bad": "tests/data/bad", "good": "tests/data/good",
                      "generated": "made at run time"}[case.folder]
            first = True
            for reader in READERS:
                if reader not in case.readers:
                    continue
                work = Path(tmp) / "work" / f"{case.name}-{reader}".replace(" ", "_")
                source_path = inputs.path(case)
                outcome, crash = None, None
                started = time.perf_counter()
                try:
                    outcome = run_reader(reader, source_path, ctx, work)
                except Exception as exc:  # the doc records a crash; the tests fail on it
                    crash = exc
                seconds = time.perf_counter() - started
                result, message = _describe(reader, outcome, crash, work)
                expectation = case.readers[reader]
                if isinstance(expectation, KnownBug):
                    bugs += 1
                    result += " (known bug)"
                elif isinstance(expectation, Loads) and expectation.note:
                    message = (message + "<br>" if message else "") + expectation.note
                timing = f" ({seconds:.1f} s)" if seconds >= 1 else ""
                label = (f"`{case.name}`<br>{_cell(case.what)}<br>*{source}*" if first else "")
                rows.append(f"| {label} | {reader}{timing} | {result} | {_cell(message)} |")
                first = False
    pairs = len(rows)
    loads = sum(all(isinstance(e, Loads) for e in c.readers.values()) for c in CASES)
    lines = [
        "# Bad-input corpus",
        "",
        "Generated by `python tests/test_corpus.py --write-doc` from the table in "
        "`tests/test_corpus.py`, which asserts the same outcomes (`pytest tests/test_corpus.py`).",
        "",
        f"{len(CASES)} inputs ({len(CASES) - loads} malformed or hostile, {loads} that must "
        "load), "
        f"{pairs} input × reader runs, {bugs} of them known bugs (strict xfail in the tests; "
        "the message column then shows what happens today).",
        "",
        "Readers: `read_facilities` (geo.facilities, with the Shanghai outline and districts "
        "as `load_atlas` passes them), `read_boundaries` (geo.boundaries, kind `towns`), "
        "`read_upload` (geo.ingest, the dashboard's upload), `newtown check` (the CLI with the "
        "file placed as `facilities.csv`, or a `.geojson` as `boundaries/towns.geojson`, in a "
        "copy of `data/`: exit code and stderr) and `read_address_csv` (geo.geocode, the "
        "geocoder's input). Every rejection is a `DataError` whose problems name the file, and "
        "the row and field where there is one; each run is also checked to leave no file "
        "behind (no partial output, no temp file, nothing unpacked outside a private folder).",
        "",
        "Also: a corrupt or missing data file makes `newtown serve`, `check` and `export` exit 2 "
        "with the message before serving or writing anything "
        "(`test_serve_refuses_to_start_on_bad_data`, "
        "`test_real_processes_exit_2_with_the_message_and_write_nothing`). CSV exports "
        "neutralise formula injection (a leading `= + - @`, tab or CR gets an apostrophe): "
        "`tests/test_export.py::test_csv_bom_lonlat_and_formula_neutralised` and "
        "`::test_neutralise_formula`.",
        "",
        "| input | reader | result | message (exact; temp paths shortened; cut at 400 "
        "characters) |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
    text = "\n".join(lines)
    from geo._io import atomic_write

    with atomic_write(doc, "w", encoding="utf-8") as handle:
        handle.write(text)
    return text


if __name__ == "__main__":
    if "--make-fixtures" in sys.argv:
        make_fixtures()
        print(f"wrote fixtures to {BAD}")
    if "--write-doc" in sys.argv:
        write_doc()
        print(f"wrote {DOC}")
    if not {"--make-fixtures", "--write-doc"} & set(sys.argv):
        print(__doc__)
