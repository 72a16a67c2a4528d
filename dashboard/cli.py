"""The `newtown` command: check, info, serve (and, as they land, export and analyses)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from geo import catalog
from geo._errors import DataError, UnknownNameError
from geo.atlas import Atlas, counts_by_town_and_layer, load_atlas
from geo.query import Filter


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The filter options, identical for every subcommand that selects facilities."""
    group = parser.add_argument_group("filter (same meaning as in the dashboard and the URL)")
    group.add_argument("--town", action="append", default=[], metavar="T",
                       help="new town, zh or en (嘉定新城, jiading, Jiading); repeat or comma-join")
    group.add_argument("--industry", action="append", default=[], metavar="I",
                       help="industry layer or sub-industry key/name (auto, 人工智能, auto_icv)")
    group.add_argument("--category", action="append", default=[], metavar="C")
    group.add_argument("--level", action="append", default=[], metavar="L",
                       help="national, municipal, district, other")
    group.add_argument("--status", action="append", default=[], metavar="S",
                       help="operating, under_construction, registered, planned")
    group.add_argument("--search", default="", metavar="TEXT",
                       help="words that must all occur in the zh/en name, address or id")
    group.add_argument("--within", type=Path, metavar="AREA.geojson",
                       help="keep facilities inside the (single) polygon in this file")


def filter_from_args(args: argparse.Namespace) -> Filter:
    """Build the shared Filter from parsed CLI options."""
    within = None
    if args.within is not None:
        within = _read_within(args.within)
    return Filter.create(towns=args.town, industries=args.industry, categories=args.category,
                         levels=args.level, statuses=args.status, text=args.search,
                         within=within)


def _read_within(path: Path):  # type: ignore[no-untyped-def]
    import geopandas as gpd
    import shapely

    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # GDAL errors vary by driver
        raise UsageError(f"{path}: cannot read the --within area: {exc}") from exc
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    geom = shapely.union_all(gdf.geometry.to_numpy())
    if geom.geom_type != "Polygon":
        raise UsageError(f"{path}: --within needs one polygon, found {geom.geom_type}")
    return geom


class UsageError(ValueError):
    """A problem with a file named on the command line."""


def _load(args: argparse.Namespace) -> Atlas:
    return load_atlas(args.data)


def cmd_check(args: argparse.Namespace) -> int:
    atlas = _load(args)
    fac = atlas.facilities
    print(f"data: {atlas.data_dir}")
    print(f"ok: {len(atlas.districts)} districts, {len(atlas.towns)} towns, "
          f"{len(atlas.corridors)} corridor(s), {len(atlas.zones)} zone(s), "
          f"{len(fac)} facilities: all valid")
    print("towns (area measured in EPSG:4549 vs official):")
    for key, name, official, area, quality in zip(
        atlas.towns["key"], atlas.towns["name_zh"], atlas.towns["official_area_km2"],
        atlas.towns_m.geometry.area / 1e6, atlas.towns["boundary_quality"], strict=True,
    ):
        print(f"  {key:<10} {name}  {area:7.1f} km² (official {float(official):.1f}, "
              f"{(area / float(official) - 1):+.1%}), boundary {quality}")
    outside = fac.loc[~fac["in_town"]]
    print(f"facilities outside their town's boundary: {len(outside)} of {len(fac)} "
          "(kept: the source associates them with the town)")
    for fid, name, town, district in zip(outside["id"], outside["name_zh"], outside["town"],
                                         outside["district"], strict=True):
        print(f"  {fid}  {name}  (town {town}, in {district})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    atlas = _load(args)
    flt = filter_from_args(args)
    selected = flt.select(atlas.facilities)
    table = counts_by_town_and_layer(selected)
    lang = args.lang
    if args.json:
        doc = {
            "filter": flt.to_params(),
            "total": len(selected),
            "towns": {
                town: {
                    "name_zh": catalog.TOWNS[town].zh,
                    "name_en": catalog.TOWNS[town].en,
                    "total": int(table.at[town, "total"]),
                    "layers": {layer: int(table.at[town, layer])
                               for layer in catalog.INDUSTRY_LAYERS if table.at[town, layer]},
                }
                for town in table.index
            },
            "layers": {k: {"name_zh": catalog.INDUSTRIES[k].zh, "name_en": catalog.INDUSTRIES[k].en,
                           "colour": catalog.INDUSTRIES[k].colour}
                       for k in catalog.INDUSTRY_LAYERS},
        }
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not flt.is_empty():
        print(f"filter: {flt.to_query_string()}")
    print(_format_table(table, lang=lang))
    return 0


def display_width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded to ``width`` terminal columns (left-aligned, or right with ``right``)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def _format_table(table: pd.DataFrame, *, lang: str) -> str:
    """Industry layers as rows, towns as columns (only layers with any facility)."""
    towns = list(table.index)
    heads = [catalog.TOWNS[k].label(lang).replace("新城", "").replace(" New Town", "")
             for k in towns] + [("合计" if lang == "zh" else "total")]
    layers = [c for c in catalog.INDUSTRY_LAYERS if table[c].sum() > 0]
    names = [catalog.INDUSTRIES[c].label(lang) for c in layers]
    first = max([display_width(n) for n in names] + [8]) + 2
    col = max(display_width(h) for h in heads) + 2
    lines = [pad("", first) + "".join(pad(h, col, right=True) for h in heads)]
    for layer, name in zip(layers, names, strict=True):
        cells = [str(int(table.at[k, layer])) for k in towns]
        cells.append(str(int(table[layer].sum())))
        lines.append(pad(name, first) + "".join(pad(c, col, right=True) for c in cells))
    totals = [str(int(table.at[k, "total"])) for k in towns] + [str(int(table["total"].sum()))]
    label = "设施数" if lang == "zh" else "facilities"
    lines.append(pad(label, first) + "".join(pad(c, col, right=True) for c in totals))
    note = ("（一个设施可属多个产业图层，故各图层之和可大于设施数）" if lang == "zh"
            else "(a facility counts in each of its layers, so layers can add up to more "
                 "than the number of facilities)")
    lines.append(note)
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace) -> int:
    from dashboard.app import create_app

    atlas = _load(args)
    app = create_app(atlas)
    url = f"http://{args.host}:{args.port}/"
    print(f"New Town Atlas serving {len(atlas.facilities)} facilities from {atlas.data_dir}")
    if args.debug:
        print(f"open {url}  (Dash development server with debugging; Ctrl+C to stop)",
              flush=True)
        app.run(host=args.host, port=args.port, debug=True, use_reloader=False)
        return 0
    import waitress

    print(f"open {url}  (waitress, {args.workers} worker threads; Ctrl+C to stop)", flush=True)
    waitress.serve(app.server, host=args.host, port=args.port, threads=args.workers,
                   ident="newtown")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newtown",
        description="New Town Atlas (新城图谱): Shanghai's Five New Towns, mapped and analysed.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def data_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", type=Path, default=None, metavar="DIR",
                       help="a folder laid out like data/ (default: the bundled data)")

    p = sub.add_parser("check", help="validate the data and report problems")
    data_option(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("info", help="count facilities per town x industry layer")
    data_option(p)
    add_filter_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.set_defaults(func=cmd_info)

    from dashboard.cli_export import add_export_command

    add_export_command(sub)

    from dashboard.cli_analysis import add_coverage_commands
    from dashboard.cli_clusters import add_cluster_commands
    from dashboard.cli_geocode import add_geocode_command

    add_cluster_commands(sub)
    add_coverage_commands(sub)

    from dashboard.cli_points import add_points_command

    p = sub.add_parser(
        "analysis", help="every analysis under one name: coverage, site, clusters, hotspots, "
                         "points (the first four are also commands of their own)")
    analyses = p.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    add_coverage_commands(analyses)
    add_cluster_commands(analyses)
    add_points_command(analyses)

    add_geocode_command(sub)

    p = sub.add_parser("serve", help="run the dashboard")
    data_option(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--workers", type=int, default=8, metavar="N",
                   help="worker threads of the production server (waitress); default 8")
    p.add_argument("--debug", action="store_true",
                   help="use Dash's development server with its debugging tools instead")
    p.set_defaults(func=cmd_serve)
    return parser


def report_errors(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand; bad input or an unwritable output becomes one message and exit 2.

    Every subcommand goes through this, whether started by ``main`` or called directly.
    """
    try:
        return int(func(args))
    except BrokenPipeError:
        raise  # a reader that left (`newtown info | head`): main handles it
    except DataError as exc:
        print(f"error: data problems\n{exc}", file=sys.stderr)
        return 2
    except (UnknownNameError, UsageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output folder that cannot be written
        output = getattr(args, "output", None)
        print(f"error: cannot write {output}: {exc}" if output else f"error: {exc}",
              file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return report_errors(args.func, args)
    except BrokenPipeError:  # `newtown info | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
