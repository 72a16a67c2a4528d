"""The `newtown clusters` and `newtown hotspots` subcommands: density clusters and Gi* hotspots."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from dashboard.cli._common import (
    add_data_option,
    add_filter_arguments,
    add_placeholder_option,
    filter_from_args,
    load,
    pad,
    placeholder_line,
    print_json,
    report_errors,
    spaced_table,
)
from geo import catalog
from geo.analysis.clusters import (
    DEFAULT_EPS_M,
    DEFAULT_MIN_CLUSTER_SIZE,
    DEFAULT_MIN_SAMPLES,
    ClusterParams,
    ClusterResult,
    area_text,
    run_clusters,
)
from geo.analysis.hotspots import HotspotParams, HotspotResult, run_hotspots
from geo.clustering import (
    HOTSPOT_CLASSES,
    parse_cell,
)
from geo.export import export
from geo.settings import HOTSPOT_CELL, HOTSPOT_PERMUTATIONS, HOTSPOT_SEED


def add_cluster_commands(sub: Any) -> None:
    """Register ``clusters`` and ``hotspots`` on the subparsers object of ``newtown``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "clusters",
        help="find where the selected facilities concentrate (DBSCAN/HDBSCAN, in metres)",
        description=(
            "Cluster the selected facilities in EPSG:4549 metres with DBSCAN (radius --eps-m, "
            "--min-samples facilities within it, the facility itself included) or HDBSCAN "
            "(--min-cluster-size). Prints one row per cluster (size, distinct points, area of "
            "its hull, or '—' with the reason when the members stand on one point or one line, "
            "towns, dominant industry layers), the noise, and Clark-Evans dispersion per town."
        ),
    )
    _add_shared_options(p)
    p.add_argument("--method", choices=("dbscan", "hdbscan"), default="dbscan")
    p.add_argument("--eps-m", type=float, default=DEFAULT_EPS_M, metavar="M",
                   help=f"DBSCAN neighbourhood radius in metres (default {DEFAULT_EPS_M:g})")
    p.add_argument("--min-samples", type=int, default=None, metavar="N",
                   help=f"DBSCAN: facilities within --eps-m to form a core (default "
                        f"{DEFAULT_MIN_SAMPLES}); HDBSCAN: smoothing (default: the cluster size)")
    p.add_argument("--min-cluster-size", type=int, default=DEFAULT_MIN_CLUSTER_SIZE, metavar="N",
                   help=f"HDBSCAN smallest cluster (default {DEFAULT_MIN_CLUSTER_SIZE})")
    p.add_argument("--hull", choices=("convex", "concave"), default="convex")
    p.add_argument("--ratio", type=float, default=0.3,
                   help="concave hull ratio, 0..1 (1 = convex; default 0.3)")
    p.set_defaults(func=cmd_clusters)

    p = sub.add_parser(
        "hotspots",
        help="Getis-Ord Gi* hot and cold spots of the selected facilities",
        description=(
            "Count the selected facilities per H3 hexagon or square grid cell over the "
            "selected towns (all five by default; the --within area if given), then test each "
            "cell's neighbourhood with Getis-Ord Gi* (esda), permutation p-values and a "
            "Benjamini-Hochberg false-discovery-rate correction. Cells are classed hot/cold at "
            "90/95/99%%."
        ),
    )
    _add_shared_options(p)
    p.add_argument("--cell", default=HOTSPOT_CELL, metavar="SPEC",
                   help="h3:RES (hexagons, e.g. h3:8 ≈ 0.7 km²) or grid:METRES (squares, "
                        f"e.g. grid:1000); default {HOTSPOT_CELL}")
    p.add_argument("--permutations", type=int, default=HOTSPOT_PERMUTATIONS, metavar="N",
                   help=f"default {HOTSPOT_PERMUTATIONS}")
    p.add_argument("--seed", type=int, default=HOTSPOT_SEED, help=f"default {HOTSPOT_SEED}")
    p.add_argument("--correction", choices=("fdr", "none"), default="fdr",
                   help="multiple-testing correction of the p-values (default fdr)")
    p.add_argument("--inference", choices=("permutation", "normal"), default="permutation",
                   help="p-values from permutations (default; a lone dense cell is not "
                        "significant, only a dense patch of cells) or from Gi*'s normal z "
                        "(as ArcGIS does; also flags lone dense cells, but assumes normality "
                        "that sparse counts lack)")
    p.set_defaults(func=cmd_hotspots)


def _add_shared_options(p: argparse.ArgumentParser) -> None:
    add_data_option(p)
    add_filter_arguments(p)
    add_placeholder_option(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="PATH.geojson",
                   help="also write the result as RFC 7946 GeoJSON (WGS84), with a "
                        ".meta.json sidecar")


# -- running -------------------------------------------------------------------------------------


def cmd_clusters(args: argparse.Namespace) -> int:
    """Run ``newtown clusters``; 0 on success, 2 with a message on bad input."""
    return report_errors(_clusters, args)


def cmd_hotspots(args: argparse.Namespace) -> int:
    """Run ``newtown hotspots``; 0 on success, 2 with a message on bad input."""
    return report_errors(_hotspots, args)


def _clusters(args: argparse.Namespace) -> int:
    flt = filter_from_args(args)
    atlas = load(args)
    params = ClusterParams(method=args.method, eps_m=args.eps_m, min_samples=args.min_samples,
                           min_cluster_size=args.min_cluster_size, hull=args.hull,
                           ratio=args.ratio, include_placeholders=args.include_placeholders)
    result = run_clusters(atlas, flt, params)
    return _report(args, result, "clusters", "cluster polygons",
                   format_clusters(result, lang=args.lang))


def _names(keys: str, vocabulary: Any, lang: str) -> list[str]:
    return [vocabulary[k].label(lang) if k in vocabulary else k for k in keys.split(";") if k]


def _describe(params: dict[str, object], lang: str) -> str:
    if params["method"] == "dbscan":
        return (f"DBSCAN（eps {params['eps_m']:g} 米，min_samples {params['min_samples']}）"
                if lang == "zh" else
                f"DBSCAN (eps {params['eps_m']:g} m, min_samples {params['min_samples']})")
    ms = params["min_samples"] if params["min_samples"] is not None else "="
    return (f"HDBSCAN（min_cluster_size {params['min_cluster_size']}，min_samples {ms}）"
            if lang == "zh" else
            f"HDBSCAN (min_cluster_size {params['min_cluster_size']}, min_samples {ms})")


def format_clusters(result: ClusterResult, *, lang: str) -> str:
    """The readable report: clusters table, noise and Clark-Evans per town."""
    zh = lang == "zh"
    points, labels, hulls = result.points_m, result.labels, result.hulls
    dispersion, params, flt = result.dispersion, result.parameters(), result.filter
    noise = labels.index[labels < 0]
    lines = []
    if not flt.is_empty():
        lines.append(f"filter: {flt.to_query_string()}")
    lines.append(
        f"{_describe(params, lang)}：{len(points)} 个设施，{len(hulls)} 个聚类，"
        f"{len(noise)} 个噪声点（EPSG:4549 米）" if zh else
        f"{_describe(params, lang)}: {len(points)} facilities, {len(hulls)} clusters, "
        f"{len(noise)} noise (EPSG:4549 metres)")
    if len(hulls):
        header = (["#", "设施", "点位", "面积 km²", "形状", "新城", "主导产业"] if zh else
                  ["#", "size", "points", "area km²", "shape", "towns", "dominant industries"])
        shape_names = {"convex": ("凸包", "convex"), "concave": ("凹包", "concave"),
                       "line_buffer": ("线缓冲", "line buffer"),
                       "point_buffer": ("点缓冲", "point buffer")}
        rows = [[str(cid), str(row["size"]), str(row["locations"]),
                 area_text(row["area_m2"], row["shape"], int(row["locations"]), lang),
                 shape_names[row["shape"]][0 if zh else 1],
                 ("、" if zh else ", ").join(_names(row["towns"], catalog.TOWNS, lang)),
                 ("、" if zh else ", ").join(_names(row["dominant_layers"], catalog.INDUSTRIES,
                                                   lang))]
                for cid, row in hulls.iterrows()]
        lines.extend(spaced_table(header, rows, right={0, 1, 2, 3}))
    if len(noise):
        shown = ", ".join(str(i) for i in noise[:12]) + (" ..." if len(noise) > 12 else "")
        lines.append(f"{'噪声' if zh else 'noise'}: {shown}")
    if len(dispersion):
        lines.append("分散度（Clark-Evans，新城边界内的设施，Donnelly 边缘校正）：" if zh else
                     "dispersion (Clark-Evans, facilities inside each town's boundary, "
                     "Donnelly edge correction):")
        for key, row in dispersion.iterrows():
            name = catalog.TOWNS[str(key)].label(lang) if key in catalog.TOWNS else str(key)
            outside = (f"（另有 {row['outside']} 个在边界外）" if zh else
                       f" (+{row['outside']} outside the boundary)") if row["outside"] else ""
            sentence = row["sentence_zh"] if zh else row["sentence_en"]
            lines.append(f"  {pad(name, 20)}n={row['n']:<3} {sentence}{outside}")
    return "\n".join(lines)


def _hotspots(args: argparse.Namespace) -> int:
    params = HotspotParams(cell=args.cell, permutations=args.permutations, seed=args.seed,
                           correction=args.correction, inference=args.inference,
                           include_placeholders=args.include_placeholders)
    parse_cell(params.cell)  # a bad spec fails before the data is loaded
    flt = filter_from_args(args)
    atlas = load(args)
    result = run_hotspots(atlas, flt, params)
    return _report(args, result, "hotspots", "cells", format_hotspots(result, lang=args.lang))


def _report(args: argparse.Namespace, result: Any, layer: str, what: str, table: str) -> int:
    """Write ``-o`` (the result's ``layer`` as GeoJSON), then print JSON or the table and notes."""
    doc = result.to_json()
    notes = list(result.notes)
    if args.output is not None:
        frame = result.layers()[layer]
        written = export({layer: frame}, args.output, fmt="geojson",
                         metadata=result.metadata())
        notes.append(f"wrote {written.output} ({len(frame)} {what}, WGS84) and "
                     f"{written.sidecar.name}")
        doc["output"] = str(written.output)
    if args.json:
        doc["notes"] = notes
        print_json(doc)
        return 0
    print(table)
    if line := placeholder_line(doc, lang=args.lang):
        notes.insert(0, line)
    for note in notes:
        print(f"note: {note}")
    return 0


def _class_order(cells: pd.DataFrame) -> pd.DataFrame:
    order = {k: i for i, k in enumerate(HOTSPOT_CLASSES)}
    return cells.assign(_o=cells["hotspot"].map(order)).sort_values(["_o", "gi_z"],
                                                                    ascending=[True, False])


def format_hotspots(result: HotspotResult, *, lang: str) -> str:
    """The readable report: cells per class, then the significant (or strongest) cells."""
    zh = lang == "zh"
    cells, params, flt, points = (result.cells, result.parameters(), result.filter,
                                  result.facilities)
    lines = []
    if not flt.is_empty():
        lines.append(f"filter: {flt.to_query_string()}")
    lines.append(
        f"Getis-Ord Gi*，{params['cell']}，{len(cells)} 个单元，{points} 个设施，"
        f"{params['permutations']} 次置换（seed {params['seed']}），校正 {params['correction']}"
        if zh else
        f"Getis-Ord Gi*, {params['cell']}, {len(cells)} cells, {points} facilities, "
        f"{params['permutations']} permutations (seed {params['seed']}), "
        f"correction {params['correction']}")
    counts = cells["hotspot"].value_counts()
    lines.append("  ".join(f"{HOTSPOT_CLASSES[k][0 if zh else 1]}: {int(counts.get(k, 0))}"
                           for k in HOTSPOT_CLASSES if counts.get(k, 0)))
    lon, lat = result.centres_wgs84()
    table = cells.assign(lon=lon, lat=lat)
    significant = table.loc[table["hotspot"] != "not_significant"]
    if len(significant):
        shown = _class_order(significant).head(30)
        title = "显著单元：" if zh else "significant cells:"
    else:
        shown = table.loc[table["gi_z"].notna()].sort_values("gi_z", ascending=False).head(5)
        title = ("没有单元在 90% 水平上显著；Gi* 最高的单元：" if zh else
                 "no cell is significant at 90% after the correction; highest Gi* cells:")
    if len(shown):
        lines.append(title)
        p_column = "p_sim" if params.get("inference", "permutation") == "permutation" else "p_norm"
        header = (["单元", "类别", "设施", "z", p_column, "q", "经度", "纬度", "新城"] if zh else
                  ["cell", "class", "count", "z", p_column, "q", "lon", "lat", "town"])
        rows = [[str(cid), HOTSPOT_CLASSES[row["hotspot"]][0 if zh else 1], str(row["count"]),
                 f"{row['gi_z']:.2f}", f"{row[p_column]:.3g}", f"{row['q']:.3g}",
                 f"{row['lon']:.5f}", f"{row['lat']:.5f}",
                 catalog.TOWNS[row["town"]].label(lang) if row["town"] else "—"]
                for cid, row in shown.iterrows()]
        lines.extend("  " + line for line in spaced_table(header, rows, right={2, 3, 4, 5, 6, 7}))
    return "\n".join(lines)
