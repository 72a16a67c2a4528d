"""Town scorecard: counts by membership, level, category and layer, density, reach and growth."""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo import catalog
from geo._errors import InputError
from geo.analysis.common import AnalysisResult, data_sources, to_wgs84
from geo.coverage import coverage_report
from geo.placement import analysable
from geo.settings import METRIC_CRS

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = [
    "HOW",
    "STRATEGY_YEAR",
    "TABLE_HOW",
    "ScorecardParams",
    "ScorecardResult",
    "clear_cache",
    "grid_points",
    "run_scorecard",
]

#: The year of the municipal new-town strategy (沪府规〔2021〕2号), marked on growth charts.
STRATEGY_YEAR: Final = 2021
#: The band the Songjiang platforms are measured against (``corridors.geojson`` key).
G60_KEY: Final = "g60_corridor"
G60_TOWN: Final = "songjiang"
#: The levels a scorecard names (the others are summed under ``by_level`` too).
HEADLINE_LEVELS: Final = ("national", "municipal")

#: How each figure was computed and what it leaves out, in both languages.
HOW: Final[Mapping[str, Mapping[str, str]]] = {
    "counts": {
        "zh": "按来源关联到该新城的设施数；“边界内”指点位落在新城（近似）边界内的具体地点/片区，"
              "“关联（边界外）”指落在边界外的，“占位点”指仅有新城或区级占位坐标的设施。",
        "en": "Facilities a source associates with the town; 'inside' = site/area points inside "
              "the town's approximate boundary, 'associated' = outside it, 'placeholder' = rows "
              "placed on a town- or district-level point.",
    },
    "breakdown": {
        "zh": "按级别、类别和产业层统计的是关联该新城的全部设施（含占位点）；一个设施有多个产业时，"
              "在每个产业层各计一次。",
        "en": "Level, category and industry-layer counts cover every facility associated with "
              "the town (placeholders included); a facility with several industries counts "
              "once in each layer.",
    },
    "distinct_sites": {
        "zh": "不含占位点；嵌套在另一所选设施之下（parent_id）的设施只随其上级计一次。",
        "en": "Placeholders excluded; a facility nested under another selected facility "
              "(parent_id) counts once, with its parent.",
    },
    "density": {
        "zh": "边界内设施数 ÷ 新城面积 × 10；面积为近似边界在 EPSG:4549 下的面积。"
              "不含关联（边界外）"
              "设施和占位点。",
        "en": "Inside count ÷ town area × 10; area of the approximate boundary in EPSG:4549. "
              "Associated-outside facilities and placeholders excluded.",
    },
    "per_100k": {
        "zh": "关联该新城的全部设施数 ÷ 规划人口 × 10 万；"
              "规划人口取自新城属性（年份与出处见来源），"
              "无出处的新城留空。",
        "en": "All facilities associated with the town ÷ planned population × 100,000; the "
              "planned population is a town attribute with its year and source, blank where "
              "no source was found.",
    },
    "covered_share": {
        "zh": "新城（近似边界）面积中距某一所选设施在服务半径内的比例，按 EPSG:4549 精确圆计算，"
              "重叠只计一次；所有所选设施都算（不论关联哪个新城），占位点除外。",
        "en": "Share of the town's (approximate) area within the service radius of a selected "
              "facility: exact circles in EPSG:4549, overlaps counted once; any selected "
              "facility counts whichever town it is associated with; placeholders excluded.",
    },
    "median_nearest_m": {
        "zh": "在新城边界内按 250 m 规则网格（格网中心）取样，求各样点到最近所选设施的直线距离"
              "（米，EPSG:4549）的中位数；占位点除外。",
        "en": "Median straight-line distance (metres, EPSG:4549) from the centres of a regular "
              "grid (250 m by default) inside the town boundary to the nearest selected "
              "facility; placeholders excluded.",
    },
    "g60_share": {
        "zh": "关联松江新城的所选设施（不含占位点）中点位落在 G60 示意带内的比例；示意带为 G60 线"
              "两侧各 5 km，并非政策边界。",
        "en": "Share of the selected facilities associated with Songjiang (placeholders "
              "excluded) whose point lies in the schematic G60 band (5 km either side of the "
              "line; not a policy boundary).",
    },
    "since": {
        "zh": "同口径比较：关联各新城、年份（year 字段）不晚于对比年份的设施数，与年份不晚于截至"
              "年份（未设截至年份时为全部有年份者）的设施数之差；无年份的设施不计为新增、也不丢弃，"
              "其数量单独列为“无年份”。",
        "en": "Like with like: facilities associated with each town dated (year column) in or "
              "before the compare year, against those dated in or before the as-of year (or "
              "all dated ones, without one); undated facilities are never counted as new nor "
              "dropped: their number is reported separately as undated.",
    },
    "growth": {
        "zh": "每年年末累计的设施数（按 year 字段，含占位点）；无年份的设施单独列出；标出 2021 年"
              "新城战略。",
        "en": "Cumulative count of facilities by year (year column, placeholders included); "
              "undated facilities reported separately; the 2021 new-town strategy marked.",
    },
}


#: The scorecard as a table (one row per town; the export layer ``scorecard``): each column
#: and the ``HOW`` entry that says how it is computed (None: an identifier or a label).
_FIXED_COLUMNS: Final[tuple[tuple[str, str | None], ...]] = (
    ("rank", None), ("key", None), ("name_zh", None), ("name_en", None),
    ("inside", "counts"), ("associated", "counts"), ("placeholder", "counts"),
    ("total", "counts"), ("distinct_sites", "distinct_sites"),
)
_TAIL_COLUMNS: Final[tuple[tuple[str, str | None], ...]] = (
    ("area_km2", "density"), ("density_inside_per_10km2", "density"),
    ("planned_population", "per_100k"), ("planned_population_year", "per_100k"),
    ("planned_population_source", "per_100k"), ("per_100k_planned", "per_100k"),
    ("covered_share", "covered_share"), ("median_nearest_m", "median_nearest_m"),
    ("grid_points", "median_nearest_m"), ("g60_share", "g60_share"),
    ("undated_not_shown", "since"),
)
_SINCE_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("since_year", "year"), ("since_then", "then"), ("since_now", "now"),
    ("since_change", "change"), ("since_undated", "undated"),
)
#: Every column of the scorecard table and the ``HOW`` key that explains it (the sidecar's
#: ``table_columns``); the breakdowns are ``level_*``, ``category_*`` and ``layer_*``.
TABLE_HOW: Final[Mapping[str, str | None]] = {
    **dict(_FIXED_COLUMNS),
    **{f"level_{k}": "breakdown" for k in catalog.LEVELS},
    **{f"category_{k}": "breakdown" for k in catalog.CATEGORIES},
    **{f"layer_{k}": "breakdown" for k in catalog.INDUSTRY_LAYERS},
    **dict(_TAIL_COLUMNS),
    **{name: "since" for name, _ in _SINCE_COLUMNS},
}


def _table_row(row: Mapping[str, Any]) -> dict[str, object]:
    """One town's figures as flat columns (the nested breakdowns and ``since`` spread out)."""
    out: dict[str, object] = {name: row[name] for name, _ in _FIXED_COLUMNS}
    for prefix, key in (("level", "by_level"), ("category", "by_category"),
                        ("layer", "by_layer")):
        out.update({f"{prefix}_{k}": v for k, v in row[key].items()})
    out.update({name: row[name] for name, _ in _TAIL_COLUMNS})
    since = row.get("since")
    if since is not None:
        out.update({name: since[key] for name, key in _SINCE_COLUMNS})
    return out


@dataclass(frozen=True)
class ScorecardParams:
    """Parameters of a scorecard.

    ``radius_m``: service radius in metres for the covered share (None = each category's
    default radius, geo.settings.DEFAULT_RADIUS_M). ``grid_m``: spacing in metres of the
    sample grid for the median nearest-facility distance. ``since``: the year to compare
    with (None = no comparison).
    """

    radius_m: float | None = None
    grid_m: float = 250.0
    since: int | None = None

    def __post_init__(self) -> None:
        if self.radius_m is not None and not (math.isfinite(self.radius_m)
                                              and self.radius_m > 0):
            raise InputError(f"radius_m must be a positive number of metres, got "
                             f"{self.radius_m!r}")
        if not (math.isfinite(self.grid_m) and self.grid_m >= 10):
            raise InputError(f"grid_m must be at least 10 metres, got {self.grid_m!r}")
        if self.since is not None and not 1850 <= int(self.since) <= 2100:
            raise InputError(f"since must be a year between 1850 and 2100, got {self.since!r}")


@dataclass(frozen=True)
class ScorecardResult(AnalysisResult):
    """The scorecard of the selected towns: one row per town, the growth series and notes.

    ``to_json()`` is the analysis envelope (docs/ANALYSIS.md) plus ``towns`` (ranked),
    ``total``, ``g60``, ``growth`` and ``how`` (how each figure is computed, zh and en).
    """

    filter: Filter
    params: ScorecardParams
    towns: tuple[dict[str, Any], ...]
    total: dict[str, object]
    g60: dict[str, object]
    growth: dict[str, object]
    sources: dict[str, object]
    excluded_placeholders: tuple[str, ...]
    geometries: gpd.GeoDataFrame
    covered: gpd.GeoDataFrame
    kind: str = field(default="scorecard", init=False)

    def parameters(self) -> dict[str, object]:
        """The parameters as JSON, plus the strategy year the growth series marks."""
        return {**asdict(self.params), "strategy_year": STRATEGY_YEAR}

    def body(self) -> dict[str, object]:
        """The scorecard's own numbers (JSON-ready)."""
        columns = list(self.table().columns.drop("geometry"))
        return {"towns": [dict(t) for t in self.towns], "total": dict(self.total),
                "g60": dict(self.g60), "growth": dict(self.growth),
                "how": {k: dict(v) for k, v in HOW.items()},
                "table_columns": {c: TABLE_HOW[c] for c in columns}}

    def table(self) -> gpd.GeoDataFrame:
        """The scorecard as a table: one row per town in rank order, every figure a column
        (``TABLE_HOW`` names the ``how`` entry of each), the town polygon as geometry
        (EPSG:4549). The numbers are the rows of ``towns``, not computed again."""
        geometry = self.geometries.set_index("key").geometry
        rows = [_table_row(r) for r in self.towns]
        keys = [str(r["key"]) for r in self.towns]
        frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else None)
        for column in frame.columns:  # whole numbers stay whole where some rows are blank
            values = [r[column] for r in rows if r.get(column) is not None]
            if values and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                              for v in values):
                frame[column] = pd.Series([r.get(column) for r in rows], dtype="Int64")
        return gpd.GeoDataFrame(frame, geometry=[geometry[k] for k in keys],
                                crs=self.geometries.crs)

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """``scorecard`` (:meth:`table`: each town's polygon with every figure) and
        ``coverage`` (the part of each town within reach), WGS84."""
        return {"scorecard": to_wgs84(self.table()), "coverage": to_wgs84(self.covered)}

    def row(self, key: str) -> dict[str, object]:
        """The row of one town by key."""
        for row in self.towns:
            if row["key"] == key:
                return row
        raise KeyError(key)


def grid_points(area_m: shapely.Geometry, spacing_m: float) -> np.ndarray:
    """Centres of a regular grid (cells aligned to multiples of ``spacing_m``) inside an area.

    Parameters
    ----------
    area_m : shapely geometry
        A polygon in metres (EPSG:4549).
    spacing_m : float
        Grid spacing in metres.

    Returns
    -------
    ndarray
        ``(n, 2)`` x/y in metres; a cell counts when its centre lies inside the area.
    """
    x0, y0, x1, y1 = area_m.bounds
    xs = (np.arange(math.floor(x0 / spacing_m), math.ceil(x1 / spacing_m)) + 0.5) * spacing_m
    ys = (np.arange(math.floor(y0 / spacing_m), math.ceil(y1 / spacing_m)) + 0.5) * spacing_m
    mesh_x, mesh_y = np.meshgrid(xs, ys)
    gx, gy = mesh_x.ravel(), mesh_y.ravel()
    prepared = shapely.from_wkb(shapely.to_wkb(area_m))
    shapely.prepare(prepared)
    inside = shapely.contains_xy(prepared, gx, gy)
    return np.column_stack([gx[inside], gy[inside]])


def data_revision(data_dir: Path) -> dict[str, object]:
    """The data files the scorecard reads (modification time, size, SHA-256) and one short
    revision over them all (the first 12 hex digits of a SHA-256 of their digests)."""
    sources = data_sources(data_dir, ("facilities", "towns", "corridors"))
    files = sources["files"]
    assert isinstance(files, dict)
    combined = hashlib.sha256("".join(f"{k}:{v['sha256']};" for k, v in sorted(files.items()))
                              .encode()).hexdigest()
    return {**sources, "revision": combined[:12]}


#: The facility columns the scorecard reads.
_COLUMNS: Final = ("id", "town", "membership", "placement", "parent_id", "level", "category",
                   "layers", "year")


def _nested_in_town(sites: pd.DataFrame) -> pd.Series:
    """True where a site's ``parent_id`` is another selected site of the same town.

    The vectorised form of :func:`geo.atlas.distinct_sites` applied to each town's sites
    (one pass instead of one per town): ``~nested`` counted per town is its distinct sites.
    """
    parent = sites["parent_id"].fillna("").astype(str).to_numpy()
    has_parent = parent != ""
    nested = np.zeros(len(sites), dtype=bool)
    if has_parent.any():
        town_of = dict(zip(sites["id"].astype(str), sites["town"], strict=True))
        own = sites["town"].to_numpy()
        for i in np.flatnonzero(has_parent):
            nested[i] = town_of.get(parent[i]) == own[i]
    return pd.Series(nested, index=sites.index)


def _years(facilities: pd.DataFrame) -> np.ndarray:
    return np.asarray(pd.to_numeric(facilities["year"], errors="coerce").to_numpy(dtype=float))


def _planned(towns: pd.DataFrame, key: str) -> tuple[int | None, int | None, str | None]:
    row = towns.loc[towns["key"] == key]
    if row.empty or "planned_population" not in towns.columns:
        return None, None, None
    pop = row["planned_population"].iloc[0]
    year = row["planned_population_year"].iloc[0] if "planned_population_year" in towns else None
    source = (row["planned_population_source"].iloc[0]
              if "planned_population_source" in towns else None)
    pop_value = None if pop is None or pd.isna(pop) else int(pop)
    year_value = None if year is None or pd.isna(year) else int(year)
    source_text = None if source is None or pd.isna(source) or not str(source).strip() \
        else str(source)
    return pop_value, year_value, source_text


def _count_by(values: pd.Series, keys: tuple[str, ...]) -> dict[str, int]:
    counts = values.value_counts()
    return {k: int(counts.get(k, 0)) for k in keys}


def _layer_counts(layers: pd.Series) -> dict[str, int]:
    out = dict.fromkeys(catalog.INDUSTRY_LAYERS, 0)
    for text, n in layers.value_counts().items():
        for layer in str(text).split(";"):
            if layer in out:
                out[layer] += int(n)
    return out


def _ratio(numerator: float, denominator: float | None, scale: float) -> float | None:
    if denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator * scale, 4)


def run_scorecard(atlas: Atlas, flt: Filter, params: ScorecardParams | None = None
                  ) -> ScorecardResult:
    """The scorecard of the towns the filter names (all five when it names none).

    Parameters
    ----------
    atlas, flt
        The data and the shared filter (its ``as_of`` sets "now"; undated facilities are
        then counted as not shown).
    params : ScorecardParams
        Radius (metres) for the covered share, grid spacing (metres) for the nearest
        distance, and the ``since`` year.

    Returns
    -------
    ScorecardResult
        Counts, areas in km², densities per 10 km², distances in metres (EPSG:4549), shares
        0..1, ranked by facilities inside the boundary (then by density).
    """
    params = params or ScorecardParams()
    return _cached(atlas, flt, params)


def clear_cache() -> None:
    """Forget the cached scorecards (benchmarks time the computation, not the cache)."""
    _cached.cache_clear()


@functools.lru_cache(maxsize=16)
def _cached(atlas: Atlas, flt: Filter, params: ScorecardParams) -> ScorecardResult:
    facilities = atlas.facilities
    keys = [k for k in catalog.TOWNS if not flt.towns or k in flt.towns]
    # Only the columns the figures read: each per-town slice then copies a few, not all.
    selected = facilities.loc[flt.mask(facilities), list(_COLUMNS)]
    sites, excluded = analysable(selected)
    # Positions, not labels: a boolean mask over the metric copy, and only the columns the
    # coverage engine reads (category radii) and the G60 share needs (town).
    site_mask = pd.Series(False, index=facilities.index)
    site_mask[sites.index] = True
    sites_m = atlas.facilities_m.loc[site_mask.to_numpy(), ["category", "town", "geometry"]]
    towns_m = atlas.towns_m.loc[atlas.towns_m["key"].isin(keys)]
    undated = pd.Series(flt.undated_mask(facilities), index=facilities.index)

    coverage = coverage_report(sites_m, towns_m, radius_m=params.radius_m)
    covered = dict(zip(towns_m["key"], coverage.towns["covered_share"], strict=True))
    covered_parts = gpd.GeoDataFrame({"key": towns_m["key"].to_numpy()},
                                     geometry=coverage.covered.to_numpy(), crs=towns_m.crs)
    tree = cKDTree(np.column_stack([sites_m.geometry.x.to_numpy(), sites_m.geometry.y.to_numpy()])
                   ) if len(sites_m) else None

    since_counts: dict[str, int] = {}
    if params.since is not None:
        then_selected = replace(flt, as_of=params.since).select(facilities)
        since_counts = {str(k): int(v) for k, v in
                        then_selected["town"].value_counts().items()}
    # "now" of the change since a year: the dated facilities only (like with like); the
    # undated ones of the selection (without ``as_of``) are reported apart, never as new.
    dated = pd.Series(~np.isnan(_years(selected)), index=selected.index)
    any_year = replace(flt, as_of=None).select(facilities)
    undated_towns = any_year.loc[np.isnan(_years(any_year)), "town"]

    nested = _nested_in_town(sites)
    rows: list[dict[str, Any]] = []
    geoms = []
    for key in keys:
        town = selected.loc[selected["town"] == key]
        members = _count_by(town["membership"], tuple(catalog.MEMBERSHIPS))
        inside = members["inside"]
        geom = towns_m.loc[towns_m["key"] == key].geometry.iloc[0]
        geoms.append(geom)
        area_km2 = float(geom.area) / 1e6
        town_sites, _ = analysable(town)
        pop, pop_year, pop_source = _planned(atlas.towns, key)
        grid = grid_points(geom, params.grid_m)
        median = None
        if tree is not None and len(grid):
            distance, _ = tree.query(grid, k=1)
            median = round(float(np.median(distance)), 1)
        share = covered.get(key)
        g60_share = None
        if key == G60_TOWN:
            g60_share = _g60(atlas, sites_m.loc[(sites_m["town"] == key).to_numpy()])["share"]
        row: dict[str, Any] = {
            "key": key,
            "name_zh": catalog.TOWNS[key].zh,
            "name_en": catalog.TOWNS[key].en,
            "inside": inside,
            "associated": members["associated"],
            "placeholder": members["placeholder"],
            "total": len(town),
            "distinct_sites": int((~nested[town_sites.index]).sum()),
            "by_level": _count_by(town["level"], tuple(catalog.LEVELS)),
            "by_category": _count_by(town["category"], tuple(catalog.CATEGORIES)),
            "by_layer": _layer_counts(town["layers"]),
            "area_km2": round(area_km2, 3),
            "density_inside_per_10km2": _ratio(inside, area_km2, 10.0),
            "planned_population": pop,
            "planned_population_year": pop_year,
            "planned_population_source": pop_source,
            "per_100k_planned": _ratio(len(town), pop, 1e5),
            "covered_share": None if share is None or not math.isfinite(share)
            else round(float(share), 6),
            "median_nearest_m": median,
            "grid_points": len(grid),
            "g60_share": g60_share,
            "undated_not_shown": int(undated[facilities["town"] == key].sum()),
        }
        if params.since is not None:
            then_total = int(since_counts.get(key, 0))
            now_dated = int(dated[town.index].sum())
            row["since"] = {"year": params.since, "then": then_total, "now": now_dated,
                            "change": now_dated - then_total,
                            "undated": int((undated_towns == key).sum())}
        rows.append(row)

    def merit(i: int) -> tuple[int, float]:
        return (-int(rows[i]["inside"]), -float(rows[i]["density_inside_per_10km2"] or 0.0))

    order = sorted(range(len(rows)), key=lambda i: (*merit(i), i))
    # competition ranking: tied towns share a rank (five empty towns are all first, not 1..5)
    for i in order:
        rows[i]["rank"] = 1 + sum(merit(j) < merit(i) for j in order)
    ranked = tuple(rows[i] for i in order)

    total_area = float(sum(float(r["area_km2"]) for r in rows))
    total_inside = sum(int(r["inside"]) for r in rows)
    total: dict[str, object] = {
        k: sum(int(r[k]) for r in rows)
        for k in ("inside", "associated", "placeholder", "total", "distinct_sites",
                  "undated_not_shown")
    }
    total["area_km2"] = round(total_area, 3)
    total["density_inside_per_10km2"] = _ratio(total_inside, total_area, 10.0)

    g60: dict[str, object] = _g60(atlas, sites_m.loc[(sites_m["town"] == G60_TOWN).to_numpy()]) \
        if G60_TOWN in keys else {
        "town": G60_TOWN, "platforms": None, "in_band": None, "share": None}
    growth = _growth(facilities, flt, keys)
    frame = gpd.GeoDataFrame(
        pd.DataFrame([{k: r[k] for k in ("key", "name_zh", "name_en", "inside", "associated",
                                         "placeholder", "total", "area_km2",
                                         "density_inside_per_10km2", "covered_share",
                                         "median_nearest_m")} for r in rows]),
        geometry=geoms, crs=towns_m.crs)
    return ScorecardResult(flt, params, ranked, total, g60, growth,
                           data_revision(atlas.data_dir), excluded, frame, covered_parts)


def _g60(atlas: Atlas, points_m: gpd.GeoDataFrame) -> dict[str, object]:
    """Songjiang's selected sites inside the schematic G60 band."""
    band = atlas.corridors.loc[atlas.corridors["key"] == G60_KEY]
    if band.empty:
        return {"town": G60_TOWN, "platforms": len(points_m), "in_band": None, "share": None}
    band_m = shapely.union_all(band.to_crs(METRIC_CRS).geometry.to_numpy())
    hits = int(shapely.contains_xy(band_m, points_m.geometry.x.to_numpy(),
                                   points_m.geometry.y.to_numpy()).sum()) if len(points_m) else 0
    return {"town": G60_TOWN, "platforms": len(points_m), "in_band": hits,
            "share": round(hits / len(points_m), 6) if len(points_m) else None}


def _growth(facilities: pd.DataFrame, flt: Filter, keys: list[str]) -> dict[str, object]:
    """Cumulative count by year per town (undated apart), ending at ``as_of`` if set."""
    chosen = replace(flt, as_of=None).select(facilities)
    years = _years(chosen)
    dated = ~np.isnan(years)
    end = flt.as_of
    if dated.any():
        first = int(years[dated].min())
        last = int(years[dated].max()) if end is None else end
        span = list(range(min(first, last), max(last, STRATEGY_YEAR if end is None else last)
                          + 1))
    else:
        span = []
    towns: dict[str, object] = {}
    town = chosen["town"].to_numpy()
    for key in keys:
        mine = town == key
        mine_years = np.sort(years[mine & dated])
        cumulative = np.searchsorted(mine_years, np.asarray(span, dtype=float), side="right")
        towns[key] = {"cumulative": [int(v) for v in cumulative],
                      "undated": int((mine & ~dated).sum())}
    return {"years": span, "strategy_year": STRATEGY_YEAR, "towns": towns}
