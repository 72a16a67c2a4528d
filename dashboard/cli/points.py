"""`newtown analysis points`: a large point file counted per town and grid cell on Dask."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dashboard.cli._common import (
    UsageError,
    add_data_option,
    add_filter_arguments,
    add_placeholder_option,
    add_radius_options,
    aligned_rows,
    filter_from_args,
    load,
    print_json,
    radius_from_args,
    report_errors,
)
from geo.analysis.points import PointsParams, PointsResult, run_points
from geo.crs import DATUMS
from geo.parallel import DEFAULT_CELL_M, OUTSIDE, dask_client, write_points
from geo.settings import DEFAULT_RADIUS_M

__all__ = ["add_points_command", "cmd_points", "format_points"]

_OUTPUT_FORMATS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".zip": "shp",
                   ".csv": "csv", ".kml": "kml"}


def add_points_command(sub: Any) -> None:
    """Register ``points`` on a subparsers object (``newtown analysis points``)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "points",
        help="count a large point file (1e7+ rows) per new town and grid cell, on Dask",
        description=(
            "Reads a point file in partitions on Dask workers (a LocalCluster on this machine by "
            "default, or the cluster at --scheduler) and counts its points per new town, per "
            "square grid cell in EPSG:4549 metres and, with --coverage, within reach of the "
            "facilities the filter selects (radius per category, or --radius-m). Only counts "
            "come back from the workers. The filter options select facilities, not points."),
    )
    p.add_argument("input", type=Path, metavar="FILE",
                   help="points: CSV or Parquet with lon/lat columns, or GeoParquet, "
                        "GeoPackage, GeoJSON, Shapefile, FlatGeobuf of points; with a remote "
                        "--scheduler, a path its workers can read")
    add_data_option(p)
    p.add_argument("--lon-column", metavar="NAME",
                   help="longitude column (default: lon, lng, longitude, x or 经度)")
    p.add_argument("--lat-column", metavar="NAME",
                   help="latitude column (default: lat, latitude, y or 纬度)")
    p.add_argument("--datum", choices=DATUMS, default="wgs84",
                   help="datum of the lon/lat columns: gcj02 for AMap/Tencent, bd09 for Baidu "
                        "(converted to WGS84 before anything is counted)")
    p.add_argument("--cell-m", type=float, default=DEFAULT_CELL_M, metavar="M",
                   help=f"grid cell size in metres (default {DEFAULT_CELL_M:g})")
    p.add_argument("--coverage", action="store_true",
                   help="also count points within reach of the selected facilities (implied "
                        "by --radius-m and --life-circle); radius by category otherwise: "
                        + ", ".join(f"{k} {v:g} m" for k, v in DEFAULT_RADIUS_M.items()))
    add_radius_options(p)
    add_filter_arguments(p)
    add_placeholder_option(p)
    p.add_argument("--scheduler", default="local", metavar="ADDRESS",
                   help="'local' (default): a LocalCluster of worker processes here; 'threads': "
                        "Dask's threaded scheduler, no cluster; or a running scheduler's "
                        "address, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="seconds to wait for a remote --scheduler to answer (default 10)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of the local cluster (default: one per core)")
    p.add_argument("--skip-invalid", action="store_true",
                   help="count and list rows with unusable coordinates instead of stopping")
    p.add_argument("-o", "--output", type=Path, metavar="PATH",
                   help="write the grid cells as .geojson, .csv or .kml, or the grid cells "
                        "and the towns with their counts as .gpkg or .zip (Shapefile); with a "
                        ".meta.json sidecar")
    p.add_argument("--points-out", type=Path, metavar="DIR",
                   help="also write every usable point with its town (and its row in FILE) as "
                        "a GeoParquet dataset: a new folder, one file per partition")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.set_defaults(func=cmd_points)


def cmd_points(args: argparse.Namespace) -> int:
    """Run ``newtown analysis points``; 0 on success, 2 with a message on bad input."""
    return report_errors(_points, args)


def _points(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.points_out is not None and args.points_out.exists():
        raise UsageError(f"{args.points_out} exists: --points-out writes a new folder")
    if args.workers is not None and args.scheduler != "local":
        raise UsageError("--workers sizes the local cluster; a remote --scheduler has its own")
    fmt = None
    if args.output is not None:
        fmt = _OUTPUT_FORMATS.get(args.output.suffix.lower())
        if fmt is None:
            raise UsageError(f"cannot tell the format of {args.output.name}: use "
                             + ", ".join(_OUTPUT_FORMATS))
    flt = filter_from_args(args)
    atlas = load(args)
    radius_m = radius_from_args(args)
    params = PointsParams(args.input, cell_m=args.cell_m, coverage=args.coverage,
                          radius_m=radius_m, life_circle=getattr(args, "life_circle", None),
                          lon_column=args.lon_column, lat_column=args.lat_column,
                          datum=args.datum, skip_invalid=args.skip_invalid,
                          include_placeholders=args.include_placeholders)
    with dask_client(args.scheduler, workers=args.workers, timeout_s=args.timeout) as scheduler:
        result = run_points(atlas, flt, params, scheduler=scheduler)
        points_out = (write_points(result.source, atlas.towns, args.points_out,
                                   summary=result.summary)
                      if args.points_out is not None else None)
    doc = result.to_json()
    if points_out is not None:
        doc["points_out"] = str(points_out)
    if args.output is not None and fmt is not None:
        doc["output"] = str(_write(result, args.output, fmt))
    if args.json:
        print_json(doc)
    else:
        print(format_points(doc, lang=args.lang))
    return 0


def _write(result: PointsResult, path: Path, fmt: str) -> Path:
    from geo.export import export

    layers = result.layers()
    if fmt not in ("gpkg", "shp"):  # several layers in one file: the towns with their counts too
        del layers["towns"]
    written = export(layers, path, fmt=fmt,  # type: ignore[arg-type]
                     metadata=result.metadata())
    for message in written.messages:
        print(f"note: {message}", file=sys.stderr)
    return written.output


def format_points(doc: dict[str, Any], *, lang: str = "zh") -> str:
    """Readable summary: one row per town, then what could not be used."""
    zh = lang == "zh"
    covering = doc.get("coverage") is not None
    head = ["新城" if zh else "town", "点数" if zh else "points"]
    if covering:
        head += ["覆盖" if zh else "covered", "覆盖率" if zh else "share"]
    rows = []
    for key, row in doc["by_town"].items():
        name = (("新城以外" if zh else "outside the new towns") if key == OUTSIDE
                else str(row["name_zh"] if zh else row["name_en"]))
        line = [name, f"{row['points']:,}"]
        if covering:
            line += [f"{row['covered']:,}", f"{row['covered_share']:.1%}"]
        rows.append(line)
    parts = "个分区" if zh else ("partition" if doc["partitions"] == 1 else "partitions")
    lines = [f"{doc['source']}: {doc['rows']:,} " + ("行" if zh else "rows")
             + f", {doc['partitions']} {parts}, {doc['scheduler']}, {doc['seconds']:.2f} s"]
    if covering:
        cov = doc["coverage"]
        radius = cov["radius_m"]
        lines.append(("覆盖: " if zh else "coverage: ") + f"{cov['facilities']} "
                     + ("个设施, 半径 " if zh else "facilities, radius ")
                     + (f"{radius:g} m" if isinstance(radius, float) else
                        ("按类别" if zh else "by category")))
    lines += aligned_rows(head, rows)
    grid = doc["grid"]
    lines.append(("网格: " if zh else "grid: ") + f"{grid['cells']:,} "
                 + ("个非空单元, " if zh else "non-empty cells of ")
                 + f"{grid['cell_m']:g} m ({grid['crs_of_cells']})")
    if doc["outside_shanghai_extent"]:
        lines.append(("上海范围以外: " if zh else "outside Shanghai's extent: ")
                     + f"{doc['outside_shanghai_extent']:,}")
    if doc["invalid"]:
        lines.append(("坐标不可用的行: " if zh else "rows with unusable coordinates: ")
                     + f"{doc['invalid']:,}")
        lines += [f"  - {p}" for p in doc["problems"][:20]]
    lines += [("注意: " if zh else "note: ") + w for w in doc["warnings"]]
    if doc.get("points_out"):
        lines.append(("已写入各点及其新城 " if zh else "wrote the points with their towns to ")
                     + str(doc["points_out"]))
    if doc.get("output"):
        lines.append(("已写入 " if zh else "wrote ") + str(doc["output"]))
    return "\n".join(lines)
