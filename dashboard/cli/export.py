"""The `newtown export` subcommand: write the filtered selection to GIS files or a map."""

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
    filter_from_args,
    load,
    report_errors,
)
from geo.analysis import ClusterParams, CoverageParams, SitingParams, data_sources
from geo.analysis.layers import ANALYSIS_LAYERS as ANALYSIS_LAYER_KINDS
from geo.analysis.layers import AnalysisParams, analysis_metadata, run_for_layers
from geo.analysis.scorecard import ScorecardParams
from geo.atlas import Atlas
from geo.crs import DATUMS
from geo.export import ALL_FORMATS, MAP_FORMATS, export
from geo.settings import CLUSTER_EPS_M, CLUSTER_MIN_SAMPLES, FIXED_RADIUS_M

#: Layers the command can write, in the order they are written.
LAYERS: tuple[str, ...] = ("facilities", "towns", "districts", "corridors", "corridor_lines",
                           "zones", "parks", "coverage", "coverage_gaps", "suggested_sites",
                           "clusters", "scorecard")
#: Analysis layers, computed on the filtered facilities with the --radius-m / --k / --eps-m
#: / --min-samples options (the same engines as `newtown coverage`, `site` and `clusters`).
ANALYSIS_LAYERS: tuple[str, ...] = tuple(
    name for name in LAYERS if name in ANALYSIS_LAYER_KINDS)
DEFAULT_LAYERS: tuple[str, ...] = ("facilities", "towns")
#: The maps show what the dashboard shows.
MAP_DEFAULT_LAYERS: tuple[str, ...] = ("facilities", "towns", "districts", "corridors",
                                       "corridor_lines", "zones")

_FORMAT_NAMES = {"geojson": "GeoJSON (RFC 7946)", "gpkg": "GeoPackage", "shp": "zipped Shapefile",
                 "csv": "CSV (UTF-8 with BOM)", "kml": "KML",
                 "html": "standalone HTML map, opens offline", "png": "print PNG map"}


def add_export_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``export`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="write the selected facilities and layers to GIS files",
        description=(
            "Write the facilities selected by the filter, plus whole town/district/corridor/"
            "zone layers, to a file QGIS or ArcGIS opens as is, with a <output>.meta.json "
            "sidecar describing the filter, sources, CRS, counts and export time."
        ),
    )
    add_data_option(p)
    p.add_argument("--format", dest="fmt", required=True, choices=ALL_FORMATS,
                   help="geojson (.geojson; several layers: one FeatureCollection with a "
                        "'layer' property, or one file per layer in a .geojson.zip), gpkg, shp "
                        "(.shp.zip), csv (one layer: facilities with lon/lat, parks with WKT "
                        "geometry and a representative lon/lat, or the scorecard table), kml; "
                        "html (a "
                        "standalone map that opens with no internet) or png (a print map with "
                        "legend, scale bar and north arrow)")
    add_filter_arguments(p)
    p.add_argument("--layers", action="append", default=None, metavar="L[,L...]",
                   help=f"layers to write, comma-separated or repeated: {', '.join(LAYERS)} "
                        f"(default: {','.join(DEFAULT_LAYERS)}; facilities for csv; all but "
                        "the city outline for html/png). The filter applies to facilities; "
                        "the other layers are written whole")
    p.add_argument("--crs", choices=DATUMS, default="wgs84",
                   help="coordinates: wgs84 (default, standard GIS), or gcj02 / bd09 for AMap / "
                        "Baidu base maps; the metadata (and a GeoJSON file itself) then say so, "
                        "with a warning if the file name does not")
    p.add_argument("--lang", choices=("zh", "en"), default="zh",
                   help="html/png: language of the map's labels, legend and popups (default zh)")
    p.add_argument("--title", default=None, metavar="TEXT",
                   help="html/png: map title (default: 新城图谱 · 上海五个新城)")
    p.add_argument("--no-online-basemap", dest="online_basemap", action="store_false",
                   help="html: leave out the optional OpenStreetMap base layer, so the file "
                        "holds no external address at all (the default background is blank "
                        "either way and needs no internet)")
    analysis = p.add_argument_group("analysis layers (coverage, coverage_gaps, "
                                    "suggested_sites, clusters, scorecard)")
    analysis.add_argument("--radius-m", type=float, default=None, metavar="M",
                          help="coverage reach in metres (default: each category's "
                               "radius, as `newtown coverage` and `newtown scorecard`); "
                               f"suggested_sites: the new sites' reach (default "
                               f"{FIXED_RADIUS_M:g})")
    analysis.add_argument("--since", type=int, default=None, metavar="YEAR",
                          help="scorecard: the change since this year (as `newtown "
                               "scorecard --since`)")
    analysis.add_argument("--k", type=int, default=3, metavar="K",
                          help="suggested_sites: how many new sites (default 3)")
    analysis.add_argument("--eps-m", type=float, default=CLUSTER_EPS_M, metavar="M",
                          help=f"clusters: DBSCAN eps in metres (default {CLUSTER_EPS_M:g}, "
                               "as `newtown clusters`)")
    analysis.add_argument("--min-samples", type=int, default=CLUSTER_MIN_SAMPLES, metavar="N",
                          help=f"clusters: DBSCAN min_samples (default {CLUSTER_MIN_SAMPLES})")
    add_placeholder_option(p)
    p.add_argument("-o", "--output", type=Path, required=True, metavar="PATH",
                   help="file to write, exactly as named; without an extension, the format's "
                        "(and the datum's) is added")
    p.set_defaults(func=cmd_export)
    return p


def parse_layers(values: list[str] | None) -> tuple[str, ...]:
    """Resolve ``--layers`` values (comma-joined or repeated) to known layer names, in order."""
    if not values:
        return DEFAULT_LAYERS
    chosen: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in LAYERS:
                raise UsageError(f"--layers: unknown layer {part.strip()!r}; "
                                 f"choose from {', '.join(LAYERS)}")
            if name not in chosen:
                chosen.append(name)
    if not chosen:
        raise UsageError(f"--layers: no layer named; choose from {', '.join(LAYERS)}")
    return tuple(chosen)


def select_layers(atlas: Atlas, names: tuple[str, ...], facilities_filter: Any) -> dict[str, Any]:
    """The filtered facilities and the whole other layers, by name."""
    return {
        name: facilities_filter.select(atlas.facilities) if name == "facilities"
        else getattr(atlas, name)
        for name in names if name not in ANALYSIS_LAYERS
    }


def analysis_params(args: argparse.Namespace) -> dict[str, AnalysisParams]:
    """The analysis parameters the export options ask for, by analysis kind."""
    placeholders = bool(getattr(args, "include_placeholders", False))
    since, as_of = getattr(args, "since", None), getattr(args, "as_of", None)
    if since is not None and as_of is not None and since > as_of:
        # as `newtown scorecard`: a later compare year would read as a loss
        raise UsageError(f"--since {since} is after --as-of {as_of}: compare with a year "
                         f"in or before {as_of}")
    given = getattr(args, "radius_m", None)
    radius = None if given is None else float(given)  # None: each category's radius
    return {
        "coverage": CoverageParams(radius_m=radius, include_placeholders=placeholders),
        "siting": SitingParams(k=args.k, new_radius_m=FIXED_RADIUS_M if radius is None
                               else radius, radius_m=radius,
                               include_placeholders=placeholders,
                               new_radius_from="--radius-m" if radius is not None
                               else "geo.settings.FIXED_RADIUS_M"),
        # The same parameters as `newtown scorecard` for the same options: one computation.
        "scorecard": ScorecardParams(radius_m=given, since=getattr(args, "since", None)),
        "clusters": ClusterParams(eps_m=args.eps_m, min_samples=args.min_samples,
                                  include_placeholders=placeholders),
    }


def cmd_export(args: argparse.Namespace) -> int:
    """Run ``newtown export``; 0 on success, 2 with a message on bad input."""
    return report_errors(_export, args)


def _export(args: argparse.Namespace) -> int:
    # CSV holds points only, so its default is the facilities alone.
    if args.layers:
        names = parse_layers(args.layers)
    elif args.fmt == "csv":
        names = ("facilities",)
    else:
        names = MAP_DEFAULT_LAYERS if args.fmt in MAP_FORMATS else DEFAULT_LAYERS
    flt = filter_from_args(args)
    atlas = load(args)
    layers = select_layers(atlas, names, flt)
    computed, results = run_for_layers(atlas, flt, names, analysis_params(args))
    layers.update(computed)
    result = export(
        layers, args.output, fmt=args.fmt, datum=args.crs,
        metadata={"filter": flt.to_params(), "sources": data_sources(atlas.data_dir),
                  "analysis": analysis_metadata(results)},
        lang=args.lang, title=args.title, online_basemap=args.online_basemap,
    )
    size = result.output.stat().st_size
    print(f"wrote {result.output} ({_FORMAT_NAMES[result.fmt]}, {_human_size(size)})")
    width = max(len(name) for name in result.counts)
    for name, count in result.counts.items():
        print(f"  {name:<{width}}  {count:>7} feature{'s' if count != 1 else ''}")
    print(f"metadata: {result.sidecar}")
    for message in result.messages:
        if message not in result.warnings:
            print(f"note: {message}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
