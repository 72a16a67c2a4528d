"""What every `newtown` command shares: filter and data options, output helpers, errors."""

from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from shapely.geometry import MultiPolygon, Polygon

from geo import catalog
from geo._errors import AtlasError, DataError, InputError
from geo.atlas import Atlas, load_atlas
from geo.coverage import LIFE_CIRCLE_PRESETS_M
from geo.query import Filter

__all__ = [
    "UsageError",
    "add_data_option",
    "add_filter_arguments",
    "add_placeholder_option",
    "add_radius_options",
    "add_store_options",
    "aligned_rows",
    "display_width",
    "filter_from_args",
    "json_default",
    "load",
    "pad",
    "placeholder_line",
    "print_json",
    "radius_from_args",
    "read_within",
    "report_errors",
    "share",
    "spaced_table",
    "town_names",
]


class UsageError(InputError):
    """A problem with an option or a file named on the command line."""


# -- options ---------------------------------------------------------------------------------


def add_data_option(parser: argparse.ArgumentParser, *, with_store: bool = True) -> None:
    """``--data DIR`` or ``--store PATH|URL``: where a reading command gets its data.

    ``--store`` reads the approved state of an editable store (a GeoPackage file or a
    ``postgresql://`` URL) instead of a data folder; see :func:`load`.
    """
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--data", type=Path, default=None, metavar="DIR",
                       help="a folder laid out like data/ (default: the bundled data)")
    if with_store:
        group.add_argument("--store", default=None, metavar="PATH|URL",
                           help="read an editable store's approved state instead: a store "
                                "file (atlas.gpkg) or postgresql://USER@HOST:PORT/DB "
                                "(password from PGPASSWORD or ~/.pgpass)")


def add_store_options(parser: argparse.ArgumentParser, *, user_help: str = "the acting account",
                      user_required: bool = True, with_user: bool = True) -> None:
    """``--store PATH`` and (for commands that change data) ``--user NAME``.

    The CLI is a trusted local tool: it acts as the named account without a password (anyone
    who can run it can write the store file anyway); the store still checks that account's
    role, so an editor's change becomes a proposal as in the dashboard.
    """
    parser.add_argument("--store", required=True, metavar="PATH|URL",
                        help="the store (made by `newtown store init`): a file such as "
                             "atlas.gpkg or postgresql://USER@HOST:PORT/DB (password from "
                             "PGPASSWORD or ~/.pgpass)")
    if with_user:
        parser.add_argument("--user", required=user_required, default=None, metavar="NAME",
                            help=user_help)


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The filter options, identical for every subcommand that selects facilities."""
    group = parser.add_argument_group("filter (same meaning as in the dashboard and the URL)")
    group.add_argument("--town", action="append", default=[], metavar="T",
                       help="new town, zh or en (嘉定新城, jiading, Jiading); repeat or comma-join")
    group.add_argument("--industry", action="append", default=[], metavar="I",
                       help="industry layer or sub-industry key/name (auto, 人工智能, auto_icv)")
    group.add_argument("--category", action="append", default=[], metavar="C")
    group.add_argument("--level", action="append", default=[], metavar="L",
                       help="national, municipal, district, other, unknown")
    group.add_argument("--status", action="append", default=[], metavar="S",
                       help="operating, under_construction, registered, planned, unknown")
    group.add_argument("--membership", action="append", default=[], metavar="M",
                       help="inside (the town's boundary), associated (by a source, outside "
                            "the boundary), placeholder; repeat or comma-join")
    group.add_argument("--as-of", dest="as_of", type=int, default=None, metavar="YEAR",
                       help="facilities dated in or before YEAR (undated ones are counted "
                            "and reported, not selected)")
    group.add_argument("--search", default="", metavar="TEXT",
                       help="words that must all occur in the zh/en name, address or id")
    group.add_argument("--within", type=Path, metavar="AREA.geojson",
                       help="keep facilities inside the (single) polygon in this file")


def filter_from_args(args: argparse.Namespace) -> Filter:
    """Build the shared Filter from parsed CLI options."""
    within = None
    if args.within is not None:
        within = read_within(args.within)
    return Filter.create(towns=args.town, industries=args.industry, categories=args.category,
                         levels=args.level, statuses=args.status, text=args.search,
                         within=within, memberships=getattr(args, "membership", []),
                         as_of=getattr(args, "as_of", None))


def read_within(path: Path) -> Polygon | MultiPolygon:
    """The single polygon in ``path`` (any GDAL vector format), in WGS84."""
    import geopandas as gpd
    import shapely

    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # GDAL errors vary by driver; the file is the user's input
        raise UsageError(f"{path}: cannot read the --within area: {exc}") from exc
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    geom = shapely.union_all(gdf.geometry.to_numpy())
    if geom.geom_type != "Polygon":
        raise UsageError(f"{path}: --within needs one polygon, found {geom.geom_type}")
    return geom


def add_placeholder_option(p: argparse.ArgumentParser) -> None:
    """``--include-placeholders``: let placeholder rows into a spatial analysis on purpose."""
    p.add_argument("--include-placeholders", action="store_true",
                   help="include facilities placed on a town-centre or district point "
                        "(placeholders); by default a spatial analysis leaves them out and "
                        "lists them")


def add_radius_options(p: argparse.ArgumentParser) -> None:
    """``--radius-m`` or ``--life-circle``: how far the selected facilities reach."""
    radius = p.add_mutually_exclusive_group()
    radius.add_argument("--radius-m", type=float, metavar="M",
                        help="one service radius in metres for every selected facility")
    radius.add_argument("--life-circle", choices=tuple(LIFE_CIRCLE_PRESETS_M),
                        help="15-minute life-circle preset: "
                             + ", ".join(f"{k} = {v:g} m" for k, v in
                                         LIFE_CIRCLE_PRESETS_M.items()))


def radius_from_args(args: argparse.Namespace) -> float | None:
    """The radius in metres the options ask for; None means each category's default."""
    if getattr(args, "life_circle", None):
        return LIFE_CIRCLE_PRESETS_M[args.life_circle]
    return args.radius_m  # type: ignore[no-any-return]


def load(args: argparse.Namespace) -> Atlas:
    """The Atlas of ``--store`` (its approved state) or ``--data`` (default: the bundled data).

    A store stays open until the command's process exits: the Atlas reads its boundary
    files from the store's temporary folder.
    """
    store_url = getattr(args, "store", None)
    if store_url is None:
        return load_atlas(args.data)
    import atexit

    from geo.store import open_store

    store = open_store(store_url)
    atexit.register(store.close)
    revision, atlas = store.versioned_atlas()
    args.data_label = f"store {store.url}, revision {revision}"
    return atlas


# -- output ----------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded to ``width`` terminal columns (left-aligned, or right with ``right``)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def aligned_rows(head: list[str], rows: list[list[str]]) -> list[str]:
    """A table with two columns of air: the first column left-aligned, the others right."""
    widths = [max(display_width(c) for c in col) + 2 for col in zip(head, *rows, strict=True)]
    out = []
    for line in [head, *rows]:
        out.append(pad(line[0], widths[0]) + "".join(
            pad(c, w, right=True) for c, w in zip(line[1:], widths[1:], strict=True)))
    return out


def spaced_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                 right: set[int]) -> list[str]:
    """A table with columns two spaces apart; the columns in ``right`` right-aligned."""
    widths = [max([display_width(h), *(display_width(r[i]) for r in rows)])
              for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(pad(c, w, right=i in right)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    return [line(header), *(line(r) for r in rows)]


def placeholder_line(doc: Mapping[str, object], *, lang: str) -> str | None:
    """One line naming the placeholder rows an analysis left out (None when there are none)."""
    ids = doc.get("excluded_placeholders") or []
    assert isinstance(ids, list)
    if not ids:
        return None
    shown = ", ".join(map(str, ids[:10])) + (" …" if len(ids) > 10 else "")
    if lang == "zh":
        return (f"未计入 {len(ids)} 个占位点 (位于新城或区的中心点; "
                f"用 --include-placeholders 计入): {shown}")
    return (f"{len(ids)} placeholder rows left out (placed on a town or district centre; "
            f"--include-placeholders to include them): {shown}")


def share(value: float | None) -> float | None:
    """A share rounded for JSON; None when there is none (NaN, infinite or missing)."""
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def town_names(key: str) -> dict[str, str]:
    """``name_zh`` and ``name_en`` of a town key (the key itself if it is not a town)."""
    term = catalog.TOWNS.get(key)
    return {"name_zh": term.zh, "name_en": term.en} if term else {"name_zh": key, "name_en": key}


def json_default(value: object) -> object:
    """``json.dump`` fallback for numpy scalars and read-only mappings."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(doc: object) -> None:
    """``doc`` as indented UTF-8 JSON on stdout."""
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2, default=json_default)
    print()


# -- errors ----------------------------------------------------------------------------------


def report_errors(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand; bad input or an unwritable output becomes one message and exit 2.

    Only the project's own errors (``geo._errors.AtlasError``: DataError, UnknownNameError,
    InputError and UsageError) and ``OSError`` are bad input. Anything else is a bug in
    the atlas: it propagates with its traceback (``main`` exits 1). Every subcommand goes
    through this, whether started by ``main`` or called directly.
    """
    try:
        return int(func(args))
    except BrokenPipeError:
        raise  # a reader that left (`newtown info | head`): main handles it
    except DataError as exc:
        print(f"error: data problems\n{exc}", file=sys.stderr)
        return 2
    except AtlasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output folder that cannot be written
        output = getattr(args, "output", None)
        print(f"error: cannot write {output}: {exc}" if output else f"error: {exc}",
              file=sys.stderr)
        return 2
