"""The parks layer: flagship and featured industrial parks, validated and exported."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pyogrio
import pytest

from geo._errors import DataError
from geo.atlas import load_atlas
from geo.boundaries import PARK_GEOMETRY_QUALITIES, PARK_KINDS, read_boundaries
from geo.export import export
from geo.query import Filter
from geo.settings import bundled_data_dir


@pytest.fixture(scope="module")
def parks():
    return load_atlas().parks


def test_bundled_parks_validate_and_cite_sources(parks):
    assert len(parks) >= 10
    assert parks["id"].is_unique
    assert set(parks["kind"]) <= set(PARK_KINDS)
    assert set(parks["geometry_quality"]) <= set(PARK_GEOMETRY_QUALITIES)
    assert parks["source"].str.contains("http").all(), "every park cites a page"
    # a point never claims to be a digitised boundary
    points = parks[parks.geom_type == "Point"]
    assert not (points["geometry_quality"] == "published_boundary_digitised").any()
    # SJ-003, a designation covering Songjiang district, is an area feature, not a facility
    designation = parks[parks["replaces_facility"] == "SJ-003"]
    assert list(designation.geom_type) == ["MultiPolygon"]
    assert "SJ-003" not in load_atlas().facilities.index


def test_a_park_point_claiming_a_digitised_boundary_is_refused(tmp_path):
    doc = json.loads((bundled_data_dir() / "boundaries" / "parks.geojson").read_text("utf-8"))
    first = next(f for f in doc["features"] if f["geometry"]["type"] == "Point")
    first["properties"]["geometry_quality"] = "published_boundary_digitised"
    first["properties"]["kind"] = "mega_park"
    path = tmp_path / "parks.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_boundaries(path, kind="parks")
    fields = {(p.field, p.file) for p in info.value.problems}
    assert ("kind", str(path)) in fields
    assert ("geometry_quality", str(path)) in fields


def test_parks_export_as_geojson_and_split_shapefile(tmp_path: Path):
    atlas = load_atlas()
    layers = {"parks": atlas.parks, "facilities": Filter().select(atlas.facilities)}
    written = export(layers, tmp_path / "parks.geojson.zip", fmt="geojson", metadata={})
    assert written.counts["parks"] == len(atlas.parks)
    shp = export(layers, tmp_path / "parks.shp.zip", fmt="shp", metadata={})
    with zipfile.ZipFile(shp.output) as archive:
        names = set(archive.namelist())
    assert {"parks_points.shp", "parks_polygons.shp"} <= names
    archive_path = f"/vsizip/{shp.output}/parks_points.shp"
    read = pyogrio.read_dataframe(archive_path)
    assert len(read) == int((atlas.parks.geom_type == "Point").sum())
