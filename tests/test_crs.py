"""Tests for geo.crs: datum conversions against published pairs, round trips, CRS guards."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS, Geod
from shapely.geometry import MultiPolygon, Point, Polygon

from geo import crs
from geo.crs import (
    assert_projected,
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert,
    convert_gdf,
    convert_geometry,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_metric,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")
PEOPLES_SQUARE = (121.4737, 31.2304)  # WGS84 lon, lat
LONDON = (-0.1276, 51.5072)
TOKYO = (139.6917, 35.6895)  # lon 139.69 > 137.8347: outside the coarse China bbox
# Shanghai bounding box used for the dense round-trip grid (lon, lat).
SH_LON = (120.8, 122.2)
SH_LAT = (30.6, 31.9)

# --- Published reference pairs, all as (lon, lat) -> (lon, lat) -------------------------------
# Values printed at full double precision by implementations of the same algorithm (a=6378245,
# ee=0.00669342162296594323): our output agrees to < 1e-13 deg, so we check at 1e-8 deg (1 mm),
# which would also catch a wrong ellipsoid constant (6378137 instead of 6378245 moves ~7e-8 deg).
WGS_TO_GCJ_EXACT = [
    # googollee/eviltransform python/test.py (same rows in go/transform_test.go), TESTS list,
    # given there as (wgsLat, wgsLng, gcjLat, gcjLng); rows "shanghai", "shenzhen", "beijing".
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    # wandergis/coordtransform test/app.js: wgs84togcj02(116.404, 39.915).
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
]
GCJ_TO_BD_EXACT = [
    # wandergis/coordtransform test/app.js: gcj02tobd09(116.404, 39.915).
    ((116.404, 39.915), (116.41036949371029, 39.92133699351021)),
]
BD_TO_GCJ_EXACT = [
    # wandergis/coordtransform test/app.js: bd09togcj02(116.404, 39.915).
    ((116.404, 39.915), (116.39762729119315, 39.90865673957631)),
]
# Values rounded to 7-8 decimals (gcoord asserts them with toBeCloseTo(x, 5) or (x, 6)).
WGS_TO_GCJ_ROUNDED = [
    # hujiulong/gcoord test/unit/crs/WGS84.spec.ts ("WGS84 to GCJ02", [123, 45]).
    ((123.0, 45.0), (123.00607541, 45.00197815)),
]
GCJ_TO_BD_ROUNDED = [
    # hujiulong/gcoord test/unit/crs/GCJ02.spec.ts ("GCJ02 to BD09", [123, 45]).
    ((123.0, 45.0), (123.00636499, 45.00636899)),
    # hujiulong/gcoord test/fixtures/china-cities.json (checked GCJ02 -> BD09 at 6 decimals in
    # test/unit/crs/GCJ02.spec.ts): 泰州市 and 铜陵市 entries, "GCJ02" -> "BD09".
    ((119.9231242, 32.4557802), (119.9296902, 32.4615531)),
    ((117.8112693, 30.9455211), (117.8177498, 30.9515411)),
]
# Note: the WGS84 <-> GCJ02 pairs of that gcoord fixture are not algorithm outputs (they differ
# from the published formula by ~5e-6 deg, ~0.5 m, and gcoord itself only checks them at 4
# decimals), so they are deliberately not used for the forward-transform check.


def _assert_pair(func, src, expected, tol):
    lon, lat = func(*src)
    assert float(lon) == pytest.approx(expected[0], abs=tol)
    assert float(lat) == pytest.approx(expected[1], abs=tol)


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between two sets of WGS84 lon/lat points."""
    _, _, dist = GEOD.inv(np.asarray(lon1), np.asarray(lat1), np.asarray(lon2), np.asarray(lat2))
    return np.asarray(dist)


def _shanghai_grid(step: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    lon = np.arange(SH_LON[0], SH_LON[1] + step / 2, step)
    lat = np.arange(SH_LAT[0], SH_LAT[1] + step / 2, step)
    glon, glat = np.meshgrid(lon, lat)
    return glon.ravel(), glat.ravel()


# --- reference pairs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("src", "expected"), WGS_TO_GCJ_EXACT)
def test_wgs84_to_gcj02_published_exact(src, expected):
    _assert_pair(wgs84_to_gcj02, src, expected, 1e-8)


@pytest.mark.parametrize(("src", "expected"), WGS_TO_GCJ_ROUNDED)
def test_wgs84_to_gcj02_published_rounded(src, expected):
    _assert_pair(wgs84_to_gcj02, src, expected, 1e-6)


@pytest.mark.parametrize(("src", "expected"), GCJ_TO_BD_EXACT)
def test_gcj02_to_bd09_published_exact(src, expected):
    _assert_pair(gcj02_to_bd09, src, expected, 1e-8)


@pytest.mark.parametrize(("src", "expected"), GCJ_TO_BD_ROUNDED)
def test_gcj02_to_bd09_published_rounded(src, expected):
    _assert_pair(gcj02_to_bd09, src, expected, 1e-6)


@pytest.mark.parametrize(("src", "expected"), BD_TO_GCJ_EXACT)
def test_bd09_to_gcj02_published(src, expected):
    _assert_pair(bd09_to_gcj02, src, expected, 1e-8)


@pytest.mark.parametrize(("src", "expected"), WGS_TO_GCJ_EXACT)
def test_gcj02_to_wgs84_inverts_published_pairs(src, expected):
    # Exact inverse: recovers the published WGS84 input to well under a millimetre.
    lon, lat = gcj02_to_wgs84(*expected)
    assert float(_metres(lon, lat, *src)) < 1e-3


def test_gcj02_to_wgs84_against_gcoord():
    # hujiulong/gcoord test/unit/crs/GCJ02.spec.ts ("GCJ02 to WGS84"): [123, 45] ->
    # [122.99395597, 44.99804071]. gcoord iterates only until the residual is < 1e-6 deg, so its
    # value is itself off by ~1.6e-7 deg; ours must agree within that stopping tolerance and have
    # a far smaller forward residual.
    published = (122.99395597, 44.99804071)
    lon, lat = gcj02_to_wgs84(123.0, 45.0)
    assert float(lon) == pytest.approx(published[0], abs=1e-6)
    assert float(lat) == pytest.approx(published[1], abs=1e-6)
    ours = np.abs(np.subtract(wgs84_to_gcj02(lon, lat), (123.0, 45.0)))
    theirs = np.abs(np.subtract(wgs84_to_gcj02(*published), (123.0, 45.0)))
    assert ours.max() < 1e-9
    assert ours.max() < theirs.max()


# --- round trips over Shanghai, measured in metres ---------------------------------------------


def test_round_trip_wgs_gcj_wgs_shanghai_grid():
    lon, lat = _shanghai_grid()
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    err = _metres(lon, lat, back_lon, back_lat)
    assert lon.size > 10_000
    assert err.max() < 0.5
    assert err.max() < 0.001  # the iterative inverse is in fact sub-millimetre


def test_round_trip_wgs_bd_wgs_shanghai_grid():
    lon, lat = _shanghai_grid()
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    err = _metres(lon, lat, back_lon, back_lat)
    # Dominated by the published (approximate) BD-09 -> GCJ-02 formula: ~0.14 m at most.
    assert err.max() < 0.5


def test_round_trip_gcj_wgs_gcj_shanghai_grid():
    lon, lat = _shanghai_grid()
    back_lon, back_lat = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-8
    assert np.abs(back_lat - lat).max() < 1e-8


# --- offset magnitude, outside China, NaN -------------------------------------------------------


def test_gcj_offset_in_shanghai_is_a_few_hundred_metres():
    lon, lat = wgs84_to_gcj02(*PEOPLES_SQUARE)
    offset = float(_metres(*PEOPLES_SQUARE, lon, lat))
    assert 300.0 < offset < 700.0
    # BD-09 adds roughly another 0.0065/0.006 deg shift on top of GCJ-02.
    bd_lon, bd_lat = wgs84_to_bd09(*PEOPLES_SQUARE)
    assert float(_metres(lon, lat, bd_lon, bd_lat)) > 500.0


@pytest.mark.parametrize("point", [LONDON, TOKYO, (183.0, 45.0)])
@pytest.mark.parametrize(
    "func",
    [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84],
)
def test_outside_china_unchanged(func, point):
    lon, lat = func(*point)
    assert float(lon) == point[0]
    assert float(lat) == point[1]


def test_mixed_array_only_shifts_points_in_china():
    lon = np.array([LONDON[0], PEOPLES_SQUARE[0], TOKYO[0]])
    lat = np.array([LONDON[1], PEOPLES_SQUARE[1], TOKYO[1]])
    out_lon, out_lat = wgs84_to_gcj02(lon, lat)
    assert out_lon[0] == lon[0] and out_lat[0] == lat[0]
    assert out_lon[2] == lon[2] and out_lat[2] == lat[2]
    assert out_lon[1] != lon[1] and out_lat[1] != lat[1]
    # the inputs are not modified in place
    assert lon[1] == PEOPLES_SQUARE[0]


@pytest.mark.parametrize(
    "func",
    [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84],
)
def test_nan_stays_nan(func):
    lon = np.array([np.nan, 121.47, np.nan, 121.47])
    lat = np.array([31.23, np.nan, np.nan, 31.23])
    out_lon, out_lat = func(lon, lat)
    assert np.isnan(out_lon[:3]).all() and np.isnan(out_lat[:3]).all()
    assert np.isfinite(out_lon[3]) and np.isfinite(out_lat[3])


def test_scalars_and_lists():
    lon, lat = wgs84_to_gcj02(*PEOPLES_SQUARE)
    assert lon.dtype == np.float64 and lat.dtype == np.float64
    assert lon.shape == () and lat.shape == ()  # scalars in, 0-d arrays out
    assert float(lon) != PEOPLES_SQUARE[0] and float(lat) != PEOPLES_SQUARE[1]  # shifted
    lon2, lat2 = wgs84_to_gcj02([PEOPLES_SQUARE[0]], [PEOPLES_SQUARE[1]])
    assert lon2.shape == (1,)
    assert lon2[0] == float(lon) and lat2[0] == float(lat)


def test_convert_dispatcher():
    lon, lat = _shanghai_grid(0.1)
    for src, dst, func in [
        ("wgs84", "gcj02", wgs84_to_gcj02),
        ("gcj02", "wgs84", gcj02_to_wgs84),
        ("gcj02", "bd09", gcj02_to_bd09),
        ("bd09", "gcj02", bd09_to_gcj02),
        ("wgs84", "bd09", wgs84_to_bd09),
        ("bd09", "wgs84", bd09_to_wgs84),
    ]:
        got = convert(lon, lat, from_datum=src, to_datum=dst)
        want = func(lon, lat)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    same = convert(lon, lat, from_datum="gcj02", to_datum="gcj02")
    np.testing.assert_array_equal(same[0], lon)
    with pytest.raises(ValueError, match="unknown datum 'wgs'"):
        convert(lon, lat, from_datum="wgs", to_datum="gcj02")  # type: ignore[arg-type]


# --- geometries ---------------------------------------------------------------------------------


def _square(x0: float, y0: float, size: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size), (x0, y0)]


def test_convert_geometry_polygon_with_hole():
    poly = Polygon(_square(121.40, 31.20, 0.1), [_square(121.43, 31.23, 0.02)])
    out = convert_geometry(poly, from_datum="wgs84", to_datum="gcj02")
    assert isinstance(out, Polygon)
    assert out.is_valid
    assert len(out.interiors) == 1
    assert len(out.exterior.coords) == len(poly.exterior.coords)
    assert out.exterior.is_ccw == poly.exterior.is_ccw
    exp_lon, exp_lat = wgs84_to_gcj02(*np.asarray(poly.exterior.coords).T)
    np.testing.assert_allclose(np.asarray(out.exterior.coords), np.column_stack([exp_lon, exp_lat]))
    back = convert_geometry(out, from_datum="gcj02", to_datum="wgs84")
    assert shapely.equals_exact(back, poly, tolerance=1e-8)


def test_convert_geometry_multipolygon_and_z():
    mp = MultiPolygon(
        [
            Polygon(_square(121.20, 31.00, 0.05)),
            Polygon(_square(121.60, 31.10, 0.05), [_square(121.61, 31.11, 0.01)]),
        ]
    )
    out = convert_geometry(mp, from_datum="wgs84", to_datum="bd09")
    assert isinstance(out, MultiPolygon)
    assert out.is_valid
    assert len(out.geoms) == 2
    assert [len(p.interiors) for p in out.geoms] == [0, 1]
    assert shapely.get_num_coordinates(out) == shapely.get_num_coordinates(mp)
    pz = convert_geometry(Point(121.47, 31.23, 12.5), from_datum="wgs84", to_datum="gcj02")
    assert pz.has_z and pz.z == 12.5


def _sample_gdf(crs_value: object = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["a", "b", "c"], "value": [1, 2, 3]},
        geometry=[
            Point(121.47, 31.23),
            Polygon(_square(121.2, 31.0, 0.05)),
            None,
        ],
        index=pd.Index(["x", "y", "z"], name="fid"),
        crs=crs_value,
    )


def test_convert_gdf_keeps_index_and_attributes():
    gdf = _sample_gdf()
    out = convert_gdf(gdf, from_datum="wgs84", to_datum="gcj02")
    assert out is not gdf
    assert list(out.index) == ["x", "y", "z"] and out.index.name == "fid"
    assert list(out["name"]) == ["a", "b", "c"] and list(out["value"]) == [1, 2, 3]
    assert out.crs == gdf.crs
    assert out.geometry.iloc[2] is None
    exp_lon, exp_lat = wgs84_to_gcj02(121.47, 31.23)
    assert out.geometry.iloc[0].x == pytest.approx(float(exp_lon), abs=1e-12)
    assert out.geometry.iloc[0].y == pytest.approx(float(exp_lat), abs=1e-12)
    # the input is untouched
    assert gdf.geometry.iloc[0].x == 121.47
    series = convert_gdf(gdf.geometry, from_datum="wgs84", to_datum="gcj02")
    assert isinstance(series, gpd.GeoSeries)
    assert series.iloc[0].equals(out.geometry.iloc[0])


def test_convert_gdf_refuses_non_4326():
    with pytest.raises(ValueError, match="EPSG:4549"):
        convert_gdf(_sample_gdf().to_crs(4549), from_datum="wgs84", to_datum="gcj02")
    with pytest.raises(ValueError, match="no CRS"):
        convert_gdf(_sample_gdf(None), from_datum="wgs84", to_datum="gcj02")


# --- metric projection and guards ---------------------------------------------------------------


def test_to_metric_projects_to_4549():
    gdf = gpd.GeoDataFrame(
        {"name": ["peoples_square"]}, geometry=[Point(*PEOPLES_SQUARE)], crs=4326
    )
    out = to_metric(gdf)
    assert out.crs.to_epsg() == 4549
    assert gdf.crs.to_epsg() == 4326  # input untouched
    x, y = out.geometry.iloc[0].x, out.geometry.iloc[0].y
    # EPSG:4549 = CGCS2000 / 3-degree GK CM 120E, false easting 500 000 m, no zone prefix.
    # Derived with pyproj: the Shanghai bbox lon 120.8-122.2, lat 30.6-31.9 maps to
    # x 575 678-711 006 m, y 3 386 901-3 532 876 m; People's Square is ~(640 412, 3 457 455).
    assert 575_000 < x < 712_000
    assert 3_386_000 < y < 3_533_000
    assert x == pytest.approx(640_412, abs=5)
    assert y == pytest.approx(3_457_455, abs=5)
    series = to_metric(gdf.geometry)
    assert isinstance(series, gpd.GeoSeries)
    assert series.crs.to_epsg() == 4549
    again = to_metric(out)
    assert again is not out and again.geometry.iloc[0].equals(out.geometry.iloc[0])


def test_to_metric_refuses_missing_crs():
    gdf = gpd.GeoDataFrame(geometry=[Point(*PEOPLES_SQUARE)])
    with pytest.raises(ValueError, match=r"has no CRS; set it with \.set_crs\(4326\)"):
        to_metric(gdf)
    with pytest.raises(ValueError, match="has no CRS"):
        to_metric(gdf.geometry)


def test_assert_projected():
    gdf = gpd.GeoDataFrame(geometry=[Point(*PEOPLES_SQUARE)], crs=4326)
    with pytest.raises(ValueError, match=r"geographic CRS \(EPSG:4326\).*to_metric\(\) first"):
        assert_projected(gdf, what="facilities")
    with pytest.raises(ValueError, match=r"^facilities is in a geographic CRS"):
        assert_projected(gdf, what="facilities")
    with pytest.raises(ValueError, match="geographic"):
        assert_projected("EPSG:4326")
    with pytest.raises(ValueError, match="no CRS"):
        assert_projected(gpd.GeoDataFrame(geometry=[Point(0, 0)]))
    with pytest.raises(ValueError, match="no CRS"):
        assert_projected(None)
    with pytest.raises(ValueError, match="units"):
        assert_projected("EPSG:2263")  # NAD83 / New York Long Island, US survey feet
    assert_projected(to_metric(gdf))
    assert_projected(to_metric(gdf).geometry)
    assert_projected(CRS.from_epsg(4549))
    assert_projected(crs.METRIC_CRS)


def test_constants():
    assert crs.GEOGRAPHIC_CRS == "EPSG:4326"
    assert crs.METRIC_CRS == "EPSG:4549"
    assert set(crs.DATUMS) == {"wgs84", "gcj02", "bd09"}
