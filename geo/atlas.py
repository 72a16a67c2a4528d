"""The Atlas: a read-only bundle of every loaded layer, with metric copies made once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from geo import catalog
from geo._errors import DataError, Problem
from geo.boundaries import read_boundaries
from geo.crs import to_metric
from geo.facilities import read_facilities, validate_facilities
from geo.settings import DataLayout, bundled_data_dir

#: A town may poke out of its district by this share of its area (digitising slack).
TOWN_OUTSIDE_DISTRICT_TOLERANCE = 0.01


@dataclass(frozen=True, eq=False)
class Atlas:
    """Everything the app and the analyses read. Treat the frames as read-only."""

    data_dir: Path
    city: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    corridors: gpd.GeoDataFrame
    corridor_lines: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    warnings: tuple[str, ...] = field(default=())
    #: Flagship and featured industrial parks and area designations (may be empty).
    parks: gpd.GeoDataFrame = field(default_factory=lambda: gpd.GeoDataFrame(
        {"id": [], "name_zh": [], "kind": [], "town": []}, geometry=[], crs="EPSG:4326"))

    @cached_property
    def towns_m(self) -> gpd.GeoDataFrame:
        """Towns in EPSG:4549 metres."""
        return to_metric(self.towns)

    @cached_property
    def districts_m(self) -> gpd.GeoDataFrame:
        """Districts in EPSG:4549 metres."""
        return to_metric(self.districts)

    @cached_property
    def facilities_m(self) -> gpd.GeoDataFrame:
        """Facilities in EPSG:4549 metres, same index as ``facilities``."""
        return to_metric(self.facilities)

    def town_geometry(self, key: str) -> shapely.Geometry:
        """The WGS84 polygon of a town, by any accepted spelling of its name."""
        key = catalog.TOWN_NAMES.resolve(key)
        return self.towns.loc[self.towns["key"] == key].geometry.iloc[0]

    def counts(self) -> pd.DataFrame:
        """Facilities per town x industry layer (a facility counts once in each of its layers)."""
        return counts_by_town_and_layer(self.facilities)


def category_codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    """The position of each value in ``categories`` (-1 for any other value or a missing one).

    What ``pd.Categorical(values, categories).codes`` gives, computed by Arrow in C: on the
    Arrow-backed text columns of an Atlas that is ~0.02 s for 1e6 rows instead of ~0.5 s
    (pandas converts every cell to a Python string first). Runs on every filter change.

    Parameters
    ----------
    values : Series
        Text values.
    categories : list of str
        The known values, in code order.

    Returns
    -------
    ndarray of int64
    """
    try:
        found = pc.index_in(pa.array(values), value_set=pa.array(categories, type=pa.string()))
        return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False),
                          dtype=np.int64)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        codes = pd.Categorical(values, categories=categories).codes
        return np.asarray(codes, dtype=np.int64)


def counts_by_town_and_layer(facilities: pd.DataFrame) -> pd.DataFrame:
    """Table of facility counts: rows are towns, columns industry layers, plus a total column.

    A facility with several industries counts once in each layer it belongs to, so the layer
    columns may add up to more than ``total`` (which counts facilities).
    """
    towns = list(catalog.TOWNS)
    layers = list(catalog.INDUSTRY_LAYERS)
    # Count facilities per (town, distinct ';'-joined layer list) first (a vectorised
    # group-by), then spread each of the few hundred distinct lists over its layers.
    town_codes = category_codes(facilities["town"], towns)
    if (town_codes < 0).any():
        unknown = facilities["town"].to_numpy()[town_codes < 0][0]
        raise KeyError(unknown)
    layer_codes, layer_lists = pd.factorize(facilities["layers"])
    pairs = np.bincount(town_codes.astype(np.int64) * len(layer_lists) + layer_codes,
                        minlength=len(towns) * len(layer_lists))
    pairs = pairs.reshape(len(towns), len(layer_lists))
    column = {layer: j for j, layer in enumerate(layers)}
    counts = np.zeros((len(towns), len(layers)), dtype=np.int64)
    for k, layer_text in enumerate(layer_lists):
        for layer in layer_text.split(";"):
            if layer:
                counts[:, column[layer]] += pairs[:, k]
    table = pd.DataFrame(counts, index=pd.Index(towns, name="town"), columns=layers,
                         dtype=int)
    table["total"] = pairs.sum(axis=1).astype(int)
    return table


def load_atlas(
    data_dir: str | Path | None = None, *, facilities_table: pd.DataFrame | None = None
) -> Atlas:
    """Load and validate every file in ``data_dir`` (default: the bundled data).

    Collects the problems of all files and raises one DataError; cross-file rules (a town
    inside its district, a facility inside Shanghai and its district) are checked too.
    ``facilities_table`` (raw cells, as read from ``facilities.csv``) replaces the file: the
    editable store keeps the facilities in a database and its boundary files in a folder.
    """
    layout = DataLayout(Path(data_dir) if data_dir is not None else bundled_data_dir())
    problems: list[Problem] = []

    def attempt(loader: Callable[[], gpd.GeoDataFrame]) -> gpd.GeoDataFrame | None:
        try:
            return loader()
        except DataError as exc:
            problems.extend(exc.problems)
            return None

    city = attempt(lambda: read_boundaries(layout.city, kind="city"))
    districts = attempt(lambda: read_boundaries(layout.districts, kind="districts"))
    towns = attempt(lambda: read_boundaries(layout.towns, kind="towns"))
    corridors = attempt(lambda: read_boundaries(layout.corridors, kind="corridors"))
    lines = attempt(lambda: read_boundaries(layout.corridor_lines, kind="corridor_lines"))
    zones = attempt(lambda: read_boundaries(layout.zones, kind="zones"))
    parks = (attempt(lambda: read_boundaries(layout.parks, kind="parks"))
             if layout.parks.is_file() else None)
    city_geom = shapely.union_all(city.geometry.to_numpy()) if city is not None else None
    if facilities_table is None:
        facilities = attempt(lambda: read_facilities(layout.facilities, city=city_geom,
                                                     districts=districts, strict=True))
    else:
        table = facilities_table
        facilities = attempt(lambda: validate_facilities(table, file=str(layout.facilities),
                                                         city=city_geom, districts=districts,
                                                         strict=True))
    if towns is not None:
        towns = towns.assign(key=[catalog.TOWN_NAMES.resolve(k) for k in towns["key"]])
        if districts is not None:
            problems.extend(_check_towns_in_districts(towns, districts, str(layout.towns)))
    if problems:
        raise DataError(problems, file=str(layout.root))
    assert city is not None and districts is not None and towns is not None
    assert corridors is not None and lines is not None and zones is not None
    assert facilities is not None
    placeholder_problems = check_placeholder_precision(facilities, towns, districts,
                                                       file=str(layout.facilities))
    if parks is not None:
        placeholder_problems += check_park_precision(parks, towns, districts,
                                                     file=str(layout.parks))
    if placeholder_problems:
        raise DataError(placeholder_problems, file=str(layout.root))
    facilities = _annotate_facilities(facilities, towns)
    extra = {} if parks is None else {"parks": parks}
    return Atlas(
        data_dir=layout.root, city=city, districts=districts, towns=towns,
        corridors=corridors, corridor_lines=lines, zones=zones, facilities=facilities,
        **extra,
    )


def _check_towns_in_districts(
    towns: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, file: str
) -> list[Problem]:
    problems = []
    towns_m, districts_m = to_metric(towns), to_metric(districts)
    by_name = dict(zip(districts_m["name_zh"], districts_m.geometry, strict=True))
    for n, (name, district, geom) in enumerate(
        zip(towns_m["name_zh"], towns_m["district"], towns_m.geometry, strict=True), start=1
    ):
        home = by_name.get(catalog.DISTRICTS[catalog.DISTRICT_NAMES.resolve(district)].zh)
        if home is None:
            problems.append(Problem(file, n, "district", district, "district not found"))
            continue
        outside = geom.difference(home).area / geom.area
        if outside > TOWN_OUTSIDE_DISTRICT_TOLERANCE:
            problems.append(Problem(file, n, "geometry", f"{outside:.1%} outside",
                                    f"{name} is not inside its district {district}"))
    return problems


def area_reach_m(point_m: shapely.Point, area_m: shapely.Geometry) -> float:
    """How far ``area_m`` reaches from ``point_m``: the distance to its farthest outline vertex.

    Both in EPSG:4549 metres. A point standing for an area (a placeholder) is honest only to
    within this distance; the facility and the parks layers both use it.
    """
    vertices = shapely.get_coordinates(shapely.boundary(area_m))
    return float(np.hypot(vertices[:, 0] - point_m.x, vertices[:, 1] - point_m.y).max())


def placeholder_reach_m(
    facilities: gpd.GeoDataFrame, towns: gpd.GeoDataFrame, districts: gpd.GeoDataFrame
) -> pd.Series:
    """How far each placeholder's area reaches from its point, in metres (EPSG:4549).

    A town placeholder stands for its whole town, a district placeholder for its district;
    the honest precision of such a point is the distance to the farthest point of that
    area (a vertex of its outline). Sites and areas get NaN.

    Parameters
    ----------
    facilities : GeoDataFrame
        Validated facilities (``placement``, ``town``, ``district``), WGS84.
    towns, districts : GeoDataFrame
        Town polygons (``key``) and district polygons (``name_zh``), WGS84.

    Returns
    -------
    Series
        Metres, on the facilities' index.
    """
    reach = pd.Series(np.nan, index=facilities.index, dtype=float)
    placement = facilities["placement"].to_numpy()
    chosen = np.isin(placement, catalog.PLACEHOLDER_PLACEMENTS)
    if not chosen.any():
        return reach
    towns_m = to_metric(towns)
    districts_m = to_metric(districts)
    areas = {("town_placeholder", k): g for k, g in zip(towns_m["key"], towns_m.geometry,
                                                         strict=True)}
    areas.update({("district_placeholder", n): g for n, g in zip(
        districts_m["name_zh"], districts_m.geometry, strict=True)})
    points = to_metric(facilities.loc[chosen])
    for fid, kind, town, district, point in zip(
        points.index, points["placement"], points["town"], points["district"],
        points.geometry, strict=True,
    ):
        area = areas.get((kind, town if kind == "town_placeholder" else district))
        if area is None:
            continue
        reach[fid] = area_reach_m(point, area)
    return reach


def check_placeholder_precision(
    facilities: gpd.GeoDataFrame, towns: gpd.GeoDataFrame, districts: gpd.GeoDataFrame,
    *, file: str,
) -> list[Problem]:
    """Problems for placeholders whose stated precision is less than their area's reach."""
    reach = placeholder_reach_m(facilities, towns, districts)
    stated = facilities["coord_precision_m"].astype(float)
    short = reach.notna() & (stated < np.floor(reach))
    rows = {fid: n for n, fid in enumerate(facilities.index, start=1)}
    return [
        Problem(file, rows[fid], "coord_precision_m", float(stated[fid]),
                f"a {facilities.at[fid, 'placement']} stands for its whole area, which reaches "
                f"{reach[fid]:,.0f} m from the point; give at least {np.ceil(reach[fid]):.0f} "
                "(scripts/placeholder_precision.py fills it)")
        for fid in reach.index[short]
    ]


def park_reach_m(
    parks: gpd.GeoDataFrame, towns: gpd.GeoDataFrame, districts: gpd.GeoDataFrame
) -> pd.Series:
    """How far each placeholder park's area reaches from its point, in metres (EPSG:4549).

    The same rule as the facility placeholders (``area_reach_m``): a town placeholder stands
    for its whole town, a district placeholder for its ``district``. Other parks get NaN.

    Parameters
    ----------
    parks : GeoDataFrame
        A validated parks layer (``placement``, ``town``, ``district``), WGS84.
    towns, districts : GeoDataFrame
        Town polygons (``key``) and district polygons (``name_zh``), WGS84.

    Returns
    -------
    Series
        Metres, on the parks' index.
    """
    # The parks layer names its town by any spelling and may lack ``district`` or hold
    # polygons: normalise it and let the facilities' rule measure (polygons are not
    # placeholders, so they get NaN).
    is_point = np.asarray(parks.geometry.geom_type == "Point", dtype=bool)
    frame = parks.assign(
        town=[catalog.TOWN_NAMES.lookup(str(t)) or str(t) for t in parks["town"]],
        district=(parks["district"].astype(str) if "district" in parks.columns else ""),
        placement=np.where(is_point, parks["placement"].astype(str), "area"),
    )
    return placeholder_reach_m(frame, towns, districts)


def check_park_precision(
    parks: gpd.GeoDataFrame, towns: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, *, file: str,
) -> list[Problem]:
    """Problems for placeholder parks whose ``precision_m`` is less than their area's reach.

    The facility rule (``check_placeholder_precision``), applied to the parks layer.
    """
    problems: list[Problem] = []
    reach = park_reach_m(parks, towns, districts)
    stated = pd.to_numeric(parks["precision_m"], errors="coerce")
    for n, idx in enumerate(parks.index, start=1):
        if not np.isnan(reach[idx]) and not stated[idx] >= np.floor(reach[idx]):
            problems.append(Problem(
                file, n, "precision_m", parks.at[idx, "precision_m"],
                f"a {parks.at[idx, 'placement']} park stands for its whole area, which reaches "
                f"{reach[idx]:,.0f} m from the point; give at least {np.ceil(reach[idx]):.0f}"))
    return problems


def park_facility_mismatches(parks: gpd.GeoDataFrame, facilities: pd.DataFrame) -> list[str]:
    """Parks whose ``facility_id`` names a missing row, or a row placed differently.

    A park and the facility row of the same place should agree on point, placement and
    precision. This is reported (``newtown check``), not refused: an edited facility in the
    store must not make the boundary files unloadable.

    Parameters
    ----------
    parks : GeoDataFrame
        The parks layer (``id``, ``facility_id`` optional, ``placement``, ``precision_m``).
    facilities : DataFrame
        Validated facilities indexed by id.

    Returns
    -------
    list of str
        One line per disagreeing park; empty when all agree.
    """
    if "facility_id" not in parks.columns:
        return []
    lines = []
    for pid, linked, placement, precision, geom in zip(
        parks["id"], parks["facility_id"], parks["placement"], parks["precision_m"],
        parks.geometry, strict=True,
    ):
        if linked is None or (isinstance(linked, float) and np.isnan(linked)) or not str(linked):
            continue
        if linked not in facilities.index:
            lines.append(f"{pid}: facility {linked} does not exist")
            continue
        row = facilities.loc[linked]
        differs = []
        if row["placement"] != placement:
            differs.append(f"placement {placement} vs {row['placement']}")
        if float(row["coord_precision_m"]) != float(precision):
            differs.append(f"precision {float(precision):g} vs "
                           f"{float(row['coord_precision_m']):g} m")
        if geom is None or geom.geom_type != "Point" or geom.distance(row.geometry) > 1e-6:
            differs.append("point")
        if differs:
            lines.append(f"{pid}: differs from facility {linked}: " + "; ".join(differs))
    return lines


def membership_of(facilities: pd.DataFrame) -> np.ndarray:
    """``inside`` / ``associated`` / ``placeholder`` for each row (needs ``in_town``).

    A placeholder is neither inside nor outside: its point is not a site. A site or area is
    ``inside`` when its point lies in the boundary of the town the source associates it
    with, else ``associated``.
    """
    placeholder = np.isin(facilities["placement"].to_numpy(), catalog.PLACEHOLDER_PLACEMENTS)
    inside = facilities["in_town"].to_numpy(dtype=bool)
    return np.where(placeholder, "placeholder", np.where(inside, "inside", "associated"))


def membership_counts(facilities: pd.DataFrame) -> pd.DataFrame:
    """Facilities per town by membership: columns inside, associated, placeholder, total.

    Parameters
    ----------
    facilities : DataFrame
        Annotated facilities (``town``, ``membership``), e.g. a Filter's selection.

    Returns
    -------
    DataFrame
        One row per town (catalog order, index ``town``), integer counts.
    """
    towns = list(catalog.TOWNS)
    kinds = list(catalog.MEMBERSHIPS)
    # one bincount over (town, membership) codes, as counts_by_town_and_layer does (a filter
    # change pays this): at 1e6 rows ~0.38 s, against ~0.65 s for pd.crosstab, most of it
    # the category encoding
    town_codes = category_codes(facilities["town"], towns)
    kind_codes = category_codes(facilities["membership"], kinds)
    known = (town_codes >= 0) & (kind_codes >= 0)
    pairs = np.bincount(town_codes[known] * len(kinds) + kind_codes[known],
                        minlength=len(towns) * len(kinds)).reshape(len(towns), len(kinds))
    table = pd.DataFrame(pairs, index=pd.Index(towns, name="town"), columns=kinds, dtype=int)
    table["total"] = table.sum(axis=1)
    return table


def distinct_sites(facilities: pd.DataFrame) -> pd.DataFrame:
    """The rows that are not nested under another selected row (``parent_id``).

    A lab inside a university campus, or a centre inside a park, is one site with its
    parent: counting distinct sites counts the outermost selected entity once.
    """
    parents = facilities["parent_id"].fillna("").astype(str)
    ids = set(facilities["id"].astype(str))
    return facilities.loc[~parents.isin(ids).to_numpy()]


def annotate_facilities(facilities: gpd.GeoDataFrame, towns: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The computed columns an Atlas adds to validated facilities (for a few changed rows).

    Parameters
    ----------
    facilities : GeoDataFrame
        Validated facilities (``validate_facilities``), EPSG:4326.
    towns : GeoDataFrame
        The Atlas' towns (with catalog ``key``), EPSG:4326.

    Returns
    -------
    GeoDataFrame
        ``facilities`` with the Atlas' computed columns (``layers``, ``in_town``,
        ``membership``, ...).
    """
    return _annotate_facilities(facilities, towns)


def _annotate_facilities(facilities: gpd.GeoDataFrame, towns: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add ``layers``, ``in_town`` (inside its town polygon), ``town_inside`` (the town whose
    polygon holds the point, if any) and ``membership``."""
    # A million facilities hold a few hundred distinct industry lists: roll each up once.
    codes, texts = pd.factorize(facilities["industries"])
    rolled = np.array([";".join(dict.fromkeys(catalog.industry_layer(k)
                                              for k in text.split(";") if k))
                       for text in texts], dtype=object)
    layers = pd.Series(rolled[codes], index=facilities.index)
    in_town = np.zeros(len(facilities), dtype=bool)
    x, y = facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy()
    town = facilities["town"].to_numpy()
    for key, geom in zip(towns["key"], towns.geometry, strict=True):
        mask = town == key
        if mask.any():
            prepared = shapely.from_wkb(shapely.to_wkb(geom))  # prepare a copy, not the Atlas'
            shapely.prepare(prepared)
            in_town[mask] = shapely.contains_xy(prepared, x[mask], y[mask])
    town_inside = np.full(len(facilities), "", dtype=object)
    for key, geom in zip(towns["key"], towns.geometry, strict=True):
        x0, y0, x1, y1 = geom.bounds
        near = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        if near.size:
            prepared = shapely.from_wkb(shapely.to_wkb(geom))
            shapely.prepare(prepared)
            town_inside[near[shapely.contains_xy(prepared, x[near], y[near])]] = key
    annotated = facilities.assign(layers=layers, in_town=in_town,
                                  town_inside=pd.Series(town_inside, index=facilities.index))
    return annotated.assign(membership=pd.Series(membership_of(annotated),
                                                 index=facilities.index))
