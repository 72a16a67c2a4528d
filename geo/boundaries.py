"""Load and validate boundary files: towns, districts, city outline, corridors, zones, parks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import geopandas as gpd
import shapely

from geo import catalog
from geo._errors import DataError, InputError, Problem, UnknownNameError
from geo._io import read_vector
from geo.settings import GEOGRAPHIC_CRS, SHANGHAI_BBOX

BoundaryKind = Literal["towns", "districts", "city", "corridors", "corridor_lines", "zones",
                       "parks"]

_COMMON = ("name_zh", "source", "boundary_quality")
REQUIRED_PROPERTIES: dict[str, tuple[str, ...]] = {
    "towns": ("key", "name_en", "district", "official_area_km2", *_COMMON),
    "districts": ("code", "name_en", *_COMMON),
    "city": _COMMON,
    "corridors": ("key", *_COMMON),
    "corridor_lines": ("key", *_COMMON),
    "zones": ("key", *_COMMON),
    # Parks: a polygon where a published 四至 allows, else a point flagged approximate.
    "parks": ("id", "name_zh", "kind", "town", "source", "geometry_quality", "placement",
              "precision_m"),
}
#: Properties that must not be blank on any feature.
_NONBLANK: dict[str, tuple[str, ...]] = dict.fromkeys(
    REQUIRED_PROPERTIES, ("name_zh", "source", "boundary_quality"))
_NONBLANK["parks"] = ("id", "name_zh", "kind", "town", "source", "geometry_quality",
                      "placement")
#: The kinds of park feature and how their geometry was obtained.
PARK_KINDS = ("flagship_park", "featured_park", "designation")
PARK_GEOMETRY_QUALITIES = ("published_boundary_digitised", "approximate_point", "schematic")
_POLYGONAL = {"Polygon", "MultiPolygon"}
_LINEAR = {"LineString", "MultiLineString"}
#: Slack around Shanghai's bounding box, degrees: boundaries may reach a little into the sea.
_BBOX_SLACK = 0.1


def read_boundaries(path: str | Path, *, kind: BoundaryKind) -> gpd.GeoDataFrame:
    """Read one boundary file, validate it and return it in EPSG:4326.

    Raises one DataError listing every problem (file, feature row, field, value).
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise DataError(Problem(file, None, None, None, f"{kind} boundary file not found"))
    _check_geojson_crs_member(path)
    gdf = read_vector(path)
    if kind == "towns":
        gdf = _blank_planned_population(gdf)
    if gdf.crs is None:
        raise DataError(Problem(file, None, "crs", None,
                                "file has no CRS; save it in EPSG:4326 (WGS84 lon/lat)"))
    if not gdf.crs.equals(GEOGRAPHIC_CRS):
        gdf = gdf.to_crs(GEOGRAPHIC_CRS)
    validate_boundaries(gdf, kind=kind, file=file)
    return gdf


def _check_geojson_crs_member(path: Path) -> None:
    """RFC 7946 GeoJSON is WGS84 by definition; a projected ``crs`` member is an error."""
    if path.suffix.lower() not in {".geojson", ".json"}:
        return
    try:
        with path.open("rb") as handle:
            doc = json.loads(handle.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(Problem(str(path), None, None, None,
                                f"not valid JSON: {exc}")) from exc
    crs = doc.get("crs") if isinstance(doc, dict) else None
    if crs is None:
        return
    name = str(crs.get("properties", {}).get("name", crs)) if isinstance(crs, dict) else str(crs)
    if not any(token in name for token in ("4326", "CRS84", "WGS 84", "WGS84")):
        raise DataError(Problem(str(path), None, "crs", name,
                                "GeoJSON declares a non-WGS84 'crs'; RFC 7946 GeoJSON must be "
                                "EPSG:4326 lon/lat: reproject it (e.g. ogr2ogr -t_srs EPSG:4326)"))


def validate_boundaries(
    gdf: gpd.GeoDataFrame, *, kind: BoundaryKind, file: str = "<layer>"
) -> None:
    """Check properties, geometry type, validity and extent of a boundary layer."""
    problems: list[Problem] = []
    if len(gdf) == 0:
        raise DataError(Problem(file, None, None, None, "layer has no features"))
    for column in REQUIRED_PROPERTIES[kind]:
        if column not in gdf.columns:
            problems.append(Problem(file, None, column, None, "missing required property"))
    if problems:
        raise DataError(problems, file=file)
    expected = (_LINEAR if kind == "corridor_lines"
                else _POLYGONAL | {"Point"} if kind == "parks" else _POLYGONAL)
    min_lon, min_lat, max_lon, max_lat = SHANGHAI_BBOX
    for n, geom in enumerate(gdf.geometry, start=1):
        if geom is None or geom.is_empty:
            problems.append(Problem(file, n, "geometry", None, "missing geometry"))
            continue
        if geom.geom_type not in expected:
            problems.append(Problem(file, n, "geometry", geom.geom_type,
                                    f"expected {' or '.join(sorted(expected))}"))
            continue
        if not geom.is_valid:
            problems.append(Problem(file, n, "geometry", shapely.is_valid_reason(geom),
                                    "invalid geometry (e.g. self-intersection); repair it with "
                                    "shapely.make_valid or QGIS 'Fix geometries'"))
        x0, y0, x1, y1 = geom.bounds
        if (x0 < min_lon - _BBOX_SLACK or x1 > max_lon + _BBOX_SLACK
                or y0 < min_lat - _BBOX_SLACK or y1 > max_lat + _BBOX_SLACK):
            problems.append(Problem(file, n, "geometry", tuple(round(v, 4) for v in geom.bounds),
                                    "extent reaches outside Shanghai (coordinates in the wrong "
                                    "CRS, or lat/lon swapped?)"))
    for column in _NONBLANK[kind]:
        for n, value in enumerate(gdf[column], start=1):
            if value is None or str(value).strip() == "":
                problems.append(Problem(file, n, column, None, "required value is blank"))
    if kind == "towns":
        for n, value in enumerate(gdf["key"], start=1):
            try:
                catalog.TOWN_NAMES.resolve(str(value))
            except UnknownNameError as exc:
                problems.append(Problem(file, n, "key", value, str(exc)))
    if kind == "parks":
        problems.extend(_park_problems(gdf, file))
    if kind == "towns":
        problems.extend(_planned_population_problems(gdf, file))
        problems.extend(_edge_problems(gdf, file))
    if kind == "districts":
        for n, value in enumerate(gdf["name_zh"], start=1):
            if catalog.DISTRICT_NAMES.lookup(str(value)) is None:
                problems.append(Problem(file, n, "name_zh", value,
                                        "unknown district; "
                                        + catalog.DISTRICT_NAMES.suggest(str(value))))
    if problems:
        raise DataError(problems, file=file)


def _park_problems(gdf: gpd.GeoDataFrame, file: str) -> list[Problem]:
    """Vocabularies of the parks layer; a point must say it is approximate or schematic."""
    problems: list[Problem] = []
    allowed = {"kind": PARK_KINDS, "geometry_quality": PARK_GEOMETRY_QUALITIES,
               "placement": ("area", *catalog.PLACEHOLDER_PLACEMENTS)}
    for column, values in allowed.items():
        for n, value in enumerate(gdf[column], start=1):
            if str(value) not in values:
                problems.append(Problem(file, n, column, value,
                                        f"expected one of {', '.join(values)}"))
    for n, value in enumerate(gdf["town"], start=1):
        if catalog.TOWN_NAMES.lookup(str(value)) is None:
            problems.append(Problem(file, n, "town", value,
                                    "unknown town; " + catalog.TOWN_NAMES.suggest(str(value))))
    for n, (geom, quality) in enumerate(zip(gdf.geometry, gdf["geometry_quality"],
                                            strict=True), start=1):
        if geom is not None and geom.geom_type == "Point" \
                and quality == "published_boundary_digitised":
            problems.append(Problem(file, n, "geometry_quality", quality,
                                    "a point cannot be a digitised boundary; use "
                                    "approximate_point or schematic"))
    ids = gdf["id"].astype(str)
    for n in (ids.duplicated(keep=False).to_numpy().nonzero()[0] + 1):
        problems.append(Problem(file, int(n), "id", ids.iloc[n - 1], "duplicate id"))
    return problems


#: Keys of one record of a town's ``edges`` property (which source each edge part follows).
EDGE_KEYS = ("edge", "follows", "source", "confidence")
#: How firmly an edge part is placed: see scripts/build_towns.py.
EDGE_CONFIDENCE = ("medium", "low", "not_drawn")
#: The sides every town records when it records edges at all.
EDGE_SIDES = ("east", "south", "west", "north")


def parse_edges(value: object) -> list[dict[str, object]]:
    """A town's ``edges`` property (JSON text, or an already parsed list) as a list of dicts.

    Raises InputError naming what is wrong; a blank value gives an empty list.
    """
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return []
    try:
        records = json.loads(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise InputError(f"edges is not JSON text: {exc}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError("edges must be a JSON list of objects")
    for n, record in enumerate(records, start=1):
        missing = [k for k in EDGE_KEYS if not str(record.get(k) or "").strip()]
        if missing:
            raise InputError(f"edge record {n} lacks {', '.join(missing)}")
        if record["confidence"] not in EDGE_CONFIDENCE:
            raise InputError(f"edge record {n}: confidence {record['confidence']!r} is not one "
                             f"of {', '.join(EDGE_CONFIDENCE)}")
    sides = {r["edge"] for r in records if r["confidence"] != "not_drawn"}
    absent = [s for s in EDGE_SIDES if s not in sides]
    if absent:
        raise InputError(f"edges record no drawn {', '.join(absent)} edge")
    return records


def town_edges(towns: gpd.GeoDataFrame) -> dict[str, list[dict[str, object]]]:
    """Per town key, the records of which source each boundary edge part follows.

    Parameters
    ----------
    towns : GeoDataFrame
        A validated towns layer (``key``; ``edges`` optional).

    Returns
    -------
    dict
        Town key to its list of edge records (empty when the file records none).
    """
    if "edges" not in towns.columns:
        return {str(k): [] for k in towns["key"]}
    return {str(k): parse_edges(v) for k, v in zip(towns["key"], towns["edges"], strict=True)}


def _edge_problems(gdf: gpd.GeoDataFrame, file: str) -> list[Problem]:
    """A town's ``edges``, when present, lists every side with its source and confidence."""
    if "edges" not in gdf.columns:
        return []
    problems: list[Problem] = []
    for n, value in enumerate(gdf["edges"], start=1):
        try:
            parse_edges(value)
        except InputError as exc:
            problems.append(Problem(file, n, "edges", None, str(exc)))
    return problems


#: Optional town attributes: the planned resident population, its target year and source.
PLANNED_POPULATION_PROPERTIES = ("planned_population", "planned_population_year",
                                 "planned_population_source")


def _blank(value: object) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return True
    return str(value).strip() == ""


def _blank_planned_population(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add the optional planned-population columns when a file has none; blanks become None."""
    out = gdf.copy()
    for column in PLANNED_POPULATION_PROPERTIES:
        if column not in out.columns:
            out[column] = None
        out[column] = [None if _blank(v) else v for v in out[column]]
    return out


def _planned_population_problems(gdf: gpd.GeoDataFrame, file: str) -> list[Problem]:
    """A planned population, when given, is a positive whole number with a year and a source."""
    problems: list[Problem] = []
    for n, (pop, year, source) in enumerate(zip(
            *(gdf[c] if c in gdf.columns else [None] * len(gdf)
              for c in PLANNED_POPULATION_PROPERTIES), strict=True), start=1):
        if _blank(pop):
            continue
        try:
            number = float(pop)
        except (TypeError, ValueError):
            number = float("nan")
        if not (number > 0 and number == int(number)):
            problems.append(Problem(file, n, "planned_population", pop,
                                    "a positive whole number of residents, or blank"))
        try:
            year_ok = not _blank(year) and 1950 <= int(float(year)) <= 2100
        except (TypeError, ValueError):
            year_ok = False
        if not year_ok:
            problems.append(Problem(file, n, "planned_population_year", year,
                                    "the target year (e.g. 2035) is required with a population"))
        if _blank(source):
            problems.append(Problem(file, n, "planned_population_source", source,
                                    "cite the source (title, publisher, date, URL) of the "
                                    "planned population"))
    return problems
