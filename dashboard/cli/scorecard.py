"""The `newtown scorecard` subcommand: the five towns side by side, ranked, or as JSON."""

from __future__ import annotations

import argparse
from typing import Any

from dashboard.cli._common import (
    UsageError,
    add_data_option,
    add_filter_arguments,
    aligned_rows,
    filter_from_args,
    load,
    print_json,
    report_errors,
)
from geo.analysis.scorecard import ScorecardParams, ScorecardResult, run_scorecard
from geo.brief.text import fmt_count, fmt_m, fmt_ratio, fmt_share, label

__all__ = ["add_scorecard_command", "cmd_scorecard", "format_scorecard", "params_from_args"]


def add_scorecard_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``scorecard`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "scorecard", help="the town scorecard: counts inside/associated/placeholder, density, "
                          "reach, growth; the five towns ranked")
    add_data_option(p)
    add_filter_arguments(p)
    add_scorecard_options(p)
    p.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.set_defaults(func=cmd_scorecard)
    return p


def add_scorecard_options(p: argparse.ArgumentParser) -> None:
    """``--since``, ``--radius-m`` and ``--grid-m``: the scorecard's parameters."""
    p.add_argument("--since", type=int, default=None, metavar="YEAR",
                   help="compare with the facilities dated in or before YEAR")
    p.add_argument("--radius-m", type=float, default=None, metavar="M",
                   help="service radius in metres for the covered share (default: each "
                        "category's default radius)")
    p.add_argument("--grid-m", type=float, default=250.0, metavar="M",
                   help="sample grid spacing in metres for the median nearest distance "
                        "(default 250)")


def params_from_args(args: argparse.Namespace) -> ScorecardParams:
    """The ScorecardParams the options ask for (``--since`` no later than ``--as-of``)."""
    as_of = getattr(args, "as_of", None)
    if args.since is not None and as_of is not None and args.since > as_of:
        # the "change since" would compare a later year with an earlier one
        raise UsageError(f"--since {args.since} is after --as-of {as_of}: compare with a year "
                         f"in or before {as_of}")
    return ScorecardParams(radius_m=args.radius_m, grid_m=args.grid_m, since=args.since)


def cmd_scorecard(args: argparse.Namespace) -> int:
    """Run ``newtown scorecard``; 0 on success, 2 with a message on bad input."""
    return report_errors(_scorecard, args)


def _scorecard(args: argparse.Namespace) -> int:
    atlas = load(args)
    result = run_scorecard(atlas, filter_from_args(args), params_from_args(args))
    if args.json:
        print_json(result.to_json())
    else:
        print("\n".join(format_scorecard(result, args.lang)))
    return 0


def format_scorecard(result: ScorecardResult, lang: str) -> list[str]:
    """The ranked comparison table and the notes, as terminal lines."""
    head = [label("town", lang), "#", label("inside", lang), label("associated", lang),
            label("placeholder", lang), label("total", lang), label("distinct_sites", lang),
            label("density", lang), label("per_100k", lang), label("covered_share", lang),
            label("median_nearest", lang)]
    rows = []
    for r in result.towns:
        rows.append([str(r["name_zh"] if lang == "zh" else r["name_en"]), fmt_count(r["rank"]),
                     fmt_count(r["inside"]), fmt_count(r["associated"]),
                     fmt_count(r["placeholder"]), fmt_count(r["total"]),
                     fmt_count(r["distinct_sites"]), fmt_ratio(r["density_inside_per_10km2"]),
                     fmt_ratio(r["per_100k_planned"]), fmt_share(r["covered_share"]),
                     fmt_m(r["median_nearest_m"])])
    lines = aligned_rows(head, rows)
    lines.append("")
    lines.append(f"{label('g60_share', lang)}: {fmt_share(result.g60['share'])} "
                 f"({result.g60['in_band']}/{result.g60['platforms']})")
    since = [r for r in result.towns if "since" in r]
    for r in since:
        s = r["since"]
        assert isinstance(s, dict)
        name = r["name_zh"] if lang == "zh" else r["name_en"]
        lines.append(f"{label('since', lang, year=s['year'])} · {name}: {s['then']} → "
                     f"{s['now']} ({s['change']:+d}; {label('since_undated', lang)}"
                     f" {s['undated']})")
    if result.excluded_placeholders:
        lines.append(label("excluded", lang, ids=", ".join(result.excluded_placeholders)))
    lines.append(f"{label('revision', lang)}: {result.sources['revision']}")
    return lines
