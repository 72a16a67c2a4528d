"""The `newtown` command: the parser and the entry point; one module per subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from dashboard.cli._common import report_errors
from dashboard.cli.brief import add_brief_command
from dashboard.cli.check import add_check_command
from dashboard.cli.clusters import add_cluster_commands
from dashboard.cli.coverage import add_coverage_commands
from dashboard.cli.export import add_export_command
from dashboard.cli.facility import add_facility_command
from dashboard.cli.geocode import add_geocode_command
from dashboard.cli.history import add_history_command
from dashboard.cli.info import add_info_command
from dashboard.cli.points import add_points_command
from dashboard.cli.review import add_review_command
from dashboard.cli.scorecard import add_scorecard_command
from dashboard.cli.serve import add_serve_command
from dashboard.cli.store import add_store_command
from dashboard.cli.users import add_users_command

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``newtown`` parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="newtown",
        description="New Town Atlas (新城图谱): Shanghai's Five New Towns, mapped and analysed.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_check_command(sub)
    add_info_command(sub)
    add_export_command(sub)
    add_cluster_commands(sub)
    add_coverage_commands(sub)

    p = sub.add_parser(
        "analysis", help="every analysis under one name: coverage, site, clusters, hotspots, "
                         "points (the first four are also commands of their own)")
    analyses = p.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    add_coverage_commands(analyses)
    add_cluster_commands(analyses)
    add_points_command(analyses)

    add_scorecard_command(sub)
    add_brief_command(sub)
    add_geocode_command(sub)
    add_serve_command(sub)
    add_store_command(sub)
    add_users_command(sub)
    add_facility_command(sub)
    add_review_command(sub)
    add_history_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``newtown`` with ``argv`` (default: the command line); return the exit status.

    0 done; 2 bad input (one message on stderr); 3 a geocoding provider stopped the run;
    a bug propagates with its traceback (Python exits 1).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return report_errors(args.func, args)
    except BrokenPipeError:  # `newtown info | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
