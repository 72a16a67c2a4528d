"""The `newtown coverage` and `newtown site` subcommands: coverage per town and siting picks."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd

from dashboard.cli._common import (
    UsageError,
    add_data_option,
    add_filter_arguments,
    add_placeholder_option,
    add_radius_options,
    aligned_rows,
    filter_from_args,
    load,
    placeholder_line,
    print_json,
    radius_from_args,
    report_errors,
)
from geo import catalog
from geo.analysis import (
    CoverageParams,
    NetworkParams,
    SitingParams,
    run_coverage,
    run_siting,
)
from geo.coverage import read_population
from geo.export import export
from geo.settings import DEFAULT_RADIUS_M

__all__ = ["add_coverage_commands", "cmd_coverage", "cmd_site", "format_coverage", "format_siting"]


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
    add_placeholder_option(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")


def _population(args: argparse.Namespace) -> gpd.GeoDataFrame | None:
    if args.population is None:
        return None
    return read_population(args.population, column=args.population_column)


def _population_source(args: argparse.Namespace) -> str | None:
    return None if args.population is None else str(args.population)


# -- coverage --------------------------------------------------------------------------------


def cmd_coverage(args: argparse.Namespace) -> int:
    """Run ``newtown coverage``; 0 on success, 2 with a message on bad input."""
    return report_errors(_coverage, args)


def _coverage(args: argparse.Namespace) -> int:
    flt = filter_from_args(args)
    atlas = load(args)
    radius_m = radius_from_args(args)
    network = None
    if args.network is not None:
        if radius_m is not None:
            raise UsageError("--network measures reach as --mode and --minutes; "
                             "leave out --radius-m/--life-circle")
        network = NetworkParams(args.network, mode=args.mode, minutes=args.minutes,
                                edge_buffer_m=args.edge_buffer_m)
    params = CoverageParams(radius_m=radius_m, network=network,
                            include_placeholders=args.include_placeholders)
    result = run_coverage(atlas, flt, params, population=_population(args),
                          population_source=_population_source(args))
    doc = result.to_json()
    if args.gaps_out is not None:
        written = export({"coverage_gaps": result.layers()["coverage_gaps"]}, args.gaps_out,
                         fmt="geojson", metadata=result.metadata())
        doc["gaps_out"] = str(written.output)
    if args.json:
        print_json(doc)
    else:
        print(format_coverage(doc, lang=args.lang))
        if note := placeholder_line(doc, lang=args.lang):
            print(note)
    return 0


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
        (f"覆盖分析: {doc['facilities']} 个设施 ({doc['distinct_locations']} 个不同位置), 服务半径 "
         f"{reach}; 面积按 EPSG:4549 计算") if zh else
        (f"coverage by {doc['facilities']} facilities "
         f"({doc['distinct_locations']} distinct locations), "
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
    atlas = load(args)
    radius_m = radius_from_args(args)
    new_radius, new_source = _new_radius(args, radius_m)
    params = SitingParams(k=args.k, new_radius_m=new_radius, radius_m=radius_m,
                          spacing_m=args.spacing_m, candidates=args.candidates,
                          include_placeholders=args.include_placeholders,
                          new_radius_from=new_source)
    result = run_siting(atlas, flt, params, population=_population(args),
                        population_source=_population_source(args))
    doc = result.to_json()
    if args.json:
        print_json(doc)
    else:
        print(format_siting(doc, lang=args.lang))
        if note := placeholder_line(doc, lang=args.lang):
            print(note)
    return 0


def format_siting(doc: Mapping[str, Any], *, lang: str = "zh") -> str:
    zh = lang == "zh"
    prm = doc["parameters"]
    existing = None if prm["radius_m"] is None else f"{prm['radius_m']:g} m"
    lines = []
    if doc["filter"]:
        lines.append(("筛选: " if zh else "filter: ")
                     + "&".join(f"{k}={v}" for k, v in doc["filter"].items()))
    objective = {"area": ("新增覆盖面积", "newly covered area"),
                 "population": ("新增覆盖人口", "newly covered people")}[doc["objective"]]
    lines.append(
        (f"选址建议: 新设施半径 {prm['new_radius_m']:g} m ({prm['new_radius_from']}), 目标 "
         f"{objective[0]}; 候选点 {doc['candidates']} 个 ({doc['candidate_source']}); 现状覆盖 "
         f"{_km2(doc['baseline_covered_m2'])} / {_km2(doc['area_m2'])} km² "
         f"({_pct(doc['baseline_covered_share'])}), 现有设施半径 "
         f"{existing or '按类别默认'}")
        if zh else
        (f"siting: new facilities reach {prm['new_radius_m']:g} m ({prm['new_radius_from']}), "
         f"objective {objective[1]}; {doc['candidates']} candidates "
         f"({doc['candidate_source']}); covered now {_km2(doc['baseline_covered_m2'])} of "
         f"{_km2(doc['area_m2'])} km² ({_pct(doc['baseline_covered_share'])}), existing "
         f"radius {existing or 'per category'}"))
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
    if len(doc["picks"]) < int(prm["k"]):
        lines.append("其余候选点不再增加覆盖" if zh else "no further candidate adds coverage")
    return "\n".join(lines)
