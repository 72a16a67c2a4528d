"""The `newtown brief` subcommand: the A4 PDF brief of one town or all five."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dashboard.cli._common import (
    UsageError,
    add_data_option,
    add_filter_arguments,
    filter_from_args,
    load,
    report_errors,
)
from dashboard.cli.scorecard import add_scorecard_options, params_from_args
from geo import catalog
from geo.brief import build_brief, write_brief

__all__ = ["add_brief_command", "cmd_brief"]


def add_brief_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``brief`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "brief", help="the PDF brief (A4) of a town, or of all five plus a comparison page")
    add_data_option(p)
    add_filter_arguments(p)
    # --town is the brief's town here, not a filter: the scorecard ranks all five towns.
    for action in p._actions:
        if action.dest == "town":
            action.help = ("the town of the brief (key, zh or en), or 'all' for the five "
                           "towns and a comparison page")
            action.required = True
    add_scorecard_options(p)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.pdf")
    p.set_defaults(func=cmd_brief)
    return p


def cmd_brief(args: argparse.Namespace) -> int:
    """Run ``newtown brief``; 0 on success, 2 with a message on bad input."""
    return report_errors(_brief, args)


def _brief(args: argparse.Namespace) -> int:
    wanted = [part.strip() for value in args.town for part in str(value).split(",")
              if part.strip()]
    if not wanted:
        raise UsageError("--town: name a town or 'all'")
    towns: str | list[str] = "all" if wanted == ["all"] else [
        catalog.TOWN_NAMES.resolve(t) for t in wanted]
    if args.output.suffix.lower() != ".pdf":
        raise UsageError(f"-o {args.output}: the brief is a PDF; give a .pdf path")
    atlas = load(args)
    args.town = []  # the brief's town is not a filter
    flt = filter_from_args(args)
    brief = build_brief(atlas, flt, towns=towns, lang=args.lang, params=params_from_args(args))
    write_brief(args.output, brief)
    print(f"wrote {args.output} ({len(brief.pdf):,} bytes)", file=sys.stderr)
    return 0
