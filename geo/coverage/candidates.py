"""Candidate sites for siting: a grid inside the towns, or read from a file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._errors import DataError, InputError, Problem
from geo.coverage.inputs import FloatArray, check_radius, point_xy, polygonal_geoms, require_metric
from geo.crs import to_metric
from geo.settings import GEOGRAPHIC_CRS

__all__ = [
    "MAX_CANDIDATES",
    "grid_candidates",
    "read_candidates",
]

#: The most candidate sites a grid may hold.
MAX_CANDIDATES: Final = 200_000


def grid_candidates(towns_m: gpd.GeoDataFrame, *, spacing_m: float = 1000.0) -> gpd.GeoDataFrame:
    """Candidate sites on a regular grid (multiples of ``spacing_m`` in EPSG:4549) in each town.

    Index ``<town key>-<n>`` (or ``<row>-<n>`` without a ``key`` column); column ``town``.
    """
    towns_m = require_metric(towns_m, "towns_m")
    spacing = check_radius(spacing_m, "spacing_m")
    geoms = polygonal_geoms(towns_m, "towns_m")
    keys = (list(towns_m["key"]) if "key" in towns_m.columns
            else [str(i) for i in towns_m.index])
    total = sum(g.area for g in geoms) / spacing**2
    if total > MAX_CANDIDATES:
        raise InputError(f"spacing_m={spacing_m:g} gives about {total:,.0f} candidate sites; "
                         f"use a spacing that gives at most {MAX_CANDIDATES:,}")
    ids: list[str] = []
    towns: list[str] = []
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    for key, geom in zip(keys, geoms, strict=True):
        minx, miny, maxx, maxy = geom.bounds
        gx = np.arange(math.ceil(minx / spacing), math.floor(maxx / spacing) + 1) * spacing
        gy = np.arange(math.ceil(miny / spacing), math.floor(maxy / spacing) + 1) * spacing
        grid_x, grid_y = np.meshgrid(gx, gy)
        mx, my = grid_x.ravel(), grid_y.ravel()
        inside = shapely.contains_xy(geom, mx, my)
        mx, my = mx[inside], my[inside]
        ids.extend(f"{key}-{n:04d}" for n in range(1, len(mx) + 1))
        towns.extend([key] * len(mx))
        xs.append(mx)
        ys.append(my)
    x = np.concatenate(xs) if xs else np.empty(0)
    y = np.concatenate(ys) if ys else np.empty(0)
    return gpd.GeoDataFrame({"town": towns}, geometry=shapely.points(x, y),
                            index=pd.Index(ids, name="candidate"), crs=towns_m.crs)


def read_candidates(path: str | Path) -> gpd.GeoDataFrame:
    """Candidate sites from a point file (GeoJSON, GeoPackage, ...) or a CSV with lon/lat (WGS84).

    Returns them in EPSG:4549; the index is the ``id`` column when there is one (unique),
    else ``C1, C2, ...``.
    """
    from geo._io import read_vector

    path = Path(path)
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, encoding="utf-8-sig")
        missing = [c for c in ("lon", "lat") if c not in frame.columns]
        if missing:
            raise DataError(Problem(str(path), None, ", ".join(missing), None,
                                    "a candidate CSV needs lon and lat columns (WGS84)"))
        lon = pd.to_numeric(frame["lon"], errors="coerce")
        lat = pd.to_numeric(frame["lat"], errors="coerce")
        bad = np.flatnonzero(~(lon.between(-180, 180) & lat.between(-90, 90)).to_numpy())
        if len(bad):
            raise DataError([Problem(str(path), int(i) + 1, "lon/lat",
                                     (frame["lon"].iloc[i], frame["lat"].iloc[i]),
                                     "expected WGS84 longitude and latitude in degrees")
                             for i in bad[:200]])
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat),
                               crs=GEOGRAPHIC_CRS)
    else:
        gdf = read_vector(path)
        if gdf.crs is None:
            raise DataError(Problem(str(path), None, None, None,
                                    f"no CRS: save it with one (e.g. {GEOGRAPHIC_CRS})"))
    point_xy(gdf, str(path))  # every row a point, or one error listing the rows
    if "id" in gdf.columns and gdf["id"].is_unique and gdf["id"].notna().all():
        gdf = gdf.set_index(gdf["id"].astype(str).rename("candidate"))
    else:
        gdf.index = pd.Index([f"C{n}" for n in range(1, len(gdf) + 1)], name="candidate")
    return to_metric(gdf)
