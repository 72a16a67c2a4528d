"""Population layers: reading them, and the people within a region and within its covered part."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo._errors import DataError, Problem
from geo.coverage.engine import Engine
from geo.coverage.inputs import (
    FloatArray,
    is_polygonal,
    point_xy,
    polygonal_geoms,
    require_metric,
    same_crs,
)
from geo.crs import to_metric
from geo.settings import GEOGRAPHIC_CRS

__all__ = [
    "POPULATION_COLUMNS",
    "PopulationLayer",
    "population_column",
    "population_values",
    "prepared_population",
    "read_population",
]

#: Column names recognised as the population count when none is named.
POPULATION_COLUMNS: Final = ("population", "pop", "人口", "常住人口", "POP", "Population")


@dataclass(frozen=True)
class PopulationLayer:
    """A population layer ready for overlays: polygons with areas and an index, or points."""

    kind: Literal["polygons", "points"]
    geoms: NDArray[np.object_]
    values: FloatArray
    areas: FloatArray
    x: FloatArray
    y: FloatArray
    tree: shapely.STRtree | None

    @classmethod
    def build(cls, population_m: gpd.GeoDataFrame, column: str | None) -> PopulationLayer:
        population_m = require_metric(population_m, "population")
        column = population_column(population_m, column, "population")
        values = population_values(population_m, column, "population")
        empty = np.empty(0)
        if len(population_m) and is_polygonal(population_m):
            geoms = polygonal_geoms(population_m, "population")
            areas = shapely.area(geoms)
            if (areas <= 0).any():
                i = int(np.flatnonzero(areas <= 0)[0])
                raise DataError(Problem("population", i + 1, "geometry", 0.0,
                                        "a population polygon has zero area"))
            return cls("polygons", geoms, values, areas, empty, empty, shapely.STRtree(geoms))
        x, y = point_xy(population_m, "population")
        return cls("points", np.empty(0, dtype=object), values, empty, x, y, None)

    def within(self, region: shapely.Geometry, covered: shapely.Geometry | None,
               engine: Engine) -> tuple[float, float]:
        """(people in region, people in the covered part of region)."""
        if self.kind == "points":
            inside = shapely.intersects_xy(region, self.x, self.y)
            if not inside.any():
                return 0.0, 0.0
            hit = engine.covers_xy(self.x[inside], self.y[inside])
            vals = self.values[inside]
            return float(vals.sum()), float(vals[hit].sum())
        assert self.tree is not None
        idx = self.tree.query(region, predicate="intersects")
        if not len(idx):
            return 0.0, 0.0
        density = self.values[idx] / self.areas[idx]
        parts = shapely.intersection(self.geoms[idx], region)
        total = float((shapely.area(parts) * density).sum())
        if covered is None or covered.is_empty:
            return total, 0.0
        in_cover = float((shapely.area(shapely.intersection(parts, covered)) * density).sum())
        return total, in_cover


def population_column(gdf: pd.DataFrame, column: str | None, what: str) -> str:
    """The named count column, or the first of POPULATION_COLUMNS present."""
    if column is not None:
        if column not in gdf.columns:
            raise DataError(Problem(what, None, column, None,
                                    f"no column {column!r}; columns are "
                                    f"{', '.join(map(str, gdf.columns))}"))
        return column
    for name in POPULATION_COLUMNS:
        if name in gdf.columns:
            return name
    raise DataError(Problem(what, None, None, None,
                            "no population column: name one (--population-column) or call it "
                            f"one of {', '.join(POPULATION_COLUMNS)}; columns are "
                            f"{', '.join(str(c) for c in gdf.columns if c != 'geometry')}"))


def population_values(gdf: pd.DataFrame, column: str, what: str) -> FloatArray:
    """The counts as floats; a DataError listing negative or non-numeric ones."""
    raw = gdf[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        raise DataError([
            Problem(what, int(i) + 1, column, raw.iloc[i],
                    "population must be a non-negative number")
            for i in bad[:200]
        ])
    return values


def read_population(path: str | Path, *, column: str | None = None) -> gpd.GeoDataFrame:
    """Read a population layer (polygons or points with a count column) and project it.

    Returns the layer in EPSG:4549 with the count in column ``population``. Every problem
    (no CRS, no count column, a negative or non-numeric count, mixed geometry) is reported in
    one DataError naming the file, row and field.
    """
    from geo._io import read_vector

    path = Path(path)
    gdf = read_vector(path)
    if gdf.crs is None:
        raise DataError(Problem(str(path), None, None, None,
                                f"no CRS: save it with one (e.g. {GEOGRAPHIC_CRS})"))
    name = population_column(gdf, column, str(path))
    problems: list[Problem] = []
    try:
        values = population_values(gdf, name, str(path))
    except DataError as exc:
        problems.extend(exc.problems)
        values = np.zeros(len(gdf))
    types = shapely.get_type_id(gdf.geometry.to_numpy())
    polygonal = np.isin(types, (3, 6))
    points = types == 0
    if not (polygonal.all() or points.all()):
        expected = "Polygon" if polygonal.sum() >= points.sum() else "Point"
        wrong = ~polygonal if expected == "Polygon" else ~points
        problems.extend(
            Problem(str(path), int(i) + 1, "geometry",
                    None if gdf.geometry.iloc[i] is None else gdf.geometry.iloc[i].geom_type,
                    f"expected {expected} like the other rows (polygons or points, not both)")
            for i in np.flatnonzero(wrong)[:200]
        )
    if problems:
        raise DataError(problems, file=str(path))
    out = gdf[[gdf.geometry.name]].assign(population=values)
    return to_metric(out)


def prepared_population(population: gpd.GeoDataFrame | None, column: str | None,
                        regions_m: gpd.GeoDataFrame) -> PopulationLayer | None:
    """The population layer checked against the regions' CRS and indexed, or None."""
    if population is None:
        return None
    pop = require_metric(population, "population")
    same_crs(pop, regions_m, "population", "towns_m")
    return PopulationLayer.build(pop, column)
