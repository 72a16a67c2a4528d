"""Write selected layers to files: GeoJSON, GeoPackage, Shapefile, CSV, KML, HTML map, print PNG.

One call, :func:`export`, writes one data file plus a sidecar ``<output>.meta.json`` that tells
the receiving team what they got: the filter, analysis parameters, data sources and dates, the
CRS (and, for GCJ-02/BD-09, that the file is *not* WGS84), per-layer counts, the export time and
the software version.

Design decisions, per format:

* **GeoJSON** follows RFC 7946 (GDAL's ``RFC7946=YES``: lon/lat, no ``crs`` member,
  counter-clockwise exterior rings, 7 decimals, UTF-8). RFC 7946 has no notion of layers, and
  mixing towns and facilities in one FeatureCollection makes QGIS split it by geometry type and
  merge unrelated attribute schemas. So by default one layer gives a plain ``.geojson`` and
  several layers give one ``.geojson.zip`` holding one ``<layer>.geojson`` per layer (plus a
  copy of the sidecar). A zip rather than several loose files because the dashboard downloads
  exactly one file, the whole export stays a single atomic rename, and QGIS/ArcGIS Pro open a
  zip directly. A path that names a ``.geojson`` (or ``.json``) file is written exactly: several
  layers then become one FeatureCollection whose features carry a ``layer`` property (the
  union of the layers' attributes, missing ones null), and a ``"newtown:layers"`` member lists
  the layers. GCJ-02/BD-09 GeoJSON carries a ``"newtown:datum"`` member as well as the sidecar
  statement, since the coordinates break RFC 7946's WGS84 rule.
* **GeoPackage**: one ``.gpkg``, one table per layer, plus the non-spatial table
  ``export_metadata`` (``key``/``value`` rows, JSON for structured values), and the sidecar.
* **Shapefile**: always one ``.shp.zip`` (a name ending in ``.shp`` is refused) with each
  layer's ``.shp/.shx/.dbf/.prj/.cpg`` (the ``.cpg`` says UTF-8). DBF field names are limited to
  10 bytes, so long names are shortened by the fixed table :data:`SHAPEFILE_FIELD_NAMES` (other
  long names are cut to 10 bytes); clashes (case-insensitive, as in DBF) get a numbered suffix.
  The renames are recorded per layer in the sidecar under ``shapefile_field_names``. DBF text
  holds at most 254 bytes, so longer values are cut there (on a character boundary, with a
  message; the full ``source`` texts are in the sidecar), and DBF has no null text: ``""`` and
  null read back alike.
* **CSV**: one layer per file, UTF-8 with BOM so Excel shows Chinese, and text cells starting
  with ``= + - @`` tab or CR prefixed with an apostrophe so a spreadsheet never runs them as
  formulas. A point layer (the facilities) gets ``lon``/``lat`` columns. A layer of places
  given as points or areas (:data:`PLACE_LAYERS`, e.g. the parks: points and polygons mixed)
  is written whole, every feature a row: its geometry as WKT in a ``wkt`` column (WGS84 or
  the export's datum, 7 decimals), plus ``lon``/``lat`` of one representative point, the
  point itself for a point and a point inside the area (shapely's ``point_on_surface``) for a
  polygon, named in ``lonlat_of`` (``point`` / ``point_on_surface``): a spreadsheet can plot
  the rows, and GDAL/QGIS read the full geometry back from ``wkt``. A table layer
  (:data:`TABLE_LAYERS`) is written without coordinates. Other layers (town, district and
  corridor polygons and lines) are skipped, and the skip is a warning (``result.warnings``,
  ``skipped_layers`` in the sidecar), never silent; exactly one layer is written.
* **KML** through GDAL's LIBKML driver: one ``.kml``, one ``<Folder>`` per layer, the
  placemark name taken from ``name_zh``.
* **HTML** (:data:`MAP_FORMATS`): one standalone ``.html`` map built by
  :func:`geo.webmap.build_webmap`, with every script and style inlined so it opens with no
  internet (blank background by default; OpenStreetMap is an optional, non-default base layer
  unless ``online_basemap=False``). Data text reaches the page only as escaped JSON.
* **PNG**: one print map from :func:`geo.printmap.build_printmap` (drawn in EPSG:4549, with
  title, legend, scale bar, north arrow, CRS/source notes and the approximate/schematic caveat).
  Both map formats draw WGS84 only: a GCJ-02/BD-09 picture would be off by 500 m-1 km with no
  AMap/Baidu tiles under it, so ``datum`` other than ``wgs84`` is refused for them.

A path is written exactly as given when it ends in the format's extension; a path without
one gets it (and, for GCJ-02/BD-09, the datum before it: ``view`` -> ``view.gcj02.kml``). A
GCJ-02/BD-09 file whose name does not say so is written with a warning
(``ExportResult.warnings``).

Every output goes to a hidden temporary folder beside the target and is renamed into place
only when everything has been written, so a failed export leaves no file at all (not even a
partial one) and an older file of the same name is untouched. Point layers that carry ``lon``
and ``lat`` columns get them rewritten from the geometry, so they always agree with it (also
after a GCJ-02/BD-09 conversion).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

import geo
from geo import catalog
from geo._errors import InputError
from geo.atlas import membership_counts
from geo.crs import DATUMS, Datum, convert_gdf
from geo.settings import GEOGRAPHIC_CRS

__all__ = [
    "ALL_FORMATS",
    "FORMATS",
    "MAP_FORMATS",
    "METADATA_TABLE",
    "PLACE_LAYERS",
    "SHAPEFILE_FIELD_NAMES",
    "TABLE_LAYERS",
    "ExportResult",
    "Format",
    "export",
    "export_path",
    "neutralise_formula",
    "shapefile_field_names",
]

DataFormat = Literal["geojson", "gpkg", "shp", "csv", "kml"]
MapFormat = Literal["html", "png"]
Format = DataFormat | MapFormat
#: The GIS data formats (read back by GDAL).
FORMATS: Final[tuple[str, ...]] = get_args(DataFormat)
#: The map formats: a standalone HTML map and a print PNG.
MAP_FORMATS: Final[tuple[str, ...]] = get_args(MapFormat)
ALL_FORMATS: Final[tuple[str, ...]] = FORMATS + MAP_FORMATS

#: Name of the non-spatial key/value table added to every GeoPackage export.
METADATA_TABLE: Final = "export_metadata"

#: Fixed DBF field names for the project's long column names (a DBF name holds <= 10 bytes).
#: Names of 10 bytes or fewer are kept as they are.
SHAPEFILE_FIELD_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "coord_precision_m": "prec_m",
        "coord_source": "crd_source",
        "official_area_km2": "off_km2",
        "boundary_quality": "bnd_qual",
        "land_area_ok": "land_ok",
        "datum_origin": "datum_orig",
        "precision_m": "precis_m",
        "band_half_width_m": "half_w_m",
        "designated_year": "desig_yr",
        "designated_year_source": "desig_src",
        "lead_industries": "lead_ind",
        "geometry_quality": "geom_qual",
        "replaces_facility": "replaces",
        "facility_id": "fac_id",
        "year_source": "year_src",
        "year_event": "year_event",
        "placement": "placement",
    }
)
_DBF_NAME_BYTES: Final = 10
_DBF_TEXT_BYTES: Final = 254

#: Geometry type of each known layer, used to give an *empty* layer a proper schema.
LAYER_GEOMETRY_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "facilities": "Point",
        "towns": "MultiPolygon",
        "districts": "MultiPolygon",
        "city": "MultiPolygon",
        "corridors": "MultiPolygon",
        "zones": "MultiPolygon",
        "corridor_lines": "MultiLineString",
        "scorecard": "Polygon",
    }
)

#: Layers that are tables with a geometry (one row per town): CSV writes their attributes
#: alone, without coordinates, since a polygon has no place in a CSV row.
TABLE_LAYERS: Final = frozenset({"scorecard"})

#: Layers of places given as points or areas (mixed geometry): CSV writes them with their
#: geometry as WKT plus the lon/lat of a representative point, so no feature is dropped.
PLACE_LAYERS: Final = frozenset({"parks"})

#: RFC 7946 recommends about 6 decimals; 7 keeps ~1 cm and matches the spec's own examples.
COORDINATE_DECIMALS: Final = 7
_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")
_LAYER_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")

#: Extensions recognised as belonging to some format: a name ending in one of them must match
#: the chosen format; any other name gets the format's extension appended.
_KNOWN_SUFFIXES: Final = frozenset(
    {".geojson", ".json", ".gpkg", ".shp", ".zip", ".csv", ".kml", ".kmz", ".html", ".png"}
)

_DATUM_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {"wgs84": "WGS84", "gcj02": "GCJ-02", "bd09": "BD-09"})
_DATUM_STATEMENTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "wgs84": "EPSG:4326 WGS84 longitude/latitude in decimal degrees.",
        "gcj02": (
            "Coordinates are GCJ-02 (the datum of AMap/Gaode and Tencent maps), longitude/"
            "latitude in decimal degrees. They are NOT WGS84: in Shanghai they sit roughly "
            "500 m from the true position. The file is tagged EPSG:4326 only because GCJ-02 "
            "has no EPSG code, so it is NOT RFC 7946 compliant. Use it only on AMap/Tencent "
            "base maps."
        ),
        "bd09": (
            "Coordinates are BD-09 (the datum of Baidu maps), longitude/latitude in decimal "
            "degrees. They are NOT WGS84: in Shanghai they sit roughly 1 km from the true "
            "position. The file is tagged EPSG:4326 only because BD-09 has no EPSG code, so "
            "it is NOT RFC 7946 compliant. Use it only on Baidu base maps."
        ),
    }
)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote: the data file, its sidecar, counts and messages for the user."""

    fmt: str
    datum: str
    output: Path
    sidecar: Path
    counts: Mapping[str, int]
    skipped: tuple[str, ...] = ()
    messages: tuple[str, ...] = field(default=())
    #: Things the user should not miss (a GCJ-02/BD-09 file whose name does not say so).
    warnings: tuple[str, ...] = field(default=())

    @property
    def paths(self) -> tuple[Path, Path]:
        """Every file written: the data file, then the sidecar."""
        return (self.output, self.sidecar)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def empty(self) -> bool:
        """True when no layer had a feature (the files are still valid, just empty)."""
        return self.total == 0


def export(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: str | os.PathLike[str],
    *,
    fmt: Format,
    datum: Datum = "wgs84",
    metadata: Mapping[str, object],
    lang: str = "zh",
    title: str | None = None,
    online_basemap: bool = True,
) -> ExportResult:
    """Write ``layers`` (name -> GeoDataFrame in EPSG:4326) to ``path`` as ``fmt``.

    ``datum`` converts the coordinates to GCJ-02 or BD-09 for AMap/Baidu users; the sidecar
    (and a GeoJSON file's ``"newtown:datum"`` member) states that the file is not WGS84, and
    ``result.warnings`` says so when the file name does not. ``path`` is written exactly when
    it ends in the format's extension; without one, the extension (and the datum) is added:
    the name actually written is ``result.output`` (see :func:`export_path`). Several layers
    to a ``.geojson`` path become one FeatureCollection with a ``layer`` property.

    ``metadata`` goes into the sidecar: ``filter`` (``Filter.to_params()`` or a Filter),
    ``analysis`` (parameters), ``sources`` (names and dates of the data); other keys are kept
    under ``context``. An empty selection is not an error: it writes a valid empty file and
    says so in ``result.messages``. Raises ValueError for bad input (unknown format or datum,
    a layer not in EPSG:4326, a bad layer name, a file name for another format).

    ``lang`` (``zh`` or ``en``), ``title`` and ``online_basemap`` apply to the map formats
    (``html``, ``png``) only.
    """
    if fmt not in ALL_FORMATS:
        raise InputError(
            f"unknown export format {fmt!r}; expected one of {', '.join(ALL_FORMATS)}")
    if datum not in DATUMS:
        raise InputError(f"unknown datum {datum!r}; expected one of {', '.join(DATUMS)}")
    if fmt in MAP_FORMATS and datum != "wgs84":
        raise InputError(
            f"{fmt} maps are drawn in WGS84 only (they carry no AMap/Baidu tiles, so "
            f"{_DATUM_LABELS.get(datum, datum)} positions would simply be misplaced); use "
            "datum 'wgs84', or a data format (geojson, gpkg, shp, csv, kml) for "
            f"{_DATUM_LABELS.get(datum, datum)}")
    if fmt in MAP_FORMATS and lang not in ("zh", "en"):
        raise InputError(f"lang must be 'zh' or 'en', got {lang!r}")
    if not layers:
        raise InputError("nothing to export: no layers given")
    frames = {name: _prepare_layer(name, gdf, datum) for name, gdf in layers.items()}

    messages: list[str] = []
    skipped: dict[str, str] = {}
    warnings: list[str] = []
    if fmt == "csv":
        frames, skipped = _csv_layers(frames)
        for name, reason in skipped.items():
            warnings.append(f"{name}: NOT written, {reason}")
            messages.append(warnings[-1])
        messages.extend(f"{name}: geometry written as WKT in the 'wkt' column; lon/lat are "
                        "the point itself for points and a point inside the area for polygons "
                        "(see 'lonlat_of')"
                        for name, frame in frames.items() if _csv_wkt(name, frame))
        messages.extend(f"{name}: written as a table, one row per feature, without its "
                        f"{_geometry_label(frame)} geometry (gpkg or geojson keep it)"
                        for name, frame in frames.items() if name in TABLE_LAYERS)

    target = export_path(path, fmt=fmt, datum=datum, layer_count=len(frames))
    sidecar = target.with_name(target.name + ".meta.json")
    counts = {name: len(frame) for name, frame in frames.items()}
    for name, count in counts.items():
        if count == 0:
            messages.append(f"{name}: the selection is empty; wrote an empty layer (0 features)")
    if counts and sum(counts.values()) == 0:
        messages.append("nothing matched the selection: the file is valid but holds no features")
    zipped = target.name.lower().endswith(".zip")
    one_collection = fmt == "geojson" and not zipped and len(frames) > 1
    if datum != "wgs84":
        messages.append(f"coordinates are {_DATUM_LABELS[datum]}, not WGS84 (for "
                        f"{'AMap/Tencent' if datum == 'gcj02' else 'Baidu'} base maps): "
                        f"see {sidecar.name}")
        if not names_datum(target.name, datum):
            where = (f"{sidecar.name} and the file's \"newtown:datum\" member"
                     if fmt == "geojson" and not zipped else sidecar.name)
            warnings.append(
                f"{target.name} holds {_DATUM_LABELS[datum]} coordinates but its name does not "
                f"say so: software that assumes WGS84 will place every feature "
                f"{'about 500 m' if datum == 'gcj02' else 'about 1 km'} off. The datum is "
                f"stated in {where}; a name like {_tagged_name(target.name, datum)} says it")
            messages.append(warnings[-1])
    elif any(tag in target.name.lower() for tag in ("gcj02", "bd09")):
        messages.append(f"{target.name} mentions another datum but holds WGS84 coordinates")

    field_names: dict[str, dict[str, str]] = {}
    to_write = frames
    if fmt == "shp":
        to_write, field_names, notes = _shapefile_frames(frames)
        messages.extend(notes)

    exported_at = datetime.now().astimezone().isoformat(timespec="seconds")
    rendered: str | bytes = ""
    map_info: dict[str, object] | None = None
    if fmt in MAP_FORMATS:
        rendered, map_info, notes = _render_map(
            frames, fmt=fmt, metadata={**metadata, "exported_at": exported_at}, lang=lang,
            title=title, online_basemap=online_basemap)
        messages.extend(notes)

    doc = _sidecar_document(
        frames, fmt=fmt, datum=datum, target=target, metadata=metadata, skipped=skipped,
        field_names=field_names, messages=messages, exported_at=exported_at,
    )
    if one_collection:
        doc["geojson_layers"] = {
            "layer_property": "layer",
            "note": "all layers are in one FeatureCollection; each feature's 'layer' property "
                    "names its layer, and a layer's features lack the attributes of the others",
        }
    if map_info is not None:
        doc["map"] = map_info
    sidecar_text = json.dumps(doc, ensure_ascii=False, indent=2, default=_json_default) + "\n"

    with _staging(target.parent) as stage:
        staged = stage / target.name
        if fmt == "geojson":
            _write_geojson(frames, staged, zipped=zipped, datum=datum,
                           sidecar=(sidecar.name, sidecar_text))
        elif fmt == "gpkg":
            _write_gpkg(frames, staged, doc)
        elif fmt == "shp":
            _write_shapefile_zip(to_write, staged, sidecar=(sidecar.name, sidecar_text))
        elif fmt == "csv":
            _write_csv(frames, staged)
        elif fmt == "kml":
            _write_kml(frames, staged)
        elif isinstance(rendered, bytes):
            staged.write_bytes(rendered)
        else:
            staged.write_text(rendered, encoding="utf-8")
        staged_sidecar = stage / sidecar.name
        staged_sidecar.write_text(sidecar_text, encoding="utf-8")
        _commit([(staged, target), (staged_sidecar, sidecar)])

    return ExportResult(
        fmt=fmt, datum=datum, output=target, sidecar=sidecar,
        counts=MappingProxyType(counts), skipped=tuple(skipped), messages=tuple(messages),
        warnings=tuple(warnings),
    )


# -- file names ------------------------------------------------------------------------------


def export_path(
    path: str | os.PathLike[str], *, fmt: Format, datum: Datum = "wgs84", layer_count: int = 1
) -> Path:
    """The file name :func:`export` writes for ``path``.

    A name that ends in the format's extension is used exactly as given (``.geojson``,
    ``.json``, ``.geojson.zip`` or ``.zip`` for GeoJSON, whatever the number of layers;
    ``.shp.zip`` or ``.zip``; ``.gpkg``, ``.csv``, ``.kml``, ``.html``, ``.png``). A name
    without a recognised extension gets the format's one (``.geojson.zip`` for several GeoJSON
    layers) and, for GCJ-02 or BD-09, the datum before it (``v`` -> ``v.gcj02.kml``) unless the
    name already says it. A name with another format's extension is refused, and so is
    ``.shp``: a Shapefile export is one zip.
    """
    target = Path(path)
    name = target.name
    lower = name.lower()
    if not name or name in {".", ".."}:
        raise InputError(f"export path {str(path)!r} does not name a file")
    accepted: tuple[str, ...]
    if fmt == "geojson":
        default = ".geojson" if layer_count <= 1 else ".geojson.zip"
        accepted = (".geojson.zip", ".json.zip", ".zip", ".geojson", ".json")
    elif fmt == "shp":
        default, accepted = ".shp.zip", (".shp.zip", ".zip")
    else:
        default = {"gpkg": ".gpkg", "csv": ".csv", "kml": ".kml", "html": ".html",
                   "png": ".png"}[fmt]
        accepted = (default,)

    for suffix in accepted:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return target
    suffix = Path(name).suffix.lower()
    if fmt == "shp" and suffix == ".shp":
        raise InputError(
            f"{name}: a shp export is one zip holding the .shp, .shx, .dbf, .prj and .cpg "
            f"files; name it {name}.zip")
    if suffix in _KNOWN_SUFFIXES:
        raise InputError(
            f"{name}: a {fmt} export is written as *{default}, not *{suffix}; "
            f"change the file name or the format"
        )
    stem = name if datum == "wgs84" or names_datum(name, datum) else f"{name}.{datum}"
    return target.with_name(stem + default)


def names_datum(name: str, datum: Datum) -> bool:
    """True when a file name says its datum (``gcj02``, ``GCJ-02``, ``bd09``...)."""
    folded = re.sub(r"[-_ ]", "", name.lower())
    return datum != "wgs84" and datum in folded


def _tagged_name(name: str, datum: Datum) -> str:
    """``name`` with the datum before its extension: ``v.geojson`` -> ``v.gcj02.geojson``."""
    for compound in (".geojson.zip", ".json.zip", ".shp.zip"):
        if name.lower().endswith(compound):
            return f"{name[: -len(compound)]}.{datum}{name[-len(compound):]}"
    plain = Path(name)
    return f"{plain.stem}.{datum}{plain.suffix}"


# -- preparing layers ------------------------------------------------------------------------


def _prepare_layer(name: str, gdf: object, datum: Datum) -> gpd.GeoDataFrame:
    """Check one layer and return a writable copy: plain index, flat attributes, datum applied."""
    if not isinstance(name, str) or not _LAYER_NAME.fullmatch(name):
        raise InputError(
            f"layer name {name!r} is not usable as a file or table name; use lower-case "
            "letters, digits and '_', starting with a letter (e.g. 'facilities')"
        )
    if name == METADATA_TABLE:
        raise InputError(f"layer name {name!r} is reserved for the export metadata table")
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TypeError(f"layer {name!r} should be a GeoDataFrame, got {type(gdf)}")
    if gdf.crs is None:
        raise InputError(
            f"layer {name!r} has no CRS; export takes {GEOGRAPHIC_CRS} (WGS84 lon/lat): set it "
            "with .set_crs(4326) if the coordinates are lon/lat"
        )
    if gdf.crs.to_epsg() != 4326:
        raise InputError(
            f"layer {name!r} must be in {GEOGRAPHIC_CRS} (WGS84 lon/lat), got "
            f"{gdf.crs.to_string()!r} ({gdf.crs.name}); reproject it with .to_crs(4326) first"
        )
    frame = gdf.reset_index(drop=True)
    geometry = frame.geometry.name
    for column in list(frame.columns):
        if column == geometry:
            continue
        if isinstance(frame[column].dtype, gpd.array.GeometryDtype):
            frame[column] = frame[column].to_wkt()  # only one geometry per feature is written
        else:
            frame[column] = _writable_column(frame[column])
    frame.columns = [c if c == geometry else str(c) for c in frame.columns]
    if datum != "wgs84":
        frame = convert_gdf(frame, from_datum="wgs84", to_datum=datum)
    return _sync_lonlat(frame)


def _writable_column(series: pd.Series) -> pd.Series:
    """Keep bool/number/text/datetime columns; join lists with ';'; stringify anything else."""
    dtype = series.dtype
    if (pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype)):
        return series
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return series
    values = [_flat_cell(v) for v in series.astype(object)]
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in {"string", "empty"}:
        return pd.Series(values, index=series.index, dtype=object, name=series.name)
    if kind == "boolean":
        return pd.Series(values, index=series.index, dtype="boolean", name=series.name)
    if kind == "integer":
        return pd.Series(values, index=series.index, dtype="Int64", name=series.name)
    if kind in {"floating", "mixed-integer-float"}:
        return pd.Series(values, index=series.index, dtype="Float64", name=series.name)
    text = [None if v is None else str(v) for v in values]
    return pd.Series(text, index=series.index, dtype=object, name=series.name)


def _flat_cell(value: object) -> object:
    if isinstance(value, (set, frozenset)):
        return ";".join(sorted(str(v) for v in value))
    if isinstance(value, (list, tuple, np.ndarray)):
        return ";".join(str(v) for v in value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _is_point_layer(name: str, frame: gpd.GeoDataFrame) -> bool:
    present = frame.geometry[frame.geometry.notna() & ~frame.geometry.is_empty]
    if len(present):
        return bool((present.geom_type == "Point").all())
    return LAYER_GEOMETRY_TYPES.get(name) == "Point"


def _sync_lonlat(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rewrite ``lon``/``lat`` columns of a point layer from its (possibly converted) geometry."""
    if not {"lon", "lat"} <= set(frame.columns) or len(frame) == 0:
        return frame
    geoms = frame.geometry
    points = geoms.notna().to_numpy() & (geoms.geom_type == "Point").to_numpy()
    if not points.all():
        return frame
    out = frame.copy()
    out["lon"] = shapely.get_x(geoms.to_numpy())
    out["lat"] = shapely.get_y(geoms.to_numpy())
    return out


def _csv_wkt(name: str, frame: gpd.GeoDataFrame) -> bool:
    """True for a layer CSV writes with a ``wkt`` column (places as points or areas)."""
    return name not in TABLE_LAYERS and not _is_point_layer(name, frame)


def _csv_layers(
    frames: dict[str, gpd.GeoDataFrame],
) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, str]]:
    """The one layer a CSV holds (points, places as WKT, or a table) and the skipped ones."""
    rows = {n: f for n, f in frames.items()
            if n in TABLE_LAYERS or n in PLACE_LAYERS or _is_point_layer(n, f)}
    skipped = {
        n: f"CSV holds one layer of points or places (facilities, {', '.join(sorted(PLACE_LAYERS))}"
           f") or a table, and this layer has {_geometry_label(f)} geometry; export it as "
           "geojson, gpkg, shp or kml"
        for n, f in frames.items() if n not in rows
    }
    if not rows:
        raise InputError(
            "CSV export writes a point layer (facilities) with lon/lat columns, a layer of "
            f"places as WKT ({', '.join(sorted(PLACE_LAYERS))}), or a table "
            f"({', '.join(sorted(TABLE_LAYERS))}), but none of the layers "
            f"{', '.join(frames)} is one; choose geojson, gpkg, shp or kml"
        )
    if len(rows) > 1:
        raise InputError(
            f"CSV export writes one layer per file, got {len(rows)} "
            f"({', '.join(rows)}); choose one, or use gpkg or geojson for several"
        )
    return rows, skipped


def _geometry_label(frame: gpd.GeoDataFrame) -> str:
    kinds = sorted(set(frame.geometry.dropna().geom_type))
    return "/".join(kinds) or "no"


def _attribute_columns(frame: gpd.GeoDataFrame) -> list[str]:
    return [str(c) for c in frame.columns if c != frame.geometry.name]


def _geometry_type_for_empty(name: str, frame: gpd.GeoDataFrame) -> str | None:
    return LAYER_GEOMETRY_TYPES.get(name, "Unknown") if len(frame) == 0 else None


# -- shapefile field names -------------------------------------------------------------------


def _truncate_utf8(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` UTF-8 bytes without splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def shapefile_field_names(columns: Iterable[str]) -> dict[str, str]:
    """Map every column to a DBF field name of at most 10 bytes, unique ignoring case.

    Uses :data:`SHAPEFILE_FIELD_NAMES`, else cuts the name to 10 bytes; a name that would
    clash with an earlier one (DBF names are case-insensitive) gets ``_2``, ``_3``... instead.
    """
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        short = _truncate_utf8(SHAPEFILE_FIELD_NAMES.get(column, column), _DBF_NAME_BYTES)
        candidate, n = short, 1
        while candidate.casefold() in taken:
            n += 1
            suffix = f"_{n}"
            candidate = _truncate_utf8(short, _DBF_NAME_BYTES - len(suffix)) + suffix
        taken.add(candidate.casefold())
        mapping[column] = candidate
    return mapping


def _shapefile_frames(
    frames: Mapping[str, gpd.GeoDataFrame],
) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, dict[str, str]], list[str]]:
    """Frames ready for DBF: short field names, text cut to 254 bytes; plus renames and notes."""
    ready: dict[str, gpd.GeoDataFrame] = {}
    renames: dict[str, dict[str, str]] = {}
    notes: list[str] = []
    for name, frame in _single_geometry_frames(frames, notes).items():
        mapping = shapefile_field_names(_attribute_columns(frame))
        renamed = {long: short for long, short in mapping.items() if long != short}
        if renamed:
            renames[name] = renamed
        for long, short in renamed.items():
            plain = _truncate_utf8(SHAPEFILE_FIELD_NAMES.get(long, long), _DBF_NAME_BYTES)
            if short != plain:
                notes.append(f"{name}: shapefile field {long!r} would clash with another field "
                             f"as {plain!r}; named {short!r} instead")
        out = frame.copy()
        for column in _attribute_columns(frame):
            if not pd.api.types.is_string_dtype(frame[column].dtype):
                continue
            values = frame[column].astype(object)
            long_text = values.map(
                lambda v: isinstance(v, str) and len(v.encode("utf-8")) > _DBF_TEXT_BYTES)
            if long_text.any():
                out[column] = values.map(
                    lambda v: _truncate_utf8(v, _DBF_TEXT_BYTES) if isinstance(v, str) else v)
                notes.append(
                    f"{name}: {int(long_text.sum())} value(s) of {column!r} cut to "
                    f"{_DBF_TEXT_BYTES} bytes (the DBF limit); use gpkg or geojson for the full "
                    "text" + (" (full source texts are also in the metadata file)"
                              if column == "source" else ""))
        ready[name] = out.rename(columns=mapping)
    return ready, renames, notes


def _single_geometry_frames(
    frames: Mapping[str, gpd.GeoDataFrame], notes: list[str]
) -> dict[str, gpd.GeoDataFrame]:
    """A shapefile holds one kind of geometry: a mixed layer (the parks: points for parks
    placed approximately, polygons for digitised ones) becomes ``<name>_points``,
    ``<name>_lines`` and ``<name>_polygons``, and a note says so."""
    kinds = {"Point": "points", "MultiPoint": "points", "LineString": "lines",
             "MultiLineString": "lines", "Polygon": "polygons", "MultiPolygon": "polygons"}
    out: dict[str, gpd.GeoDataFrame] = {}
    for name, frame in frames.items():
        family = frame.geometry.geom_type.map(kinds)
        present = [k for k in ("points", "lines", "polygons") if (family == k).any()]
        if len(present) <= 1:
            out[name] = frame
            continue
        for kind in present:
            out[f"{name}_{kind}"] = frame.loc[(family == kind).to_numpy()]
        notes.append(f"{name}: a shapefile holds one geometry type, so the layer is split "
                     f"into {', '.join(f'{name}_{k}' for k in present)}")
    return out


# -- CSV -------------------------------------------------------------------------------------


def neutralise_formula(value: object) -> object:
    """Prefix text that a spreadsheet would run as a formula (= + - @ tab CR) with ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_table(frame: gpd.GeoDataFrame, *, coordinates: bool = True,
               wkt: bool = False) -> pd.DataFrame:
    """Attributes plus ``lon``/``lat`` (in place if present, else appended; none for a table
    layer, ``coordinates=False``), formulas defused. ``wkt``: also the geometry as WKT, with
    lon/lat of a representative point (``lonlat_of`` says which)."""
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if coordinates:
        geoms = frame.geometry.to_numpy()
        is_point = shapely.get_type_id(geoms) == 0 if len(frame) else np.zeros(0, bool)
        if wkt and len(frame):
            geoms = np.where(is_point, geoms, shapely.point_on_surface(geoms))
        lon = np.round(shapely.get_x(geoms), COORDINATE_DECIMALS) if len(frame) else []
        lat = np.round(shapely.get_y(geoms), COORDINATE_DECIMALS) if len(frame) else []
        table["lon"] = pd.Series(lon, index=table.index, dtype=float)
        table["lat"] = pd.Series(lat, index=table.index, dtype=float)
        if wkt:
            table["lonlat_of"] = pd.Series(
                np.where(is_point, "point", "point_on_surface"), index=table.index, dtype=object)
            table["wkt"] = pd.Series(
                shapely.to_wkt(frame.geometry.to_numpy(), rounding_precision=COORDINATE_DECIMALS,
                               trim=True), index=table.index, dtype=object)
    for column in table.columns:
        if pd.api.types.is_string_dtype(table[column].dtype):
            table[column] = table[column].astype(object).map(neutralise_formula)
    table.columns = [str(neutralise_formula(c)) for c in table.columns]
    return table


def _write_csv(frames: Mapping[str, gpd.GeoDataFrame], path: Path) -> None:
    ((name, frame),) = frames.items()
    table = _csv_table(frame, coordinates=name not in TABLE_LAYERS, wkt=_csv_wkt(name, frame))
    table.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


# -- GDAL-written formats --------------------------------------------------------------------


def _write_layer(frame: gpd.GeoDataFrame, path: Path, *, layer: str, driver: str,
                 **options: Any) -> None:
    pyogrio.write_dataframe(
        frame, path, layer=layer, driver=driver,
        geometry_type=_geometry_type_for_empty(layer, frame), **options,
    )


def _write_geojson(
    frames: Mapping[str, gpd.GeoDataFrame], path: Path, *, zipped: bool, datum: Datum,
    sidecar: tuple[str, str],
) -> None:
    foreign: dict[str, object] = {}
    if datum != "wgs84":  # RFC 7946 coordinates are WGS84: say so inside the file too
        foreign["newtown:datum"] = _DATUM_LABELS[datum]

    def write(name: str, frame: gpd.GeoDataFrame, out: Path,
              members: Mapping[str, object]) -> None:
        # GDAL's RFC 7946 mode orients rings too; doing it here keeps the rule explicit.
        oriented = frame.copy()
        oriented[frame.geometry.name] = gpd.GeoSeries(
            shapely.orient_polygons(frame.geometry.to_numpy(), exterior_cw=False),
            index=frame.index, crs=frame.crs,
        )
        options = {"RFC7946": "YES", "COORDINATE_PRECISION": str(COORDINATE_DECIMALS)}
        if members:
            options["FOREIGN_MEMBERS_COLLECTION"] = json.dumps(dict(members),
                                                               ensure_ascii=False)
        _write_layer(oriented, out, layer=name, driver="GeoJSON", layer_options=options)

    if not zipped:
        if len(frames) == 1:
            ((name, frame),) = frames.items()
            write(name, frame, path, foreign)
        else:
            write(path.name.split(".")[0] or "layers", one_feature_collection(frames), path,
                  {**foreign, "newtown:layers": list(frames)})
        return
    parts = path.parent / (path.name + ".parts")
    parts.mkdir()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, frame in frames.items():
            part = parts / f"{name}.geojson"
            write(name, frame, part, foreign)
            archive.write(part, arcname=part.name)
        archive.writestr(sidecar[0], sidecar[1])


def one_feature_collection(frames: Mapping[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Several layers as one frame: a ``layer`` column first, then every layer's attributes.

    Raises InputError when a layer already has a ``layer`` column (it would be overwritten).
    """
    clash = [name for name, frame in frames.items() if "layer" in frame.columns]
    if clash:
        raise InputError(
            f"layer(s) {', '.join(clash)} already have a 'layer' column, which names each "
            "feature's layer in a one-file GeoJSON of several layers; write a .geojson.zip")
    tagged = []
    for name, frame in frames.items():
        plain = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        plain.insert(0, "layer", name)
        plain["geometry"] = frame.geometry.to_numpy()
        tagged.append(plain)
    filled = [t for t in tagged if len(t)] or tagged[:1]  # empty frames add no feature
    combined = pd.concat(filled, ignore_index=True, sort=False) if len(filled) > 1 else filled[0]
    # Columns a layer lacks are null there: nullable dtypes keep numbers numbers and write null.
    nullable: dict[str, pd.api.extensions.ExtensionDtype] = {
        "boolean": pd.BooleanDtype(), "integer": pd.Int64Dtype(), "floating": pd.Float64Dtype(),
        "mixed-integer-float": pd.Float64Dtype()}
    for column in combined.columns:
        values = combined[column]
        if column in ("layer", "geometry") or not values.isna().any():
            continue
        kind = pd.api.types.infer_dtype(values.dropna(), skipna=True)
        if kind in nullable:
            combined[column] = values.astype(object).where(values.notna(), None).astype(
                nullable[kind])
        elif not pd.api.types.is_datetime64_any_dtype(values.dtype):
            combined[column] = values.astype(object).where(values.notna(), None)
    return gpd.GeoDataFrame(combined, geometry="geometry", crs=GEOGRAPHIC_CRS)


def _write_gpkg(frames: Mapping[str, gpd.GeoDataFrame], path: Path,
                doc: Mapping[str, object]) -> None:
    for name, frame in frames.items():
        _write_layer(frame, path, layer=name, driver="GPKG", append=path.exists())
    rows = [
        (key, value if isinstance(value, str)
         else json.dumps(value, ensure_ascii=False, default=_json_default))
        for key, value in doc.items()
    ]
    table = pd.DataFrame(rows, columns=["key", "value"], dtype=object)
    pyogrio.write_dataframe(table, path, layer=METADATA_TABLE, driver="GPKG", append=True)


def _write_shapefile_zip(
    frames: Mapping[str, gpd.GeoDataFrame], path: Path, *, sidecar: tuple[str, str]
) -> None:
    parts = path.parent / (path.name + ".parts")
    parts.mkdir()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, frame in frames.items():
            _write_layer(frame, parts / f"{name}.shp", layer=name, driver="ESRI Shapefile",
                         encoding="UTF-8")
            for extension in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                member = parts / f"{name}{extension}"
                if not member.is_file():
                    raise RuntimeError(f"GDAL did not write {member.name} for layer {name!r}")
                archive.write(member, arcname=member.name)
        archive.writestr(sidecar[0], sidecar[1])


def _write_kml(frames: Mapping[str, gpd.GeoDataFrame], path: Path) -> None:
    if "LIBKML" not in pyogrio.list_drivers(write=True):
        raise InputError("KML export needs GDAL's LIBKML driver, which this GDAL lacks")
    for name, frame in frames.items():
        # LIBKML takes the placemark <name> from a field called "name".
        kml = frame
        if "name_zh" in frame.columns:
            kml = frame.rename(columns={"name": "name_src"}) if "name" in frame.columns else frame
            kml = kml.rename(columns={"name_zh": "name"})
        _write_layer(kml, path, layer=name, driver="LIBKML", append=path.exists(),
                     layer_options={"FOLDER": "YES"})


# -- maps ------------------------------------------------------------------------------------


def _render_map(
    frames: Mapping[str, gpd.GeoDataFrame], *, fmt: str, metadata: Mapping[str, object],
    lang: str, title: str | None, online_basemap: bool,
) -> tuple[str | bytes, dict[str, object], list[str]]:
    """The HTML page or PNG bytes for ``frames``, what the sidecar says about it, and notes.

    Nothing is written here; folium and matplotlib are imported only when a map is asked for.
    """
    if fmt == "html":
        from geo.webmap import OSM_TILE_URL, SIMPLIFY_M, build_webmap

        page = build_webmap(frames, title=title, lang=lang, metadata=metadata,
                            online_basemap=online_basemap)
        info: dict[str, object] = {
            "kind": "standalone HTML map (folium/Leaflet, scripts and styles inlined)",
            "lang": lang,
            "drawn_in": f"{GEOGRAPHIC_CRS} coordinates, shown by Leaflet in Web Mercator",
            "default_basemap": "none (blank background; the page makes no network request)",
            "optional_basemap": OSM_TILE_URL if online_basemap else None,
            "display_simplification_m": dict(SIMPLIFY_M),
        }
        return page, info, []
    from geo.printmap import build_printmap

    picture = build_printmap(frames, title=title, lang=lang, metadata=metadata)
    info = {"kind": "print PNG (matplotlib Agg)", "lang": picture.lang,
            "size_px": list(picture.size_px), "drawn_in": "EPSG:4549 (metres)",
            "font": picture.font}
    return picture.png, info, list(picture.messages)


# -- sidecar ---------------------------------------------------------------------------------


#: What the membership counts of a sidecar count, said in the sidecar itself.
MEMBERSHIP_NOTE: Final = (
    "inside = the point lies within its town's (approximate) boundary; associated = a source "
    "links it to the town but the point lies outside; placeholder = only the town or district "
    "is known, the point is not a site")


def _membership_document(frame: pd.DataFrame) -> dict[str, object]:
    """Inside / associated / placeholder per town and in all, for a facility layer."""
    counts = membership_counts(frame)
    kinds = list(catalog.MEMBERSHIPS)
    return {
        "note": MEMBERSHIP_NOTE,
        "total": {k: int(counts[k].sum()) for k in kinds},
        "towns": {str(town): {k: int(counts[k].loc[town]) for k in kinds}
                  for town in counts.index if int(counts["total"].loc[town])},
    }


def _sidecar_document(
    frames: Mapping[str, gpd.GeoDataFrame],
    *,
    fmt: str,
    datum: str,
    target: Path,
    metadata: Mapping[str, object],
    skipped: Mapping[str, str],
    field_names: Mapping[str, Mapping[str, str]],
    messages: list[str],
    exported_at: str,
) -> dict[str, object]:
    given = dict(metadata)
    flt: Any = given.pop("filter", {})
    if hasattr(flt, "to_params"):  # a geo.query.Filter
        flt = flt.to_params()
    analysis = given.pop("analysis", None)
    sources = given.pop("sources", None)
    layer_sources = {
        name: {str(k): int(v) for k, v in frame["source"].value_counts().items()}
        for name, frame in frames.items() if "source" in frame.columns
    }
    doc: dict[str, object] = {
        "title": "New Town Atlas (新城图谱) export",
        "file": target.name,
        "format": fmt,
        "exported_at": exported_at,
        "software": {"name": "newtown-atlas", "version": geo.__version__,
                     "gdal": pyogrio.__gdal_version_string__},
        "crs": {
            "crs": GEOGRAPHIC_CRS,
            "datum": datum,
            "statement": _DATUM_STATEMENTS[datum],
            "rfc7946_compliant": fmt == "geojson" and datum == "wgs84",
        },
        "filter": flt,
        "analysis": analysis,
        "layers": {
            name: {"count": len(frame), "geometry_type": _geometry_label(frame)}
            for name, frame in frames.items()
        },
        "skipped_layers": dict(skipped),
        "sources": {"per_layer": layer_sources, "data": sources},
        "messages": messages,
    }
    for name, frame in frames.items():
        if {"membership", "town"} <= set(frame.columns):
            layer_doc = doc["layers"][name]  # type: ignore[index]
            layer_doc["membership"] = _membership_document(frame)
    if field_names:
        doc["shapefile_field_names"] = {
            "note": "DBF field names hold at most 10 bytes; these columns were renamed "
                    "(original -> field); other fields keep their names",
            "layers": {k: dict(v) for k, v in field_names.items()},
        }
    if given:
        doc["context"] = given
    return doc


def _json_default(value: object) -> object:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, shapely.Geometry)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"export metadata value of type {type(value).__name__} is not JSON: {value!r}")


# -- atomic staging --------------------------------------------------------------------------


@contextlib.contextmanager
def _staging(folder: Path) -> Iterator[Path]:
    """A hidden temp folder beside the targets (same file system, so renames are atomic).

    An export is a data file plus its sidecar, and GDAL writes helper files (``-journal``,
    ``.shx``...), so all of it is staged in one folder that is always removed
    (``geo._io.atomic_write`` is the one-file version).
    """
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".newtown-export-", dir=folder))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _commit(moves: list[tuple[Path, Path]]) -> None:
    """Rename staged files into place; if one rename fails, remove those already moved."""
    done: list[Path] = []
    try:
        for staged, target in moves:
            staged.replace(target)
            done.append(target)
    except BaseException:
        for target in done:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
        raise
