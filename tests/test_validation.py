"""Every validation rule has a small bad file; each must name its file, row, field and value."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo._errors import DataError
from geo.boundaries import read_boundaries
from geo.facilities import read_facilities, validate_facilities

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"

# (file, expected row, expected field, fragment of the message)
FACILITY_CASES = [
    ("empty.csv", None, None, "file is empty"),
    ("header_only.csv", None, None, "header only"),
    ("missing_column.csv", None, None, "missing required column(s): 'lat' (found 'latitude'?)"),
    ("blank_lon.csv", 1, "lon", "required value is blank"),
    ("nan_lat.csv", 1, "lat", "not a finite number"),
    ("out_of_range.csv", 1, "lon/lat", "out of range"),
    ("swapped_lat_lon.csv", 1, "lon/lat", "look swapped"),
    ("web_mercator_metres.csv", 1, "lon/lat", "EPSG:3857"),
    ("beijing.csv", 1, "lon/lat", "outside Shanghai"),
    ("unknown_industry.csv", 1, "industries", "did you mean 'biomed'"),
    ("unknown_town.csv", 1, "town", "did you mean 'jiading'"),
    ("unknown_category.csv", 1, "category", "did you mean 'research_institute'"),
    ("bad_precision.csv", 1, "coord_precision_m", "positive number of metres"),
    ("formula_name.csv", 1, "name_zh", "spreadsheet formula"),
    ("long_name.csv", 1, "name_en", "longer than 300 characters"),
    ("ragged_row.csv", 1, None, "row has 17 cells but the header has 16"),
    ("bad_year.csv", 1, "year", "not a number"),
    ("not_text.csv", None, None, "cannot decode text as UTF-8 or GB18030"),
    ("line_facility.geojson", 1, "geometry", "facilities must be Points"),
    ("truncated.gpkg", None, None, "cannot read as a vector file"),
]

BOUNDARY_CASES = [
    ("self_intersecting_town.geojson", 1, "geometry", "Self-intersection"),
    ("unclosed_ring_town.geojson", None, None, "do not form a closed linestring"),
    ("projected_crs_member.geojson", None, "crs", "EPSG::3857"),
    ("point_as_town.geojson", 1, "geometry", "expected MultiPolygon or Polygon"),
    ("town_missing_source.geojson", None, "source", "missing required property"),
    ("town_unknown_key.geojson", 1, "key", "did you mean 'jiading'"),
    ("truncated.geojson", None, None, "not valid JSON"),
    ("truncated.gpkg", None, None, "cannot read as a vector file"),
]


def _assert_problem(exc: DataError, name: str, row: int | None, field: str | None, text: str):
    assert exc.problems, "a DataError must carry at least one problem"
    problem = exc.problems[0]
    assert Path(problem.file).name == name
    assert problem.row == row
    assert problem.field == field
    assert text in str(problem), str(exc)
    # The rendered message names the file, and the row and field when there is one.
    rendered = str(exc)
    assert name in rendered
    if row is not None:
        assert f"row {row}" in rendered
    if field is not None:
        assert f"field '{field}'" in rendered


@pytest.mark.parametrize(("name", "row", "field", "text"), FACILITY_CASES)
def test_bad_facility_file(name, row, field, text):
    with pytest.raises(DataError) as info:
        read_facilities(BAD / name)
    _assert_problem(info.value, name, row, field, text)


@pytest.mark.parametrize(("name", "row", "field", "text"), BOUNDARY_CASES)
def test_bad_boundary_file(name, row, field, text):
    with pytest.raises(DataError) as info:
        read_boundaries(BAD / name, kind="towns")
    _assert_problem(info.value, name, row, field, text)


def test_duplicate_ids_name_every_row():
    with pytest.raises(DataError) as info:
        read_facilities(BAD / "duplicate_id.csv")
    rows = [(p.row, p.field) for p in info.value.problems]
    assert rows == [(1, "id"), (2, "id")]
    assert "rows 1, 2" in info.value.problems[0].message


def test_every_problem_reported_at_once():
    with pytest.raises(DataError) as info:
        read_facilities(BAD / "many_problems.csv")
    found = [(p.row, p.field) for p in info.value.problems]
    assert found == [(1, "lon"), (2, "town"), (3, "industries")]
    assert "3 problems found" in str(info.value)


@pytest.mark.parametrize("name", ["gb18030.csv", "utf8_bom.csv", "mixed_line_endings.csv"])
def test_excel_encodings_and_line_endings_load(name):
    gdf = read_facilities(DATA / "good" / name)
    assert gdf.crs.to_epsg() == 4326
    assert gdf.loc["JD-T1", "name_zh"] == "测试研究所"
    assert gdf.loc["JD-T1", "town"] == "jiading"
    assert gdf.loc["JD-T1", "geometry"].equals(shapely.Point(121.25, 31.38))


def test_names_in_any_language_normalise_to_keys():
    gdf = read_facilities(DATA / "good" / "mixed_line_endings.csv")
    row = gdf.loc["JD-T3"]
    assert row["town"] == "jiading"  # given as 嘉定新城
    assert row["industries"] == "ai;auto"  # given as 人工智能;Automotive
    assert list(gdf.index) == ["JD-T1", "JD-T2", "JD-T3"]


def _table(**overrides):
    row = dict(id="JD-T1", name_zh="测试", category="lab", industries="ai", town="jiading",
               district="", lon="121.25", lat="31.38", coord_source="test",
               coord_precision_m="100", source="test")
    row.update(overrides)
    return pd.DataFrame([row])


def test_point_outside_city_polygon_is_rejected():
    city = shapely.box(121.0, 31.0, 121.2, 31.2)  # deliberately excludes the point
    with pytest.raises(DataError) as info:
        validate_facilities(_table(), file="t.csv", city=city)
    assert info.value.problems[0].message == "point lies outside Shanghai's boundary"


def test_stated_district_must_contain_the_point_and_blank_is_filled():
    districts = gpd.GeoDataFrame(
        {"name_zh": ["嘉定区", "青浦区"]},
        geometry=[shapely.box(121.1, 31.3, 121.4, 31.5), shapely.box(120.9, 31.0, 121.1, 31.3)],
        crs=4326,
    )
    filled = validate_facilities(_table(), districts=districts)
    assert filled.loc["JD-T1", "district"] == "嘉定区"
    with pytest.raises(DataError) as info:
        validate_facilities(_table(district="Qingpu"), file="t.csv", districts=districts)
    problem = info.value.problems[0]
    assert (problem.row, problem.field, problem.value) == (1, "district", "青浦区")
    assert "lies in 嘉定区, not in 青浦区" in problem.message


def test_missing_crs_is_an_error(tmp_path):
    path = tmp_path / "nocrs.gpkg"
    gdf = gpd.GeoDataFrame({"id": ["A"]}, geometry=[shapely.Point(121.25, 31.38)])
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gdf.to_file(path, driver="GPKG", engine="pyogrio")
    with pytest.raises(DataError) as info:
        read_facilities(path)
    assert info.value.problems[0].field == "crs"
    assert "no CRS" in info.value.problems[0].message


def test_projected_gpkg_is_reprojected_not_rejected(tmp_path):
    """A GeoPackage in EPSG:4549 is legitimate: it is read and converted to WGS84."""
    src = _table(district="嘉定区")
    wgs = validate_facilities(src)
    path = tmp_path / "metric.gpkg"
    wgs.drop(columns=["lon", "lat"]).to_crs(4549).to_file(path, driver="GPKG", engine="pyogrio")
    back = read_facilities(path)
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].distance(shapely.Point(121.25, 31.38)) < 1e-7
