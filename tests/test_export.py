"""Export to GeoJSON, GeoPackage, Shapefile, CSV and KML: read back with pyogrio and compare."""

from __future__ import annotations

import argparse
import json
import math
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString, MultiPolygon, Polygon

import geo
from dashboard import cli
from dashboard.cli.export import add_export_command, parse_layers
from geo._errors import InputError
from geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from geo.export import (
    FORMATS,
    METADATA_TABLE,
    SHAPEFILE_FIELD_NAMES,
    export,
    export_path,
    neutralise_formula,
    shapefile_field_names,
)

TOL_DEG = 1e-7
GEOD = Geod(ellps="WGS84")
FILTER_PARAMS = {"town": "jiading", "industry": "auto"}
META = {"filter": FILTER_PARAMS, "sources": {"facilities.csv": {"modified": "2025-01-02"}}}

# --- fixtures: built here, CRS written out -----------------------------------------------------

FACILITY_ROWS = [
    # id, name_zh, name_en, category, industries, address, lon, lat, coord_source,
    # coord_precision_m, level, year, in_town, tags, source
    ("JD-001", "嘉定智能网联汽车创新中心", "ICV Innovation Centre", "innovation_centre",
     "auto_icv;ai", "嘉定区安亭镇墨玉南路888号", 121.1712345, 31.2912345, "amap_poi", 30.0,
     "national", 2019, True, ["auto", "ai"], "上海市经信委名单 2023-05"),
    ("JD-002", '=HYPERLINK("x")', "-1 minus", "lab", "materials", "+86 嘉定", 121.25, 31.38,
     "geocoded", 200.0, "municipal", None, False, [], "区科委 2024-01"),
    ("JD-003", "上海光学精密机械研究所", "SIOM", "research_institute", "laser", "@清河路390号",
     121.2567891, 31.3834567, "manual", 50.0, "national", 1964, True, ["equipment"],
     "上海市经信委名单 2023-05"),
]
FACILITY_COLUMNS = ["id", "name_zh", "name_en", "category", "industries", "address", "lon",
                    "lat", "coord_source", "coord_precision_m", "level", "year", "in_town",
                    "tags", "source"]


def make_facilities() -> gpd.GeoDataFrame:
    data = {c: [r[i] for r in FACILITY_ROWS] for i, c in enumerate(FACILITY_COLUMNS)}
    data["year"] = pd.array(data["year"], dtype="Int64")
    data["rank"] = [1, 2, 3]  # plain int64
    frame = pd.DataFrame(data, index=pd.Index(data["id"]))
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                            crs="EPSG:4326")


def make_towns() -> gpd.GeoDataFrame:
    # Exterior ring clockwise and hole counter-clockwise on purpose: RFC 7946 wants the reverse.
    cw_square = [(121.2, 31.3), (121.2, 31.4), (121.3, 31.4), (121.3, 31.3), (121.2, 31.3)]
    ccw_hole = [(121.24, 31.34), (121.26, 31.34), (121.26, 31.36), (121.24, 31.36)]
    jiading = Polygon(cw_square, [ccw_hole])
    assert not jiading.exterior.is_ccw
    qingpu = MultiPolygon([Polygon([(121.0, 31.1), (121.05, 31.1), (121.05, 31.15)]),
                           Polygon([(121.1, 31.1), (121.15, 31.1), (121.15, 31.15)])])
    return gpd.GeoDataFrame(
        {"key": ["jiading", "qingpu"], "name_zh": ["嘉定新城", "青浦新城"],
         "name_en": ["Jiading New Town", "Qingpu New Town"], "district": ["嘉定区", "青浦区"],
         "official_area_km2": [159.5, 91.1], "boundary_quality": ["approximate", "approximate"],
         "source": ["test fixture 2025-01", "test fixture 2025-01"]},
        geometry=[jiading, qingpu], crs="EPSG:4326",
    )


def make_lines() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"key": ["g60"], "name_zh": ["G60科创走廊"], "source": ["fixture"],
         "boundary_quality": ["schematic"]},
        geometry=[LineString([(121.2, 31.0), (121.4, 31.1), (121.5, 31.2)])], crs="EPSG:4326",
    )


@pytest.fixture
def facilities() -> gpd.GeoDataFrame:
    return make_facilities()


@pytest.fixture
def towns() -> gpd.GeoDataFrame:
    return make_towns()


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


# --- comparison helpers -----------------------------------------------------------------------


def _plain(value: object) -> object:
    """One spelling for missing values and scalars, so files and frames compare."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        # JSON text (a town's edges): GDAL's GeoJSON writer stores it as a native array
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, list):
        return ";".join(value)
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _single(geom: shapely.Geometry) -> shapely.Geometry:
    geom = shapely.force_2d(geom)
    if geom.geom_type.startswith("Multi") and len(geom.geoms) == 1:
        return geom.geoms[0]
    return geom


def assert_geometries_equal(read: gpd.GeoSeries, source: gpd.GeoSeries) -> None:
    assert len(read) == len(source)
    for got, want in zip(read, source, strict=True):
        got, want = shapely.normalize(_single(got)), shapely.normalize(_single(want))
        assert got.equals_exact(want, TOL_DEG), (got.wkt, want.wkt)


def assert_same_layer(read: gpd.GeoDataFrame, source: gpd.GeoDataFrame,
                      rename: Mapping[str, str] | None = None, *,
                      blank_is_null: bool = False) -> None:
    """Every source attribute is in ``read`` (under ``rename``) with the same values.

    ``blank_is_null``: DBF (Shapefile) text has no null, so '' and null read back alike.
    """
    rename = rename or {}
    source = source.reset_index(drop=True)
    assert len(read) == len(source)
    for column in source.columns:
        if column == source.geometry.name:
            continue
        got = [_plain(v) for v in read[rename.get(column, column)]]
        want = [_plain(v) for v in source[column]]
        for g, w in zip(got, want, strict=True):
            if blank_is_null and w == "":
                w = None
            if isinstance(w, float) and g is not None:
                assert g == pytest.approx(w, abs=1e-9), column
            else:
                assert g == w, (column, got, want)
    assert_geometries_equal(read.geometry, source.geometry)


def read_sidecar(result) -> dict:  # type: ignore[no-untyped-def]
    assert result.sidecar == result.output.with_name(result.output.name + ".meta.json")
    return json.loads(result.sidecar.read_text(encoding="utf-8"))


# --- GeoJSON ----------------------------------------------------------------------------------


def test_geojson_round_trip(out, facilities):
    result = export({"facilities": facilities}, out / "sel.geojson", fmt="geojson",
                    metadata=META)
    assert result.output == out / "sel.geojson"
    assert result.counts == {"facilities": 3}
    assert not result.empty and result.messages == ()
    read = pyogrio.read_dataframe(result.output)
    assert read.crs.to_epsg() == 4326
    assert_same_layer(read, facilities)
    assert read["in_town"].dtype == bool
    assert sorted(p.name for p in out.iterdir()) == ["sel.geojson", "sel.geojson.meta.json"]


def _coordinate_strings(geometry: dict) -> list[list]:
    """Rings/lines/points of a raw GeoJSON geometry parsed with numbers kept as text."""
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        return [[coords]]
    if kind in {"LineString", "MultiPoint"}:
        return [coords]
    if kind in {"Polygon", "MultiLineString"}:
        return coords
    return [ring for polygon in coords for ring in polygon]


def test_geojson_is_rfc7946(out, towns, facilities):
    result = export({"towns": towns}, out / "towns.geojson", fmt="geojson", metadata=META)
    raw = result.output.read_text(encoding="utf-8")
    assert "嘉定新城" in raw and "\\u" not in raw  # Chinese written literally, UTF-8
    doc = json.loads(raw)
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc
    for feature in doc["features"]:
        polygons = feature["geometry"]["coordinates"]
        if feature["geometry"]["type"] == "Polygon":
            polygons = [polygons]
        for rings in polygons:
            assert shapely.LinearRing(rings[0]).is_ccw  # exterior counter-clockwise
            for hole in rings[1:]:
                assert not shapely.LinearRing(hole).is_ccw  # holes clockwise
    # lon first: every x is a Shanghai longitude
    assert all(120 < ring[0][0] < 123 for f in doc["features"]
               for ring in _coordinate_strings(f["geometry"]))
    # at most 7 decimals, checked on the text of the numbers
    points = export({"facilities": facilities}, out / "pts.geojson", fmt="geojson",
                    metadata=META)
    for path in (result.output, points.output):
        text_doc = json.loads(path.read_text(encoding="utf-8"), parse_float=str)
        for feature in text_doc["features"]:
            for part in _coordinate_strings(feature["geometry"]):
                for position in part:
                    for number in position:
                        assert len(str(number).partition(".")[2]) <= 7, number
    x = json.loads(points.output.read_text(encoding="utf-8"))["features"][0]
    assert x["geometry"]["coordinates"] == [121.1712345, 31.2912345]
    assert x["properties"]["tags"] == "auto;ai"  # lists joined with ';'
    assert x["properties"]["name_zh"] == "嘉定智能网联汽车创新中心"


def test_geojson_several_layers_make_one_zip(out, facilities, towns):
    result = export({"facilities": facilities, "towns": towns}, out / "view",
                    fmt="geojson", metadata=META)
    assert result.output == out / "view.geojson.zip"
    with zipfile.ZipFile(result.output) as archive:
        names = sorted(archive.namelist())
    assert names == ["facilities.geojson", "towns.geojson", "view.geojson.zip.meta.json"]
    assert_same_layer(pyogrio.read_dataframe(f"/vsizip/{result.output}/facilities.geojson"),
                      facilities)
    assert_same_layer(pyogrio.read_dataframe(f"/vsizip/{result.output}/towns.geojson"), towns)
    assert sorted(p.name for p in out.iterdir()) == ["view.geojson.zip",
                                                      "view.geojson.zip.meta.json"]


def test_geojson_several_layers_to_a_geojson_name_make_one_feature_collection(
        out, facilities, towns):
    result = export({"facilities": facilities, "towns": towns}, out / "view.geojson",
                    fmt="geojson", metadata=META)
    assert result.output == out / "view.geojson"
    assert sorted(p.name for p in out.iterdir()) == ["view.geojson", "view.geojson.meta.json"]
    doc = json.loads(result.output.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert doc["newtown:layers"] == ["facilities", "towns"] and "newtown:datum" not in doc
    read = pyogrio.read_dataframe(result.output)
    assert read["layer"].tolist() == ["facilities"] * len(facilities) + ["towns"] * len(towns)
    # each layer reads back as it was: its own attributes, its geometry
    back = read.loc[read["layer"] == "facilities"].reset_index(drop=True)
    assert_same_layer(back.drop(columns="layer")[[*facilities.columns]], facilities)
    back_towns = read.loc[read["layer"] == "towns"].reset_index(drop=True)
    assert_same_layer(back_towns.drop(columns="layer")[[*towns.columns]], towns)
    assert back_towns["tags"].isna().all()  # a facilities attribute is null on towns
    meta = read_sidecar(result)
    assert meta["geojson_layers"]["layer_property"] == "layer"
    assert meta["layers"]["facilities"]["count"] == len(facilities)


def test_one_feature_collection_refuses_a_layer_column(out, facilities, towns):
    with pytest.raises(InputError, match="already have a 'layer' column"):
        export({"facilities": facilities.assign(layer="x"), "towns": towns},
               out / "v.geojson", fmt="geojson", metadata=META)
    assert list(out.iterdir()) == []


def test_one_feature_collection_with_an_empty_layer(out, facilities, towns):
    result = export({"facilities": facilities.iloc[:0], "towns": towns}, out / "v.geojson",
                    fmt="geojson", metadata=META)
    read = pyogrio.read_dataframe(result.output)
    assert read["layer"].tolist() == ["towns"] * len(towns)
    assert result.counts == {"facilities": 0, "towns": len(towns)}


def test_gcj02_geojson_in_a_zip_says_its_datum_in_each_part(out, facilities, towns):
    result = export({"facilities": facilities, "towns": towns}, out / "amap_gcj02.zip",
                    fmt="geojson", datum="gcj02", metadata=META)
    assert result.output == out / "amap_gcj02.zip" and result.warnings == ()
    with zipfile.ZipFile(result.output) as archive:
        for part in ("facilities.geojson", "towns.geojson"):
            assert json.loads(archive.read(part))["newtown:datum"] == "GCJ-02"


# --- GeoPackage -------------------------------------------------------------------------------


def test_gpkg_one_table_per_layer_plus_metadata(out, facilities, towns):
    lines = make_lines()
    result = export({"facilities": facilities, "towns": towns, "corridor_lines": lines},
                    out / "view.gpkg", fmt="gpkg",
                    metadata={**META, "analysis": {"radius_m": 3000}})
    layers = dict(pyogrio.list_layers(result.output))
    assert layers == {"facilities": "Point", "towns": "MultiPolygon",
                      "corridor_lines": "LineString", METADATA_TABLE: None}
    read = pyogrio.read_dataframe(result.output, layer="facilities")
    assert_same_layer(read, facilities)
    assert read["in_town"].dtype == bool and read["rank"].dtype == np.int64
    assert read["year"].isna().tolist() == [False, True, False]
    assert_same_layer(pyogrio.read_dataframe(result.output, layer="towns"), towns)
    assert_same_layer(pyogrio.read_dataframe(result.output, layer="corridor_lines"), lines)
    meta = pyogrio.read_dataframe(result.output, layer=METADATA_TABLE)
    rows = dict(zip(meta["key"], meta["value"], strict=True))
    assert json.loads(rows["filter"]) == FILTER_PARAMS
    assert json.loads(rows["analysis"]) == {"radius_m": 3000}
    assert json.loads(rows["layers"])["facilities"]["count"] == 3
    assert rows["format"] == "gpkg"
    assert read_sidecar(result)["filter"] == FILTER_PARAMS  # and the sidecar file too


# --- Shapefile --------------------------------------------------------------------------------


def test_shapefile_zip_has_prj_cpg_and_mapped_fields(out, facilities, towns):
    result = export({"facilities": facilities, "towns": towns}, out / "view.shp.zip",
                    fmt="shp", metadata=META)
    assert result.output == out / "view.shp.zip"
    with zipfile.ZipFile(result.output) as archive:
        names = set(archive.namelist())
        for layer in ("facilities", "towns"):
            for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                assert f"{layer}{ext}" in names
            assert archive.read(f"{layer}.cpg").decode().strip() == "UTF-8"
            assert "WGS_1984" in archive.read(f"{layer}.prj").decode()
    mapping = read_sidecar(result)["shapefile_field_names"]["layers"]
    assert mapping["facilities"] == {"coord_source": "crd_source", "coord_precision_m": "prec_m"}
    assert mapping["towns"] == {"official_area_km2": "off_km2", "boundary_quality": "bnd_qual"}
    fac = pyogrio.read_dataframe(f"/vsizip/{result.output}/facilities.shp")
    assert "prec_m" in fac.columns and "coord_precision_m" not in fac.columns
    assert_same_layer(fac, facilities, rename=mapping["facilities"], blank_is_null=True)
    assert fac["name_zh"].iloc[0] == "嘉定智能网联汽车创新中心"
    town = pyogrio.read_dataframe(f"/vsizip/{result.output}/towns.shp")
    assert_same_layer(town, towns, rename=mapping["towns"])


def test_shapefile_field_mapping_is_fixed_short_and_collision_free():
    assert all(len(v.encode()) <= 10 for v in SHAPEFILE_FIELD_NAMES.values())
    assert len({v.casefold() for v in SHAPEFILE_FIELD_NAMES.values()}) == len(
        SHAPEFILE_FIELD_NAMES)
    every = shapefile_field_names([*SHAPEFILE_FIELD_NAMES, "name_zh", "industries"])
    assert every == {**SHAPEFILE_FIELD_NAMES, "name_zh": "name_zh", "industries": "industries"}
    # Names cut to 10 bytes that would clash get numbered; Chinese is cut on a character.
    clash = shapefile_field_names(["coverage_share_5km", "coverage_share_3km", "PREC_M",
                                   "coord_precision_m", "服务覆盖率百分比"])
    assert clash == {"coverage_share_5km": "coverage_s", "coverage_share_3km": "coverage_2",
                     "PREC_M": "PREC_M", "coord_precision_m": "prec_m_2",
                     "服务覆盖率百分比": "服务覆"}
    assert all(len(v.encode()) <= 10 for v in clash.values())


def test_shapefile_clash_is_reported(out, facilities):
    frame = facilities.assign(prec_m=1.0)
    result = export({"facilities": frame}, out / "f.shp.zip", fmt="shp", metadata=META)
    mapping = read_sidecar(result)["shapefile_field_names"]["layers"]["facilities"]
    assert mapping["prec_m"] == "prec_m_2"
    assert any("prec_m_2" in m for m in result.messages)


def test_shapefile_cuts_long_text_at_254_bytes_on_a_character(out, facilities):
    long_source = "沪科提复〔2023〕42号" + "创新中心" * 80  # > 254 bytes of UTF-8
    frame = facilities.assign(source=[long_source, "short", None])
    result = export({"facilities": frame}, out / "f", fmt="shp", metadata=META)
    assert result.output.name == "f.shp.zip"
    read = pyogrio.read_dataframe(f"/vsizip/{result.output}/facilities.shp")
    cut = read["source"].iloc[0]
    assert long_source.startswith(cut) and 251 <= len(cut.encode("utf-8")) <= 254
    assert [_plain(v) for v in read["source"].iloc[1:]] == ["short", None]
    assert any("1 value(s) of 'source' cut to 254 bytes" in m for m in result.messages)
    assert long_source in read_sidecar(result)["sources"]["per_layer"]["facilities"]


# --- CSV --------------------------------------------------------------------------------------


def test_csv_bom_lonlat_and_formula_neutralised(out, facilities, towns):
    result = export({"facilities": facilities, "towns": towns}, out / "sel.csv", fmt="csv",
                    metadata=META)
    assert result.counts == {"facilities": 3}
    assert result.skipped == ("towns",)
    assert any("towns: NOT written" in m and "Polygon" in m for m in result.warnings)
    raw = result.output.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].decode("utf-8").splitlines()[0].split(",")
    assert header[:8] == FACILITY_COLUMNS[:8] and header[-1] == "rank"
    table = pd.read_csv(result.output, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert table["name_zh"].tolist()[1] == "'=HYPERLINK(\"x\")"
    assert table["name_en"].tolist()[1] == "'-1 minus"
    assert table["address"].tolist() == ["嘉定区安亭镇墨玉南路888号", "'+86 嘉定", "'@清河路390号"]
    assert table["tags"].tolist() == ["auto;ai", "", "equipment"]
    assert table["year"].tolist() == ["2019", "", "1964"]
    read = pyogrio.read_dataframe(result.output, X_POSSIBLE_NAMES="lon", Y_POSSIBLE_NAMES="lat")
    assert read.crs is None or read.crs.to_epsg() == 4326
    assert_geometries_equal(read.set_crs(4326, allow_override=True).geometry,
                            facilities.geometry)
    assert read["name_zh"].tolist()[0] == "嘉定智能网联汽车创新中心"
    assert read["id"].tolist() == ["JD-001", "JD-002", "JD-003"]


def test_csv_needs_a_point_layer(out, towns):
    with pytest.raises(ValueError, match="CSV export writes a point layer"):
        export({"towns": towns}, out / "t.csv", fmt="csv", metadata=META)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_neutralise_formula(text):
    assert neutralise_formula(text) == "'" + text
    assert neutralise_formula("普通文本") == "普通文本"
    assert neutralise_formula(-1.5) == -1.5  # numbers are not text


# --- KML --------------------------------------------------------------------------------------


def test_kml_all_layers_named_by_name_zh(out, facilities, towns):
    lines = make_lines()
    result = export({"facilities": facilities, "towns": towns, "corridor_lines": lines},
                    out / "view.kml", fmt="kml", metadata=META)
    assert [name for name, _ in pyogrio.list_layers(result.output)] == [
        "facilities", "towns", "corridor_lines"]
    for name, source in (("facilities", facilities), ("towns", towns),
                         ("corridor_lines", lines)):
        read = pyogrio.read_dataframe(result.output, layer=name)
        assert read["Name"].tolist() == source["name_zh"].tolist()
        assert_geometries_equal(read.geometry, source.geometry.reset_index(drop=True))
    read = pyogrio.read_dataframe(result.output, layer="facilities")
    assert read["address"].tolist() == facilities["address"].tolist()
    assert read["source"].tolist() == facilities["source"].tolist()
    assert "<name>嘉定新城</name>" in result.output.read_text(encoding="utf-8")


# --- GCJ-02 / BD-09 ---------------------------------------------------------------------------


@pytest.mark.parametrize(("datum", "forward"), [("gcj02", wgs84_to_gcj02),
                                                ("bd09", wgs84_to_bd09)])
def test_other_datum_shifts_points_and_says_so(out, facilities, datum, forward):
    result = export({"facilities": facilities}, out / "amap.geojson", fmt="geojson",
                    datum=datum, metadata=META)
    assert result.output == out / "amap.geojson"  # exactly the name asked for
    assert sorted(p.name for p in out.iterdir()) == ["amap.geojson", "amap.geojson.meta.json"]
    label = {"gcj02": "GCJ-02", "bd09": "BD-09"}[datum]
    # the name does not say the datum: warned, and the file itself says it
    (warning,) = result.warnings
    assert f"amap.geojson holds {label} coordinates but its name does not say so" in warning
    assert f"amap.{datum}.geojson" in warning
    assert json.loads(result.output.read_text(encoding="utf-8"))["newtown:datum"] == label
    read = pyogrio.read_dataframe(result.output)
    lon, lat = forward(facilities["lon"].to_numpy(), facilities["lat"].to_numpy())
    np.testing.assert_allclose(read.geometry.x, lon, atol=TOL_DEG, rtol=0)
    np.testing.assert_allclose(read.geometry.y, lat, atol=TOL_DEG, rtol=0)
    # the lon/lat attributes follow the geometry
    np.testing.assert_allclose(read["lon"], lon, atol=TOL_DEG, rtol=0)
    _, _, shift_m = GEOD.inv(facilities["lon"], facilities["lat"], lon, lat)
    assert (np.asarray(shift_m) > 300).all()  # hundreds of metres in Shanghai
    meta = read_sidecar(result)
    assert meta["crs"]["datum"] == datum
    assert f"Coordinates are {label}" in meta["crs"]["statement"]
    assert "NOT RFC 7946 compliant" in meta["crs"]["statement"]
    assert meta["crs"]["rfc7946_compliant"] is False
    assert any(f"coordinates are {label}, not WGS84" in m for m in result.messages)


def test_gcj02_tag_not_repeated_and_wgs84_statement(out, facilities):
    path = export_path(out / "amap_gcj02.gpkg", fmt="gpkg", datum="gcj02")
    assert path.name == "amap_gcj02.gpkg"
    result = export({"facilities": facilities}, out / "x.geojson", fmt="geojson", metadata=META)
    meta = read_sidecar(result)
    assert meta["crs"]["crs"] == "EPSG:4326"
    assert meta["crs"]["statement"].startswith("EPSG:4326 WGS84")
    assert meta["crs"]["rfc7946_compliant"] is True


@pytest.mark.parametrize(
    ("name", "fmt", "layers", "expected"),
    [
        ("out", "geojson", 1, "out.geojson"),
        ("out", "geojson", 2, "out.geojson.zip"),
        ("out.geojson", "geojson", 2, "out.geojson"),
        ("out.geojson.zip", "geojson", 1, "out.geojson.zip"),
        ("out.zip", "geojson", 2, "out.zip"),
        ("out.json", "geojson", 1, "out.json"),
        ("out.zip", "shp", 1, "out.zip"),
        ("out", "shp", 3, "out.shp.zip"),
        ("2025.06 view", "gpkg", 1, "2025.06 view.gpkg"),
        ("OUT.CSV", "csv", 1, "OUT.CSV"),
        ("out.kml", "kml", 1, "out.kml"),
    ],
)
def test_export_path(tmp_path, name, fmt, layers, expected):
    assert export_path(tmp_path / name, fmt=fmt, layer_count=layers) == tmp_path / expected


def test_export_path_adds_the_datum_only_to_a_name_it_completes(tmp_path):
    assert export_path(tmp_path / "v", fmt="shp", datum="gcj02").name == "v.gcj02.shp.zip"
    assert export_path(tmp_path / "v", fmt="kml", datum="bd09").name == "v.bd09.kml"
    assert export_path(tmp_path / "v_GCJ-02", fmt="csv", datum="gcj02").name == "v_GCJ-02.csv"
    # a name with the format's extension is written as given
    assert export_path(tmp_path / "v.shp.zip", fmt="shp", datum="gcj02").name == "v.shp.zip"
    assert export_path(tmp_path / "x.geojson", fmt="geojson", datum="gcj02",
                       layer_count=3).name == "x.geojson"


def test_export_path_refuses_a_bare_shp(tmp_path):
    with pytest.raises(InputError, match=r"a shp export is one zip .*; name it out.shp.zip"):
        export_path(tmp_path / "out.shp", fmt="shp")


def test_export_path_refuses_another_formats_extension(tmp_path):
    with pytest.raises(ValueError, match=r"a geojson export is written as \*.geojson, not \*.gpkg"):
        export_path(tmp_path / "out.gpkg", fmt="geojson")


# --- input checks -----------------------------------------------------------------------------


def test_refuses_other_crs(out, facilities):
    with pytest.raises(ValueError, match=r"layer 'facilities' must be in EPSG:4326.*EPSG:4549"):
        export({"facilities": facilities.to_crs(4549)}, out / "x.gpkg", fmt="gpkg",
               metadata=META)
    with pytest.raises(ValueError, match="has no CRS"):
        export({"facilities": facilities.set_crs(None, allow_override=True)}, out / "x.gpkg",
               fmt="gpkg", metadata=META)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "pdf"}, "unknown export format 'pdf'"),
        ({"fmt": "gpkg", "datum": "cgcs2000"}, "unknown datum 'cgcs2000'"),
        ({"fmt": "gpkg", "layers": {}}, "no layers"),
        ({"fmt": "gpkg", "layers": {"My Layer": None}}, "not usable as a file or table name"),
        ({"fmt": "gpkg", "layers": {METADATA_TABLE: None}}, "reserved"),
    ],
)
def test_bad_arguments(out, facilities, kwargs, message):
    layers = kwargs.pop("layers", {"facilities": facilities})
    with pytest.raises(ValueError, match=message):
        export(layers, out / "x", metadata=META, **kwargs)


def test_not_a_geodataframe(out, facilities):
    with pytest.raises(TypeError, match="layer 'facilities' should be a GeoDataFrame"):
        export({"facilities": pd.DataFrame(facilities)}, out / "x.gpkg", fmt="gpkg",
               metadata=META)


# --- sidecar ----------------------------------------------------------------------------------


def test_sidecar_says_what_was_received(out, facilities, towns):
    result = export(
        {"facilities": facilities, "towns": towns}, out / "v.gpkg", fmt="gpkg",
        metadata={**META, "analysis": {"radius_m": 3000.0}, "drawn_by": "planner"},
    )
    meta = read_sidecar(result)
    assert meta["file"] == "v.gpkg" and meta["format"] == "gpkg"
    assert meta["filter"] == FILTER_PARAMS
    assert meta["analysis"] == {"radius_m": 3000.0}
    assert meta["layers"] == {"facilities": {"count": 3, "geometry_type": "Point"},
                              "towns": {"count": 2,
                                        "geometry_type": "MultiPolygon/Polygon"}}
    assert meta["sources"]["per_layer"]["facilities"] == {"上海市经信委名单 2023-05": 2,
                                                          "区科委 2024-01": 1}
    assert meta["sources"]["data"] == META["sources"]
    assert meta["software"]["version"] == geo.__version__
    exported = datetime.fromisoformat(meta["exported_at"])
    assert exported.tzinfo is not None
    assert meta["context"] == {"drawn_by": "planner"}
    assert "shapefile_field_names" not in meta
    assert "上海市经信委名单" in result.sidecar.read_text(encoding="utf-8")  # not \\u-escaped


def test_filter_object_is_serialised(out, facilities):
    from geo.query import Filter

    flt = Filter.create(towns=["嘉定新城"], industries=["auto"])
    selected = flt.select(facilities.assign(town="jiading"))
    assert selected["id"].tolist() == ["JD-001"]
    result = export({"facilities": selected}, out / "f.geojson", fmt="geojson",
                    metadata={"filter": flt})
    assert read_sidecar(result)["filter"] == {"town": "jiading", "industry": "auto"}


# --- atomic writes ----------------------------------------------------------------------------


def _fail_after_real_write(monkeypatch, fmt):  # type: ignore[no-untyped-def]
    """Make the writer produce a (partial) file in the staging folder, then fail."""
    if fmt == "csv":
        real_to_csv = pd.DataFrame.to_csv

        def broken_to_csv(self, path, *args, **kwargs):  # type: ignore[no-untyped-def]
            real_to_csv(self.head(1), path, *args, **kwargs)
            raise OSError("disk full")

        monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
        return
    real_write = pyogrio.write_dataframe
    calls = []

    def broken_write(df, path, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_write(df, path, *args, **kwargs)
        calls.append(path)
        if len(calls) == 2 or kwargs.get("driver") in {"GeoJSON"}:
            raise OSError("disk full")

    monkeypatch.setattr(pyogrio, "write_dataframe", broken_write)


@pytest.mark.parametrize("fmt", FORMATS)
def test_failure_mid_write_leaves_nothing(out, facilities, towns, monkeypatch, fmt):
    _fail_after_real_write(monkeypatch, fmt)
    layers = {"facilities": facilities} if fmt in {"csv", "geojson"} else {
        "facilities": facilities, "towns": towns}
    with pytest.raises(OSError, match="disk full"):
        export(layers, out / "view", fmt=fmt, metadata=META)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("fmt", ["gpkg", "csv"])
def test_failure_keeps_an_older_file_untouched(out, facilities, monkeypatch, fmt):
    first = export({"facilities": facilities}, out / "view", fmt=fmt, metadata=META)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _fail_after_real_write(monkeypatch, fmt)
    with pytest.raises(OSError, match="disk full"):
        export({"facilities": facilities.iloc[:1], "towns": make_towns()}
               if fmt == "gpkg" else {"facilities": facilities.iloc[:1]},
               first.output, fmt=fmt, metadata=META)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_failed_rename_rolls_back(out, facilities, monkeypatch):
    real_replace = Path.replace
    calls = []

    def flaky_replace(self, target):  # type: ignore[no-untyped-def]
        calls.append(target)
        if len(calls) == 2:
            raise OSError("rename failed")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", flaky_replace)
    with pytest.raises(OSError, match="rename failed"):
        export({"facilities": facilities}, out / "v.gpkg", fmt="gpkg", metadata=META)
    assert list(out.iterdir()) == []


# --- empty selection --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_selection_gives_valid_empty_file(out, facilities, fmt):
    empty = facilities.iloc[:0]
    result = export({"facilities": empty}, out / "none", fmt=fmt, metadata=META)
    assert result.empty and result.counts == {"facilities": 0}
    assert any("empty" in m for m in result.messages)
    assert read_sidecar(result)["layers"]["facilities"]["count"] == 0
    if fmt == "geojson":
        doc = json.loads(result.output.read_text(encoding="utf-8"))
        assert doc["type"] == "FeatureCollection" and doc["features"] == []
        return
    if fmt == "csv":
        raw = result.output.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        lines = raw[3:].decode("utf-8").splitlines()
        assert len(lines) == 1 and {"lon", "lat", "name_zh"} <= set(lines[0].split(","))
        return
    source = f"/vsizip/{result.output}/facilities.shp" if fmt == "shp" else result.output
    info = pyogrio.read_info(source, layer="facilities")
    assert info["features"] == 0
    if fmt != "kml":  # KML keeps no schema for a layer without placemarks
        assert info["geometry_type"] == "Point"
        assert {"name_zh", "in_town"} <= set(info["fields"])
    assert len(pyogrio.read_dataframe(source, layer="facilities")) == 0


def test_empty_layer_next_to_full_one(out, facilities, towns):
    result = export({"facilities": facilities.iloc[:0], "towns": towns}, out / "v.gpkg",
                    fmt="gpkg", metadata=META)
    assert not result.empty
    assert result.messages == ("facilities: the selection is empty; wrote an empty layer "
                               "(0 features)",)
    assert pyogrio.read_info(result.output, layer="facilities")["features"] == 0


# --- attributes -------------------------------------------------------------------------------


def test_object_columns_are_made_writable(out, facilities):
    frame = facilities.assign(
        mixed=["a", 1, None],
        flags=pd.Series([True, None, False], dtype=object, index=facilities.index),
        counts=pd.Series([1, None, 3], dtype=object, index=facilities.index),
        kinds=pd.Categorical(["a", "b", "a"]),
        tagset=[{"b", "a"}, set(), {"c"}],
    )
    result = export({"facilities": frame}, out / "v.gpkg", fmt="gpkg", metadata=META)
    read = pyogrio.read_dataframe(result.output, layer="facilities")
    assert [_plain(v) for v in read["mixed"]] == ["a", "1", None]
    assert [_plain(v) for v in read["flags"]] == [True, None, False]
    assert [_plain(v) for v in read["counts"]] == [1, None, 3]
    assert read["kinds"].tolist() == ["a", "b", "a"]
    assert [_plain(v) for v in read["tagset"]] == ["a;b", "", "c"]


# --- CLI --------------------------------------------------------------------------------------


def _box_layer(name_zh: str, box: tuple[float, float, float, float], **props: object):
    return gpd.GeoDataFrame(
        {"name_zh": [name_zh], "source": ["test fixture 2025-01"],
         "boundary_quality": ["approximate"], **{k: [v] for k, v in props.items()}},
        geometry=[shapely.box(*box)], crs="EPSG:4326",
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A tiny folder laid out like data/: one district, one town, three facilities."""
    root = tmp_path / "data"
    (root / "boundaries").mkdir(parents=True)
    layers = {
        "shanghai": _box_layer("上海市", (121.0, 31.1, 121.6, 31.5)),
        "districts": _box_layer("嘉定区", (121.1, 31.2, 121.45, 31.45), code="310114",
                                name_en="Jiading District"),
        "towns": _box_layer("嘉定新城", (121.2, 31.3, 121.3, 31.4), key="jiading",
                            name_en="Jiading New Town", district="嘉定区",
                            official_area_km2=159.5),
        "corridors": _box_layer("嘉青松金走廊", (121.15, 31.25, 121.35, 31.3), key="g60"),
        "zones": _box_layer("安亭汽车城", (121.15, 31.26, 121.2, 31.3), key="anting"),
    }
    for name, layer in layers.items():
        pyogrio.write_dataframe(layer, root / "boundaries" / f"{name}.geojson", driver="GeoJSON")
    lines = gpd.GeoDataFrame(
        {"key": ["g60"], "name_zh": ["G60走廊"], "source": ["fixture"],
         "boundary_quality": ["schematic"]},
        geometry=[LineString([(121.15, 31.25), (121.35, 31.3)])], crs="EPSG:4326")
    pyogrio.write_dataframe(lines, root / "boundaries" / "corridor_lines.geojson",
                            driver="GeoJSON")
    (root / "facilities.csv").write_text(
        "id,name_zh,name_en,category,industries,town,district,address,lon,lat,coord_source,"
        "coord_precision_m,placement,parent_id,level,status,year,year_event,year_source,source\n"
        "JD-001,嘉定智能网联汽车创新中心,ICV Centre,innovation_centre,auto_icv;ai,jiading,嘉定区,"
        "嘉定区安亭镇,121.25,31.35,amap_poi,30,site,,national,operating,2019,opened,经信委,"
        "经信委 2023-05\n"
        "JD-002,上海光机所,SIOM,research_institute,laser,jiading,嘉定区,清河路390号,121.22,"
        "31.38,manual,50,site,,national,operating,1964,founded,所史,经信委 2023-05\n"
        "JD-003,嘉定新材料园,Materials Park,industrial_base,materials,jiading,,,121.28,31.32,"
        "geocoded,200,area,,district,planned,,,,区政府 2024-02\n",
        encoding="utf-8",
    )
    return root


def run_cli(argv: list[str]) -> int:
    """Parse and run like ``newtown`` would once ``add_export_command`` is hooked in."""
    parser = argparse.ArgumentParser(prog="newtown")
    sub = parser.add_subparsers(dest="command", required=True)
    add_export_command(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_gpkg_with_filter(data_dir, tmp_path, capsys):
    target = tmp_path / "exports" / "jd.gpkg"
    code = run_cli(["export", "--data", str(data_dir), "--format", "gpkg", "--industry", "auto",
                    "--layers", "facilities,towns", "--layers", "corridor_lines",
                    "-o", str(target)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"wrote {target} (GeoPackage" in printed
    assert re.search(r"^  facilities +1 feature$", printed, re.MULTILINE)
    assert re.search(r"^  towns +1 feature$", printed, re.MULTILINE)
    assert f"metadata: {target}.meta.json" in printed
    assert dict(pyogrio.list_layers(target)).keys() == {"facilities", "towns", "corridor_lines",
                                                        METADATA_TABLE}
    read = pyogrio.read_dataframe(target, layer="facilities")
    assert read["id"].tolist() == ["JD-001"]
    assert read["in_town"].tolist() == [True]
    meta = json.loads((tmp_path / "exports" / "jd.gpkg.meta.json").read_text(encoding="utf-8"))
    assert meta["filter"] == {"industry": "auto"}
    files = meta["sources"]["data"]["files"]
    assert set(files) >= {"facilities.csv", "boundaries/towns.geojson"}
    assert datetime.fromisoformat(files["facilities.csv"]["modified"]).tzinfo is not None


def test_cli_csv_gcj02_and_default_layers(data_dir, tmp_path, capsys):
    code = run_cli(["export", "--data", str(data_dir), "--format", "csv", "--crs", "gcj02",
                    "-o", str(tmp_path / "out" / "sel.csv")])
    captured = capsys.readouterr()
    printed, err = captured.out, captured.err
    assert code == 0, printed
    written = tmp_path / "out" / "sel.csv"  # exactly the name asked for
    assert f"wrote {written}" in printed and "note: coordinates are GCJ-02, not WGS84" in printed
    assert "warning: sel.csv holds GCJ-02 coordinates but its name does not say so" in err
    assert sorted(p.name for p in written.parent.iterdir()) == ["sel.csv", "sel.csv.meta.json"]
    table = pd.read_csv(written, encoding="utf-8-sig")
    lon, lat = wgs84_to_gcj02([121.25, 121.22, 121.28], [31.35, 31.38, 31.32])
    np.testing.assert_allclose(table["lon"], lon, atol=TOL_DEG, rtol=0)
    np.testing.assert_allclose(table["lat"], lat, atol=TOL_DEG, rtol=0)


def test_cli_geojson_of_several_layers_writes_exactly_the_path(data_dir, tmp_path, capsys):
    target = tmp_path / "out" / "all.geojson"
    code = run_cli(["export", "--data", str(data_dir), "--format", "geojson",
                    "--crs", "gcj02", "-o", str(target)])
    captured = capsys.readouterr()
    assert code == 0, captured
    assert sorted(p.name for p in target.parent.iterdir()) == ["all.geojson",
                                                               "all.geojson.meta.json"]
    assert f"wrote {target}" in captured.out
    assert "warning: all.geojson holds GCJ-02 coordinates" in captured.err
    read = pyogrio.read_dataframe(target)
    assert set(read["layer"]) == {"facilities", "towns"}  # the two default layers
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["newtown:datum"] == "GCJ-02"
    assert json.loads((target.parent / "all.geojson.meta.json").read_text(
        encoding="utf-8"))["crs"]["datum"] == "gcj02"
    # a name that says the datum: no warning
    assert run_cli(["export", "--data", str(data_dir), "--format", "geojson", "--crs", "gcj02",
                    "-o", str(target.parent / "all.gcj02.geojson")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_cli_empty_selection_is_not_an_error(data_dir, tmp_path, capsys):
    code = run_cli(["export", "--data", str(data_dir), "--format", "geojson",
                    "--search", "没有这个设施", "--layers", "facilities",
                    "-o", str(tmp_path / "none.geojson")])
    printed = capsys.readouterr().out
    assert code == 0
    assert "note: nothing matched the selection" in printed
    doc = json.loads((tmp_path / "none.geojson").read_text(encoding="utf-8"))
    assert doc["features"] == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layers", "facilities,hotspotz"], "--layers: unknown layer 'hotspotz'"),
        (["--town", "Beijing"], "town: unknown"),
        (["-o", "x.gpkg"], "a geojson export is written as *.geojson"),
    ],
)
def test_cli_bad_input_exits_2(data_dir, tmp_path, capsys, extra, message):
    argv = ["export", "--data", str(data_dir), "--format", "geojson",
            "-o", str(tmp_path / "x.geojson"), *extra]
    if "-o" in extra:
        argv[argv.index("-o") + 1] = str(tmp_path / extra[-1])
        argv = argv[:-2]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not (tmp_path / "x.geojson").exists()


def test_cli_bad_data_dir_exits_2(tmp_path, capsys):
    code = run_cli(["export", "--data", str(tmp_path / "nowhere"), "--format", "gpkg",
                    "-o", str(tmp_path / "x.gpkg")])
    assert code == 2
    assert "error: data problems" in capsys.readouterr().err


def test_cli_refuses_unknown_format(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["export", "--format", "pdf", "-o", str(tmp_path / "x.pdf")])
    assert exit_info.value.code == 2
    assert "invalid choice: 'pdf'" in capsys.readouterr().err


def test_cli_help_lists_the_map_formats(capsys):
    # HTML and PNG maps themselves are tested in tests/test_webmap.py
    with pytest.raises(SystemExit):
        run_cli(["export", "--help"])
    assert "html,png" in " ".join(capsys.readouterr().out.split()).replace(" ", "")


def test_parse_layers():
    assert parse_layers(None) == ("facilities", "towns")
    assert parse_layers(["Towns, facilities", "towns"]) == ("towns", "facilities")


def test_newtown_main_export_when_hooked_in(data_dir, tmp_path, capsys):
    if "export" not in cli.build_parser().format_help():
        pytest.skip("dashboard.cli does not register `export` yet")
    code = cli.main(["export", "--data", str(data_dir), "--format", "kml",
                     "-o", str(tmp_path / "v.kml")])
    assert code == 0, capsys.readouterr()
    assert (tmp_path / "v.kml").is_file()


@pytest.fixture(scope="module")
def bundled_atlas():  # type: ignore[no-untyped-def]
    from geo._errors import DataError
    from geo.atlas import load_atlas

    try:
        return load_atlas()
    except DataError as exc:
        pytest.skip(f"bundled data does not load yet: {str(exc).splitlines()[0]}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_bundled_data_exports_every_layer(bundled_atlas, tmp_path, capsys, fmt):
    code = run_cli(["export", "--format", fmt, "--layers",
                    "facilities,towns,districts,corridors,corridor_lines,zones",
                    "-o", str(tmp_path / "all")])
    assert code == 0, capsys.readouterr()
    facilities = bundled_atlas.facilities
    if fmt == "csv":
        read = pyogrio.read_dataframe(tmp_path / "all.csv", X_POSSIBLE_NAMES="lon",
                                      Y_POSSIBLE_NAMES="lat")
        assert read["id"].tolist() == facilities["id"].tolist()
        return
    source = {"geojson": f"/vsizip/{tmp_path}/all.geojson.zip/facilities.geojson",
              "shp": f"/vsizip/{tmp_path}/all.shp.zip/facilities.shp"}.get(
        fmt, tmp_path / f"all.{fmt}")
    read = pyogrio.read_dataframe(source, layer="facilities")
    assert len(read) == len(facilities)
    assert_geometries_equal(read.geometry, facilities.geometry.reset_index(drop=True))
    if fmt in {"geojson", "gpkg"}:
        assert_same_layer(read, facilities)
        towns = pyogrio.read_dataframe(
            f"/vsizip/{tmp_path}/all.geojson.zip/towns.geojson" if fmt == "geojson"
            else tmp_path / "all.gpkg", layer="towns")
        assert_same_layer(towns, bundled_atlas.towns)
