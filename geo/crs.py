"""Convert coordinates between WGS84, GCJ-02 and BD-09, and project to the metric CRS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar, get_args

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from geo._errors import InputError
from geo.settings import GEOGRAPHIC_CRS, METRIC_CRS

__all__ = [
    "GEOGRAPHIC_CRS",
    "METRIC_CRS",
    "Datum",
    "assert_projected",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "convert_gdf",
    "convert_geometry",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "to_metric",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Datum names accepted by :func:`convert` and the geometry helpers.
Datum = Literal["wgs84", "gcj02", "bd09"]
DATUMS: Final[tuple[str, ...]] = get_args(Datum)

FloatArray = NDArray[np.float64]
LonLat = tuple[FloatArray, FloatArray]
_Geo = TypeVar("_Geo", gpd.GeoDataFrame, gpd.GeoSeries)

# GCJ-02 constants: Krasovsky 1940 semi-major axis and first eccentricity squared.
_KRASOVSKY_A: Final = 6378245.0
_KRASOVSKY_EE: Final = 0.00669342162296594323
# BD-09 constant.
_X_PI: Final = np.pi * 3000.0 / 180.0
# Iterative GCJ-02 -> WGS84 inverse: stop when every residual is below this (degrees).
_INVERSE_TOL_DEG: Final = 1e-9
_INVERSE_MAX_ITER: Final = 10


def _as_lonlat(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """Return broadcast float64 copies of ``lon`` and ``lat``."""
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return x.copy(), y.copy()


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where a point lies outside the coarse China bounding box (no offset is applied there).

    This is the rough rectangle used by coordTransform/eviltransform/gcoord, not a border test:
    Hong Kong, Macau, Taiwan, Korea, parts of Japan etc. fall inside it. Irrelevant for Shanghai.
    NaN coordinates compare as "inside", so they flow through the formulas and stay NaN.
    """
    x, y = _as_lonlat(lon, lat)
    return (x < 72.004) | (x > 137.8347) | (y < 0.8293) | (y > 55.8271)


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> LonLat:
    """GCJ-02 minus WGS84 offset (degrees) at the WGS84 point, ignoring the China bbox."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """WGS84 -> GCJ-02 (the published Krasovsky-ellipsoid algorithm); unchanged outside China."""
    x, y = _as_lonlat(lon, lat)
    inside = ~out_of_china(x, y)
    dlon, dlat = _gcj_offset(x[inside], y[inside])
    x[inside] += dlon
    y[inside] += dlat
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """GCJ-02 -> WGS84 by fixed-point iteration of the forward transform (residual < 1e-9 deg).

    Starts from the usual one-step approximation ``w = g - offset(g)`` and refines
    ``w <- w - (forward(w) - g)``; converges in 2-4 steps in China. Unchanged outside China.
    """
    x, y = _as_lonlat(lon, lat)
    inside = ~out_of_china(x, y)
    gx, gy = x[inside], y[inside]
    dlon, dlat = _gcj_offset(gx, gy)
    wx, wy = gx - dlon, gy - dlat
    for _ in range(_INVERSE_MAX_ITER):
        dlon, dlat = _gcj_offset(wx, wy)
        rx = wx + dlon - gx
        ry = wy + dlat - gy
        wx -= rx
        wy -= ry
        # NaN residuals compare False, so NaN points never block convergence.
        if not (np.any(np.abs(rx) >= _INVERSE_TOL_DEG) or np.any(np.abs(ry) >= _INVERSE_TOL_DEG)):
            break
    x[inside] = wx
    y[inside] = wy
    return x, y


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """GCJ-02 -> BD-09 (standard ``x_pi`` formula); unchanged outside China."""
    x, y = _as_lonlat(lon, lat)
    inside = ~out_of_china(x, y)
    gx, gy = x[inside], y[inside]
    z = np.hypot(gx, gy) + 0.00002 * np.sin(gy * _X_PI)
    theta = np.arctan2(gy, gx) + 0.000003 * np.cos(gx * _X_PI)
    x[inside] = z * np.cos(theta) + 0.0065
    y[inside] = z * np.sin(theta) + 0.006
    return x, y


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """BD-09 -> GCJ-02 (standard ``x_pi`` inverse); unchanged outside China.

    This published formula is not an exact inverse of :func:`gcj02_to_bd09`: round trips are
    off by up to ~0.14 m in Shanghai. It is kept so results match other libraries.
    """
    x, y = _as_lonlat(lon, lat)
    inside = ~out_of_china(x, y)
    bx = x[inside] - 0.0065
    by = y[inside] - 0.006
    z = np.hypot(bx, by) - 0.00002 * np.sin(by * _X_PI)
    theta = np.arctan2(by, bx) - 0.000003 * np.cos(bx * _X_PI)
    x[inside] = z * np.cos(theta)
    y[inside] = z * np.sin(theta)
    return x, y


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """WGS84 -> BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """BD-09 -> WGS84 (via GCJ-02, iterative inverse)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _identity(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    return _as_lonlat(lon, lat)


_CONVERTERS: Final[dict[tuple[str, str], Callable[[ArrayLike, ArrayLike], LonLat]]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def _converter(from_datum: str, to_datum: str) -> Callable[[ArrayLike, ArrayLike], LonLat]:
    """Look up the conversion function, rejecting unknown datum names."""
    for name in (from_datum, to_datum):
        if name not in DATUMS:
            raise InputError(f"unknown datum {name!r}; expected one of {', '.join(DATUMS)}")
    if from_datum == to_datum:
        return _identity
    return _CONVERTERS[(from_datum, to_datum)]


def convert(lon: ArrayLike, lat: ArrayLike, *, from_datum: Datum, to_datum: Datum) -> LonLat:
    """Convert lon/lat arrays from one datum to another; returns new float64 arrays."""
    return _converter(from_datum, to_datum)(lon, lat)


def _xy_transformer(from_datum: str, to_datum: str) -> Callable[[FloatArray], FloatArray]:
    """Wrap a converter as a shapely interleaved (N, 2|3) coordinate function; keeps Z."""
    func = _converter(from_datum, to_datum)

    def transform(coords: FloatArray) -> FloatArray:
        out = np.array(coords, dtype=np.float64, copy=True)
        out[:, 0], out[:, 1] = func(coords[:, 0], coords[:, 1])
        return out

    return transform


def convert_geometry(geom: BaseGeometry, *, from_datum: Datum, to_datum: Datum) -> BaseGeometry:
    """Return a copy of any shapely geometry with its coordinates converted between datums."""
    result: BaseGeometry = shapely.transform(
        geom, _xy_transformer(from_datum, to_datum), include_z=None
    )
    return result


def _require_wgs84_lonlat(obj: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> None:
    """Raise ValueError unless ``obj`` is tagged EPSG:4326."""
    crs = obj.crs
    if crs is None:
        raise InputError(
            f"{what} has no CRS; GCJ-02/BD-09 are offsets applied to lon/lat, so it must be "
            f"{GEOGRAPHIC_CRS}: set it with .set_crs(4326) if the coordinates are lon/lat"
        )
    if crs.to_epsg() != 4326:
        raise InputError(
            f"{what} must be in {GEOGRAPHIC_CRS} (lon/lat degrees) for datum conversion, "
            f"got {crs.to_string()!r} ({crs.name}); GCJ-02/BD-09 are offsets applied to lon/lat"
        )


def convert_gdf(gdf: _Geo, *, from_datum: Datum, to_datum: Datum) -> _Geo:
    """Return a new GeoDataFrame (or GeoSeries) with converted geometry; index and attributes kept.

    Only the active geometry column is converted (Z values are kept).
    The input must be tagged EPSG:4326: GCJ-02 and BD-09 coordinates are stored as lon/lat
    with that tag too (there is no EPSG code for them), so the tag stays EPSG:4326.
    """
    _require_wgs84_lonlat(gdf, "convert_gdf input")
    geoms = shapely.transform(
        np.asarray(gdf.geometry.array), _xy_transformer(from_datum, to_datum), include_z=None
    )
    series = gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs, name=gdf.geometry.name)
    if isinstance(gdf, gpd.GeoSeries):
        return series
    out = gdf.copy()
    out[gdf.geometry.name] = series
    return out


def to_metric(gdf: _Geo) -> _Geo:
    """Return a copy projected to the metric CRS (EPSG:4549); accepts GeoDataFrame or GeoSeries.

    The input must carry its CRS; lon/lat must be true WGS84 (convert GCJ-02/BD-09 first).
    """
    if gdf.crs is None:
        raise InputError(
            f"{type(gdf).__name__} has no CRS; set it with .set_crs(4326) (WGS84 lon/lat) "
            f"before projecting to {METRIC_CRS}"
        )
    if gdf.crs.equals(CRS.from_user_input(METRIC_CRS)):
        return gdf.copy()
    return gdf.to_crs(METRIC_CRS)


def _describe(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else crs.name


def assert_projected(gdf_or_crs: Any, what: str = "input") -> None:
    """Raise ValueError unless the object (or CRS) is in a projected CRS measured in metres.

    Accepts a GeoDataFrame/GeoSeries (anything with ``.crs``), a pyproj CRS, or a CRS
    string/EPSG code.
    """
    raw = gdf_or_crs.crs if hasattr(gdf_or_crs, "crs") else gdf_or_crs
    if raw is None:
        raise InputError(
            f"{what} has no CRS; set it with .set_crs(4326) and project it with "
            "geo.crs.to_metric() first"
        )
    crs = CRS.from_user_input(raw)
    hint = "distances must be measured in metres: project it with geo.crs.to_metric() first"
    if crs.is_geographic:
        raise InputError(f"{what} is in a geographic CRS ({_describe(crs)}); {hint}")
    if not crs.is_projected:
        raise InputError(f"{what} is not in a projected CRS ({_describe(crs)}); {hint}")
    units = {axis.unit_name for axis in crs.axis_info}
    if not units <= {"metre", "meter"}:
        raise InputError(
            f"{what} is in a projected CRS ({_describe(crs)}) with units "
            f"{', '.join(sorted(units))}; {hint}"
        )
