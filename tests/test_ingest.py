"""Uploads: every supported format, declared datums, and hostile or broken files."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo._errors import DataError
from geo.crs import wgs84_to_gcj02
from geo.ingest import read_upload

GOOD = Path(__file__).parent / "data" / "good"
HEADER = ("id,name_zh,category,industries,town,lon,lat,coord_source,coord_precision_m,"
          "source")


def csv_bytes(*rows: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode(encoding)


ROW = "U1,上传的实验室,lab,ai,嘉定新城,121.25,31.38,survey,50,planner upload"


def test_gb18030_csv_as_excel_writes_it():
    upload = read_upload("清单.csv", (GOOD / "gb18030.csv").read_bytes())
    assert upload.kind == "facilities"
    assert upload.data.loc["JD-T1", "name_zh"] == "测试研究所"


def test_declared_gcj02_coordinates_are_converted_to_wgs84():
    gx, gy = (float(v) for v in wgs84_to_gcj02(121.25, 31.38))
    raw = csv_bytes(f"U1,高德坐标,lab,ai,jiading,{gx:.7f},{gy:.7f},amap,50,test")
    upload = read_upload("gcj.csv", raw, datum="gcj02")
    point = upload.data.geometry.iloc[0]
    assert point.x == pytest.approx(121.25, abs=1e-6)
    assert point.y == pytest.approx(31.38, abs=1e-6)
    assert "GCJ02" in upload.notes[0]


def test_xlsx_upload():
    table = pd.read_csv(io.BytesIO(csv_bytes(ROW)), dtype=str)
    buffer = io.BytesIO()
    table.to_excel(buffer, index=False, engine="openpyxl")
    upload = read_upload("facilities.xlsx", buffer.getvalue())
    assert list(upload.data.index) == ["U1"]
    assert upload.data.loc["U1", "town"] == "jiading"


def test_bad_rows_are_listed_row_by_row():
    raw = csv_bytes(ROW, "U2,坏行,lab,ai,nowhere,121.25,31.38,x,50,y",
                    "U3,北京,lab,ai,jiading,116.4,39.9,x,50,y")
    with pytest.raises(DataError) as info:
        read_upload("bad.csv", raw)
    assert [(p.row, p.field) for p in info.value.problems] == [(2, "town"), (3, "lon/lat")]


def _shapefile_zip(tmp_path: Path, gdf: gpd.GeoDataFrame, *, drop: str | None = None) -> bytes:
    folder = tmp_path / "shp"
    folder.mkdir()
    gdf.to_file(folder / "layer.shp", engine="pyogrio", encoding="utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in folder.iterdir():
            if drop is None or path.suffix != drop:
                archive.write(path, f"nested/{path.name}")
    return buffer.getvalue()


def test_zipped_shapefile_of_boundaries(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["规划片区"]},
                           geometry=[shapely.box(121.2, 31.3, 121.3, 31.4)], crs=4326)
    upload = read_upload("areas.zip", _shapefile_zip(tmp_path, gdf))
    assert upload.kind == "boundaries"
    assert upload.data["name_zh"].tolist() == ["规划片区"]


def test_zip_without_shp_is_refused(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(121.2, 31.3, 121.3, 31.4)],
                           crs=4326)
    with pytest.raises(DataError, match=r"exactly one \.shp"):
        read_upload("no_shp.zip", _shapefile_zip(tmp_path, gdf, drop=".shp"))


def test_zip_bomb_is_refused_before_unpacking():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("layer.shp", b"\0" * 20_000_000)
    raw = buffer.getvalue()
    assert len(raw) < 100_000
    with pytest.raises(DataError, match="zip bomb"):
        read_upload("bomb.zip", raw)


def test_oversize_and_unsupported_files_are_refused():
    with pytest.raises(DataError, match="larger than the upload limit of 20 MB"):
        read_upload("big.csv", b"x" * (20 * 1024 * 1024 + 1))
    with pytest.raises(DataError, match="unsupported file type"):
        read_upload("evil.pkl", b"\x80\x04K\x01.")
    with pytest.raises(DataError, match="file is empty"):
        read_upload("empty.geojson", b"  ")


def test_geojson_points_and_path_in_name_are_harmless():
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [121.25, 31.38]},
        "properties": {"id": "G1", "name_zh": "点", "category": "lab", "industries": "ai",
                       "town": "jiading", "coord_source": "gps", "coord_precision_m": 10,
                       "source": "test"}}]}
    upload = read_upload("../../etc/passwd.geojson", json.dumps(doc).encode())
    assert upload.name == "passwd.geojson"
    assert upload.kind == "facilities"
    assert upload.data.loc["G1", "coord_precision_m"] == 10


def test_mixed_geometry_is_refused():
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point",
                                                           "coordinates": [121.2, 31.3]}},
        {"type": "Feature", "properties": {}, "geometry": {
            "type": "LineString", "coordinates": [[121.2, 31.3], [121.3, 31.4]]}}]}
    with pytest.raises(DataError, match="only points"):
        read_upload("mixed.geojson", json.dumps(doc).encode())
