"""Coverage tables per town and district, gap polygons, and the one report the faces print."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.coverage.engine import (
    QUAD_SEGS,
    Engine,
    Shapes,
    make_engine,
    polygon_area_error,
)
from geo.coverage.inputs import (
    polygonal_geoms,
    polygonal_only,
    require_metric,
    same_crs,
)
from geo.coverage.population import PopulationLayer, prepared_population
from geo.settings import DEFAULT_RADIUS_M

if TYPE_CHECKING:
    pass

__all__ = [
    "COASTAL_NOTE",
    "NAME_COLUMNS",
    "CoverageReport",
    "coverage_by_district",
    "coverage_by_town",
    "coverage_report",
    "coverage_table",
    "gap_polygons",
    "gaps_from_covered",
    "land_shares",
]

NAME_COLUMNS = ("key", "code", "name_zh", "name_en")


def coverage_table(
    engine: Engine,
    regions_m: gpd.GeoDataFrame,
    *,
    population: PopulationLayer | None,
    want_geometry: bool,
) -> tuple[pd.DataFrame, list[shapely.Geometry | None]]:
    """Area, covered area and share (and people) per region, with the covered parts if wanted."""
    geoms = polygonal_geoms(regions_m, "regions")
    areas, covered, covered_geoms = [], [], []
    pop_total, pop_covered = [], []
    need = want_geometry or (population is not None and population.kind == "polygons")
    for geom in geoms:
        area, part = engine.covered(geom, want_geometry=need)
        areas.append(float(geom.area))
        covered.append(area)
        covered_geoms.append(part)
        if population is not None:
            total, hit = population.within(geom, part, engine)
            pop_total.append(total)
            pop_covered.append(hit)
    keep = [c for c in NAME_COLUMNS if c in regions_m.columns]
    table = pd.DataFrame(regions_m[keep]).copy()
    table["area_m2"] = areas
    table["covered_m2"] = np.minimum(covered, areas)  # float noise must not exceed the region
    with np.errstate(invalid="ignore", divide="ignore"):
        table["covered_share"] = table["covered_m2"] / table["area_m2"]
    if population is not None:
        table["population"] = pop_total
        table["covered_population"] = pop_covered
        with np.errstate(invalid="ignore", divide="ignore"):
            table["population_share"] = np.where(
                np.asarray(pop_total) > 0,
                np.asarray(pop_covered) / np.maximum(pop_total, 1e-300), np.nan)
    return table, covered_geoms


def coverage_by_town(
    facilities_m: gpd.GeoDataFrame,
    towns_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    population: gpd.GeoDataFrame | None = None,
    population_column: str | None = None,
    quad_segs: int = QUAD_SEGS,
) -> pd.DataFrame:
    """Covered area and share of each town (index of ``towns_m``), in EPSG:4549 metres.

    ``facilities_m`` are points (discs of ``radius_m``, or of the category's default radius)
    or polygons (service areas such as network isochrones). Overlapping discs count once.
    Columns: ``key``/``name_zh``/``name_en`` when present, ``area_m2``, ``covered_m2``,
    ``covered_share``; with ``population`` (polygons: areal interpolation, people spread
    evenly over each polygon; points: a point counts when within reach) also
    ``population``, ``covered_population`` and ``population_share``.
    """
    towns_m = require_metric(towns_m, "towns_m")
    same_crs(require_metric(facilities_m, "facilities_m"), towns_m, "facilities_m", "towns_m")
    engine = make_engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                     quad_segs=quad_segs)
    pop = prepared_population(population, population_column, towns_m)
    table, _ = coverage_table(engine, towns_m, population=pop, want_geometry=False)
    return table


#: Note on districts whose polygon is not land only.
COASTAL_NOTE: Final = ("polygon includes sea/estuary water and tidal flats: no land share "
                       "computed (covered area shown)")


def coverage_by_district(
    facilities_m: gpd.GeoDataFrame,
    districts_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    population: gpd.GeoDataFrame | None = None,
    population_column: str | None = None,
    quad_segs: int = QUAD_SEGS,
) -> pd.DataFrame:
    """Like :func:`coverage_by_town` for districts; shares of land only where the polygon is land.

    Districts with ``land_area_ok`` False (coastal: the polygon runs out over water) get
    ``covered_share`` NaN and a ``note`` saying why; their ``covered_m2`` is still given.
    """
    districts_m = require_metric(districts_m, "districts_m")
    same_crs(require_metric(facilities_m, "facilities_m"), districts_m, "facilities_m",
              "districts_m")
    engine = make_engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                     quad_segs=quad_segs)
    pop = prepared_population(population, population_column, districts_m)
    table, _ = coverage_table(engine, districts_m, population=pop, want_geometry=False)
    return land_shares(table, districts_m)


def land_shares(table: pd.DataFrame, districts_m: pd.DataFrame) -> pd.DataFrame:
    """Blank the share of districts whose polygon is not land only, and say why."""
    land_ok = (districts_m["land_area_ok"].astype(bool) if "land_area_ok" in districts_m
               else pd.Series(True, index=districts_m.index))
    table = table.copy()
    table["land_area_ok"] = land_ok.to_numpy()
    if "coastal" in districts_m:
        table["coastal"] = districts_m["coastal"].astype(bool).to_numpy()
    table.loc[~table["land_area_ok"], "covered_share"] = np.nan
    table["note"] = np.where(table["land_area_ok"], "", COASTAL_NOTE)
    return table


def gap_polygons(
    facilities_m: gpd.GeoDataFrame,
    towns_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    quad_segs: int = QUAD_SEGS,
) -> gpd.GeoDataFrame:
    """The uncovered part of each town (index of ``towns_m``), EPSG:4549.

    Columns: ``key``/``name_zh``/``name_en`` when present, ``gap_m2``, ``gap_share``. A fully
    covered town has an empty geometry and ``gap_m2`` 0.
    """
    towns_m = require_metric(towns_m, "towns_m")
    same_crs(require_metric(facilities_m, "facilities_m"), towns_m, "facilities_m", "towns_m")
    engine = make_engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                     quad_segs=quad_segs)
    table, covered = coverage_table(engine, towns_m, population=None, want_geometry=True)
    return gaps_from_covered(table, towns_m, covered)


def gaps_from_covered(table: pd.DataFrame, towns_m: gpd.GeoDataFrame,
                      covered: Sequence[shapely.Geometry | None]) -> gpd.GeoDataFrame:
    """The uncovered part of each town, given the table and covered parts of one engine run."""
    towns = polygonal_geoms(towns_m, "towns_m")
    gaps = np.empty(len(towns), dtype=object)
    for i, (town, part) in enumerate(zip(towns, covered, strict=True)):
        gap = town if part is None or part.is_empty else shapely.difference(town, part)
        # Keep areas only: a difference can leave slivers of lower dimension.
        gaps[i] = polygonal_only(gap)
    keep = [c for c in NAME_COLUMNS if c in towns_m.columns]
    out = pd.DataFrame(towns_m[keep]).copy()
    # The uncovered area is what the table says is not covered (true circles); the geometry
    # is drawn with the service-area polygons, whose area is up to 0.16% off at the edges.
    out["gap_m2"] = (table["area_m2"] - table["covered_m2"]).to_numpy()
    out["gap_share"] = out["gap_m2"] / table["area_m2"].to_numpy()
    return gpd.GeoDataFrame(out, geometry=gaps, index=towns_m.index, crs=towns_m.crs)


@dataclass(frozen=True)
class CoverageReport:
    """Everything ``newtown coverage`` prints. Treat the frames as read-only (they are cached).

    ``towns``/``districts``: tables as from :func:`coverage_by_town` /
    :func:`coverage_by_district`; ``gaps``: :func:`gap_polygons`; ``covered``: the covered
    part of each town (EPSG:4549, town index), for maps and population weighting.
    """

    towns: pd.DataFrame
    districts: pd.DataFrame | None
    gaps: gpd.GeoDataFrame
    covered: gpd.GeoSeries
    facilities: int
    distinct_locations: int
    parameters: Mapping[str, object]


def coverage_report(
    facilities_m: gpd.GeoDataFrame,
    towns_m: gpd.GeoDataFrame,
    districts_m: gpd.GeoDataFrame | None = None,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    population: gpd.GeoDataFrame | None = None,
    population_column: str | None = None,
    quad_segs: int = QUAD_SEGS,
) -> CoverageReport:
    """Towns table, districts table, gap polygons and covered parts in one pass (one engine)."""
    towns_m = require_metric(towns_m, "towns_m")
    facilities_m = require_metric(facilities_m, "facilities_m")
    same_crs(facilities_m, towns_m, "facilities_m", "towns_m")
    engine = make_engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                     quad_segs=quad_segs)
    pop = prepared_population(population, population_column, towns_m)
    towns, covered = coverage_table(engine, towns_m, population=pop, want_geometry=True)
    districts = None
    if districts_m is not None:
        districts_m = require_metric(districts_m, "districts_m")
        same_crs(facilities_m, districts_m, "facilities_m", "districts_m")
        table, _ = coverage_table(engine, districts_m, population=pop, want_geometry=False)
        districts = land_shares(table, districts_m)
    params: dict[str, object] = {
        "radius_m": radius_m,
        "radius_by_category": None if radius_m is not None else dict(radius_by_category),
        "quad_segs": quad_segs,
        "polygon_area_error": round(polygon_area_error(quad_segs), 6),
        "crs": towns_m.crs.to_string(),
        "method": ("service-area polygons: union per region" if isinstance(engine, Shapes)
                   else "true circles: quadtree per region, exact boundary integral at "
                        "coverage edges; gap polygons drawn with 4*quad_segs-gons"),
    }
    return CoverageReport(
        towns=towns,
        districts=districts,
        gaps=gaps_from_covered(towns, towns_m, covered),
        covered=gpd.GeoSeries(covered, index=towns_m.index, crs=towns_m.crs),
        facilities=len(facilities_m),
        distinct_locations=engine.count,
        parameters=MappingProxyType(params),
    )
