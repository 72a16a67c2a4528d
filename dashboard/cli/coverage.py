"""The `newtown coverage` and `newtown site` subcommands: coverage per town and siting picks."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd

from dashboard.cli._common import (
    UsageError,
    add_data_option,
    add_filter_arguments,
    add_radius_options,
    aligned_rows,
    filter_from_args,
    json_default,
    radius_from_args,
    report_errors,
    share,
    town_names,
)
from geo import catalog
from geo.atlas import Atlas, load_atlas
from geo.coverage import (
    CoverageReport,
    SitingResult,
    atlas_coverage,
    coverage_report,
    read_candidates,
    read_population,
    suggest_sites,
)
from geo.query import Filter
from geo.settings import DEFAULT_RADIUS_M, GEOGRAPHIC_CRS

__all__ = ["add_coverage_commands", "cmd_coverage", "cmd_site", "coverage_document",
           "format_coverage", "format_siting", "siting_document"]


def add_coverage_commands(sub: Any) -> None:
    """Register ``coverage`` and ``site`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "coverage",
        help="share of each new town (and district) within reach of the selected facilities",
        description=(
            "Covered area and share of each new town and district within reach of the "
            "facilities selected by the filter, measured in EPSG:4549 metres. Radius: "
            "--radius-m for all, --life-circle for a 15-minute life-circle preset, else each "
            "category's default ("
            + ", ".join(f"{k} {v:g} m" for k, v in DEFAULT_RADIUS_M.items()) + ")."
        ),
    )
    _add_shared_options(p)
    add_radius_options(p)
    p.add_argument("--network", type=Path, metavar="FILE",
                   help="road network (GraphML, or lines in GeoPackage/GeoJSON/.osm/.pbf): "
                        "network isochrones replace the discs, and the disc of the same reach "
                        "is reported alongside")
    p.add_argument("--mode", choices=("walk", "bike", "drive"), default="walk",
                   help="travel mode for --network (4.8 / 15 / 30 km/h)")
    p.add_argument("--minutes", type=float, default=15.0, help="travel time for --network")
    p.add_argument("--edge-buffer-m", type=float, default=50.0, metavar="M",
                   help="width served on each side of a reachable street (default 50)")
    p.add_argument("--gaps-out", type=Path, metavar="PATH",
                   help="write the uncovered part of each town as GeoJSON (RFC 7946, WGS84), "
                        "with a .meta.json sidecar")
    p.set_defaults(func=cmd_coverage)

    p = sub.add_parser(
        "site",
        help="suggest K new sites that add the most coverage (greedy maximal coverage)",
        description=(
            "Greedy maximal-coverage siting: each pick is the candidate site that adds the most "
            "uncovered new-town area (or people, with --population) given the selected "
            "facilities and the earlier picks. Candidates: a grid at --spacing-m inside the "
            "towns (only the towns named by --town, if any), or --candidates FILE."
        ),
    )
    _add_shared_options(p)
    add_radius_options(p)
    p.add_argument("--k", type=int, default=3, help="number of new sites (default 3)")
    new = p.add_mutually_exclusive_group()
    new.add_argument("--new-category", metavar="C",
                     help="category of the new facilities: their radius is its default "
                          "(--category is a filter option)")
    new.add_argument("--new-radius-m", type=float, metavar="M",
                     help="radius of the new facilities (default: --radius-m)")
    p.add_argument("--spacing-m", type=float, default=1000.0, metavar="M",
                   help="grid spacing of candidate sites inside the towns (default 1000)")
    p.add_argument("--candidates", type=Path, metavar="FILE",
                   help="candidate sites: points (GeoJSON/GeoPackage) or CSV with lon,lat")
    p.set_defaults(func=cmd_site)


def _add_shared_options(p: argparse.ArgumentParser) -> None:
    add_data_option(p)
    add_filter_arguments(p)
    p.add_argument("--population", type=Path, metavar="FILE",
                   help="population layer: polygons (areal interpolation) or points, with a "
                        "population column; no population data ships with the atlas")
    p.add_argument("--population-column", metavar="NAME",
                   help="name of the population column (default: population, pop, 人口, ...)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")


def _population(args: argparse.Namespace) -> gpd.GeoDataFrame | None:
    if args.population is None:
        return None
    return read_population(args.population, column=args.population_column)


# -- coverage --------------------------------------------------------------------------------


def cmd_coverage(args: argparse.Namespace) -> int:
    """Run ``newtown coverage``; 0 on success, 2 with a message on bad input."""
    return report_errors(_coverage, args)


def _coverage(args: argparse.Namespace) -> int:
    flt = filter_from_args(args)
    atlas = load_atlas(args.data)
    radius_m = radius_from_args(args)
    population = _population(args)
    selected = atlas.facilities_m.loc[flt.mask(atlas.facilities)]
    network_doc: dict[str, object] | None = None
    if args.network is not None:
        report, network_doc = _network_coverage(args, atlas, selected, population)
    elif population is None:
        report = atlas_coverage(atlas, flt, radius_m=radius_m)
    else:
        report = coverage_report(selected, atlas.towns_m, atlas.districts_m, radius_m=radius_m,
                                 population=population)
    doc = coverage_document(report, flt, network=network_doc)
    if args.gaps_out is not None:
        doc["gaps_out"] = str(_write_gaps(report, args.gaps_out, flt, doc["parameters"]))
    if args.json:
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2, default=json_default)
        print()
    else:
        print(format_coverage(doc, lang=args.lang))
    return 0


def _network_coverage(args: argparse.Namespace, atlas: Atlas, selected: gpd.GeoDataFrame,
                      population: gpd.GeoDataFrame | None
                      ) -> tuple[CoverageReport, dict[str, object]]:
    from geo.network import MAX_SNAP_M, isochrones, reach_m, read_network

    if args.radius_m is not None or getattr(args, "life_circle", None):
        raise UsageError("--network measures reach as --mode and --minutes; "
                         "leave out --radius-m/--life-circle")
    network = read_network(args.network, mode=args.mode)
    reach = reach_m(args.mode, args.minutes)
    areas = isochrones(selected, network, mode=args.mode, minutes=args.minutes,
                       edge_buffer_m=args.edge_buffer_m)
    report = coverage_report(areas, atlas.towns_m, atlas.districts_m, population=population)
    # Like for like: discs of the same reach around the facilities the network serves.
    discs = coverage_report(selected.loc[areas["on_network"].to_numpy()], atlas.towns_m, None,
                            radius_m=reach, population=population)
    by_town = {
        str(key): {
            "network_covered_m2": float(net),
            "disc_covered_m2": float(disc),
            "difference_m2": float(net - disc),
            "network_vs_disc": float(net / disc) if disc > 0 else None,
        }
        for key, net, disc in zip(report.towns["key"], report.towns["covered_m2"],
                                  discs.towns["covered_m2"], strict=True)
    }
    doc: dict[str, object] = {
        "file": str(args.network),
        "mode": args.mode,
        "minutes": args.minutes,
        "reach_m": reach,
        "edge_buffer_m": args.edge_buffer_m,
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


def coverage_document(report: CoverageReport, flt: Filter,
                      *, network: Mapping[str, object] | None = None) -> dict[str, Any]:
    """The numbers ``newtown coverage`` prints, as a JSON-ready dict."""
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
        people, hit = float(towns["population"].sum()), float(towns["covered_population"].sum())
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
    params = dict(report.parameters)
    doc: dict[str, Any] = {
        "filter": flt.to_params(),
        "facilities": report.facilities,
        "distinct_sites": report.distinct_sites,
        "parameters": params,
        "towns": rows,
        "total": total,
        "districts": districts,
    }
    if network is not None:
        doc["network"] = dict(network)
    return doc


def _write_gaps(report: CoverageReport, path: Path, flt: Filter,
                parameters: Mapping[str, object]) -> Path:
    from geo.export import export

    gaps = report.gaps.copy()
    gaps["name_zh"] = [town_names(str(k))["name_zh"] for k in gaps["key"]]
    gaps["name_en"] = [town_names(str(k))["name_en"] for k in gaps["key"]]
    gaps = gaps.reset_index(drop=True).to_crs(GEOGRAPHIC_CRS)
    result = export({"coverage_gaps": gaps}, path, fmt="geojson",
                    metadata={"filter": flt.to_params(),
                              "analysis": {"kind": "coverage gaps", **parameters}})
    return result.output


# -- tables ----------------------------------------------------------------------------------


def _pct(value: object) -> str:
    return "—" if value is None else f"{float(value):.1%}"  # type: ignore[arg-type]


def _km2(value: object) -> str:
    return f"{float(value) / 1e6:,.1f}"  # type: ignore[arg-type]


def _people(value: object) -> str:
    return f"{float(value):,.0f}"  # type: ignore[arg-type]


def _radius_label(params: Mapping[str, object], zh: bool) -> str:
    if params.get("radius_m") is not None:
        return f"{float(params['radius_m']):g} m"  # type: ignore[arg-type]
    if params.get("radius_by_category"):
        return "按类别默认半径" if zh else "default radius per category"
    return "—"


def format_coverage(doc: Mapping[str, Any], *, lang: str = "zh") -> str:
    """Readable tables: towns (zh and en names), the five towns together, districts."""
    zh = lang == "zh"
    lines = []
    if doc["filter"]:
        lines.append(("筛选: " if zh else "filter: ")
                     + "&".join(f"{k}={v}" for k, v in doc["filter"].items()))
    net = doc.get("network")
    if net:
        reach = (f"{net['mode']} {net['minutes']:g} min ({net['reach_m']:,.0f} m), "
                 f"network {Path(str(net['file'])).name}")
    else:
        reach = _radius_label(doc["parameters"], zh)
    lines.append(
        (f"覆盖分析: {doc['facilities']} 个设施 ({doc['distinct_sites']} 个不同位置), 服务半径 "
         f"{reach}; 面积按 EPSG:4549 计算") if zh else
        (f"coverage by {doc['facilities']} facilities ({doc['distinct_sites']} distinct sites), "
         f"reach {reach}; areas in EPSG:4549"))
    has_pop = "population" in doc["total"]
    head = (["新城 / New town", "面积 km²", "覆盖 km²", "覆盖率"] if zh else
            ["New town / 新城", "area km²", "covered km²", "share"])
    if has_pop:
        head += (["人口", "覆盖人口", "人口覆盖率"] if zh else
                 ["population", "covered", "pop. share"])
    if net:
        head += (["圆形半径覆盖 km²", "网络−圆 km²"] if zh else ["disc km²", "net−disc km²"])
    rows = []
    for item in doc["towns"]:
        name = (f"{item['name_zh']} {item['name_en']}" if zh
                else f"{item['name_en']} {item['name_zh']}")
        row = [name, _km2(item["area_m2"]), _km2(item["covered_m2"]),
               _pct(item["covered_share"])]
        if has_pop:
            row += [_people(item["population"]), _people(item["covered_population"]),
                    _pct(item["population_share"])]
        if net:
            town = net["towns"].get(str(item["key"]), {})
            row += [_km2(town.get("disc_covered_m2", 0.0)),
                    f"{town.get('difference_m2', 0.0) / 1e6:+,.1f}"]
        rows.append(row)
    total = doc["total"]
    row = ["五个新城合计" if zh else "five new towns", _km2(total["area_m2"]),
           _km2(total["covered_m2"]), _pct(total["covered_share"])]
    if has_pop:
        row += [_people(total["population"]), _people(total["covered_population"]),
                _pct(total["population_share"])]
    if net:
        disc = sum(t["disc_covered_m2"] for t in net["towns"].values())
        netc = sum(t["network_covered_m2"] for t in net["towns"].values())
        row += [_km2(disc), f"{(netc - disc) / 1e6:+,.1f}"]
    rows.append(row)
    lines.extend(aligned_rows(head, rows))

    districts = [d for d in doc["districts"] if d["covered_m2"] > 0]
    if districts:
        lines.append("")
        lines.append("区 (陆域覆盖率仅用于边界为陆地的区)" if zh else
                     "districts (land share only where the polygon is land)")
        head = (["区 / District", "面积 km²", "覆盖 km²", "陆域覆盖率"] if zh else
                ["District / 区", "area km²", "covered km²", "land share"])
        rows = []
        coastal = False
        for d in districts:
            name = (f"{d['name_zh']} {d['name_en']}" if zh else f"{d['name_en']} {d['name_zh']}")
            land_share = _pct(d["covered_share"])
            if not d["land_area_ok"]:
                land_share, coastal = "— *", True
            rows.append([name, _km2(d["area_m2"]), _km2(d["covered_m2"]), land_share])
        lines.extend(aligned_rows(head, rows))
        if coastal:
            lines.append("* 沿海区: 行政边界含海域和滩涂, 不计算陆域覆盖率" if zh else
                         "* coastal: the polygon includes sea and tidal flats, so no land share")
    if net and net["facilities_off_network_m"]:
        off = net["facilities_off_network_m"]
        far = ", ".join(f"{k} ({v:,.0f} m)" for k, v in list(off.items())[:8])
        more = len(off) - 8
        if more > 0:
            far += f" … (+{more})"
        lines.append(
            (f"{len(off)} 个设施距路网节点超过 {net['max_snap_m']:,.0f} m (在路网范围外, "
             f"不计网络覆盖): " if zh else
             f"{len(off)} facilities are more than {net['max_snap_m']:,.0f} m from any network "
             f"node (outside the network's extent, no network coverage): ") + far)
    if doc.get("gaps_out"):
        lines.append(("空白区已写入 " if zh else "gaps written to ") + str(doc["gaps_out"]))
    return "\n".join(lines)


# -- siting ----------------------------------------------------------------------------------


def cmd_site(args: argparse.Namespace) -> int:
    """Run ``newtown site``; 0 on success, 2 with a message on bad input."""
    return report_errors(_site, args)


def _new_radius(args: argparse.Namespace, radius_m: float | None) -> tuple[float, str]:
    if args.new_radius_m is not None:
        return float(args.new_radius_m), "--new-radius-m"
    if args.new_category:
        key = catalog.CATEGORY_NAMES.resolve(args.new_category)
        if key not in DEFAULT_RADIUS_M:
            raise UsageError(f"--new-category {args.new_category}: no default radius")
        return float(DEFAULT_RADIUS_M[key]), f"category {key}"
    if radius_m is not None:
        return float(radius_m), "--radius-m"
    raise UsageError("say how far the new facilities reach: --new-category C, --new-radius-m M "
                     "or --radius-m M")


def _site(args: argparse.Namespace) -> int:
    flt = filter_from_args(args)
    atlas = load_atlas(args.data)
    radius_m = radius_from_args(args)
    new_radius, new_source = _new_radius(args, radius_m)
    population = _population(args)
    selected = atlas.facilities_m.loc[flt.mask(atlas.facilities)]
    towns_m = atlas.towns_m
    if flt.towns:
        towns_m = towns_m.loc[towns_m["key"].isin(flt.towns)]
    candidates = read_candidates(args.candidates) if args.candidates is not None else None
    result = suggest_sites(selected, towns_m, k=args.k, new_radius_m=new_radius,
                           candidates_m=candidates, spacing_m=args.spacing_m,
                           radius_m=radius_m, population=population)
    doc = siting_document(result, flt, radius_m=radius_m, new_radius_source=new_source,
                          candidate_source=(str(args.candidates) if args.candidates
                                            else f"grid {args.spacing_m:g} m"),
                          towns=list(towns_m["key"]), k=args.k)
    if args.json:
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2, default=json_default)
        print()
    else:
        print(format_siting(doc, lang=args.lang))
    return 0


def siting_document(result: SitingResult, flt: Filter, *, radius_m: float | None,
                    new_radius_source: str, candidate_source: str,
                    towns: list[str], k: int) -> dict[str, Any]:
    """The numbers ``newtown site`` prints, as a JSON-ready dict."""
    picks = result.picks
    lonlat = picks.to_crs(GEOGRAPHIC_CRS).geometry if len(picks) else gpd.GeoSeries([])
    rows = []
    for (cid, row), point in zip(picks.iterrows(), lonlat, strict=True):
        item: dict[str, object] = {
            "rank": int(row["rank"]), "candidate": str(cid), "town": row["town"],
            **town_names(str(row["town"])),
            "lon": round(point.x, 6), "lat": round(point.y, 6),
            "x_m": round(float(picks.geometry[cid].x), 1),
            "y_m": round(float(picks.geometry[cid].y), 1),
            "gain_m2": round(float(row["gain_m2"]), 1),
            "covered_m2_after": round(float(row["covered_m2_after"]), 1),
            "covered_share_after": share(row["covered_share_after"]),
        }
        if "gain_population" in picks.columns:
            item.update(gain_population=round(float(row["gain_population"]), 1),
                        covered_population_after=round(float(row["covered_population_after"]),
                                                       1))
        rows.append(item)
    doc: dict[str, Any] = {
        "filter": flt.to_params(),
        "towns": towns,
        "k": k,
        "objective": result.objective,
        "existing_radius_m": radius_m,
        "existing_radius": None if radius_m is None else f"{radius_m:g} m",
        "new_radius_m": result.new_radius_m,
        "new_radius_from": new_radius_source,
        "candidates": result.candidates,
        "candidate_source": candidate_source,
        "area_m2": round(result.area_m2, 1),
        "baseline_covered_m2": round(result.baseline_covered_m2, 1),
        "baseline_covered_share": share(result.baseline_covered_m2 / result.area_m2
                                         if result.area_m2 else math.nan),
        "picks": rows,
    }
    if result.population is not None:
        doc["population"] = round(result.population, 1)
        doc["baseline_covered_population"] = round(result.baseline_covered_population or 0.0, 1)
    return doc


def format_siting(doc: Mapping[str, Any], *, lang: str = "zh") -> str:
    zh = lang == "zh"
    lines = []
    if doc["filter"]:
        lines.append(("筛选: " if zh else "filter: ")
                     + "&".join(f"{k}={v}" for k, v in doc["filter"].items()))
    objective = {"area": ("新增覆盖面积", "newly covered area"),
                 "population": ("新增覆盖人口", "newly covered people")}[doc["objective"]]
    lines.append(
        (f"选址建议: 新设施半径 {doc['new_radius_m']:g} m ({doc['new_radius_from']}), 目标 "
         f"{objective[0]}; 候选点 {doc['candidates']} 个 ({doc['candidate_source']}); 现状覆盖 "
         f"{_km2(doc['baseline_covered_m2'])} / {_km2(doc['area_m2'])} km² "
         f"({_pct(doc['baseline_covered_share'])}), 现有设施半径 "
         f"{doc['existing_radius'] or '按类别默认'}")
        if zh else
        (f"siting: new facilities reach {doc['new_radius_m']:g} m ({doc['new_radius_from']}), "
         f"objective {objective[1]}; {doc['candidates']} candidates "
         f"({doc['candidate_source']}); covered now {_km2(doc['baseline_covered_m2'])} of "
         f"{_km2(doc['area_m2'])} km² ({_pct(doc['baseline_covered_share'])}), existing "
         f"radius {doc['existing_radius'] or 'per category'}"))
    if not doc["picks"]:
        lines.append("没有候选点能增加覆盖" if zh else "no candidate adds any coverage")
        return "\n".join(lines)
    pop = "gain_population" in doc["picks"][0]
    head = (["#", "候选点", "新城", "经度", "纬度", "新增 km²", "累计覆盖率"] if zh else
            ["#", "candidate", "town", "lon", "lat", "gain km²", "share after"])
    if pop:
        head += ["新增人口" if zh else "gain people"]
    rows = []
    for p in doc["picks"]:
        row = [str(p["rank"]), p["candidate"], p["name_zh"] if zh else p["name_en"],
               f"{p['lon']:.5f}", f"{p['lat']:.5f}", _km2(p["gain_m2"]),
               _pct(p["covered_share_after"])]
        if pop:
            row.append(_people(p["gain_population"]))
        rows.append(row)
    lines.extend(aligned_rows(head, rows))
    if len(doc["picks"]) < int(doc["k"]):
        lines.append("其余候选点不再增加覆盖" if zh else "no further candidate adds coverage")
    return "\n".join(lines)
