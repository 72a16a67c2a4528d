"""The `newtown clusters` and `newtown hotspots` subcommands: density clusters and Gi* hotspots."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dashboard.cli._common import (
    add_data_option,
    add_filter_arguments,
    filter_from_args,
    pad,
    report_errors,
    spaced_table,
)
from geo import catalog
from geo.atlas import Atlas, load_atlas
from geo.clustering import (
    HOTSPOT_CLASSES,
    clark_evans_by_town,
    cluster_hulls,
    dbscan_labels,
    hdbscan_labels,
    hotspots,
    parse_cell,
)
from geo.export import export
from geo.query import Filter
from geo.settings import GEOGRAPHIC_CRS

DEFAULT_EPS_M = 800.0
DEFAULT_MIN_SAMPLES = 3
DEFAULT_MIN_CLUSTER_SIZE = 5


def add_cluster_commands(sub: Any) -> None:
    """Register ``clusters`` and ``hotspots`` on the subparsers object of ``newtown``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "clusters",
        help="find where the selected facilities concentrate (DBSCAN/HDBSCAN, in metres)",
        description=(
            "Cluster the selected facilities in EPSG:4549 metres with DBSCAN (radius --eps-m, "
            "--min-samples facilities within it, the facility itself included) or HDBSCAN "
            "(--min-cluster-size). Prints one row per cluster (size, area of its hull, towns, "
            "dominant industry layers), the noise, and Clark-Evans dispersion per town."
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
    p.add_argument("--cell", default="h3:8", metavar="SPEC",
                   help="h3:RES (hexagons, e.g. h3:8 ≈ 0.7 km²) or grid:METRES (squares, "
                        "e.g. grid:1000); default h3:8")
    p.add_argument("--permutations", type=int, default=999, metavar="N")
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="PATH.geojson",
                   help="also write the result as RFC 7946 GeoJSON (WGS84), with a "
                        ".meta.json sidecar")


# -- running -------------------------------------------------------------------------------------


def _selection(atlas: Atlas, flt: Filter) -> gpd.GeoDataFrame:
    """The selected facilities in metres (the filter reads the WGS84 frame)."""
    selected = flt.select(atlas.facilities)
    return atlas.facilities_m.loc[selected.index]


def _study_towns(atlas: Atlas, flt: Filter) -> gpd.GeoDataFrame:
    towns = atlas.towns_m
    return towns.loc[towns["key"].isin(flt.towns)] if flt.towns else towns


def cmd_clusters(args: argparse.Namespace) -> int:
    """Run ``newtown clusters``; 0 on success, 2 with a message on bad input."""
    return report_errors(_clusters, args)


def cmd_hotspots(args: argparse.Namespace) -> int:
    """Run ``newtown hotspots``; 0 on success, 2 with a message on bad input."""
    return report_errors(_hotspots, args)


def cluster_parameters(args: argparse.Namespace) -> dict[str, object]:
    """The parameters actually used, as recorded in the JSON and the GeoJSON sidecar."""
    if args.method == "dbscan":
        return {"method": "dbscan", "eps_m": args.eps_m,
                "min_samples": args.min_samples or DEFAULT_MIN_SAMPLES,
                "hull": args.hull, "crs": "EPSG:4549"}
    return {"method": "hdbscan", "min_cluster_size": args.min_cluster_size,
            "min_samples": args.min_samples, "hull": args.hull, "crs": "EPSG:4549"}


def _clusters(args: argparse.Namespace) -> int:
    flt = filter_from_args(args)
    atlas = load_atlas(args.data)
    points = _selection(atlas, flt)
    params = cluster_parameters(args)
    if args.method == "dbscan":
        labels = dbscan_labels(points, eps_m=args.eps_m,
                               min_samples=args.min_samples or DEFAULT_MIN_SAMPLES)
    else:
        labels = hdbscan_labels(points, min_cluster_size=args.min_cluster_size,
                                min_samples=args.min_samples)
    hulls = cluster_hulls(points, labels, towns_m=atlas.towns_m, hull=args.hull,
                          ratio=args.ratio)
    if args.hull == "concave":
        params["ratio"] = args.ratio
    dispersion = clark_evans_by_town(points, _study_towns(atlas, flt))
    notes = _precision_notes(points, args)
    wgs84 = hulls_for_export(hulls, labels)

    if args.output is not None:
        result = export({"clusters": wgs84}, args.output, fmt="geojson",
                        metadata={"filter": flt.to_params(), "analysis": params})
        notes.append(f"wrote {result.output} ({len(wgs84)} cluster polygons, WGS84) and "
                     f"{result.sidecar.name}")
    if args.json:
        doc = clusters_document(points, labels, wgs84, dispersion, params=params,
                                flt=flt, notes=notes)
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(format_clusters(points, labels, hulls, dispersion, params=params, flt=flt,
                          lang=args.lang))
    for note in notes:
        print(f"note: {note}")
    return 0


def _precision_notes(points: gpd.GeoDataFrame, args: argparse.Namespace) -> list[str]:
    """Say so when DBSCAN's radius is finer than the coordinates it clusters."""
    if args.method != "dbscan" or "coord_precision_m" not in points.columns or not len(points):
        return []
    precision = float(pd.to_numeric(points["coord_precision_m"], errors="coerce").median())
    if math.isfinite(precision) and args.eps_m < precision:
        return [f"--eps-m {args.eps_m:g} is finer than the median coordinate precision of "
                f"these facilities ({precision:g} m): clusters at that scale may reflect how "
                "sites were placed rather than where they are; try --eps-m 3000"]
    return []


def hulls_for_export(hulls: gpd.GeoDataFrame, labels: pd.Series) -> gpd.GeoDataFrame:
    """Cluster polygons in WGS84 with their cluster id and member ids as columns."""
    members = labels[labels >= 0].groupby(labels[labels >= 0]).groups
    out = hulls.reset_index().assign(
        members=[";".join(str(i) for i in members.get(c, [])) for c in hulls.index])
    return out.to_crs(GEOGRAPHIC_CRS)


# -- output ----------------------------------------------------------------------------------------


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


def format_clusters(points: gpd.GeoDataFrame, labels: pd.Series, hulls: gpd.GeoDataFrame,
                    dispersion: pd.DataFrame, *, params: dict[str, object], flt: Filter,
                    lang: str) -> str:
    """The readable report: clusters table, noise and Clark-Evans per town."""
    zh = lang == "zh"
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
        header = (["#", "设施", "面积 km²", "形状", "新城", "主导产业"] if zh else
                  ["#", "size", "area km²", "shape", "towns", "dominant industries"])
        shape_names = {"convex": ("凸包", "convex"), "concave": ("凹包", "concave"),
                       "line_buffer": ("线缓冲", "line buffer"),
                       "point_buffer": ("点缓冲", "point buffer")}
        rows = [[str(cid), str(row["size"]), f"{row['area_m2'] / 1e6:.2f}",
                 shape_names[row["shape"]][0 if zh else 1],
                 ("、" if zh else ", ").join(_names(row["towns"], catalog.TOWNS, lang)),
                 ("、" if zh else ", ").join(_names(row["dominant_layers"], catalog.INDUSTRIES,
                                                   lang))]
                for cid, row in hulls.iterrows()]
        lines.extend(spaced_table(header, rows, right={0, 1, 2}))
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


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def clusters_document(points: gpd.GeoDataFrame, labels: pd.Series, wgs84: gpd.GeoDataFrame,
                      dispersion: pd.DataFrame, *, params: dict[str, object], flt: Filter,
                      notes: list[str]) -> dict[str, object]:
    """The ``--json`` answer: parameters, clusters with names in both languages, labels."""
    clusters = []
    lon, lat = _centres_wgs84(wgs84.to_crs(points.crs))
    for (_, row), x, y in zip(wgs84.iterrows(), lon, lat, strict=True):
        clusters.append({
            "cluster": int(row["cluster"]), "size": int(row["size"]),
            "locations": int(row["locations"]), "shape": row["shape"],
            "area_m2": float(row["area_m2"]),
            "towns": [{"key": k, "name_zh": catalog.TOWNS[k].zh, "name_en": catalog.TOWNS[k].en}
                      for k in row["towns"].split(";") if k in catalog.TOWNS],
            "towns_touched": [k for k in row["towns_touched"].split(";") if k],
            "layers": [{"key": k, "count": int(n), "name_zh": catalog.INDUSTRIES[k].zh,
                        "name_en": catalog.INDUSTRIES[k].en}
                       for k, n in (item.split(":") for item in row["layer_counts"].split(";")
                                    if item) if k in catalog.INDUSTRIES],
            "dominant_layers": [k for k in row["dominant_layers"].split(";") if k],
            "centroid": [round(float(x), 6), round(float(y), 6)],
            "bounds": [round(v, 6) for v in row.geometry.bounds],
            "members": row["members"].split(";") if row["members"] else [],
        })
    return {
        "parameters": params,
        "filter": flt.to_params(),
        "facilities": len(points),
        "noise": int((labels < 0).sum()),
        "clusters": clusters,
        "labels": {str(k): int(v) for k, v in labels.items()},
        "clark_evans": {
            str(key): {"n": int(row["n"]), "outside": int(row["outside"]),
                       "R": _finite(row["R"]), "z": _finite(row["z"]), "p": _finite(row["p"]),
                       "pattern": row["pattern"], "sentence_en": row["sentence_en"],
                       "sentence_zh": row["sentence_zh"]}
            for key, row in dispersion.iterrows()
        },
        "notes": notes,
    }


def _hotspots(args: argparse.Namespace) -> int:
    parse_cell(args.cell)  # a bad spec fails before the data is loaded
    flt = filter_from_args(args)
    atlas = load_atlas(args.data)
    points = _selection(atlas, flt)
    towns = _study_towns(atlas, flt)
    study: Any = towns
    if flt.within is not None:
        study = gpd.GeoSeries([flt.within], crs=GEOGRAPHIC_CRS).to_crs(atlas.towns_m.crs)
    cells = hotspots(points, cell=args.cell, study_area=study, permutations=args.permutations,
                     seed=args.seed, correction=args.correction, inference=args.inference)
    cells = cells.assign(town=_cell_towns(cells, atlas.towns_m))
    params = {"cell": args.cell, "permutations": args.permutations, "seed": args.seed,
              "correction": args.correction, "inference": args.inference,
              "statistic": "Getis-Ord Gi* (esda.G_Local, star=True, binary contiguity)",
              "crs": "EPSG:4549"}
    notes: list[str] = []
    if len(points) == 0:
        notes.append("no facility matches the filter: every cell is empty, nothing to test")
    elif (cells["hotspot"] == "not_significant").all() and args.inference == "permutation":
        floor = 1 / (args.permutations + 1)
        notes.append(
            f"nothing is significant: with {args.permutations} permutations no p-value is below "
            f"{floor:.4f}, and across {len(cells)} cells the FDR correction needs several cells "
            "that low; a concentration inside one cell is not a hot spot under permutation. "
            "Try coarser cells, --permutations 9999, or --inference normal")
    wgs84 = cells.reset_index().to_crs(GEOGRAPHIC_CRS)
    if args.output is not None:
        result = export({"hotspots": wgs84}, args.output, fmt="geojson",
                        metadata={"filter": flt.to_params(), "analysis": params})
        notes.append(f"wrote {result.output} ({len(wgs84)} cells, WGS84) and "
                     f"{result.sidecar.name}")
    if args.json:
        doc = hotspots_document(cells, params=params, flt=flt, points=len(points),
                                notes=notes)
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(format_hotspots(cells, params=params, flt=flt, points=len(points),
                          lang=args.lang))
    for note in notes:
        print(f"note: {note}")
    return 0


def _cell_towns(cells: gpd.GeoDataFrame, towns_m: gpd.GeoDataFrame) -> list[str]:
    """The town whose polygon holds each cell's centre ('' outside every town)."""
    centres = shapely.centroid(cells.geometry.to_numpy())
    x, y = shapely.get_x(centres), shapely.get_y(centres)
    out = np.full(len(cells), "", dtype=object)
    for key, geom in zip(towns_m["key"], towns_m.geometry, strict=True):
        out[shapely.contains_xy(geom, x, y) & (out == "")] = key
    return list(out)


def _centres_wgs84(cells: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (taken in metres, then projected) as WGS84 lon and lat arrays."""
    centres = gpd.GeoSeries(shapely.centroid(cells.geometry.to_numpy()),
                            crs=cells.crs).to_crs(GEOGRAPHIC_CRS)
    return shapely.get_x(centres.to_numpy()), shapely.get_y(centres.to_numpy())


def _class_order(cells: pd.DataFrame) -> pd.DataFrame:
    order = {k: i for i, k in enumerate(HOTSPOT_CLASSES)}
    return cells.assign(_o=cells["hotspot"].map(order)).sort_values(["_o", "gi_z"],
                                                                    ascending=[True, False])


def format_hotspots(cells: gpd.GeoDataFrame, *,
                    params: dict[str, object], flt: Filter, points: int, lang: str) -> str:
    """The readable report: cells per class, then the significant (or strongest) cells."""
    zh = lang == "zh"
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
    lon, lat = _centres_wgs84(cells)
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


def hotspots_document(cells: gpd.GeoDataFrame, *,
                      params: dict[str, object], flt: Filter, points: int,
                      notes: list[str]) -> dict[str, object]:
    """The ``--json`` answer: parameters, counts per class and every non-empty or significant
    cell (the GeoJSON output has them all)."""
    keep = (cells["count"] > 0) | (cells["hotspot"] != "not_significant")
    lon, lat = _centres_wgs84(cells)
    rows = []
    for (cid, row), x, y in zip(cells.iterrows(), lon, lat, strict=True):
        if not keep[cid]:
            continue
        rows.append({"cell": str(cid), "count": int(row["count"]), "gi_z": _finite(row["gi_z"]),
                     "p_sim": _finite(row["p_sim"]), "p_norm": _finite(row["p_norm"]),
                     "q": _finite(row["q"]),
                     "hotspot": row["hotspot"], "town": row["town"] or None,
                     "centre": [round(float(x), 6), round(float(y), 6)]})
    counts = cells["hotspot"].value_counts()
    return {
        "parameters": params,
        "filter": flt.to_params(),
        "facilities": points,
        "cells": len(cells),
        "classes": {k: int(counts.get(k, 0)) for k in HOTSPOT_CLASSES},
        "class_names": {k: {"zh": zh, "en": en} for k, (zh, en) in HOTSPOT_CLASSES.items()},
        "cells_listed": rows,
        "notes": notes,
    }
