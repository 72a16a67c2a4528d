"""Coverage analysis: the share of each town and district within reach of the facilities."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import geopandas as gpd

from geo._errors import InputError
from geo.analysis.common import (
    AnalysisResult,
    data_sources,
    select,
    share,
    to_wgs84,
    town_names,
)
from geo.coverage import QUAD_SEGS, CoverageReport, coverage_report
from geo.crs import to_metric

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = ["CoverageParams", "CoverageResult", "NetworkParams", "run_coverage"]


@dataclass(frozen=True)
class NetworkParams:
    """Network isochrones instead of discs: a road file, a mode and a travel time."""

    file: Path
    mode: Literal["walk", "bike", "drive"] = "walk"
    minutes: float = 15.0
    edge_buffer_m: float = 50.0


@dataclass(frozen=True)
class CoverageParams:
    """Parameters of a coverage run.

    ``radius_m``: one service radius (metres) for every facility; None = each category's
    default (geo.settings.DEFAULT_RADIUS_M). ``network``: measure reach along roads instead.
    """

    radius_m: float | None = None
    include_placeholders: bool = False
    quad_segs: int = QUAD_SEGS
    network: NetworkParams | None = None


@dataclass(frozen=True)
class CoverageResult(AnalysisResult):
    """Coverage per town and district, gap polygons and covered parts (one engine run)."""

    filter: Filter
    params: CoverageParams
    report: CoverageReport
    sources: dict[str, object]
    excluded_placeholders: tuple[str, ...]
    uploaded_facilities: int = 0
    network: dict[str, object] | None = None
    kind: str = field(default="coverage", init=False)

    def parameters(self) -> dict[str, object]:
        out = super().parameters()
        out.update({k: v for k, v in self.report.parameters.items() if k not in out})
        return out

    def body(self) -> dict[str, object]:
        report = self.report
        towns = report.towns
        has_pop = "population" in towns.columns
        rows = []
        for idx, row in towns.iterrows():
            item: dict[str, object] = {
                "key": row.get("key"), **town_names(str(row.get("key"))),
                "area_m2": round(float(row["area_m2"]), 1),
                "covered_m2": round(float(row["covered_m2"]), 1),
                "covered_share": share(row["covered_share"]),
                "gap_m2": round(float(report.gaps.loc[idx, "gap_m2"]), 1),
            }
            if has_pop:
                item.update(population=round(float(row["population"]), 1),
                            covered_population=round(float(row["covered_population"]), 1),
                            population_share=share(row["population_share"]))
            rows.append(item)
        area, covered = float(towns["area_m2"].sum()), float(towns["covered_m2"].sum())
        total: dict[str, object] = {"area_m2": round(area, 1), "covered_m2": round(covered, 1),
                                    "covered_share": share(covered / area if area else math.nan)}
        if has_pop:
            people = float(towns["population"].sum())
            hit = float(towns["covered_population"].sum())
            total.update(population=round(people, 1), covered_population=round(hit, 1),
                         population_share=share(hit / people if people else math.nan))
        districts = []
        if report.districts is not None:
            for _, row in report.districts.iterrows():
                districts.append({
                    "code": row.get("code"), "name_zh": row.get("name_zh"),
                    "name_en": row.get("name_en"),
                    "land_area_ok": bool(row["land_area_ok"]),
                    "area_m2": round(float(row["area_m2"]), 1),
                    "covered_m2": round(float(row["covered_m2"]), 1),
                    "covered_share": share(row["covered_share"]),
                    "note": row["note"] or None,
                })
        doc: dict[str, object] = {
            "facilities": report.facilities,
            "uploaded_facilities": self.uploaded_facilities,
            "distinct_locations": report.distinct_locations,
            "towns": rows,
            "total": total,
            "districts": districts,
        }
        if self.network is not None:
            doc["network"] = self.network
        return doc

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """``coverage`` (each town's covered part, with its numbers) and ``coverage_gaps``."""
        report = self.report
        keep = [c for c in ("key", "name_zh", "name_en", "area_m2", "covered_m2",
                            "covered_share") if c in report.towns.columns]
        covered = gpd.GeoDataFrame(report.towns[keep].reset_index(drop=True),
                                   geometry=report.covered.to_numpy(), crs=report.covered.crs)
        gaps = report.gaps.reset_index(drop=True)
        if "key" in gaps.columns:
            gaps = gaps.assign(name_zh=[town_names(str(k))["name_zh"] for k in gaps["key"]],
                               name_en=[town_names(str(k))["name_en"] for k in gaps["key"]])
        return {"coverage": to_wgs84(covered), "coverage_gaps": to_wgs84(gaps)}


def run_coverage(
    atlas: Atlas,
    flt: Filter,
    params: CoverageParams | None = None,
    *,
    population: gpd.GeoDataFrame | None = None,
    population_source: str | None = None,
    uploaded: gpd.GeoDataFrame | None = None,
) -> CoverageResult:
    """Coverage of the atlas's towns and districts by the facilities the filter selects.

    Parameters
    ----------
    atlas, flt
        The data and the shared filter. Placeholders are left out unless
        ``params.include_placeholders``; their ids are listed in the result.
    params : CoverageParams
        Radius in metres (or per category), network reach, polygon resolution.
    population : GeoDataFrame, optional
        Polygons or points with a ``population`` column, any CRS (projected to EPSG:4549):
        adds covered people per town.
    population_source : str, optional
        Where the population came from (a path, or ``uploaded``), for the sources.
    uploaded : GeoDataFrame, optional
        The user's own facilities (WGS84), filtered like the bundled ones and added.

    Returns
    -------
    CoverageResult
        Areas in m² and shares 0..1 per town and district, measured in EPSG:4549.
    """
    params = params or CoverageParams()
    if population is None and uploaded is None and params.network is None:
        return _cached(atlas, flt, params)
    return _run(atlas, flt, params, population, population_source, uploaded)


@functools.lru_cache(maxsize=32)
def _cached(atlas: Atlas, flt: Filter, params: CoverageParams) -> CoverageResult:
    return _run(atlas, flt, params, None, None, None)


def _run(atlas: Atlas, flt: Filter, params: CoverageParams,
         population: gpd.GeoDataFrame | None, population_source: str | None,
         uploaded: gpd.GeoDataFrame | None) -> CoverageResult:
    chosen = select(atlas, flt, include_placeholders=params.include_placeholders,
                    uploaded=uploaded)
    pop_m = to_metric(population) if population is not None else None
    sources = data_sources(atlas.data_dir, ("facilities", "towns", "districts"))
    if population is not None:
        sources["population"] = population_source or "supplied"
    network_doc: dict[str, object] | None = None
    if params.network is not None:
        if params.radius_m is not None:
            raise InputError("network coverage measures reach by mode and minutes; "
                             "leave out radius_m")
        report, network_doc = _network_report(atlas, chosen.points_m, params.network, pop_m)
        sources["network"] = str(params.network.file)
    else:
        report = coverage_report(chosen.points_m, atlas.towns_m, atlas.districts_m,
                                 radius_m=params.radius_m, population=pop_m,
                                 quad_segs=params.quad_segs)
    return CoverageResult(flt, params, report, sources, chosen.excluded_placeholders,
                          chosen.uploaded, network_doc)


def _network_report(atlas: Atlas, selected: gpd.GeoDataFrame, net: NetworkParams,
                    population: gpd.GeoDataFrame | None
                    ) -> tuple[CoverageReport, dict[str, object]]:
    from geo.network import MAX_SNAP_M, isochrones, reach_m, read_network

    network = read_network(net.file, mode=net.mode)
    reach = reach_m(net.mode, net.minutes)
    areas = isochrones(selected, network, mode=net.mode, minutes=net.minutes,
                       edge_buffer_m=net.edge_buffer_m)
    report = coverage_report(areas, atlas.towns_m, atlas.districts_m, population=population)
    # Like for like: discs of the same reach around the facilities the network serves.
    discs = coverage_report(selected.loc[areas["on_network"].to_numpy()], atlas.towns_m, None,
                            radius_m=reach, population=population)
    by_town = {
        str(key): {
            "network_covered_m2": float(net_m2),
            "disc_covered_m2": float(disc),
            "difference_m2": float(net_m2 - disc),
            "network_vs_disc": float(net_m2 / disc) if disc > 0 else None,
        }
        for key, net_m2, disc in zip(report.towns["key"], report.towns["covered_m2"],
                                     discs.towns["covered_m2"], strict=True)
    }
    doc: dict[str, object] = {
        "file": str(net.file),
        "mode": net.mode,
        "minutes": net.minutes,
        "reach_m": reach,
        "edge_buffer_m": net.edge_buffer_m,
        "directed": network.directed,
        "nodes": network.graph.number_of_nodes(),
        "street_m": network.length_m,
        "max_snap_m": MAX_SNAP_M,
        "facilities_off_network_m": {  # outside the network's extent: no service area
            str(i): float(s) for i, s, on in zip(areas.index, areas["snap_m"],
                                                 areas["on_network"], strict=True) if not on},
        "towns": by_town,
    }
    return report, doc
