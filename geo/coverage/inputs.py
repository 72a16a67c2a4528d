"""Checks on coverage inputs: metric CRS, positive radii, point and polygon geometries."""

from __future__ import annotations

import math
from typing import Final

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from geo._errors import DataError, InputError, Problem
from geo.crs import assert_projected

__all__ = [
    "EMPTY",
    "FloatArray",
    "check_radius",
    "is_polygonal",
    "point_xy",
    "polygonal_geoms",
    "polygonal_only",
    "require_metric",
    "row_label",
    "same_crs",
]

FloatArray = NDArray[np.float64]

#: The empty polygon (covered nothing, gap nothing).
EMPTY: Final = shapely.Polygon()


def check_radius(value: object, what: str) -> float:
    """A positive finite number of metres, or a ValueError naming ``what``."""
    try:
        radius = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number of metres, got {value!r}") from None
    if not math.isfinite(radius) or radius <= 0:
        raise InputError(f"{what} must be a positive number of metres, got {value!r}")
    return radius


def require_metric(gdf: object, what: str) -> gpd.GeoDataFrame:
    """A GeoDataFrame in a projected CRS (a GeoSeries is wrapped); a clear error otherwise."""
    if not isinstance(gdf, gpd.GeoDataFrame | gpd.GeoSeries):
        raise TypeError(f"'{what}' should be a GeoDataFrame, got {type(gdf).__name__}")
    assert_projected(gdf, what)
    return gdf if isinstance(gdf, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=gdf)


def same_crs(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, what_a: str, what_b: str) -> None:
    """Refuse two layers in different CRSs."""
    if not a.crs.equals(b.crs):
        raise InputError(
            f"{what_a} ({a.crs.to_string()}) and {what_b} ({b.crs.to_string()}) are in "
            "different CRSs; project both with geo.crs.to_metric()"
        )


def row_label(index: object, n: int) -> str:
    """How a row is named in a message: its label, or ``row n`` for a plain integer index."""
    return f"{index}" if not isinstance(index, int | np.integer) else f"row {n}"


def point_xy(facilities_m: gpd.GeoDataFrame, what: str) -> tuple[FloatArray, FloatArray]:
    """x and y of every row, which must each be a non-empty finite Point (one error lists all)."""
    geoms = facilities_m.geometry.to_numpy()
    type_ids = shapely.get_type_id(geoms)
    bad = np.flatnonzero((type_ids != 0) | shapely.is_empty(geoms))
    if len(bad):
        problems = [
            Problem(what, int(i) + 1, "geometry",
                    None if geoms[i] is None else geoms[i].geom_type,
                    f"facility {row_label(facilities_m.index[i], int(i) + 1)} needs a "
                    "non-empty Point")
            for i in bad[:200]
        ]
        raise DataError(problems)
    x = shapely.get_x(geoms).astype(np.float64)
    y = shapely.get_y(geoms).astype(np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        i = int(np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))[0])
        raise DataError(Problem(what, i + 1, "geometry", (x[i], y[i]),
                                "coordinates must be finite numbers"))
    return x, y


def is_polygonal(gdf: gpd.GeoDataFrame) -> bool:
    """True when every geometry is a Polygon or MultiPolygon (and there is at least one)."""
    if len(gdf) == 0:
        return False
    types = set(shapely.get_type_id(gdf.geometry.to_numpy()).tolist())
    return types <= {3, 6}


def polygonal_geoms(gdf: gpd.GeoDataFrame, what: str) -> NDArray[np.object_]:
    """The (made valid) polygons of ``gdf``; a DataError listing rows that are not polygons."""
    geoms = gdf.geometry.to_numpy()
    types = shapely.get_type_id(geoms)
    bad = np.flatnonzero(~np.isin(types, (3, 6)))
    if len(bad):
        raise DataError([
            Problem(what, int(i) + 1, "geometry",
                    None if geoms[i] is None else geoms[i].geom_type,
                    "expected a Polygon or MultiPolygon")
            for i in bad[:200]
        ])
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    return np.asarray(geoms, dtype=object)


def polygonal_only(geom: shapely.Geometry) -> shapely.Geometry:
    """The areal part of a geometry (drops points and lines an overlay can leave)."""
    if geom.is_empty or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.MultiPolygon()
